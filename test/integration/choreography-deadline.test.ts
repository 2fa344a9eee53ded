// The choreography's expiry compensation on real PostgreSQL, events delivered by hand in the orders that the
// relays can produce: an order expired after its charge is refunded and its stock released; one expired before
// the charge is never charged; a late PaymentCompleted cannot confirm an expired order; an expiry racing the
// charge nets to zero. (No relays run here: the test is the relay, so every interleaving is deterministic.)
import assert from 'node:assert/strict';
import type { Pool } from 'pg';
import { after, before, describe, it } from 'node:test';
import { deliver, expireOrder, placeOrder } from '../../services/choreography';
import type { OrderEventPayload, ShopService, Topic } from '../../shared/events';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';

describe('choreographed order expiry compensation (PostgreSQL, events delivered by the test)', () => {
  let t: TestStack;
  before(async () => {
    t = await startTestStack();
  });
  after(async () => {
    await t?.teardown();
  });

  const publisherOf: Record<Topic, ShopService> = {
    OrderPlaced: 'orders',
    OrderExpired: 'orders',
    StockReserved: 'inventory',
    StockRejected: 'inventory',
    StockReleased: 'inventory',
    PaymentCompleted: 'payments',
    PaymentFailed: 'payments',
    PaymentRefunded: 'payments',
  };
  const pool = (s: ShopService): Pool => t.stack.pools[s];
  async function published(topic: Topic, orderId: string): Promise<OrderEventPayload | undefined> {
    const r = await pool(publisherOf[topic]).query<{ payload: OrderEventPayload }>(
      'SELECT payload FROM event_outbox WHERE event_id = $1',
      [`${topic}:${orderId}`],
    );
    return r.rows[0]?.payload;
  }
  /** Deliver a published event to one subscriber, as the relay would. */
  async function relay(topic: Topic, orderId: string, to: ShopService): Promise<void> {
    const payload = await published(topic, orderId);
    assert.ok(payload, `${topic} for ${orderId} was published`);
    await deliver(pool(to), to, { eventId: `${topic}:${orderId}`, topic, payload });
  }
  const balance = async (customer: string): Promise<number> =>
    Number(
      (
        await pool('payments').query<{ b: string }>(
          'SELECT balance_cents AS b FROM wallets WHERE customer_id = $1',
          [customer],
        )
      ).rows[0]!.b,
    );
  const available = async (sku: string): Promise<number> =>
    (await pool('inventory').query<{ a: number }>('SELECT available AS a FROM stock WHERE sku = $1', [sku]))
      .rows[0]!.a;
  const status = async (orderId: string): Promise<string> =>
    (
      await pool('orders').query<{ s: string }>('SELECT status AS s FROM orders WHERE order_id = $1', [
        orderId,
      ])
    ).rows[0]!.s;

  async function placed(customerId: string, sku: string): Promise<OrderEventPayload> {
    const orderId = uniqueId('exp');
    const p = { orderId, customerId, sku, qty: 1, amountCents: 400, workflowId: `choreography-${orderId}` };
    await placeOrder(pool('orders'), { ...p, runId: `run-${orderId}` });
    await relay('OrderPlaced', orderId, 'inventory');
    assert.ok(await published('StockReserved', orderId), 'stock reserved');
    return p;
  }

  it('expired after the charge: refunded, stock released, and a late PaymentCompleted does not confirm it', async () => {
    const [wallet, stock] = [await balance('alice'), await available('SKU-1')];
    const p = await placed('alice', 'SKU-1');
    await relay('StockReserved', p.orderId, 'payments');
    assert.equal(await balance('alice'), wallet - 400, 'charged');
    assert.equal(await expireOrder(pool('orders'), p.orderId, 'deadline'), 'cancelled');
    await relay('OrderExpired', p.orderId, 'payments');
    await relay('OrderExpired', p.orderId, 'inventory');
    assert.equal(await balance('alice'), wallet, 'refunded');
    assert.equal(await available('SKU-1'), stock, 'stock released');
    assert.match((await published('PaymentRefunded', p.orderId))?.reason ?? '', /expired after payment/);
    // The merchant's ledger books the refund under the order like every refund ('refund order X'), so
    // reconciliation (settle check's orders-settled) nets it to zero; it was booked as 'order X expired'.
    const ledger = await pool('payments').query<{ reason: string; cents: string }>(
      `SELECT reason, amount_cents AS cents FROM revenue WHERE reason LIKE '%' || $1 || '%' ORDER BY id`,
      [p.orderId],
    );
    assert.deepEqual(
      ledger.rows.map((r) => [r.reason, Number(r.cents)]),
      [
        [`order ${p.orderId}`, 400],
        [`refund order ${p.orderId}`, -400],
      ],
    );
    await relay('PaymentCompleted', p.orderId, 'orders');
    assert.equal(await status(p.orderId), 'cancelled', 'a late confirmation cannot undo the expiry');
  });

  it('expired before the charge: the StockReserved that arrives later charges nothing', async () => {
    const [wallet, stock] = [await balance('bob'), await available('SKU-2')];
    const p = await placed('bob', 'SKU-2');
    assert.equal(await expireOrder(pool('orders'), p.orderId, 'deadline'), 'cancelled');
    await relay('OrderExpired', p.orderId, 'payments');
    await relay('OrderExpired', p.orderId, 'inventory');
    await relay('StockReserved', p.orderId, 'payments');
    assert.equal(await balance('bob'), wallet, 'never charged');
    assert.match((await published('PaymentFailed', p.orderId))?.reason ?? '', /expired before payment/);
    await relay('PaymentFailed', p.orderId, 'inventory'); // releases nothing twice
    assert.equal(await available('SKU-2'), stock);
    await relay('StockReleased', p.orderId, 'orders');
    assert.equal(await status(p.orderId), 'cancelled');
  });

  it('an expiry racing the charge in the payments service nets to zero', async () => {
    for (let i = 0; i < 5; i++) {
      const wallet = await balance('alice');
      const p = await placed('alice', 'SKU-1');
      await expireOrder(pool('orders'), p.orderId, 'deadline');
      await Promise.all([
        relay('StockReserved', p.orderId, 'payments'),
        relay('OrderExpired', p.orderId, 'payments'),
      ]);
      assert.equal(await balance('alice'), wallet, `round ${i}: charged and refunded, or never charged`);
      await relay('OrderExpired', p.orderId, 'inventory');
    }
  });

  it('two attempts of one run placing at once both succeed: a cancel re-place racing the first place', async () => {
    // The re-place's insert waits on the first attempt's uncommitted row; it used to then refuse the run's own
    // order as "already exists", so the cancel never expired it.
    for (let i = 0; i < 10; i++) {
      const orderId = uniqueId('race');
      const p = { orderId, customerId: 'alice', sku: 'SKU-1', qty: 1, amountCents: 100 };
      const own = { ...p, workflowId: `choreography-${orderId}`, runId: `run-${orderId}` };
      const both = await Promise.allSettled([
        placeOrder(pool('orders'), own),
        placeOrder(pool('orders'), own),
      ]);
      assert.deepEqual(
        both.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'placed')),
        ['placed', 'placed'],
        `round ${i}`,
      );
      assert.equal(await status(orderId), 'pending');
    }
  });

  it('an order that confirmed first stays confirmed when the deadline fires', async () => {
    const p = await placed('alice', 'SKU-1');
    await relay('StockReserved', p.orderId, 'payments');
    await relay('PaymentCompleted', p.orderId, 'orders');
    assert.equal(await expireOrder(pool('orders'), p.orderId, 'deadline'), 'confirmed');
    assert.equal(await published('OrderExpired', p.orderId), undefined, 'nothing to compensate');
  });
});
