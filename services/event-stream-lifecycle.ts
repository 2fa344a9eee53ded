// Stream lifecycle in the wallet event store: a tombstone (a deleted stream refuses every further append, for
// good: its id can never be reused for another aggregate) and truncate-before for retention (the events before
// a version are removed after a snapshot of the state just before it, so the stream still loads; reads as of a
// version inside the truncated range are no longer possible, and a replay from zero no longer sees them).
import type { Pool, PoolClient } from 'pg';
import type { Migration } from './db';

type Db = Pool | PoolClient;

export const streamLifecycleMigration: Migration = {
  id: 44,
  name: 'wallet_stream_lifecycle',
  sql: `
    CREATE TABLE IF NOT EXISTS wallet_streams (
      stream_id        text PRIMARY KEY,
      deleted_at       timestamptz,
      truncated_before int NOT NULL DEFAULT 0
    );
    ALTER TABLE wallet_snapshots ADD COLUMN IF NOT EXISTS state_schema int NOT NULL DEFAULT 1;`,
};

export class StreamDeletedError extends Error {
  override name = 'StreamDeletedError';
}

/** Throws StreamDeletedError when the stream has a tombstone (every append calls it, inside its transaction). */
export async function refuseIfDeleted(tx: PoolClient, streamId: string): Promise<void> {
  const r = await tx.query<{ deleted_at: Date }>(
    'SELECT deleted_at FROM wallet_streams WHERE stream_id = $1 AND deleted_at IS NOT NULL',
    [streamId],
  );
  if (r.rows[0])
    throw new StreamDeletedError(`${streamId} was deleted at ${r.rows[0].deleted_at.toISOString()}`);
}

/** Put a tombstone on a stream (idempotent: the first deletion time stays). */
export async function deleteStream(db: Db, streamId: string): Promise<void> {
  await db.query(
    `INSERT INTO wallet_streams (stream_id, deleted_at) VALUES ($1, now())
     ON CONFLICT (stream_id) DO UPDATE SET deleted_at = coalesce(wallet_streams.deleted_at, now())`,
    [streamId],
  );
}

/**
 * Remove the events before `version` (retention). The caller first stores a snapshot at version - 1 in the
 * same transaction (wallet-events.ts truncateWalletBefore does), so loading the stream never needs them.
 */
export async function deleteEventsBefore(tx: PoolClient, streamId: string, version: number): Promise<number> {
  const r = await tx.query('DELETE FROM wallet_events WHERE stream_id = $1 AND version < $2', [
    streamId,
    version,
  ]);
  await tx.query(
    `INSERT INTO wallet_streams (stream_id, truncated_before) VALUES ($1, $2)
     ON CONFLICT (stream_id) DO UPDATE SET truncated_before = greatest(wallet_streams.truncated_before, $2)`,
    [streamId, version],
  );
  return r.rowCount ?? 0;
}
