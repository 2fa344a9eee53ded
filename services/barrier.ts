// The sub-transaction barrier (the idea comes from DTM), kept in each service's own database and written in
// the same local transaction as the business change. Temporal delivers activities at least once, and an
// attempt that timed out can still commit later, so every branch goes through here:
//  - idempotent: a retried action or compensation finds its row and does nothing twice;
//  - null compensation: a compensation for an action that never committed records itself and does nothing;
//  - hanging: an action that arrives after its compensation finds the compensation's marker and is refused.
import type { Pool, PoolClient } from 'pg';
import { withTransaction, type Migration } from './db';

export const barrierMigration: Migration = {
  id: 1,
  name: 'barrier',
  sql: `
    CREATE TABLE IF NOT EXISTS barrier (
      gid        text NOT NULL,
      branch     text NOT NULL,
      op         text NOT NULL CHECK (op IN ('action', 'compensate')),
      origin     text NOT NULL CHECK (origin IN ('action', 'compensate')),
      result     jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (gid, branch, op)
    );`,
};

export interface BranchKey {
  /** Global transaction id: the workflow id. */
  gid: string;
  /** The step within the transaction. */
  branch: string;
}

export type ActionOutcome<T> = { state: 'applied'; result: T } | { state: 'duplicate'; result: T };
export type CompensationOutcome = { state: 'applied' } | { state: 'duplicate' } | { state: 'noop' };

export class BarrierRejectedError extends Error {
  override name = 'BarrierRejected';
  constructor(key: BranchKey) {
    super(`${key.gid}/${key.branch}: the action arrived after its compensation and was refused`);
  }
}

/** Run a forward action at most once per (gid, branch). A duplicate returns the first result. */
export async function barrierAction<T>(
  pool: Pool,
  key: BranchKey,
  action: (tx: PoolClient) => Promise<T>,
): Promise<ActionOutcome<T>> {
  return withTransaction(pool, async (tx) => {
    const ins = await tx.query(
      `INSERT INTO barrier (gid, branch, op, origin) VALUES ($1, $2, 'action', 'action') ON CONFLICT DO NOTHING`,
      [key.gid, key.branch],
    );
    if (ins.rowCount === 0) {
      const row = await tx.query<{ origin: string; result: T }>(
        `SELECT origin, result FROM barrier WHERE gid = $1 AND branch = $2 AND op = 'action'`,
        [key.gid, key.branch],
      );
      if (row.rows[0]?.origin === 'compensate') throw new BarrierRejectedError(key);
      return { state: 'duplicate', result: row.rows[0]?.result as T };
    }
    const result = await action(tx);
    await tx.query(`UPDATE barrier SET result = $3 WHERE gid = $1 AND branch = $2 AND op = 'action'`, [
      key.gid,
      key.branch,
      JSON.stringify(result ?? null),
    ]);
    return { state: 'applied', result };
  });
}

/**
 * Run a compensation at most once per (gid, branch), and only if the action committed. The action's stored
 * result is handed to the compensation so it undoes exactly what was done.
 */
export async function barrierCompensation<T>(
  pool: Pool,
  key: BranchKey,
  compensate: (tx: PoolClient, actionResult: T) => Promise<void>,
): Promise<CompensationOutcome> {
  return withTransaction(pool, async (tx) => {
    const mine = await tx.query(
      `INSERT INTO barrier (gid, branch, op, origin) VALUES ($1, $2, 'compensate', 'compensate') ON CONFLICT DO NOTHING`,
      [key.gid, key.branch],
    );
    if (mine.rowCount === 0) return { state: 'duplicate' };
    // Blocks on an in-flight action attempt's uncommitted row until it commits or rolls back.
    const marker = await tx.query(
      `INSERT INTO barrier (gid, branch, op, origin) VALUES ($1, $2, 'action', 'compensate') ON CONFLICT DO NOTHING`,
      [key.gid, key.branch],
    );
    if (marker.rowCount === 1) return { state: 'noop' };
    const action = await tx.query<{ result: T }>(
      `SELECT result FROM barrier WHERE gid = $1 AND branch = $2 AND op = 'action'`,
      [key.gid, key.branch],
    );
    await compensate(tx, action.rows[0]?.result as T);
    return { state: 'applied' };
  });
}
