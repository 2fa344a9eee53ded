// Eventual consistency without an orchestrator (the seed's event-bus example, made durable). Each shop service
// writes the events it publishes into its own outbox table in the same local transaction as its state change,
// so an event exists if and only if the change committed. A relay (workflows/outbox-relay.ts) delivers every
// event to its subscribers at least once; each subscriber records the event id in its inbox in the same
// transaction as its reaction, so it applies each event exactly once. The choreographed order saga:
//
//   orders: OrderPlaced -> inventory: StockReserved | StockRejected
//   StockReserved -> payments: PaymentCompleted | PaymentFailed
//   PaymentFailed -> inventory: StockReleased (the compensation, triggered by an event)
//   PaymentCompleted -> orders: confirmed;  StockRejected | StockReleased -> orders: cancelled
//
// The business deadline (workflows/choreography.ts): an order still pending when it passes is cancelled by the
// orders service, which publishes OrderExpired; the other services compensate whatever they did:
//   OrderExpired -> inventory: releases a held reservation (StockReleased);
//   OrderExpired -> payments: refunds a charge already taken (PaymentRefunded), and remembers the expiry (its
//                   inbox row) so a StockReserved arriving later charges nothing (PaymentFailed 'order expired').
// Every reaction to an order takes a per-order advisory lock first, so the expiry and a concurrent charge are
// applied one after the other; status changes only ever leave 'pending', so a late PaymentCompleted cannot
// confirm an expired order.
import type { Pool, PoolClient } from 'pg';
import { ERR } from '../shared';
import { type OrderEventPayload, type ShopService, type Topic, type TrailEntry } from '../shared/events';
import { withTransaction, type Migration } from './db';
import { applyOnce } from './inbox';
import {
  BusinessRejection,
  chargeWallet,
  insertOrder,
  refundWallet,
  releaseStock,
  reserveStock,
} from './shop';

export const eventBusMigration: Migration = {
  id: 20,
  name: 'event_outbox_inbox',
  sql: `
    CREATE TABLE IF NOT EXISTS event_outbox (
      seq            bigserial PRIMARY KEY,
      event_id       text NOT NULL UNIQUE,
      topic          text NOT NULL,
      event_key      text NOT NULL,
      schema_version int  NOT NULL DEFAULT 1,
      payload        jsonb NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now(),
      published_at   timestamptz
    );
    CREATE INDEX IF NOT EXISTS event_outbox_unpublished ON event_outbox (seq) WHERE published_at IS NULL;
    CREATE TABLE IF NOT EXISTS event_inbox (
      event_id     text NOT NULL,
      subscriber   text NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (event_id, subscriber)
    );`,
};

export async function publish(tx: PoolClient, topic: Topic, payload: OrderEventPayload): Promise<string> {
  // One event of a topic per order: the id is deterministic, so a retried publisher cannot publish twice.
  const eventId = `${topic}:${payload.orderId}`;
  await tx.query(
    `INSERT INTO event_outbox (event_id, topic, event_key, payload) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`,
    [eventId, topic, payload.orderId, JSON.stringify(payload)],
  );
  return eventId;
}

const reservationId = (p: OrderEventPayload): string => `${p.workflowId}/reserve`;

/** Orders only ever leave 'pending': a late confirmation cannot undo a cancellation (or the other way round). */
async function settleOrder(
  tx: PoolClient,
  orderId: string,
  status: 'confirmed' | 'cancelled',
): Promise<boolean> {
  const r = await tx.query(
    `UPDATE orders SET status = $2, updated_at = now() WHERE order_id = $1 AND status = 'pending'`,
    [orderId, status],
  );
  return r.rowCount === 1;
}

async function exists(tx: PoolClient, sql: string, value: string): Promise<boolean> {
  return ((await tx.query(sql, [value])).rowCount ?? 0) > 0;
}
const expiredAt = (tx: PoolClient, service: ShopService, orderId: string): Promise<boolean> =>
  exists(
    tx,
    `SELECT 1 FROM event_inbox WHERE event_id = $1 AND subscriber = '${service}'`,
    `OrderExpired:${orderId}`,
  );
const published = (tx: PoolClient, topic: Topic, orderId: string): Promise<boolean> =>
  exists(tx, `SELECT 1 FROM event_outbox WHERE event_id = $1`, `${topic}:${orderId}`);

type Handler = (tx: PoolClient, p: OrderEventPayload) => Promise<void>;

/** Each service's reactions. A business rejection becomes a failure event, committed with the inbox row. */
const HANDLERS: Record<ShopService, Partial<Record<Topic, Handler>>> = {
  inventory: {
    OrderPlaced: async (tx, p) => {
      await tx.query('SAVEPOINT reserve');
      try {
        await reserveStock(tx, reservationId(p), p.sku, p.qty);
        await publish(tx, 'StockReserved', p);
      } catch (err) {
        if (!(err instanceof BusinessRejection)) throw err;
        await tx.query('ROLLBACK TO SAVEPOINT reserve');
        await publish(tx, 'StockRejected', { ...p, reason: err.message });
      }
    },
    PaymentFailed: async (tx, p) => {
      await releaseStock(tx, reservationId(p));
      await publish(tx, 'StockReleased', p);
    },
    OrderExpired: async (tx, p) => {
      const held = await exists(
        tx,
        `SELECT 1 FROM reservations WHERE reservation_id = $1 AND status = 'reserved'`,
        reservationId(p),
      );
      if (!held) return;
      await releaseStock(tx, reservationId(p));
      await publish(tx, 'StockReleased', p);
    },
  },
  payments: {
    StockReserved: async (tx, p) => {
      if (await expiredAt(tx, 'payments', p.orderId)) {
        await publish(tx, 'PaymentFailed', { ...p, reason: 'order expired before payment' });
        return;
      }
      await tx.query('SAVEPOINT charge');
      try {
        await chargeWallet(tx, p.customerId, p.amountCents, `order ${p.orderId}`);
        await publish(tx, 'PaymentCompleted', p);
      } catch (err) {
        if (!(err instanceof BusinessRejection)) throw err;
        await tx.query('ROLLBACK TO SAVEPOINT charge');
        await publish(tx, 'PaymentFailed', { ...p, reason: err.message });
      }
    },
    OrderExpired: async (tx, p) => {
      if (!(await published(tx, 'PaymentCompleted', p.orderId))) return;
      // The ledger's reason names the order as every refund does ('refund order X'): reconciliation reads it.
      await refundWallet(tx, p.customerId, p.amountCents, `refund order ${p.orderId}`);
      await publish(tx, 'PaymentRefunded', { ...p, reason: 'order expired after payment' });
    },
  },
  orders: {
    PaymentCompleted: async (tx, p) => void (await settleOrder(tx, p.orderId, 'confirmed')),
    StockRejected: async (tx, p) => void (await settleOrder(tx, p.orderId, 'cancelled')),
    StockReleased: async (tx, p) => void (await settleOrder(tx, p.orderId, 'cancelled')),
  },
};

/** Serialise every reaction to one order within a service's database (see the header). */
const lockOrder = (tx: PoolClient, orderId: string) =>
  tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 20))', [`order:${orderId}`]);

/** Who placed an order: the run (a per-start identity), or the workflow id for inputs recorded before runId. */
const placedBy = (p: Pick<OrderEventPayload, 'workflowId' | 'runId'>): string => p.runId ?? p.workflowId;

/**
 * The orders service's entry point: the order row and its OrderPlaced event commit together. A retry of the
 * same run is a no-op; an order id placed by anyone else is refused (never answered with the other order).
 */
export async function placeOrder(pool: Pool, p: OrderEventPayload, signal?: AbortSignal): Promise<void> {
  await withTransaction(
    pool,
    async (tx) => {
      const placedEvent = async (): Promise<OrderEventPayload | undefined> =>
        (
          await tx.query<{ payload: OrderEventPayload }>(
            `SELECT payload FROM event_outbox WHERE event_id = $1`,
            [`OrderPlaced:${p.orderId}`],
          )
        ).rows[0]?.payload;
      // Another attempt of this very run may commit at any moment in between (a cancel's re-place racing the
      // first place; each statement reads afresh): its OrderPlaced makes this attempt a no-op like any repeat.
      const ownOrRefuse = async (existing: string | undefined): Promise<void> => {
        const first = await placedEvent();
        if (first && placedBy(first) === placedBy(p)) return;
        throw new BusinessRejection(
          ERR.invalidInput,
          `order ${p.orderId} already exists (placed by ${first?.workflowId ?? existing ?? 'another run'}); choose another order id`,
        );
      };
      const first = await placedEvent();
      if (first && placedBy(first) === placedBy(p)) return;
      const row = await tx.query<{ workflow_id: string }>(
        'SELECT workflow_id FROM orders WHERE order_id = $1',
        [p.orderId],
      );
      if (first || row.rowCount) return ownOrRefuse(row.rows[0]?.workflow_id);
      try {
        await insertOrder(tx, { ...p });
      } catch (err) {
        // The insert waited on the other attempt's uncommitted row, which has committed now.
        if (err instanceof BusinessRejection) return ownOrRefuse(undefined);
        throw err;
      }
      await publish(tx, 'OrderPlaced', p);
    },
    signal ? { signal } : {},
  );
}

/**
 * The business deadline passed: cancel the order if it is still pending and publish OrderExpired so the other
 * services compensate. Returns the order's status afterwards (a confirmation that won the race stays).
 */
export async function expireOrder(
  pool: Pool,
  orderId: string,
  reason: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  return withTransaction(
    pool,
    async (tx) => {
      if (await settleOrder(tx, orderId, 'cancelled')) {
        const placed = await tx.query<{ payload: OrderEventPayload }>(
          `SELECT payload FROM event_outbox WHERE event_id = $1`,
          [`OrderPlaced:${orderId}`],
        );
        const p = placed.rows[0]?.payload;
        if (p) await publish(tx, 'OrderExpired', { ...p, reason });
      }
      const r = await tx.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [
        orderId,
      ]);
      return r.rows[0]?.status;
    },
    signal ? { signal } : {},
  );
}

/** Deliver one event to one subscriber: applied at most once (inbox), in the same transaction as the reaction. */
export async function deliver(
  pool: Pool,
  subscriber: ShopService,
  event: { eventId: string; topic: string; payload: unknown },
  signal?: AbortSignal,
): Promise<'applied' | 'duplicate'> {
  const handler = HANDLERS[subscriber][event.topic as Topic];
  if (!handler) throw new Error(`${subscriber} has no handler for ${event.topic}`);
  const payload = event.payload as OrderEventPayload;
  return applyOnce(
    pool,
    subscriber,
    event.eventId,
    async (tx) => {
      await lockOrder(tx, payload.orderId);
      await handler(tx, payload);
    },
    signal,
  );
}

/** Every event about one order, from every service's outbox, in causal order (by time, then sequence). */
export async function outboxTrail(pool: Pool, service: ShopService, orderId: string): Promise<TrailEntry[]> {
  const r = await pool.query<{
    topic: Topic;
    created_at: Date;
    published_at: Date | null;
    payload: OrderEventPayload;
  }>(`SELECT topic, created_at, published_at, payload FROM event_outbox WHERE event_key = $1 ORDER BY seq`, [
    orderId,
  ]);
  return r.rows.map((e) => ({
    topic: e.topic,
    service,
    createdAt: e.created_at.toISOString(),
    publishedAt: e.published_at?.toISOString() ?? null,
    ...(e.payload.reason ? { reason: e.payload.reason } : {}),
  }));
}

export async function orderStatusOf(pool: Pool, orderId: string): Promise<string | undefined> {
  const r = await pool.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [orderId]);
  return r.rows[0]?.status;
}
