// The order saga against the time-skipping server with stubbed activities: which compensations run, in which
// order, for every failure point, a timeout, cancellation at every step, compensations that fail and recover,
// and one that never does (needs-operator; the operator's decisions are exercised against the real stack in
// test/integration/order-saga.test.ts).
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ERR,
  TASK_QUEUES,
  resolveCompensationUpdate,
  type OperatorDecision,
  type OrderInput,
  type SagaProgress,
  type SagaResult,
} from '../../shared';
import type { orderSaga } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { driveToResult, timeSkippingSuite, waitForProgress } from '../helpers/saga';
import { withWorkers } from '../helpers/workers';

/**
 * ok; reject: a business rejection (non-retryable); fail: an infrastructure error (retried); broken: a
 * non-retryable compensation failure; hang: outlives its start-to-close timeout; block: waits until the saga has
 * moved on (a compensation started), then succeeds, as an attempt that commits late would.
 */
type Behaviour = 'ok' | 'reject' | 'fail' | 'broken' | 'hang' | 'block';
/** By activity name: one behaviour for every call, or one per call in order (the last one repeats). */
type Plan = Partial<Record<string, Behaviour | Behaviour[]>>;

const STEPS = ['create', 'reserve', 'charge', 'confirm', 'notify'] as const;
/** Steps before and at the pivot: a failure there compensates; after it (notify) the saga only goes forward. */
const UNDOABLE = ['create', 'reserve', 'charge', 'confirm'] as const;
type Step = (typeof STEPS)[number];
const ACTIVITY: Record<Step, string> = {
  create: 'createOrder',
  reserve: 'reserveStock',
  charge: 'chargePayment',
  notify: 'sendNotification',
  confirm: 'confirmOrder',
};
const UNDO: Record<(typeof UNDOABLE)[number], string> = {
  create: 'cancelOrder',
  reserve: 'releaseStock',
  charge: 'refundPayment',
  confirm: 'revokeConfirmation',
};
/** Real time a hanging attempt waits after skipping to just before its deadline. */
const HANG_MARGIN_MS = 100;

/** Stub services that record every call; `plan` says how each activity behaves. */
function stubServices(initial: Plan, skipTime: (ms: number) => Promise<void>) {
  const plan: Plan = { ...initial };
  const calls: string[] = [];
  const count = new Map<string, number>();
  const startedP = new Map<string, { p: Promise<void>; resolve: () => void }>();
  const started = (name: string): Promise<void> => {
    let s = startedP.get(name);
    if (!s) {
      let resolve!: () => void;
      const p = new Promise<void>((r) => (resolve = r));
      s = { p, resolve };
      startedP.set(name, s);
    }
    return s.p;
  };
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));

  const behave = async (name: string): Promise<void> => {
    calls.push(name);
    const n = (count.get(name) ?? 0) + 1;
    count.set(name, n);
    void started(name);
    startedP.get(name)!.resolve();
    const p = plan[name] ?? 'ok';
    const b = Array.isArray(p) ? (p[n - 1] ?? p[p.length - 1]!) : p;
    if (b === 'reject') throw ApplicationFailure.nonRetryable(`${name} rejected`, ERR.outOfStock);
    if (b === 'broken') throw ApplicationFailure.nonRetryable(`${name}: ledger is locked`, 'LedgerLocked');
    if (b === 'fail')
      throw ApplicationFailure.retryable(`${name}: connection reset (call ${n})`, 'ConnectionReset');
    // hang: outlives its start-to-close timeout without wall-clock waiting. The test server holds a time-skipping
    // lock while an activity is outstanding, and an activity timeout that fires *during* ts.env.sleep() leaves that
    // lock unbalanced, after which every later attempt runs in real time (temporalio/sdk-java#2246). So skip to
    // just short of the deadline, then stay blocked: the remaining few milliseconds pass in real time and the
    // server's own start-to-close timer fires with the lock count intact.
    // It does not heartbeat (a stuck attempt), so its heartbeat timeout is the deadline that fires first.
    if (b === 'hang') {
      const info = Context.current().info;
      const deadline = Math.min(info.startToCloseTimeoutMs, info.heartbeatTimeoutMs ?? Infinity);
      await skipTime(deadline - HANG_MARGIN_MS);
      await Context.current().cancelled.catch(() => undefined);
    }
    if (b === 'block') {
      // A live attempt heartbeats while it waits, like the real participants (activities/attempt.ts).
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 200);
      await released.finally(() => clearInterval(beat));
    }
  };
  const forward = (name: string) => async (): Promise<unknown> => {
    await behave(name);
    return { state: 'applied', result: { name } };
  };
  const undo = (name: string) => async (): Promise<unknown> => {
    // A compensation running means the saga moved on: a blocked forward attempt may now "commit late".
    release();
    await behave(name);
    return { state: 'applied' };
  };
  return {
    plan,
    calls,
    started,
    release,
    queues: {
      [TASK_QUEUES.orders]: {
        createOrder: forward('createOrder'),
        cancelOrder: undo('cancelOrder'),
        confirmOrder: forward('confirmOrder'),
        revokeConfirmation: undo('revokeConfirmation'),
      },
      [TASK_QUEUES.inventory]: { reserveStock: forward('reserveStock'), releaseStock: undo('releaseStock') },
      [TASK_QUEUES.payments]: {
        chargePayment: forward('chargePayment'),
        refundPayment: undo('refundPayment'),
      },
      [TASK_QUEUES.notifications]: {
        sendNotification: forward('sendNotification'),
        retractNotification: undo('retractNotification'),
      },
    },
  };
}
type Stubs = ReturnType<typeof stubServices>;

/** Steps before `step`, and the compensations a failure (or cancellation) at `step` runs, in order. */
function before_(step: (typeof UNDOABLE)[number]): { steps: Step[]; compensations: string[] } {
  const steps = UNDOABLE.slice(0, UNDOABLE.indexOf(step));
  // The failed step is compensated too (it may have committed); the pivot through its barrier fence.
  const undone = [...steps, step];
  return { steps, compensations: undone.reverse().map((s) => UNDO[s]) };
}

describe('order saga (time-skipping, stubbed activities)', () => {
  const ts = timeSkippingSuite();

  /**
   * Run one order; `drive` runs while the result is awaited (time skipping on), unless `parks`: a saga parked for
   * an operator has nothing scheduled, and with time skipping on the test server would jump straight to its
   * execution timeout, so such a test drives first and awaits the result after.
   */
  async function runOrder(
    plan: Plan,
    drive?: (h: WorkflowHandle<typeof orderSaga>, stubs: Stubs) => Promise<void>,
    opts: { parks?: boolean } = {},
  ): Promise<{ result: SagaResult; calls: string[] }> {
    const stubs = stubServices(plan, (ms: number) => ts.env.sleep(ms));
    const input: OrderInput = {
      orderId: uniqueId('o'),
      customerId: 'alice',
      sku: 'SKU-1',
      qty: 2,
      amountCents: 3000,
    };
    try {
      const result = await withWorkers(ts.env.nativeConnection, stubs.queues, async () => {
        const h = await ts.env.client.workflow.start<typeof orderSaga>('orderSaga', {
          taskQueue: TASK_QUEUES.orchestration,
          workflowId: `order-${input.orderId}`,
          args: [input, { searchAttributes: false }],
        });
        return driveToResult<typeof h, Stubs, SagaResult>(h, stubs, drive, opts.parks);
      });
      return { result, calls: stubs.calls };
    } finally {
      stubs.release();
    }
  }

  it('runs every step, then the pivot (confirm), and no compensation when all succeed', async () => {
    const { result, calls } = await runOrder({});
    assert.equal(result.status, 'completed');
    assert.deepEqual(result.steps, [...STEPS]);
    assert.deepEqual(result.compensations, []);
    assert.deepEqual(
      calls,
      STEPS.map((s) => ACTIVITY[s]),
    );
  });

  for (const step of UNDOABLE) {
    const want = before_(step);
    it(`fails at ${step}: compensates the failed step (it may have committed) and every earlier one, in reverse`, async () => {
      const { result, calls } = await runOrder({ [ACTIVITY[step]]: 'reject' });
      assert.equal(result.status, 'compensated');
      assert.deepEqual(result.steps, want.steps);
      assert.deepEqual(result.compensations, want.compensations);
      assert.equal(result.failure?.step, step);
      assert.equal(result.failure?.type, ERR.outOfStock);
      // Compensations ran after the forward calls, exactly once each, in reverse order; nothing later was attempted.
      const forwardCount = want.steps.length + 1;
      assert.deepEqual(calls.slice(forwardCount), want.compensations);
      assert.equal(calls.length, forwardCount + want.compensations.length);
    });
  }

  it('a step that times out on every attempt is compensated (time-skipped)', async () => {
    const { result, calls } = await runOrder({ chargePayment: 'hang' });
    assert.equal(result.status, 'compensated');
    assert.equal(result.failure?.step, 'charge');
    assert.equal(result.failure?.type, 'Timeout');
    assert.match(result.failure?.message ?? '', /heartbeat timeout/);
    assert.deepEqual(result.compensations, ['refundPayment', 'releaseStock', 'cancelOrder']);
    assert.equal(
      calls.filter((c) => c === 'chargePayment').length,
      5,
      'the step was retried up to its budget',
    );
  });

  for (const step of STEPS) {
    const pivot = step === 'confirm' || step === 'notify';
    it(`cancelled while ${step} runs: ${pivot ? 'past the point of no return, the order completes' : 'every started step is compensated, ending compensated'}`, async () => {
      const { result, calls } = await runOrder({ [ACTIVITY[step]]: 'block' }, async (h, stubs) => {
        // Wait (through the stub and the ledger query, not a sleep) until the step is running, then cancel.
        await stubs.started(ACTIVITY[step]);
        await waitForProgress(
          h,
          (p) => p.ledger.some((e) => e.name === step && e.status === 'running'),
          `${step} running`,
        );
        await h.cancel();
        // The pivot is not cancelled and nothing compensates: let its attempt finish.
        if (pivot) stubs.release();
      });
      if (pivot) {
        assert.equal(result.status, 'completed');
        assert.deepEqual(result.steps, [...STEPS]);
        assert.deepEqual(result.compensations, []);
        return;
      }
      const want = before_(step);
      assert.equal(result.status, 'compensated');
      assert.equal(result.cancelled, true);
      assert.equal(result.failure?.step, step);
      assert.deepEqual(result.steps, want.steps);
      assert.deepEqual(result.compensations, want.compensations);
      assert.deepEqual(calls.slice(want.steps.length + 1), want.compensations);
    });
  }

  it('a compensation that fails twice, then succeeds, is retried by its activity policy (time-skipped)', async () => {
    const { result, calls } = await runOrder({
      confirmOrder: 'reject',
      refundPayment: ['fail', 'fail', 'ok'],
    });
    assert.equal(result.status, 'compensated');
    assert.deepEqual(result.compensations, [
      'revokeConfirmation',
      'refundPayment',
      'releaseStock',
      'cancelOrder',
    ]);
    assert.equal(calls.filter((c) => c === 'refundPayment').length, 3);
    const refund = result.ledger.find((e) => e.name === 'refundPayment');
    assert.equal(refund?.status, 'compensated');
    assert.equal(refund?.attempts, 0, 'recovered inside one invocation: no operator was needed');
  });

  const parkedRefund = async (h: WorkflowHandle, stubs: Stubs): Promise<void> => {
    const p = await waitForProgress(h, (x) => x.status === 'needs-operator', 'needs-operator');
    const refund = p.ledger.find((e) => e.name === 'refundPayment');
    assert.equal(refund?.status, 'needs-operator');
    assert.equal(refund?.undoes, 'charge');
    assert.equal(refund?.attempts, 1);
    assert.match(refund?.lastError ?? '', /^LedgerLocked: refundPayment: ledger is locked/);
    assert.ok(refund?.startedAt && !refund.endedAt);
    // The compensations after it wait: reverse order means stock is not released before the refund is settled.
    assert.ok(!stubs.calls.includes('releaseStock'));
    assert.deepEqual(
      p.ledger.filter((e) => e.kind === 'compensation').map((e) => [e.name, e.status]),
      [
        ['revokeConfirmation', 'compensated'],
        ['refundPayment', 'needs-operator'],
      ],
    );
  };
  const decide = (h: WorkflowHandle, d: OperatorDecision): Promise<SagaProgress> =>
    h.executeUpdate(resolveCompensationUpdate, { args: [d] });

  it('a compensation that never succeeds parks in needs-operator; operator retry runs it again', async () => {
    const { result, calls } = await runOrder(
      { confirmOrder: 'reject', refundPayment: 'broken' },
      async (h, stubs) => {
        await parkedRefund(h, stubs);
        stubs.plan.refundPayment = 'ok';
        await decide(h, { action: 'retry', operator: 'olga' });
      },
      { parks: true },
    );
    assert.equal(result.status, 'compensated');
    assert.deepEqual(result.compensations, [
      'revokeConfirmation',
      'refundPayment',
      'releaseStock',
      'cancelOrder',
    ]);
    assert.equal(calls.filter((c) => c === 'refundPayment').length, 2);
    assert.equal(result.ledger.find((e) => e.name === 'refundPayment')?.resolution?.action, 'retry');
  });

  it('needs-operator -> skip (with the reason recorded): the rest is compensated, the refund is not run again', async () => {
    const { result, calls } = await runOrder(
      { confirmOrder: 'reject', refundPayment: 'broken' },
      async (h, stubs) => {
        await parkedRefund(h, stubs);
        await decide(h, { action: 'skip', reason: 'refunded by bank transfer #4411', operator: 'olga' });
      },
      { parks: true },
    );
    assert.equal(result.status, 'compensated');
    assert.deepEqual(result.compensations, ['revokeConfirmation', 'releaseStock', 'cancelOrder']);
    assert.equal(calls.filter((c) => c === 'refundPayment').length, 1);
    const refund = result.ledger.find((e) => e.name === 'refundPayment');
    assert.equal(refund?.status, 'skipped');
    assert.equal(refund?.lastError, 'skipped by olga: refunded by bank transfer #4411');
  });

  it('needs-operator -> abort: compensation stops where it is and the saga ends aborted', async () => {
    const { result, calls } = await runOrder(
      { confirmOrder: 'reject', refundPayment: 'broken' },
      async (h, stubs) => {
        await parkedRefund(h, stubs);
        await decide(h, { action: 'abort', reason: 'finance reconciles it', operator: 'olga' });
      },
      { parks: true },
    );
    assert.equal(result.status, 'aborted');
    assert.deepEqual(result.compensations, ['revokeConfirmation']);
    assert.ok(!calls.includes('releaseStock') && !calls.includes('cancelOrder'));
  });

  // ---------------------------------------------------------------------------------------- issue 9 regressions
  it('item 7: the customer is notified only after the order is confirmed', async () => {
    const { result, calls } = await runOrder({});
    assert.equal(result.status, 'completed');
    assert.ok(
      calls.indexOf('confirmOrder') < calls.indexOf('sendNotification'),
      `confirm before notify (calls: ${calls.join(', ')})`,
    );
  });

  it('item 7: a notification that cannot be sent never undoes a confirmed order; it parks for an operator', async () => {
    const { result, calls } = await runOrder(
      { sendNotification: 'reject' },
      async (h) => {
        await waitForProgress(h, (x) => x.status === 'needs-operator', 'needs-operator');
        await h.executeUpdate(resolveCompensationUpdate, {
          args: [{ action: 'skip', reason: 'phoned the customer', operator: 'olga' }],
        });
      },
      { parks: true },
    );
    assert.equal(result.status, 'completed');
    assert.deepEqual(result.compensations, []);
    assert.ok(!calls.some((c) => ['cancelOrder', 'refundPayment', 'releaseStock'].includes(c)));
  });

  it('item 8: an invalid input started from the SDK fails at once, non-retryably, before any step', async () => {
    const stubs = stubServices({}, (ms: number) => ts.env.sleep(ms));
    const bad = { orderId: 'o 1', customerId: '', sku: 'SKU-1', qty: -1, amountCents: 0 } as OrderInput;
    const err = await withWorkers(ts.env.nativeConnection, stubs.queues, async () => {
      const h = await ts.env.client.workflow.start<typeof orderSaga>('orderSaga', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: uniqueId('order-bad'),
        args: [bad, { searchAttributes: false }],
      });
      return h.result().then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    assert.ok(err instanceof WorkflowFailedError, `the workflow failed (got ${String(err)})`);
    const cause = err.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, ERR.invalidInput);
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /--qty must be a whole number/);
    assert.deepEqual(stubs.calls, [], 'no step ran');
  });
});
