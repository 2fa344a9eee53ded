// The choreographed order saga on the real stack: services react to each other's events through their
// outboxes and inboxes, delivered by durable relays. Success, a payment failure compensated by an event,
// a stock rejection, redelivery applied once, and the invariants afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deliver } from '../../services/choreography';
import { checkInvariants } from '../../services/invariants';
import { TASK_QUEUES } from '../../shared';
import {
  choreographyWorkflowId,
  relayWorkflowId,
  SHOP_SERVICES,
  type ChoreographedOrderResult,
  type OrderEventPayload,
} from '../../shared/events';
import type { choreographedOrder } from '../../workflows';
import { ensureRelays, RELAY_SUPERVISOR_SCHEDULE_ID } from '../../workers/relays';
import { uniqueId } from '../helpers/env';
import { waitFor } from '../helpers/transfers';
import type { MetricMeter } from '@temporalio/common';
import { GAUGES } from '../../workers/metrics';
import { startOutboxGauges } from '../../workers/outbox-gauges';
import { cliEnv, json, runCli } from '../e2e/run-cli';
import { startTestStack, type TestStack } from '../helpers/stack';

describe('choreographed order saga: outbox, relay, inbox (real Temporal + PostgreSQL)', () => {
  let t: TestStack;
  before(async () => {
    t = await startTestStack();
    await t.startWorkers();
    for (const s of SHOP_SERVICES) {
      await t.client.workflow.start('outboxRelay', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: relayWorkflowId(s),
        // Bounded, fast delivery attempts so a poison event is dead-lettered within the test.
        args: [s, { waitMs: 5_000, deliveryAttempts: 3, retryInitialMs: 50 }],
      });
    }
  });
  after(async () => {
    await t?.teardown();
  });

  async function place(
    customerId: string,
    sku: string,
    qty: number,
    amountCents: number,
  ): Promise<ChoreographedOrderResult> {
    const orderId = uniqueId('c');
    return t.client.workflow.execute<typeof choreographedOrder>('choreographedOrder', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: choreographyWorkflowId(orderId),
      args: [{ orderId, customerId, sku, qty, amountCents }],
    });
  }
  const topics = (r: ChoreographedOrderResult): string[] => r.events.map((e) => `${e.service}:${e.topic}`);

  it('confirms an order the services agree on', async () => {
    const before = await t.stack.pools.payments.query<{ b: string }>(
      `SELECT balance_cents AS b FROM wallets WHERE customer_id = 'alice'`,
    );
    const r = await place('alice', 'SKU-1', 2, 2500);
    assert.equal(r.status, 'confirmed');
    assert.deepEqual(topics(r), [
      'orders:OrderPlaced',
      'inventory:StockReserved',
      'payments:PaymentCompleted',
    ]);
    const after = await t.stack.pools.payments.query<{ b: string }>(
      `SELECT balance_cents AS b FROM wallets WHERE customer_id = 'alice'`,
    );
    assert.equal(Number(before.rows[0]!.b) - Number(after.rows[0]!.b), 2500);
  });

  it('a failed payment releases the stock through an event and cancels the order', async () => {
    const stock = async (): Promise<number> =>
      (
        await t.stack.pools.inventory.query<{ available: number }>(
          `SELECT available FROM stock WHERE sku = 'SKU-2'`,
        )
      ).rows[0]!.available;
    const before = await stock();
    const r = await place('carol', 'SKU-2', 3, 999_999);
    assert.equal(r.status, 'cancelled');
    assert.deepEqual(topics(r), [
      'orders:OrderPlaced',
      'inventory:StockReserved',
      'payments:PaymentFailed',
      'inventory:StockReleased',
    ]);
    assert.match(r.events.find((e) => e.topic === 'PaymentFailed')?.reason ?? '', /insufficient balance/);
    assert.equal(await stock(), before);
  });

  it('a stock rejection cancels the order and charges nothing', async () => {
    const r = await place('alice', 'SKU-3', 1, 100);
    assert.equal(r.status, 'cancelled');
    assert.deepEqual(topics(r), ['orders:OrderPlaced', 'inventory:StockRejected']);
  });

  it('an event delivered again (relay crashed before marking it published) is applied once', async () => {
    const r = await place('bob', 'SKU-1', 1, 700);
    assert.equal(r.status, 'confirmed');
    const ev = await t.stack.pools.inventory.query<{ event_id: string; payload: OrderEventPayload }>(
      `SELECT event_id, payload FROM event_outbox WHERE topic = 'StockReserved' AND event_key = $1`,
      [r.orderId],
    );
    const event = {
      eventId: ev.rows[0]!.event_id,
      topic: 'StockReserved' as const,
      payload: ev.rows[0]!.payload,
    };
    const walletBefore = await t.stack.pools.payments.query<{ b: string; v: number }>(
      `SELECT balance_cents AS b, version AS v FROM wallets WHERE customer_id = 'bob'`,
    );
    // Direct redelivery and a relay redelivery (the event marked unpublished again, as after a crash).
    assert.equal(await deliver(t.stack.pools.payments, 'payments', event), 'duplicate');
    await t.stack.pools.inventory.query(`UPDATE event_outbox SET published_at = NULL WHERE event_id = $1`, [
      event.eventId,
    ]);
    for (;;) {
      const p = await t.stack.pools.inventory.query(
        `SELECT 1 FROM event_outbox WHERE event_id = $1 AND published_at IS NOT NULL`,
        [event.eventId],
      );
      if (p.rowCount === 1) break;
      await new Promise((res) => setTimeout(res, 50)); // polling the relay's progress in the database
    }
    const walletAfter = await t.stack.pools.payments.query<{ b: string; v: number }>(
      `SELECT balance_cents AS b, version AS v FROM wallets WHERE customer_id = 'bob'`,
    );
    assert.deepEqual(walletAfter.rows[0], walletBefore.rows[0], 'charged exactly once');
  });

  it('placeOrder refuses an order id that another workflow already placed (no other order reported)', async () => {
    const orderId = uniqueId('dup');
    const first = await t.client.workflow.execute<typeof choreographedOrder>('choreographedOrder', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: choreographyWorkflowId(orderId),
      args: [{ orderId, customerId: 'alice', sku: 'SKU-1', qty: 1, amountCents: 100 }],
    });
    assert.equal(first.status, 'confirmed');
    // The same order id from another workflow (the SDK, a reused id): refused, not answered with order 1's outcome.
    await assert.rejects(
      t.client.workflow.execute<typeof choreographedOrder>('choreographedOrder', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: `${choreographyWorkflowId(orderId)}-again`,
        args: [{ orderId, customerId: 'bob', sku: 'SKU-2', qty: 5, amountCents: 999 }],
      }),
      (err: Error & { cause?: Error & { cause?: Error } }) => {
        const text = `${err.message} ${err.cause?.message} ${err.cause?.cause?.message}`;
        assert.match(text, new RegExp(`order ${orderId} already exists`));
        return true;
      },
    );
  });

  it('a poison event is dead-lettered after bounded attempts and holds back only its own key', async () => {
    // An OrderPlaced whose payload the inventory cannot apply (qty is not a number: a database error, retryable).
    const poisonKey = uniqueId('poison');
    const bad = {
      orderId: poisonKey,
      customerId: 'alice',
      sku: 'SKU-3',
      qty: 'lots',
      amountCents: 1,
      workflowId: poisonKey,
    };
    await t.stack.pools.orders.query(
      `INSERT INTO event_outbox (event_id, topic, event_key, payload) VALUES ($1, 'OrderPlaced', $2, $3), ($4, 'OrderPlaced', $2, $3)`,
      [`OrderPlaced:${poisonKey}`, poisonKey, JSON.stringify(bad), `OrderPlaced:${poisonKey}:later`],
    );
    // Another order behind it in the same outbox still settles (bounded wait: on a stalled relay it never would).
    const r = await Promise.race([
      place('alice', 'SKU-1', 1, 300),
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error('the relay is stalled behind the poison event')), 90_000).unref(),
      ),
    ]);
    assert.equal(r.status, 'confirmed');
    const dead = await waitFor('the poison event dead-lettered', async () => {
      const q = await t.stack.pools.orders.query<{
        attempts: number;
        last_error: string;
        dead_at: Date | null;
        published_at: Date | null;
      }>(`SELECT attempts, last_error, dead_at, published_at FROM event_outbox WHERE event_id = $1`, [
        `OrderPlaced:${poisonKey}`,
      ]);
      return q.rows[0]?.dead_at ? q.rows[0] : undefined;
    });
    assert.equal(dead.published_at, null);
    assert.equal(dead.attempts, 3);
    assert.match(dead.last_error, /invalid input syntax/);
    // The later event of the same key is held back (not delivered, not dead itself).
    const later = await t.stack.pools.orders.query<{ dead_at: Date | null; published_at: Date | null }>(
      `SELECT dead_at, published_at FROM event_outbox WHERE event_id = $1`,
      [`OrderPlaced:${poisonKey}:later`],
    );
    assert.deepEqual(later.rows[0], { dead_at: null, published_at: null });
    // Fix the payload, redrive: both events of the key are delivered.
    await t.stack.pools.orders.query(
      `UPDATE event_outbox SET payload = jsonb_set(payload, '{qty}', '1') WHERE event_key = $1`,
      [poisonKey],
    );
    // The Prometheus gauges: a dead letter in the orders outbox, and its lag (the poison event is unpublished).
    const gauges = new Map<string, number>();
    const meter = {
      createGauge: (name: string) => ({
        set: (value: number, tags?: { outbox?: string }) => gauges.set(`${name}{${tags?.outbox}}`, value),
      }),
    } as unknown as MetricMeter;
    const g = startOutboxGauges(t.stack.pools, { meter, intervalMs: 3_600_000 });
    await g.refresh();
    g.stop();
    assert.ok((gauges.get(`${GAUGES.outboxDeadLetters}{orders}`) ?? 0) >= 1);
    assert.ok((gauges.get(`${GAUGES.outboxRelayLag}{orders}`) ?? 0) > 0);
    assert.equal(gauges.get(`${GAUGES.outboxDeadLetters}{transfers}`), 0);
    // The operator's view and redrive, through the CLI.
    const env = cliEnv(t.stack.temporal.address, {
      DATABASE_URL: t.stack.postgres.url,
      SETTLE_DB_PREFIX: t.stack.dbPrefix,
    });
    const listed = await runCli(['outbox', 'dead-letters', '--json'], env);
    assert.equal(listed.code, 5, 'dead letters need attention');
    const letters = json<{ outbox: string; eventId: string; heldBack: number; lastError: string }[]>(listed);
    const letter = letters.find((d) => d.eventId === `OrderPlaced:${poisonKey}`);
    assert.ok(letter, listed.stdout);
    assert.equal(letter.outbox, 'orders');
    assert.equal(letter.heldBack, 1);
    assert.match(letter.lastError, /invalid input syntax/);
    assert.equal((await runCli(['outbox', 'redrive'], env)).code, 2, 'neither an id nor --all');
    assert.equal((await runCli(['outbox', 'redrive', 'no-such-event'], env)).code, 4);
    const redriven = await runCli(['outbox', 'redrive', `OrderPlaced:${poisonKey}`, '--json'], env);
    assert.equal(redriven.code, 0, redriven.stderr);
    assert.deepEqual(json(redriven), {
      redriven: [{ outbox: 'orders', eventId: `OrderPlaced:${poisonKey}` }],
    });
    await waitFor(
      'both events of the key published after the redrive',
      async () => {
        const q = await t.stack.pools.orders.query(
          `SELECT 1 FROM event_outbox WHERE event_key = $1 AND published_at IS NOT NULL`,
          [poisonKey],
        );
        return q.rowCount === 2;
      },
      60_000,
    );
    // Applied once: SKU-3 is out of stock, so the inventory answered with one StockRejected for the key.
    const rejected = await t.stack.pools.inventory.query(
      `SELECT 1 FROM event_outbox WHERE event_key = $1 AND topic = 'StockRejected'`,
      [poisonKey],
    );
    assert.equal(rejected.rowCount, 1);
  });

  it('a terminated relay is re-created by the supervisor schedule', async () => {
    await ensureRelays({ address: t.stack.temporal.address }, t.stack.temporal.namespace);
    const relay = t.client.workflow.getHandle(relayWorkflowId('payments'));
    const before = (await relay.describe()).runId;
    await relay.terminate('operator mistake');
    await t.client.schedule.getHandle(RELAY_SUPERVISOR_SCHEDULE_ID).trigger();
    await waitFor(
      'the payments relay running again',
      async () => {
        const d = await t.client.workflow.getHandle(relayWorkflowId('payments')).describe();
        return d.runId !== before && d.status.name === 'RUNNING';
      },
      60_000,
    );
    const r = await place('alice', 'SKU-1', 1, 200);
    assert.equal(r.status, 'confirmed');
  });

  it('leaves every invariant intact', async () => {
    const report = await checkInvariants(t.stack.pools);
    assert.deepEqual(
      report.checks.filter((c) => !c.ok),
      [],
    );
  });
});
