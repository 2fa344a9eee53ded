// Projections over the event store's global order, each with its checkpoint in the same transaction as its read
// model update: a batch is applied and the checkpoint moved together or not at all, so a crash (even SIGKILL)
// between two batches replays nothing twice and skips nothing (exactly-once effect on the read model).
// customer_spending: per customer, what was charged and refunded (from BalanceUpdated events).
import type { Pool, PoolClient } from 'pg';
import { withTransaction, type Migration } from './db';
import { readAllForward, formatPosition, type GlobalEvent, type GlobalPosition } from './event-store';

export const projectionsMigration: Migration = {
  id: 42,
  name: 'projections',
  sql: `
    CREATE TABLE IF NOT EXISTS projection_checkpoints (
      name        text PRIMARY KEY,
      tx_id       xid8 NOT NULL DEFAULT '0',
      position    bigint NOT NULL DEFAULT 0,
      updated_at  timestamptz NOT NULL DEFAULT now(),
      last_error  text
    );
    CREATE TABLE IF NOT EXISTS customer_spending (
      customer_id    text PRIMARY KEY,
      charged_cents  bigint NOT NULL DEFAULT 0,
      refunded_cents bigint NOT NULL DEFAULT 0,
      charges        int NOT NULL DEFAULT 0
    );`,
};

interface Projection {
  name: string;
  apply(tx: PoolClient, e: GlobalEvent): Promise<void>;
}

const customerSpending: Projection = {
  name: 'customer_spending',
  async apply(tx, e) {
    if (e.type !== 'BalanceUpdated') return;
    const d = e.data as { amountCents?: number; amount?: number };
    const cents = d.amountCents ?? d.amount ?? 0; // v1 events stored `amount`
    if (cents === 0) return;
    await tx.query(
      `INSERT INTO customer_spending (customer_id, charged_cents, refunded_cents, charges) VALUES ($1, $2, $3, $4)
       ON CONFLICT (customer_id) DO UPDATE SET charged_cents = customer_spending.charged_cents + $2,
         refunded_cents = customer_spending.refunded_cents + $3, charges = customer_spending.charges + $4`,
      [e.streamId, cents < 0 ? -cents : 0, cents > 0 ? cents : 0, cents < 0 ? 1 : 0],
    );
  },
};

export const PROJECTIONS: Projection[] = [customerSpending];

/** Apply the next batch of one projection; returns how many events it applied. */
export async function projectOnce(pool: Pool, name: string, batch = 500): Promise<number> {
  const p = PROJECTIONS.find((x) => x.name === name);
  if (!p) throw new Error(`unknown projection ${name}`);
  try {
    return await withTransaction(pool, async (tx) => {
      await tx.query('INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING', [name]);
      const cp = await tx.query<{ tx_id: string; position: string }>(
        'SELECT tx_id::text, position FROM projection_checkpoints WHERE name = $1 FOR UPDATE',
        [name],
      );
      const from: GlobalPosition = { txId: cp.rows[0]!.tx_id, position: Number(cp.rows[0]!.position) };
      const events = await readAllForward(tx, from, batch);
      for (const e of events) await p.apply(tx, e);
      const last = events[events.length - 1]?.at;
      await tx.query(
        `UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3, updated_at = now(), last_error = NULL WHERE name = $1`,
        [name, last?.txId ?? from.txId, last?.position ?? from.position],
      );
      return events.length;
    });
  } catch (err) {
    await pool
      .query('UPDATE projection_checkpoints SET last_error = $2 WHERE name = $1', [
        name,
        (err as Error).message,
      ])
      .catch(() => undefined);
    throw err;
  }
}

export interface ProjectionStatus {
  name: string;
  position: string;
  lag_events: number;
  lag_seconds: number;
  last_error: string | null;
}

export async function projectionStatus(pool: Pool): Promise<ProjectionStatus[]> {
  const out: ProjectionStatus[] = [];
  for (const p of PROJECTIONS) {
    const r = await pool.query<{ tx_id: string; position: string; last_error: string | null }>(
      'SELECT tx_id::text, position, last_error FROM projection_checkpoints WHERE name = $1',
      [p.name],
    );
    const at = { txId: r.rows[0]?.tx_id ?? '0', position: Number(r.rows[0]?.position ?? 0) };
    const lag = await pool.query<{ n: string; oldest: number | null }>(
      `SELECT count(*) AS n, extract(epoch FROM now() - min(recorded_at))::float8 AS oldest FROM wallet_events
        WHERE (tx_id, global_position) > ($1::xid8, $2::bigint)`,
      [at.txId, at.position],
    );
    out.push({
      name: p.name,
      position: formatPosition(at),
      lag_events: Number(lag.rows[0]!.n),
      lag_seconds: Math.max(0, lag.rows[0]!.oldest ?? 0),
      last_error: r.rows[0]?.last_error ?? null,
    });
  }
  return out;
}
