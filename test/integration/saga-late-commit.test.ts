// Issue 9 regressions on the real parts (PostgreSQL, Temporal dev server, the real activities): a pivot attempt
// that outlives its saga cannot confirm; an abandoned attempt cannot commit late; a new run reusing a business
// id is refused instead of being answered from the earlier run's barrier rows.
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { commitMarginMs } from '../../activities/attempt';
import { createOrdersActivities, createPaymentsActivities } from '../../activities/shop';
import { intervalMs } from '../../workflows/saga';
import { START_TO_CLOSE } from '../../workflows/service-proxies';
import { pruneBarrier } from '../../services/barrier';
import { DB_TIMEOUTS } from '../../services/db';
import {
  ERR,
  orderWorkflowId,
  TASK_QUEUES,
  tripWorkflowId,
  type OrderInput,
  type SagaResult,
  type TripInput,
} from '../../shared';
import { uniqueId } from '../helpers/env';
import { resetToFirstWorkflowTask } from '../helpers/reset';
import { startTestStack, type TestStack } from '../helpers/stack';

/** A point in an activity that waits until the test opens it, and tells the test it got there. */
function gate() {
  let open!: () => void;
  let enter!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const entered = new Promise<void>((r) => (enter = r));
  return {
    open,
    entered,
    async pass(): Promise<void> {
      enter();
      await opened;
    },
  };
}

describe('saga late commits and reused business ids (real PostgreSQL, real Temporal)', () => {
  let t: TestStack;
  /** Per workflow id: a gate the first confirm attempt waits at before its transaction. */
  const confirmGates = new Map<string, ReturnType<typeof gate>>();
  /** Per workflow id: a gate the first confirm attempt waits at after its transaction committed. */
  const afterConfirmGates = new Map<string, ReturnType<typeof gate>>();
  /** Outcomes of every gated confirm attempt. */
  const confirmOutcomes = new Map<string, Promise<unknown>>();
  const wf = (): string => Context.current().info.workflowExecution?.workflowId ?? '';

  before(async () => {
    t = await startTestStack();
    const hooks = {
      beforeAction: (step: string, attempt: number) =>
        step === 'confirm' && attempt === 1 ? confirmGates.get(wf())?.pass() : undefined,
      afterCommit: (step: string, attempt: number) =>
        step === 'confirm' && attempt === 1 ? afterConfirmGates.get(wf())?.pass() : undefined,
    };
    const orders = createOrdersActivities(t.stack.pools.orders, hooks);
    await t.startWorkers({
      hooks,
      extraActivities: {
        orders: {
          confirmOrder(input: Parameters<typeof orders.confirmOrder>[0]) {
            const p = orders.confirmOrder(input);
            if (Context.current().info.attempt === 1)
              confirmOutcomes.set(
                wf(),
                p.then(
                  (r) => r,
                  (e: unknown) => e,
                ),
              );
            return p;
          },
        },
      },
    });
  });
  after(async () => {
    await t?.teardown();
  });

  const order = (over: Partial<OrderInput> = {}): OrderInput => ({
    orderId: uniqueId('o'),
    customerId: 'alice',
    sku: 'SKU-1',
    qty: 1,
    amountCents: 700,
    ...over,
  });
  const orderStatus = async (orderId: string): Promise<string | undefined> =>
    (
      await t.stack.pools.orders.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [
        orderId,
      ])
    ).rows[0]?.status;
  const balance = async (customer: string): Promise<number> =>
    Number(
      (
        await t.stack.pools.payments.query<{ b: string }>(
          'SELECT balance_cents AS b FROM wallets WHERE customer_id = $1',
          [customer],
        )
      ).rows[0]!.b,
    );
  const available = async (sku: string): Promise<number> =>
    (
      await t.stack.pools.inventory.query<{ a: number }>('SELECT available AS a FROM stock WHERE sku = $1', [
        sku,
      ])
    ).rows[0]!.a;

  it('item 1: a stale confirm attempt held until after the compensation does not confirm the order', async () => {
    const input = order();
    const workflowId = orderWorkflowId(input.orderId);
    const g = gate();
    confirmGates.set(workflowId, g);
    const before = { balance: await balance('alice'), available: await available('SKU-1') };
    const h = await t.client.workflow.start('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [input, { stepTimeouts: { confirm: '1s' } }],
    });
    await g.entered; // the confirm attempt is running; the saga's 1 s deadline on the pivot is on
    const result = (await h.result()) as SagaResult;
    assert.equal(result.status, 'compensated');
    assert.equal(result.failure?.step, 'confirm');
    // Now the abandoned attempt goes ahead, after the saga refunded, released and cancelled.
    g.open();
    const late = await confirmOutcomes.get(workflowId);
    assert.ok(late instanceof Error, `the late confirmation failed (got ${JSON.stringify(late)})`);
    assert.equal(await orderStatus(input.orderId), 'cancelled', 'no confirmed, unpaid order');
    assert.equal(await balance('alice'), before.balance, 'refunded');
    assert.equal(await available('SKU-1'), before.available, 'stock released');
    assert.deepEqual(result.compensations.slice(0, 1), ['revokeConfirmation'], 'the pivot is fenced first');
  });

  it('a reset after a compensation that revoked a late-committed pivot neither confirms nor notifies', async () => {
    const input = order({ customerId: 'bob', sku: 'SKU-2' });
    const workflowId = orderWorkflowId(input.orderId);
    const g = gate();
    afterConfirmGates.set(workflowId, g);
    const before = { balance: await balance('bob'), available: await available('SKU-2') };
    const h = await t.client.workflow.start('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [input, { stepTimeouts: { confirm: '1s' } }],
    });
    await g.entered; // the confirmation committed; its attempt never reports back before the pivot's deadline
    const first = (await h.result()) as SagaResult;
    assert.equal(first.status, 'compensated');
    assert.equal(first.compensations[0], 'revokeConfirmation');
    assert.equal(await orderStatus(input.orderId), 'cancelled', 'the committed confirmation was revoked');
    g.open();
    // An operator resets the finished run to its first workflow task: the new run meets the old run's rows.
    const runId = await resetToFirstWorkflowTask(t.client, workflowId);
    const again = (await t.client.workflow.getHandle(workflowId, runId).result()) as SagaResult;
    assert.notEqual(again.status, 'completed', 'an undone saga is not reported completed');
    assert.equal(await orderStatus(input.orderId), 'cancelled');
    assert.deepEqual({ balance: await balance('bob'), available: await available('SKU-2') }, before);
    const sent = await t.stack.pools.notifications.query(
      "SELECT 1 FROM messages WHERE message_id LIKE $1 || '/%' AND status = 'sent'",
      [input.orderId],
    );
    assert.equal(sent.rowCount, 0, 'the customer is not told a cancelled order is confirmed');
  });

  // ---------------------------------------------------------------------------------------------- item 2
  it('item 2: the pool acquire timeout is shorter than one attempt, with the commit margin', () => {
    const attemptMs = intervalMs(START_TO_CLOSE);
    assert.ok(
      DB_TIMEOUTS.acquireMs < attemptMs - commitMarginMs(attemptMs),
      `acquire ${DB_TIMEOUTS.acquireMs} ms must be < start-to-close ${attemptMs} ms minus the commit margin`,
    );
  });

  const chargeInTestEnv = async (
    env: MockActivityEnvironment,
    beforeCommit: () => Promise<void>,
    orderId: string,
  ): Promise<unknown> => {
    const acts = createPaymentsActivities(t.stack.pools.payments, { beforeCommit });
    return env.run(acts.chargePayment, { step: 'charge', customerId: 'bob', amountCents: 300, orderId }).then(
      (r) => r,
      (e: unknown) => e,
    );
  };
  const barrierRows = async (gid: string): Promise<number> =>
    Number(
      (
        await t.stack.pools.payments.query<{ n: string }>(
          'SELECT count(*) AS n FROM barrier WHERE gid = $1',
          [gid],
        )
      ).rows[0]!.n,
    );

  it('item 2: an attempt still inside its transaction at its start-to-close deadline rolls back', async () => {
    const gid = uniqueId('late-attempt');
    const env = new MockActivityEnvironment({
      startToCloseTimeoutMs: 1_000,
      workflowExecution: { workflowId: gid, runId: 'r1' },
    });
    const before = await balance('bob');
    // A slow attempt: its transaction is still open when the server would already have timed it out and retried.
    const out = await chargeInTestEnv(env, () => new Promise((r) => setTimeout(r, 1_500)), gid);
    assert.ok(
      out instanceof Error,
      `the attempt failed instead of committing late (got ${JSON.stringify(out)})`,
    );
    assert.equal(await balance('bob'), before, 'nothing charged');
    assert.equal(await barrierRows(gid), 0, 'no barrier row: a retry or compensation sees a clean slate');
  });

  it('item 2: a cancelled attempt rolls back instead of committing', async () => {
    const gid = uniqueId('cancelled-attempt');
    const env = new MockActivityEnvironment({
      startToCloseTimeoutMs: 10_000,
      workflowExecution: { workflowId: gid, runId: 'r1' },
    });
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const before = await balance('bob');
    const out = await chargeInTestEnv(
      env,
      async () => {
        env.cancel(); // Temporal delivers the saga's cancellation (via a heartbeat response) mid-transaction
        await Promise.resolve();
      },
      gid,
    );
    assert.ok(out instanceof Error, `the attempt failed instead of committing (got ${JSON.stringify(out)})`);
    assert.ok(beats >= 1, 'the attempt heartbeats (that is how a cancellation reaches it)');
    assert.equal(await balance('bob'), before, 'nothing charged');
    assert.equal(await barrierRows(gid), 0);
  });

  // ---------------------------------------------------------------------------------------------- item 6
  it('item 6: a new run reusing a compensated order id (SDK start) is refused, not answered from the old run', async () => {
    const input = order({ customerId: 'bob', sku: 'SKU-2' });
    const workflowId = orderWorkflowId(input.orderId);
    const first = (await t.client.workflow.execute('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [{ ...input, failAt: 'charge' }],
    })) as SagaResult;
    assert.equal(first.status, 'compensated');
    const after1 = { balance: await balance('bob'), available: await available('SKU-2') };
    // The same business id again, straight from the SDK (the CLI's reuse policy is not involved).
    const second = (await t.client.workflow.execute('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [input],
    })) as SagaResult;
    assert.notEqual(second.status, 'completed');
    assert.equal(second.failure?.step, 'create');
    assert.equal(second.failure?.type, ERR.invalidInput);
    assert.match(second.failure?.message ?? '', /already exists/);
    assert.equal(await orderStatus(input.orderId), 'cancelled');
    assert.deepEqual({ balance: await balance('bob'), available: await available('SKU-2') }, after1);
  });

  it('item 6: a new run reusing a compensated trip id is refused before it holds or charges anything', async () => {
    const input: TripInput = {
      tripId: uniqueId('trip'),
      customerId: 'alice',
      flightId: 'FL-100',
      hotelId: 'HT-1',
      carClass: 'compact',
      nights: 1,
      amountCents: 1_000,
    };
    const workflowId = tripWorkflowId(input.tripId);
    const first = (await t.client.workflow.execute('tripSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [{ ...input, failAt: 'pay' }],
    })) as SagaResult;
    assert.equal(first.status, 'compensated');
    const holdsBefore = await t.stack.pools.trip.query('SELECT 1 FROM holds WHERE trip_id = $1', [
      input.tripId,
    ]);
    const second = (await t.client.workflow.execute('tripSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [input],
    })) as SagaResult;
    assert.notEqual(second.status, 'completed');
    assert.equal(second.failure?.type, ERR.invalidInput);
    assert.match(second.failure?.message ?? '', /already exists/);
    const holdsAfter = await t.stack.pools.trip.query('SELECT 1 FROM holds WHERE trip_id = $1', [
      input.tripId,
    ]);
    assert.equal(holdsAfter.rowCount, holdsBefore.rowCount, 'no new hold');
    const paid = await t.stack.pools.trip.query(
      "SELECT 1 FROM trip_payments WHERE trip_id = $1 AND status = 'captured'",
      [input.tripId],
    );
    assert.equal(paid.rowCount, 0, 'nothing captured');
  });

  it('item 6: barrier retention deletes old rows of finished transactions, keeps running and recent ones', async () => {
    const pool = t.stack.pools.trip;
    const finished = uniqueId('old-done');
    const stillRunning = uniqueId('old-running');
    const recent = uniqueId('recent');
    const put = (gid: string, age: string) =>
      pool.query(
        `INSERT INTO barrier (gid, branch, op, origin, created_at) VALUES ($1, 'flight', 'action', 'action', now() - $2::interval)`,
        [gid, age],
      );
    await put(finished, '40 days');
    await put(stillRunning, '40 days');
    await put(recent, '1 day');
    const asked: string[] = [];
    const cutoff = new Date(Date.now() - 30 * 86_400_000);
    const out = await pruneBarrier(pool, cutoff, (gid) => {
      asked.push(gid);
      return Promise.resolve(gid === stillRunning);
    });
    assert.ok(out.rows >= 1 && out.kept >= 1);
    const left = async (gid: string) =>
      (await pool.query('SELECT 1 FROM barrier WHERE gid = $1', [gid])).rowCount;
    assert.equal(await left(finished), 0, 'old and finished: deleted');
    assert.equal(await left(stillRunning), 1, 'old but still running: kept (its compensation may need it)');
    assert.equal(await left(recent), 1, 'recent: kept');
    assert.ok(!asked.includes(recent), 'recent rows are not even looked up');
  });
});
