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
import type { Pool, PoolClient } from 'pg';
import {
  type OrderEventPayload,
  type OutboxEvent,
  type ShopService,
  type Topic,
  type TrailEntry,
} from '../shared/events';
import type { Migration } from './db';
import {
  BusinessRejection,
  chargeWallet,
  insertOrder,
  releaseStock,
  reserveStock,
  setOrderStatus,
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
  },
  payments: {
    StockReserved: async (tx, p) => {
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
  },
  orders: {
    PaymentCompleted: (tx, p) => setOrderStatus(tx, p.orderId, 'confirmed'),
    StockRejected: (tx, p) => setOrderStatus(tx, p.orderId, 'cancelled'),
    StockReleased: (tx, p) => setOrderStatus(tx, p.orderId, 'cancelled'),
  },
};

async function inTx<T>(pool: Pool, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    const out = await fn(tx);
    await tx.query('COMMIT');
    return out;
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    tx.release();
  }
}

/** The orders service's entry point: the order row and its OrderPlaced event commit together. */
export async function placeOrder(pool: Pool, p: OrderEventPayload): Promise<void> {
  await inTx(pool, async (tx) => {
    const exists = await tx.query('SELECT 1 FROM orders WHERE order_id = $1', [p.orderId]);
    if (exists.rowCount === 0) {
      await insertOrder(tx, { ...p });
      await publish(tx, 'OrderPlaced', p);
    }
  });
}

/** Deliver one event to one subscriber: applied at most once (inbox), in the same transaction as the reaction. */
export async function deliver(
  pool: Pool,
  subscriber: ShopService,
  event: Pick<OutboxEvent, 'eventId' | 'topic' | 'payload'>,
): Promise<'applied' | 'duplicate'> {
  return inTx(pool, async (tx) => {
    const first = await tx.query(
      `INSERT INTO event_inbox (event_id, subscriber) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [event.eventId, subscriber],
    );
    if (first.rowCount === 0) return 'duplicate';
    const handler = HANDLERS[subscriber][event.topic];
    if (!handler) throw new Error(`${subscriber} has no handler for ${event.topic}`);
    await handler(tx, event.payload);
    return 'applied';
  });
}

export async function unpublished(pool: Pool, service: ShopService, limit: number): Promise<OutboxEvent[]> {
  const r = await pool.query<{
    seq: string;
    event_id: string;
    topic: Topic;
    event_key: string;
    payload: OrderEventPayload;
  }>(
    `SELECT seq, event_id, topic, event_key, payload FROM event_outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1`,
    [limit],
  );
  return r.rows.map((e) => ({
    seq: Number(e.seq),
    eventId: e.event_id,
    topic: e.topic,
    key: e.event_key,
    payload: e.payload,
    service,
  }));
}

export async function markPublished(pool: Pool, eventIds: string[]): Promise<void> {
  if (eventIds.length)
    await pool.query(
      `UPDATE event_outbox SET published_at = now() WHERE event_id = ANY($1) AND published_at IS NULL`,
      [eventIds],
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
