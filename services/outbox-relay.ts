// The outbox side of every relay, whatever the outbox: the shop services' `event_outbox` (choreography) and the
// transfer outbox's `outbox_events` (2PC/3PC). Both hold (event_id, topic, event_key, payload, created_at,
// published_at); the migrations below add what a relay needs to survive a poison event:
//   seq          delivery order within a key (bigserial; the relay reads unpublished rows, so a late commit
//                with a lower seq is still picked up: no position is skipped);
//   attempts     delivery attempts spent, last_error the last failure;
//   dead_at      set when attempts ran out: the event waits for an operator (`settle outbox redrive`), and
//                every later event of the same key is held back behind it (per-key order), no other key is.
import type { Pool } from 'pg';
import type { RelayedEvent, RelayName } from '../shared/relay';
import type { Migration, ServiceName } from './db';

export type OutboxTable = 'event_outbox' | 'outbox_events';

const deadLetterColumns = (table: OutboxTable): string => `
  ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS seq bigserial;
  ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS attempts int NOT NULL DEFAULT 0;
  ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS last_error text;
  ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS dead_at timestamptz;
  CREATE INDEX IF NOT EXISTS ${table}_pending ON ${table} (seq) WHERE published_at IS NULL;
  CREATE INDEX IF NOT EXISTS ${table}_dead ON ${table} (event_key, seq) WHERE dead_at IS NOT NULL AND published_at IS NULL;`;

/** The shop services' outbox (after services/choreography.ts eventBusMigration, id 20). */
export const eventOutboxDeadLetterMigration: Migration = {
  id: 21,
  name: 'event_outbox_dead_letters',
  sql: deadLetterColumns('event_outbox'),
};

/** The transfer outbox (after services/banks.ts outboxMigrations, ids 2 and 50). */
export const transferOutboxRelayMigration: Migration = {
  id: 60,
  name: 'outbox_events_relay',
  sql: deadLetterColumns('outbox_events'),
};

const QUERY_TIMEOUT_MS = 10_000;
const q = (text: string, values: unknown[] = []) => ({ text, values, query_timeout: QUERY_TIMEOUT_MS });

interface Row {
  seq: string;
  event_id: string;
  topic: string;
  event_key: string;
  payload: unknown;
}
const toEvent = (r: Row): RelayedEvent => ({
  seq: Number(r.seq),
  eventId: r.event_id,
  topic: r.topic,
  key: r.event_key,
  payload: r.payload,
});

/**
 * The next deliverable events in seq order: unpublished, not dead, and with no dead event earlier in their key
 * (held back, so a key's events are never applied out of order).
 */
export async function fetchDeliverable(
  pool: Pool,
  table: OutboxTable,
  limit: number,
): Promise<RelayedEvent[]> {
  const r = await pool.query<Row>(
    q(
      `SELECT o.seq, o.event_id, o.topic, o.event_key, o.payload FROM ${table} o
        WHERE o.published_at IS NULL AND o.dead_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM ${table} d WHERE d.event_key = o.event_key AND d.dead_at IS NOT NULL
                            AND d.published_at IS NULL AND d.seq < o.seq)
        ORDER BY o.seq LIMIT $1`,
      [limit],
    ),
  );
  return r.rows.map(toEvent);
}

export async function markPublished(pool: Pool, table: OutboxTable, eventIds: string[]): Promise<void> {
  if (eventIds.length)
    await pool.query(
      q(`UPDATE ${table} SET published_at = now() WHERE event_id = ANY($1) AND published_at IS NULL`, [
        eventIds,
      ]),
    );
}

/** Attempts ran out: park the event with its last error (a no-op if it was published meanwhile). */
export async function deadLetter(
  pool: Pool,
  table: OutboxTable,
  e: { eventId: string; attempts: number; error: string },
): Promise<void> {
  await pool.query(
    q(
      `UPDATE ${table} SET dead_at = now(), attempts = attempts + $2, last_error = $3
        WHERE event_id = $1 AND published_at IS NULL`,
      [e.eventId, e.attempts, e.error.slice(0, 2000)],
    ),
  );
}

export interface DeadLetter {
  eventId: string;
  topic: string;
  key: string;
  attempts: number;
  lastError: string | null;
  deadAt: string;
  createdAt: string;
  /** Later events of the same key waiting behind this one. */
  heldBack: number;
}

export async function listDeadLetters(pool: Pool, table: OutboxTable): Promise<DeadLetter[]> {
  const r = await pool.query<{
    event_id: string;
    topic: string;
    event_key: string;
    attempts: number;
    last_error: string | null;
    dead_at: Date;
    created_at: Date;
    held_back: string;
  }>(
    q(
      `SELECT d.event_id, d.topic, d.event_key, d.attempts, d.last_error, d.dead_at, d.created_at,
              (SELECT count(*) FROM ${table} l WHERE l.event_key = d.event_key AND l.seq > d.seq
                 AND l.published_at IS NULL) AS held_back
         FROM ${table} d WHERE d.dead_at IS NOT NULL AND d.published_at IS NULL ORDER BY d.seq`,
    ),
  );
  return r.rows.map((x) => ({
    eventId: x.event_id,
    topic: x.topic,
    key: x.event_key,
    attempts: x.attempts,
    lastError: x.last_error,
    deadAt: x.dead_at.toISOString(),
    createdAt: x.created_at.toISOString(),
    heldBack: Number(x.held_back),
  }));
}

/** Put dead letters back in line (all of them when eventId is omitted); returns the ids redriven. */
export async function redrive(pool: Pool, table: OutboxTable, eventId?: string): Promise<string[]> {
  const r = await pool.query<{ event_id: string }>(
    q(
      `UPDATE ${table} SET dead_at = NULL WHERE dead_at IS NOT NULL AND published_at IS NULL
          AND ($1::text IS NULL OR event_id = $1) RETURNING event_id`,
      [eventId ?? null],
    ),
  );
  return r.rows.map((x) => x.event_id);
}

export interface OutboxHealth {
  deadLetters: number;
  /** Age of the oldest unpublished event (dead or not), 0 when the outbox is drained. */
  lagSeconds: number;
  unpublished: number;
}

export async function outboxHealth(pool: Pool, table: OutboxTable): Promise<OutboxHealth> {
  const r = await pool.query<{ dead: string; pending: string; lag: number | null }>(
    q(
      `SELECT count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead, count(*) AS pending,
              extract(epoch FROM now() - min(created_at))::float8 AS lag
         FROM ${table} WHERE published_at IS NULL`,
    ),
  );
  const row = r.rows[0]!;
  return {
    deadLetters: Number(row.dead),
    unpublished: Number(row.pending),
    lagSeconds: Math.max(0, row.lag ?? 0),
  };
}

/** Which database and table each relay drains. */
export const RELAY_OUTBOX: Record<RelayName, { database: ServiceName; table: OutboxTable }> = {
  orders: { database: 'orders', table: 'event_outbox' },
  inventory: { database: 'inventory', table: 'event_outbox' },
  payments: { database: 'payments', table: 'event_outbox' },
  transfers: { database: 'outbox', table: 'outbox_events' },
};
