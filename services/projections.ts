// Projections over the event store's global order, each with its checkpoint in the same transaction as its read
// model update: a batch is applied and the checkpoint moved together or not at all, so a crash (even SIGKILL)
// between two batches replays nothing twice and skips nothing (exactly-once effect on the read model).
// The read models themselves are in services/projection-models.ts; the background projector in services/projector.ts.
import type { Pool } from 'pg';
import { withTransaction, type Migration } from './db';
import { readAllForward, formatPosition, type GlobalPosition } from './event-store';
import { findProjection, PROJECTIONS } from './projection-models';

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

export { PROJECTIONS } from './projection-models';

/**
 * Apply the next batch of one projection; returns how many events it applied. With skipLocked (the background
 * projector), a checkpoint another projector replica or a rebuild's swap holds is skipped (0) instead of awaited.
 */
export async function projectOnce(
  pool: Pool,
  name: string,
  batch = 500,
  opts: { skipLocked?: boolean } = {},
): Promise<number> {
  const p = findProjection(name);
  if (!p) throw new Error(`unknown projection ${name}`);
  try {
    return await withTransaction(pool, async (tx) => {
      await tx.query('INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING', [name]);
      const cp = await tx.query<{ tx_id: string; position: string }>(
        `SELECT tx_id::text, position FROM projection_checkpoints WHERE name = $1 FOR UPDATE${opts.skipLocked ? ' SKIP LOCKED' : ''}`,
        [name],
      );
      if (!cp.rows[0]) return 0;
      const from: GlobalPosition = { txId: cp.rows[0].tx_id, position: Number(cp.rows[0].position) };
      const events = await readAllForward(tx, from, batch);
      await p.applyBatch(tx, p.table, events);
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
