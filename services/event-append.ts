// Appending to the event store the way event-store users expect: an event id that makes the append idempotent
// (the same id again is a no-op answering the first append's version and position), metadata on every event
// (correlation id = the workflow, causation id = the step or command, schema version), and the usual
// expected-version modes: an exact version, 'no-stream', 'stream-exists', 'any'. A concurrent writer that took
// the version first makes the append fail with ConcurrencyError (the (stream, version) key), whatever the mode.
import type { PoolClient } from 'pg';
import type { Migration } from './db';
import type { GlobalPosition } from './event-store';
import { ConcurrencyError } from './wallet-events';
import { refuseIfDeleted } from './event-stream-lifecycle';

export const eventIdentityMigration: Migration = {
  id: 41,
  name: 'wallet_events_identity_metadata',
  sql: `
    ALTER TABLE wallet_events ADD COLUMN IF NOT EXISTS event_id text UNIQUE;
    ALTER TABLE wallet_events ADD COLUMN IF NOT EXISTS metadata jsonb NOT NULL DEFAULT '{}'::jsonb;`,
};

export type ExpectedVersion = number | 'no-stream' | 'stream-exists' | 'any';

export interface EventMetadata {
  /** The workflow (or request) the event belongs to. */
  correlationId?: string;
  /** The step or command that caused it. */
  causationId?: string;
}

export interface NewEvent {
  eventId: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata?: EventMetadata;
}

export interface AppendResult {
  version: number;
  position: GlobalPosition;
  /** The event id was appended before: nothing was written, the first append's version and position answer. */
  duplicate: boolean;
}

async function firstAppend(tx: PoolClient, eventId: string): Promise<AppendResult | undefined> {
  const r = await tx.query<{ version: number; tx_id: string; global_position: string }>(
    'SELECT version, tx_id::text, global_position FROM wallet_events WHERE event_id = $1',
    [eventId],
  );
  const row = r.rows[0];
  return (
    row && {
      version: row.version,
      position: { txId: row.tx_id, position: Number(row.global_position) },
      duplicate: true,
    }
  );
}

export async function appendToStream(
  tx: PoolClient,
  streamId: string,
  expected: ExpectedVersion,
  event: NewEvent,
): Promise<AppendResult> {
  const earlier = await firstAppend(tx, event.eventId);
  if (earlier) return earlier;
  await refuseIfDeleted(tx, streamId);
  const cur = await tx.query<{ v: number | null }>(
    'SELECT max(version) AS v FROM wallet_events WHERE stream_id = $1',
    [streamId],
  );
  const current = cur.rows[0]?.v ?? 0;
  const refuse = (why: string): never => {
    throw new ConcurrencyError(`${streamId}: expected ${String(expected)}, but ${why}`);
  };
  if (expected === 'no-stream' && current > 0) refuse(`the stream exists at version ${current}`);
  if (expected === 'stream-exists' && current === 0) refuse('the stream does not exist');
  if (typeof expected === 'number' && expected !== current) refuse(`the stream is at version ${current}`);
  const metadata = { ...event.metadata, schemaVersion: event.schemaVersion };
  try {
    const r = await tx.query<{ tx_id: string; global_position: string }>(
      `INSERT INTO wallet_events (stream_id, version, type, schema_version, data, recorded_at, event_id, metadata)
       VALUES ($1, $2, $3, $4, $5, clock_timestamp(), $6, $7)
       ON CONFLICT (event_id) DO NOTHING RETURNING tx_id::text, global_position`,
      [
        streamId,
        current + 1,
        event.type,
        event.schemaVersion,
        JSON.stringify(event.data),
        event.eventId,
        metadata,
      ],
    );
    const row = r.rows[0];
    if (!row) return (await firstAppend(tx, event.eventId)) ?? refuse('a concurrent append of the same id');
    return {
      version: current + 1,
      position: { txId: row.tx_id, position: Number(row.global_position) },
      duplicate: false,
    };
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return refuse('another writer appended first');
    throw err;
  }
}
