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
import { uniqueId } from '../helpers/env';
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
        args: [s, { waitMs: 5_000 }],
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

  it('leaves every invariant intact', async () => {
    const report = await checkInvariants(t.stack.pools);
    assert.deepEqual(
      report.checks.filter((c) => !c.ok),
      [],
    );
  });
});
