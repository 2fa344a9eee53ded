// The order saga against the time-skipping server with stubbed activities: which compensations run, in
// which order, for every failure point, a timeout, and cancellation.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERR, TASK_QUEUES, sagaProgressQuery, type OrderInput, type OrderStep, type SagaResult } from '../../shared';
import type { orderSaga } from '../../workflows';
import { timeSkippingEnv, uniqueId } from '../helpers/env';
import { withWorkers } from '../helpers/workers';

type Behaviour = 'ok' | 'reject' | 'hang' | 'block';
/** Real time a hanging attempt waits after skipping to just before its deadline. */
const HANG_MARGIN_MS = 100;

/** Stub services that record every call; `plan` says how each forward step behaves. */
function stubServices(plan: Partial<Record<OrderStep, Behaviour>>, skipTime: (ms: number) => Promise<void>) {
  const calls: string[] = [];
  const started = new Set<string>();
  const forward = (step: OrderStep, name: string) => async (): Promise<unknown> => {
    calls.push(name);
    started.add(step);
    const b = plan[step] ?? 'ok';
    if (b === 'reject') throw ApplicationFailure.nonRetryable(`${name} rejected`, ERR.outOfStock);
    // hang: outlives its start-to-close timeout without wall-clock waiting. The test server holds a time-skipping
    // lock while an activity is outstanding, and an activity timeout that fires *during* env.sleep() leaves that
    // lock unbalanced, after which every later attempt runs in real time (temporalio/sdk-java#2246). So skip to
    // just short of the deadline, then stay blocked: the remaining few milliseconds pass in real time and the
    // server's own start-to-close timer fires with the lock count intact.
    if (b === 'hang') {
      await skipTime(Context.current().info.startToCloseTimeoutMs - HANG_MARGIN_MS);
      await Context.current().cancelled.catch(() => undefined);
    }
    // block: never finishes on its own; only cancellation ends it.
    if (b === 'block') await Context.current().cancelled;
    return { state: 'applied', result: { step } };
  };
  const undo = (name: string) => async (): Promise<unknown> => {
    calls.push(name);
    return { state: 'applied' };
  };
  return {
    calls,
    started,
    queues: {
      [TASK_QUEUES.orders]: { createOrder: forward('create', 'createOrder'), cancelOrder: undo('cancelOrder'), confirmOrder: undo('confirmOrder') },
      [TASK_QUEUES.inventory]: { reserveStock: forward('reserve', 'reserveStock'), releaseStock: undo('releaseStock') },
      [TASK_QUEUES.payments]: { chargePayment: forward('charge', 'chargePayment'), refundPayment: undo('refundPayment') },
      [TASK_QUEUES.notifications]: { sendNotification: forward('notify', 'sendNotification'), retractNotification: undo('retractNotification') },
    },
  };
}

describe('order saga (time-skipping, stubbed activities)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await timeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function runOrder(
    plan: Partial<Record<OrderStep, Behaviour>>,
    drive?: (h: WorkflowHandle<typeof orderSaga>, stubs: ReturnType<typeof stubServices>) => Promise<void>,
  ): Promise<{ result: SagaResult; calls: string[] }> {
    const stubs = stubServices(plan, (ms: number) => env.sleep(ms));
    const input: OrderInput = { orderId: uniqueId('o'), customerId: 'alice', sku: 'SKU-1', qty: 2, amountCents: 3000 };
    const result = await withWorkers(env.nativeConnection, stubs.queues, async () => {
      const h = await env.client.workflow.start<typeof orderSaga>('orderSaga', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: `order-${input.orderId}`,
        args: [input, { searchAttributes: false }],
      });
      if (drive) await drive(h, stubs);
      return h.result();
    });
    return { result, calls: stubs.calls };
  }

  it('runs every step and no compensation when all succeed', async () => {
    const { result, calls } = await runOrder({});
    assert.equal(result.status, 'completed');
    assert.deepEqual(result.steps, ['create', 'reserve', 'charge', 'notify']);
    assert.deepEqual(result.compensations, []);
    assert.deepEqual(calls, ['createOrder', 'reserveStock', 'chargePayment', 'sendNotification', 'confirmOrder']);
  });

  const expected: Record<OrderStep, { steps: string[]; compensations: string[] }> = {
    create: { steps: [], compensations: ['cancelOrder'] },
    reserve: { steps: ['create'], compensations: ['releaseStock', 'cancelOrder'] },
    charge: { steps: ['create', 'reserve'], compensations: ['refundPayment', 'releaseStock', 'cancelOrder'] },
    notify: {
      steps: ['create', 'reserve', 'charge'],
      compensations: ['retractNotification', 'refundPayment', 'releaseStock', 'cancelOrder'],
    },
  };
  for (const [step, want] of Object.entries(expected) as [OrderStep, (typeof expected)[OrderStep]][]) {
    it(`fails at ${step}: compensates the failed step (it may have committed) and every earlier one, in reverse`, async () => {
      const { result, calls } = await runOrder({ [step]: 'reject' });
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
    const { result, calls } = await runOrder({ charge: 'hang' });
    assert.equal(result.status, 'compensated');
    assert.equal(result.failure?.step, 'charge');
    assert.equal(result.failure?.type, 'Timeout');
    assert.match(result.failure?.message ?? '', /start_to_close timeout/);
    assert.deepEqual(result.compensations, ['refundPayment', 'releaseStock', 'cancelOrder']);
    assert.equal(calls.filter((c) => c === 'chargePayment').length, 5, 'the step was retried up to its budget');
  });

  it('cancelling the workflow compensates the steps that ran and ends compensated', async () => {
    const { result } = await runOrder({ charge: 'block' }, async (h, stubs) => {
      // Wait (through the ledger query, not a sleep) until the charge step is running, then cancel.
      for (;;) {
        const p = await h.query(sagaProgressQuery);
        if (p.ledger.some((e) => e.name === 'charge' && e.status === 'running') && stubs.started.has('charge')) break;
        await new Promise((r) => setImmediate(r));
      }
      await h.cancel();
    });
    assert.equal(result.status, 'compensated');
    assert.equal(result.cancelled, true);
    assert.deepEqual(result.steps, ['create', 'reserve']);
    assert.deepEqual(result.compensations, ['refundPayment', 'releaseStock', 'cancelOrder']);
  });
});
