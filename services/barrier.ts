// The sub-transaction barrier (the idea comes from DTM), kept in each service's own database and written in
// the same local transaction as the business change. Temporal delivers activities at least once, and an
// attempt that timed out can still commit later, so every branch goes through here:
//  - idempotent: a retried action or compensation finds its row and does nothing twice;
//  - null compensation: a compensation for an action that never committed records itself and does nothing;
//  - hanging: an action that arrives after its compensation finds the compensation's marker and is refused;
//    so is one that committed and was compensated since (a reset run meets the earlier run's rows).
import type { Pool, PoolClient } from 'pg';
import { withTransaction, type Migration, type TransactionOptions } from './db';

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
  /** Global transaction id: the workflow id, bound to its run (`<workflow id>/<first run id>`) for new sagas. */
  gid: string;
  /** The step within the transaction. */
  branch: string;
}

export type ActionOutcome<T> = { state: 'applied'; result: T } | { state: 'duplicate'; result: T };
export type CompensationOutcome = { state: 'applied' } | { state: 'duplicate' } | { state: 'noop' };

export class BarrierRejectedError extends Error {
  override name = 'BarrierRejected';
  constructor(key: BranchKey, why = 'arrived after its compensation') {
    super(`${key.gid}/${key.branch}: the action ${why} and was refused`);
  }
}

export interface ActionOptions extends TransactionOptions {
  /**
   * A duplicate of an action that committed and was compensated since: `refuse` it (sagas: a reset run meets the
   * earlier run's rows, and going forward on an undone step would confirm an unpaid order), or answer `duplicate`
   * with the first result (default; TCC, whose participant-side expiry cancels a try its coordinator may retry).
   */
  afterCompensation?: 'refuse' | 'duplicate';
}

/** Run a forward action at most once per (gid, branch). A duplicate returns the first result. */
export async function barrierAction<T>(
  pool: Pool,
  key: BranchKey,
  action: (tx: PoolClient) => Promise<T>,
  opts: ActionOptions = {},
): Promise<ActionOutcome<T>> {
  return withTransaction(
    pool,
    async (tx) => {
      const ins = await tx.query(
        `INSERT INTO barrier (gid, branch, op, origin) VALUES ($1, $2, 'action', 'action') ON CONFLICT DO NOTHING`,
        [key.gid, key.branch],
      );
      if (ins.rowCount === 0) {
        // FOR SHARE waits for a compensation of this branch still in flight (it locks the action row first).
        const row = await tx.query<{ origin: string; result: T }>(
          `SELECT origin, result FROM barrier WHERE gid = $1 AND branch = $2 AND op = 'action' FOR SHARE`,
          [key.gid, key.branch],
        );
        if (row.rows[0]?.origin === 'compensate') throw new BarrierRejectedError(key);
        if (opts.afterCompensation !== 'refuse')
          return { state: 'duplicate', result: row.rows[0]?.result as T };
        // An action that committed and was then compensated (a reset run, a business id reused on the same key)
        // was undone: answering "duplicate" would let the saga go forward on it. A separate statement, so it sees
        // a compensation that committed while the lock above waited.
        const undone = await tx.query(
          `SELECT 1 FROM barrier WHERE gid = $1 AND branch = $2 AND op = 'compensate'`,
          [key.gid, key.branch],
        );
        if (undone.rowCount) throw new BarrierRejectedError(key, 'was compensated already');
        return { state: 'duplicate', result: row.rows[0]?.result as T };
      }
      const result = await action(tx);
      await tx.query(`UPDATE barrier SET result = $3 WHERE gid = $1 AND branch = $2 AND op = 'action'`, [
        key.gid,
        key.branch,
        JSON.stringify(result ?? null),
      ]);
      return { state: 'applied', result };
    },
    opts,
  );
}

/**
 * Run a compensation at most once per (gid, branch), and only if the action committed. The action's stored
 * result is handed to the compensation so it undoes exactly what was done.
 */
export async function barrierCompensation<T>(
  pool: Pool,
  key: BranchKey,
  compensate: (tx: PoolClient, actionResult: T) => Promise<void>,
  opts: TransactionOptions = {},
): Promise<CompensationOutcome> {
  return withTransaction(
    pool,
    async (tx) => {
      // Lock a committed action row first: a duplicate of the action arriving meanwhile waits for this
      // compensation's outcome instead of answering "done" for what is being undone.
      await tx.query(`SELECT 1 FROM barrier WHERE gid = $1 AND branch = $2 AND op = 'action' FOR UPDATE`, [
        key.gid,
        key.branch,
      ]);
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
    },
    opts,
  );
}

/**
 * Retention: delete the barrier rows of transactions whose newest row is older than `cutoff` and that are no
 * longer running. A running saga (parked for weeks, or continuing as new) keeps its rows: a compensation that
 * runs later must still find its action's row, or it would record a no-op instead of undoing what was done.
 * `isRunning` answers for a gid (the CLI asks Temporal); a gid it cannot answer for is kept.
 */
export async function pruneBarrier(
  pool: Pool,
  cutoff: Date,
  isRunning: (gid: string) => Promise<boolean | undefined>,
  opts: { dryRun?: boolean; batch?: number } = {},
): Promise<{ gids: number; rows: number; kept: number }> {
  const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('barrier')::text AS t`);
  if (!exists.rows[0]?.t) return { gids: 0, rows: 0, kept: 0 };
  const old = await pool.query<{ gid: string }>(
    `SELECT gid FROM barrier GROUP BY gid HAVING max(created_at) < $1 ORDER BY gid LIMIT $2`,
    [cutoff, opts.batch ?? 10_000],
  );
  let gids = 0;
  let rows = 0;
  let kept = 0;
  for (const { gid } of old.rows) {
    if ((await isRunning(gid)) !== false) {
      kept++;
      continue;
    }
    gids++;
    if (opts.dryRun) {
      const n = await pool.query<{ n: string }>('SELECT count(*) AS n FROM barrier WHERE gid = $1', [gid]);
      rows += Number(n.rows[0]?.n ?? 0);
      continue;
    }
    // Re-checked in the DELETE: a row written since the scan (a late compensation) keeps the gid.
    const del = await pool.query(
      `DELETE FROM barrier WHERE gid = $1 AND NOT EXISTS (SELECT 1 FROM barrier WHERE gid = $1 AND created_at >= $2)`,
      [gid, cutoff],
    );
    rows += del.rowCount ?? 0;
  }
  return { gids, rows, kept };
}
