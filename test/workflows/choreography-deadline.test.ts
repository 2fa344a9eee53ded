// The choreographed order's business deadline under time skipping, with stubbed services: a stalled order is
// cancelled (and compensated through OrderExpired) when the deadline passes; one the services settle in time
// keeps their outcome; a confirmation that beats the expiry wins; a bad deadline fails the start clearly.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TASK_QUEUES } from '../../shared';
import type { ChoreographedOrderInput, ChoreographedOrderResult } from '../../shared/events';
import type { choreographedOrder } from '../../workflows';
import { timeSkippingEnv, uniqueId } from '../helpers/env';
import { withWorkers } from '../helpers/workers';

/**
 * Stub services: the order settles when the test calls settle(), or never. The wait answers at once, "still
 * pending" (a retryable failure) until then: an attempt that stays in flight would hold the test server's clock
 * (it only skips while no activity runs), so a 15-minute deadline would take 15 minutes of heartbeat timeouts.
 */
function stubServices(plan: { expiryFinds?: string }) {
  const calls: string[] = [];
  let settledAs: string | undefined;
  let waiting: () => void = () => undefined;
  const inFlight = new Promise<void>((resolve) => (waiting = resolve));
  const orders = {
    placeChoreographedOrder: () => Promise.resolve(void calls.push('place')),
    awaitOrderSettled: () => {
      waiting();
      if (settledAs) return Promise.resolve(settledAs);
      return Promise.reject(ApplicationFailure.retryable('the order is still pending', 'StillPending'));
    },
    expireChoreographedOrder: (input: { orderId: string; reason: string }) => {
      calls.push(`expire:${input.reason}`);
      return Promise.resolve(plan.expiryFinds ?? 'cancelled');
    },
    orderEventTrail: () => Promise.resolve([]),
  };
  const trail = { orderEventTrail: () => Promise.resolve([]) };
  return {
    calls,
    settle: (status: string) => void (settledAs = status),
    inFlight,
    queues: { [TASK_QUEUES.orders]: orders, [TASK_QUEUES.inventory]: trail, [TASK_QUEUES.payments]: trail },
  };
}

describe('choreographed order business deadline (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await timeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const order = (extra: Partial<ChoreographedOrderInput> = {}): ChoreographedOrderInput => ({
    orderId: uniqueId('o'),
    customerId: 'alice',
    sku: 'SKU-1',
    qty: 1,
    amountCents: 100,
    ...extra,
  });
  const run = (
    stub: ReturnType<typeof stubServices>,
    input: ChoreographedOrderInput,
    meanwhile: () => Promise<void> = () => Promise.resolve(),
  ) =>
    withWorkers(env.nativeConnection, stub.queues, async () => {
      const result = env.client.workflow.execute<typeof choreographedOrder>('choreographedOrder', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: uniqueId('choreography'),
        args: [input, { searchAttributes: false }],
      });
      await Promise.race([meanwhile(), result]);
      const bounded = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the order never reached an outcome')), 60_000).unref(),
      );
      return Promise.race<ChoreographedOrderResult>([result, bounded]);
    });

  it('a stalled order is cancelled and compensated when its deadline passes (default 15 min)', async () => {
    const stub = stubServices({});
    const r = await run(stub, order(), async () => {
      await stub.inFlight;
      await env.sleep('15m');
    });
    assert.equal(r.status, 'cancelled');
    assert.equal(r.expired, true);
    assert.deepEqual(stub.calls, ['place', `expire:not settled within ${15 * 60_000} ms`]);
  });

  it('an order settled before its deadline keeps the services outcome', async () => {
    const stub = stubServices({});
    const r = await run(stub, order({ deadlineMs: 120_000 }), async () => {
      await stub.inFlight;
      stub.settle('confirmed');
    });
    assert.equal(r.status, 'confirmed');
    assert.equal(r.expired, undefined);
    assert.deepEqual(stub.calls, ['place']);
  });

  it('a confirmation that beats the expiry stays confirmed', async () => {
    const stub = stubServices({ expiryFinds: 'confirmed' });
    const r = await run(stub, order(), async () => {
      await stub.inFlight;
      await env.sleep('15m');
    });
    assert.equal(r.status, 'confirmed');
    assert.equal(r.expired, undefined);
  });

  it('a cancel request cancels the pending order and compensates, as its deadline would', async () => {
    const stub = stubServices({});
    const r = await withWorkers(env.nativeConnection, stub.queues, async () => {
      const handle = await env.client.workflow.start<typeof choreographedOrder>('choreographedOrder', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: uniqueId('choreography'),
        args: [order(), { searchAttributes: false }],
      });
      await stub.inFlight;
      await handle.cancel();
      return handle.result();
    });
    assert.equal(r.status, 'cancelled');
    assert.equal(r.cancelled, true);
    assert.equal(r.expired, undefined);
    // The second place is this run's own (a no-op in the service); then the order is cancelled.
    assert.deepEqual(stub.calls, ['place', 'place', 'expire:cancelled by request']);
  });

  it('a bad deadline fails the order non-retryably with a clear message', async () => {
    const stub = stubServices({});
    await assert.rejects(run(stub, order({ deadlineMs: -5 })), (err: Error) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(err.cause?.message ?? '', /deadlineMs must be a positive number/);
      return true;
    });
  });
});
