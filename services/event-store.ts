// The wallet event store's global position: a reader that follows it never skips an event that commits late.
// A bigserial alone does not give that: position 10 can commit after position 11, and a reader at "> 11"
// never sees it. Each event also records its writer's transaction id (xid8), and readers order by
// (transaction id, position) and only read events of transactions older than the oldest one still running
// (pg_snapshot_xmin): every such transaction has finished, so no event can ever appear behind a position a
// reader has passed. An in-flight append holds back every later event until it commits or rolls back.
import type { Pool, PoolClient } from 'pg';
import type { Migration } from './db';

type Db = Pool | PoolClient;

export const globalPositionMigration: Migration = {
  id: 40,
  name: 'wallet_events_global_position',
  sql: `
    ALTER TABLE wallet_events ADD COLUMN IF NOT EXISTS global_position bigserial;
    ALTER TABLE wallet_events ADD COLUMN IF NOT EXISTS tx_id xid8 NOT NULL DEFAULT pg_current_xact_id();
    CREATE INDEX IF NOT EXISTS wallet_events_global ON wallet_events (tx_id, global_position);`,
};

/** Where a reader is: after this (transaction, position); the start is { txId: '0', position: 0 }. */
export interface GlobalPosition {
  txId: string;
  position: number;
}
export const START: GlobalPosition = { txId: '0', position: 0 };

export interface GlobalEvent {
  at: GlobalPosition;
  streamId: string;
  version: number;
  type: string;
  schemaVersion: number;
  data: unknown;
  recordedAt: string;
}

/** The next events after `from`, in global order, never past a transaction that may still commit. */
export async function readAllForward(db: Db, from: GlobalPosition, limit = 500): Promise<GlobalEvent[]> {
  const r = await db.query<{
    tx_id: string;
    global_position: string;
    stream_id: string;
    version: number;
    type: string;
    schema_version: number;
    data: unknown;
    recorded_at: Date;
  }>(
    `SELECT tx_id::text, global_position, stream_id, version, type, schema_version, data, recorded_at
       FROM wallet_events
      WHERE (tx_id, global_position) > ($1::xid8, $2::bigint)
        AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
      -- Qualified: a bare tx_id here is the text output column above, and in text order '1000' < '999'.
      ORDER BY wallet_events.tx_id, wallet_events.global_position
      LIMIT $3`,
    [from.txId, from.position, limit],
  );
  return r.rows.map((e) => ({
    at: { txId: e.tx_id, position: Number(e.global_position) },
    streamId: e.stream_id,
    version: e.version,
    type: e.type,
    schemaVersion: e.schema_version,
    data: e.data,
    recordedAt: e.recorded_at.toISOString(),
  }));
}

/** A position as operators and scripts write it: `<transaction id>:<position>` (`0:0` is the start). */
export const formatPosition = (p: GlobalPosition): string => `${p.txId}:${p.position}`;
export function parsePosition(text: string): GlobalPosition | undefined {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { txId: m[1]!, position: Number(m[2]) } : undefined;
}
