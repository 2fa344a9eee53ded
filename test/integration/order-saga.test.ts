// The order saga end to end on the real parts (Temporal dev server, PostgreSQL, the real activities): retried
// attempts that had already committed charge nothing twice, and a compensation that cannot succeed parks the
// saga where the operator finds it (`settle needs-operator`, search attributes) and resolves it (`settle resolve`
// retry / skip / abort), with the database rows checked after each.
import { ApplicationFailure, Context } from '@temporalio/activity';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOrdersActivities, createPaymentsActivities } from '../../activities/shop';
import { EXIT } from '../../client/cli-kit';
import { checkInvariants } from '../../services/invariants';
import { orderWorkflowId, SA, TASK_QUEUES, type OrderInput, type SagaResult } from '../../shared';
import { cliEnv, json, runCli } from '../e2e/run-cli';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';

interface Snapshot {
  balance: number;
  events: number;
  available: number;
  reserved: number;
}

describe('order saga on the real stack', () => {
  let t: TestStack;
  let env: NodeJS.ProcessEnv;
  /** Workflows whose every step crashes after its first attempt committed. */
  const crashAfterCommit = new Set<string>();
  /** Workflows whose refunds fail (a payment gateway outage): their saga parks for an operator. */
  const refundDown = new Set<string>();
  /** Workflows whose confirmation (the pivot) is refused: everything before it is compensated. */
  const confirmDown = new Set<string>();
  const wf = (): string => Context.current().info.workflowExecution?.workflowId ?? '';

  before(async () => {
    t = await startTestStack();
    env = cliEnv(t.stack.temporal.address);
    const payments = createPaymentsActivities(t.stack.pools.payments);
    const orders = createOrdersActivities(t.stack.pools.orders);
    await t.startWorkers({
      hooks: {
        afterCommit: (step, attempt) => {
          if (attempt === 1 && crashAfterCommit.has(wf()))
            throw ApplicationFailure.retryable(`worker lost after ${step} committed`, 'WorkerCrash');
        },
      },
      extraActivities: {
        orders: {
          confirmOrder: (input: Parameters<typeof orders.confirmOrder>[0]) => {
            if (confirmDown.has(wf()))
              throw ApplicationFailure.nonRetryable('the order was withdrawn', 'OrderWithdrawn');
            return orders.confirmOrder(input);
          },
        },
        payments: {
          refundPayment: (input: Parameters<typeof payments.refundPayment>[0]) => {
            if (refundDown.has(wf()))
              throw ApplicationFailure.nonRetryable('refund gateway offline', 'GatewayDown');
            return payments.refundPayment(input);
          },
        },
      },
    });
  });
  after(async () => {
    await t?.teardown();
  });

  const snapshot = async (customer: string, sku: string): Promise<Snapshot> => {
    const p = t.stack.pools.payments;
    const w = await p.query<{ b: string }>('SELECT balance_cents AS b FROM wallets WHERE customer_id = $1', [
      customer,
    ]);
    const e = await p.query<{ n: string }>('SELECT count(*) AS n FROM wallet_events WHERE stream_id = $1', [
      customer,
    ]);
    const s = await t.stack.pools.inventory.query<{ a: number; r: number }>(
      'SELECT available AS a, reserved AS r FROM stock WHERE sku = $1',
      [sku],
    );
    return {
      balance: Number(w.rows[0]!.b),
      events: Number(e.rows[0]!.n),
      available: s.rows[0]!.a,
      reserved: s.rows[0]!.r,
    };
  };
  const orderStatus = async (orderId: string): Promise<string | undefined> =>
    (
      await t.stack.pools.orders.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [
        orderId,
      ])
    ).rows[0]?.status;
  const start = async (input: OrderInput) =>
    t.client.workflow.start('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: orderWorkflowId(input.orderId),
      args: [input],
    });

  it('every step crashing after its commit on the first attempt: retried, nothing charged or reserved twice', async () => {
    const input: OrderInput = {
      orderId: uniqueId('dup'),
      customerId: 'alice',
      sku: 'SKU-1',
      qty: 2,
      amountCents: 4500,
    };
    const id = orderWorkflowId(input.orderId);
    crashAfterCommit.add(id);
    const before = await snapshot('alice', 'SKU-1');
    const handle = await start(input);
    const result = (await handle.result()) as SagaResult;
    assert.equal(result.status, 'completed');
    assert.deepEqual(result.steps, ['create', 'reserve', 'charge', 'confirm', 'notify']);
    // Barrier keys (and the reservation id derived from them) are bound to the run (issue 9 item 6).
    const gid = `${id}/${handle.firstExecutionRunId}`;
    const after = await snapshot('alice', 'SKU-1');
    assert.equal(after.balance, before.balance - input.amountCents, 'charged exactly once');
    assert.equal(after.events, before.events + 1, 'one BalanceUpdated event');
    assert.equal(after.available, before.available - input.qty, 'reserved exactly once');
    assert.equal(after.reserved, before.reserved + input.qty);
    const reservations = await t.stack.pools.inventory.query(
      'SELECT 1 FROM reservations WHERE reservation_id = $1',
      [`${gid}/reserve`],
    );
    assert.equal(reservations.rowCount, 1);
    const messages = await t.stack.pools.notifications.query('SELECT 1 FROM messages WHERE message_id = $1', [
      `${input.orderId}/notify`,
    ]);
    assert.equal(messages.rowCount, 1, 'one notification');
    assert.equal(await orderStatus(input.orderId), 'confirmed');
    // Every step's second attempt found its first attempt's barrier row: one action row per step, no more.
    const charge = await t.stack.pools.payments.query('SELECT op FROM barrier WHERE gid = $1', [gid]);
    assert.deepEqual(charge.rows, [{ op: 'action' }]);
    // The retries were inside each step's activity retry policy: the engine saw no failure.
    assert.ok(result.ledger.every((e) => e.attempts === 0));
    const d = await t.client.workflow.getHandle(id).describe();
    assert.equal(d.typedSearchAttributes.get(SA.status), 'completed');
    assert.equal(d.typedSearchAttributes.get(SA.businessKey), input.orderId);
    assert.deepEqual(
      (await checkInvariants(t.stack.pools)).checks.filter((c) => !c.ok),
      [],
    );
  });

  it('`settle needs-operator` lists nothing while nothing is parked', async () => {
    const run = await runCli(['needs-operator', '--json'], env);
    assert.equal(run.code, EXIT.ok, run.stderr);
    const doc = json<{ count: number; truncated: boolean; sagas: unknown[] }>(run);
    assert.deepEqual(
      { count: doc.count, truncated: doc.truncated, sagas: doc.sagas },
      {
        count: 0,
        truncated: false,
        sagas: [],
      },
    );
  });

  /** Start an order whose confirmation is refused with the refund gateway down: it parks on refundPayment. */
  async function parkedOrder(customer: string) {
    const input: OrderInput = {
      orderId: uniqueId('park'),
      customerId: customer,
      sku: 'SKU-2',
      qty: 1,
      amountCents: 1999,
    };
    const id = orderWorkflowId(input.orderId);
    refundDown.add(id);
    confirmDown.add(id);
    const before = await snapshot(customer, 'SKU-2');
    const handle = await start(input);
    // Visibility is eventually consistent: poll the same query the CLI uses until the saga shows up there.
    for (let i = 0; ; i++) {
      const found = [];
      for await (const w of t.client.workflow.list({
        query: `SettleNeedsOperator = true AND WorkflowId = '${id}'`,
      }))
        found.push(w);
      if (found.length) break;
      if (i > 1000) throw new Error(`${id} never showed SettleNeedsOperator = true`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const listed = await runCli(['needs-operator', '--json'], env);
    assert.equal(listed.code, EXIT.attention, 'exit 5: something needs an operator');
    const doc = json<{
      count: number;
      sagas: {
        workflowId: string;
        status: string;
        businessKey: string;
        parked: { name: string; undoes?: string; lastError?: string }[];
      }[];
    }>(listed);
    const saga = doc.sagas.find((s) => s.workflowId === id);
    assert.ok(saga, `${id} is listed`);
    assert.equal(saga.status, 'needs-operator');
    assert.equal(saga.businessKey, input.orderId);
    assert.deepEqual(
      saga.parked.map((p) => [p.name, p.undoes, p.lastError]),
      [['refundPayment', 'charge', 'GatewayDown: refund gateway offline']],
    );
    return { input, id, handle, before };
  }

  it('needs-operator -> `settle resolve retry` once the gateway is back: compensated, money and stock restored', async () => {
    const { input, id, handle, before } = await parkedOrder('bob');
    const refused = await runCli(['resolve', id, 'skip', '--json'], env);
    assert.equal(refused.code, EXIT.usage, 'skip without a reason is refused before anything is sent');
    // A retry while the gateway is still down: accepted, fails again, parks again.
    const again = await runCli(['resolve', id, 'retry', '--operator', 'olga', '--json'], env);
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.equal(json(again).action, 'retry');
    refundDown.delete(id);
    // It may not have parked again yet when we send the next retry: wait for it, as an operator would.
    for (let i = 0; ; i++) {
      const p = await runCli(['needs-operator', '--json'], env);
      if (
        json<{ sagas: { workflowId: string; parked: unknown[] }[] }>(p).sagas.some(
          (s) => s.workflowId === id && s.parked.length,
        )
      )
        break;
      if (i > 100) throw new Error('did not park again');
    }
    const ok = await runCli(['resolve', id, 'retry', '--operator', 'olga', '--json'], env);
    assert.equal(ok.code, EXIT.ok, ok.stderr);
    const result = (await handle.result()) as SagaResult;
    assert.equal(result.status, 'compensated');
    assert.deepEqual(result.compensations, [
      'revokeConfirmation',
      'refundPayment',
      'releaseStock',
      'cancelOrder',
    ]);
    const refund = result.ledger.find((e) => e.name === 'refundPayment');
    assert.equal(refund?.attempts, 2, 'two failed invocations before the operator fixed it');
    assert.equal(refund?.resolution?.operator, 'olga');
    assert.deepEqual(
      await snapshot('bob', 'SKU-2'),
      { ...before, events: before.events + 2 },
      'charged, refunded, stock back',
    );
    assert.equal(await orderStatus(input.orderId), 'cancelled');
    const d = await handle.describe();
    assert.equal(d.typedSearchAttributes.get(SA.status), 'compensated');
    assert.equal(d.typedSearchAttributes.get(SA.needsOperator), false);
  });

  it('needs-operator -> `settle resolve skip --reason`: the refund is recorded as done by hand, the rest compensates', async () => {
    const { input, id, handle, before } = await parkedOrder('bob');
    const run = await runCli(
      ['resolve', id, 'skip', '--reason', 'refunded by bank transfer #4411', '--operator', 'olga', '--json'],
      env,
    );
    assert.equal(run.code, EXIT.ok, run.stderr);
    assert.equal(json(run).reason, 'refunded by bank transfer #4411');
    const result = (await handle.result()) as SagaResult;
    assert.equal(result.status, 'compensated');
    assert.deepEqual(result.compensations, ['revokeConfirmation', 'releaseStock', 'cancelOrder']);
    const refund = result.ledger.find((e) => e.name === 'refundPayment');
    assert.equal(refund?.status, 'skipped');
    assert.equal(refund?.lastError, 'skipped by olga: refunded by bank transfer #4411');
    const after = await snapshot('bob', 'SKU-2');
    // The saga did not refund (the operator did, outside this system): the wallet shows only the charge.
    assert.equal(after.balance, before.balance - input.amountCents);
    assert.equal(after.available, before.available);
    assert.equal(after.reserved, before.reserved);
    assert.equal(await orderStatus(input.orderId), 'cancelled');
  });

  it('needs-operator -> `settle resolve abort`: compensation stops, the saga ends aborted and says so', async () => {
    const { input, id, handle, before } = await parkedOrder('bob');
    const run = await runCli(['resolve', id, 'abort', '--reason', 'finance reconciles it', '--json'], env);
    assert.equal(run.code, EXIT.ok, run.stderr);
    const result = (await handle.result()) as SagaResult;
    assert.equal(result.status, 'aborted');
    assert.deepEqual(result.compensations, ['revokeConfirmation']);
    const after = await snapshot('bob', 'SKU-2');
    assert.equal(after.balance, before.balance - input.amountCents, 'left for finance: still charged');
    assert.equal(after.reserved, before.reserved + input.qty, 'and still reserved');
    assert.equal(await orderStatus(input.orderId), 'pending');
    const d = await handle.describe();
    assert.equal(d.typedSearchAttributes.get(SA.status), 'aborted');
    assert.equal(d.typedSearchAttributes.get(SA.needsOperator), false);
    const late = await runCli(['resolve', id, 'retry'], env);
    assert.notEqual(late.code, EXIT.ok, 'nothing to resolve on a finished saga');
  });
});
