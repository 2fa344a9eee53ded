// The trip saga (the second saga on the saga library) against the time-skipping server with stubbed
// activities: fail at every step, cancel at every step, typed results, the parallel stay group, the payment
// pivot, forward-only steps, compensations that fail and recover, and needs-operator with each operator action.
import { ApplicationFailure } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ERR,
  resolveCompensationUpdate,
  TASK_QUEUES,
  TRIP_STEPS,
  type OperatorDecision,
  type SagaProgress,
  type SagaResult,
  type TripInput,
} from '../../shared';
import type { tripSaga } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { driveToResult, timeSkippingSuite, waitForProgress } from '../helpers/saga';
import { withWorkers } from '../helpers/workers';

/** ok; reject: business rejection; fail: retryable; broken: non-retryable compensation failure; block: see below. */
type Behaviour = 'ok' | 'reject' | 'fail' | 'broken' | 'block';
type Plan = Partial<Record<string, Behaviour | Behaviour[]>>;

const UNDO: Record<'flight' | 'hotel' | 'car' | 'pay', string> = {
  flight: 'releaseFlight',
  hotel: 'releaseHotel',
  car: 'releaseCar',
  pay: 'refundPayment',
};

interface Call {
  name: string;
  args: Record<string, unknown>;
}

/** Stub trip service: calls are named by step (forward) or compensation name; `plan` says how each behaves. */
function stubTrip(initial: Plan) {
  const plan: Plan = { ...initial };
  const calls: Call[] = [];
  const count = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const startedP = new Map<string, Promise<void>>();
  const started = (name: string): Promise<void> => {
    if (!startedP.has(name)) startedP.set(name, new Promise<void>((r) => waiters.set(name, r)));
    return startedP.get(name)!;
  };
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const behave = async (name: string, args: Record<string, unknown>): Promise<void> => {
    calls.push({ name, args });
    const n = (count.get(name) ?? 0) + 1;
    count.set(name, n);
    void started(name);
    waiters.get(name)!();
    const p = plan[name] ?? 'ok';
    const b = Array.isArray(p) ? (p[n - 1] ?? p[p.length - 1]!) : p;
    if (b === 'reject') throw ApplicationFailure.nonRetryable(`${name} rejected`, ERR.outOfStock);
    if (b === 'broken')
      throw ApplicationFailure.nonRetryable(`${name}: supplier API refuses`, 'SupplierDown');
    if (b === 'fail')
      throw ApplicationFailure.retryable(
        `${name}: timeout talking to the supplier (call ${n})`,
        'SupplierTimeout',
      );
    // block: waits until the saga moved on (a compensation started) or the test releases it.
    if (b === 'block') await released;
  };
  const action =
    <T>(name: string, result: (a: Record<string, unknown>) => T) =>
    async (a: Record<string, unknown>): Promise<{ state: 'applied'; result: T }> => {
      await behave(name, a);
      return { state: 'applied', result: result(a) };
    };
  const compensation =
    (name: (a: Record<string, unknown>) => string) => async (a: Record<string, unknown>) => {
      release();
      await behave(name(a), a);
      return { state: 'applied' as const };
    };
  const hold = (kind: string) =>
    action(kind, (a) => ({ holdId: `hold-${kind}`, kind, resource: a.resource }));
  return {
    plan,
    calls,
    started,
    release,
    names: () => calls.map((c) => c.name),
    activities: {
      holdFlight: hold('flight'),
      holdHotel: hold('hotel'),
      holdCar: hold('car'),
      releaseHold: compensation((a) => UNDO[a.step as 'flight' | 'hotel' | 'car']),
      chargeTrip: action('pay', (a) => ({
        paymentId: 'pay-1',
        customerId: a.customerId,
        amountCents: a.amountCents,
      })),
      refundTrip: compensation(() => UNDO.pay),
      confirmTrip: action('confirm', (a) => ({ tripId: a.tripId })),
      sendItinerary: action('email', () => ({ messageId: 'm-1' })),
      awardLoyaltyPoints: action('points', () => ({ points: 1 })),
    },
  };
}
type Stubs = ReturnType<typeof stubTrip>;

const decide = (h: WorkflowHandle, d: OperatorDecision): Promise<SagaProgress> =>
  h.executeUpdate(resolveCompensationUpdate, { args: [d] });

/** Compensation stages (each sorted) a failure or cancellation at `step` runs, in order. */
const COMPENSATION_STAGES: Record<'flight' | 'hotel' | 'car' | 'pay', string[][]> = {
  flight: [['releaseFlight']],
  hotel: [['releaseCar', 'releaseHotel'], ['releaseFlight']],
  car: [['releaseCar', 'releaseHotel'], ['releaseFlight']],
  pay: [['refundPayment'], ['releaseCar', 'releaseHotel'], ['releaseFlight']],
};

function assertStages(undone: string[], stages: string[][]): void {
  let i = 0;
  for (const stage of stages) {
    assert.deepEqual(
      undone.slice(i, i + stage.length).sort(),
      stage,
      `compensation stage ${stage.join('+')}`,
    );
    i += stage.length;
  }
  assert.equal(undone.length, i, 'no other compensation ran');
}

describe('trip saga (time-skipping, stubbed activities)', () => {
  const ts = timeSkippingSuite();

  /** Run one trip; `parks`: drive before awaiting the result (a parked saga under time skipping would time out). */
  async function runTrip(
    plan: Plan,
    drive?: (h: WorkflowHandle<typeof tripSaga>, s: Stubs) => Promise<void>,
    opts: { parks?: boolean } = {},
  ): Promise<{ result: SagaResult; s: Stubs; input: TripInput }> {
    const s = stubTrip(plan);
    const input: TripInput = {
      tripId: uniqueId('t'),
      customerId: 'alice',
      flightId: 'FL-100',
      hotelId: 'HT-1',
      carClass: 'compact',
      nights: 3,
      amountCents: 84_000,
    };
    try {
      const result = await withWorkers(
        ts.env.nativeConnection,
        { [TASK_QUEUES.trip]: s.activities },
        async () => {
          const h = await ts.env.client.workflow.start<typeof tripSaga>('tripSaga', {
            taskQueue: TASK_QUEUES.orchestration,
            workflowId: `trip-${input.tripId}`,
            args: [input, { searchAttributes: false }],
          });
          return driveToResult<typeof h, Stubs, SagaResult>(h, s, drive, opts.parks);
        },
      );
      return { result, s, input };
    } finally {
      s.release();
    }
  }

  it('books the trip: hotel and car in parallel, typed results flow to the pivot and the forward steps', async () => {
    const { result, s, input } = await runTrip({});
    assert.equal(result.status, 'completed');
    assert.deepEqual([...result.steps].sort(), [...TRIP_STEPS, 'points'].sort());
    assert.deepEqual(result.compensations, []);
    const names = s.names();
    assert.equal(names[0], 'flight');
    assert.deepEqual(names.slice(1, 3).sort(), ['car', 'hotel']);
    assert.deepEqual(names.slice(3), ['pay', 'confirm', 'email', 'points'], 'points: the patched step');
    const confirm = s.calls.find((c) => c.name === 'confirm')!.args;
    assert.deepEqual(
      confirm.holdIds,
      ['hold-flight', 'hold-hotel', 'hold-car'],
      'hold ids from the earlier steps',
    );
    assert.equal(confirm.paymentId, 'pay-1', 'the payment id from the pivot');
    assert.equal(s.calls.find((c) => c.name === 'email')!.args.paymentId, 'pay-1');
    assert.deepEqual(
      result.ledger
        .filter((e) => e.group === 'stay')
        .map((e) => e.name)
        .sort(),
      ['car', 'hotel'],
    );
    assert.equal(s.calls.find((c) => c.name === 'pay')!.args.amountCents, input.amountCents);
  });

  for (const step of ['flight', 'hotel', 'car', 'pay'] as const) {
    it(`fails at ${step}: compensates it and everything before it (the stay group together), in reverse`, async () => {
      const { result, s } = await runTrip({ [step]: 'reject' });
      assert.equal(result.status, 'compensated');
      assert.equal(result.failure?.step, step);
      assert.equal(result.failure?.type, ERR.outOfStock);
      assertStages(
        s.names().filter((n) => Object.values(UNDO).includes(n)),
        COMPENSATION_STAGES[step],
      );
      assert.ok(
        !s.names().includes('confirm') && !s.names().includes('email'),
        'nothing after the failure ran',
      );
    });
  }

  for (const step of ['confirm', 'email'] as const) {
    it(`a failure after the pivot (at ${step}) is never compensated: the saga parks for an operator, who retries it`, async () => {
      const { result, s } = await runTrip(
        { [step]: 'reject' },
        async (h, st) => {
          const p = await waitForProgress(h, (x) => x.status === 'needs-operator', 'parked');
          const e = p.ledger.find((x) => x.name === step);
          assert.equal(e?.status, 'needs-operator');
          assert.match(e?.lastError ?? '', /OutOfStock/);
          st.plan[step] = 'ok';
          await decide(h, { action: 'retry', operator: 'olga' });
        },
        { parks: true },
      );
      assert.equal(result.status, 'completed');
      assert.deepEqual(result.compensations, []);
      assert.equal(s.names().filter((n) => n === step).length, 2);
      assert.ok(!s.names().some((n) => Object.values(UNDO).includes(n)), 'nothing was compensated');
    });
  }

  it('a forward step failing transiently is retried by the engine (durable backoff, time-skipped) until it succeeds', async () => {
    // Each invocation is 5 activity attempts; the engine waits and invokes again: 12 failures, then success.
    const fails: Behaviour[] = Array.from({ length: 12 }, () => 'fail');
    const { result, s } = await runTrip({ email: [...fails, 'ok'] });
    assert.equal(result.status, 'completed');
    assert.equal(s.names().filter((n) => n === 'email').length, 13);
    assert.equal(result.ledger.find((e) => e.name === 'email')?.attempts, 2);
  });

  for (const step of TRIP_STEPS) {
    const past = step === 'pay' || step === 'confirm' || step === 'email';
    it(`cancelled while ${step} runs: ${past ? 'past the point of no return, the trip is completed' : 'every started hold is released; compensated'}`, async () => {
      const { result, s } = await runTrip({ [step]: 'block' }, async (h, st) => {
        await st.started(step);
        await waitForProgress(
          h,
          (p) =>
            p.ledger.some((e) => e.name === step) &&
            p.ledger.every((e) => e.name === step || e.status !== 'running'),
          `only ${step} running`,
        );
        await h.cancel();
        if (past) st.release();
      });
      if (past) {
        assert.equal(result.status, 'completed');
        assert.deepEqual([...result.steps].sort(), [...TRIP_STEPS, 'points'].sort());
        return;
      }
      assert.equal(result.status, 'compensated');
      assert.equal(result.cancelled, true);
      assertStages(
        s.names().filter((n) => Object.values(UNDO).includes(n)),
        COMPENSATION_STAGES[step],
      );
      assert.ok(!s.names().includes('pay'), 'the payment never started');
    });
  }

  it('a compensation that fails twice, then succeeds, is retried by its activity policy (time-skipped)', async () => {
    const { result, s } = await runTrip({ pay: 'reject', releaseCar: ['fail', 'fail', 'ok'] });
    assert.equal(result.status, 'compensated');
    assert.equal(s.names().filter((n) => n === 'releaseCar').length, 3);
    assert.equal(result.ledger.find((e) => e.name === 'releaseCar')?.status, 'compensated');
  });

  const parkedFlight = async (h: WorkflowHandle): Promise<void> => {
    const p = await waitForProgress(h, (x) => x.status === 'needs-operator', 'needs-operator');
    const e = p.ledger.find((x) => x.name === 'releaseFlight');
    assert.equal(e?.status, 'needs-operator');
    assert.equal(e?.undoes, 'flight');
    assert.match(e?.lastError ?? '', /^SupplierDown: /);
    // The stay group was compensated first; the flight's release is waiting.
    assert.deepEqual(
      p.ledger
        .filter((x) => x.kind === 'compensation' && x.status === 'compensated')
        .map((x) => x.name)
        .sort(),
      ['refundPayment', 'releaseCar', 'releaseHotel'],
    );
  };

  for (const action of ['retry', 'skip', 'abort'] as const) {
    it(`a compensation that never succeeds -> needs-operator -> ${action}`, async () => {
      const { result, s } = await runTrip(
        { pay: 'reject', releaseFlight: 'broken' },
        async (h, st) => {
          await parkedFlight(h);
          if (action === 'skip')
            await assert.rejects(
              decide(h, { action: 'skip' }),
              (err: Error) => /skip needs a reason/.test(String((err.cause as Error | undefined)?.message)),
              'a reason is required',
            );
          st.plan.releaseFlight = 'ok';
          await decide(h, {
            action,
            reason: action === 'retry' ? undefined : 'seat released at the airline desk',
            operator: 'olga',
          });
        },
        { parks: true },
      );
      const flight = result.ledger.find((e) => e.name === 'releaseFlight');
      assert.equal(flight?.resolution?.action, action);
      if (action === 'retry') {
        assert.equal(result.status, 'compensated');
        assert.ok(result.compensations.includes('releaseFlight'));
        assert.equal(s.names().filter((n) => n === 'releaseFlight').length, 2);
      } else if (action === 'skip') {
        assert.equal(result.status, 'compensated');
        assert.ok(!result.compensations.includes('releaseFlight'));
        assert.equal(flight?.status, 'skipped');
        assert.equal(s.names().filter((n) => n === 'releaseFlight').length, 1);
      } else {
        assert.equal(result.status, 'aborted');
        assert.equal(flight?.status, 'failed');
        assert.match(flight?.lastError ?? '', /aborted by olga/);
      }
    });
  }
});
