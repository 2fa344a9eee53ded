// The consumer side of every relay: a subscriber applies each delivered event at most once by recording its id
// in its inbox in the same local transaction as its reaction. A redelivery (the relay crashed before marking
// the event published, or an operator redrove it) finds the inbox row and changes nothing.
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from './db';

export const INBOX_TABLE_SQL = `
  CREATE TABLE IF NOT EXISTS event_inbox (
    event_id     text NOT NULL,
    subscriber   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, subscriber)
  );`;

export async function applyOnce(
  pool: Pool,
  subscriber: string,
  eventId: string,
  react: (tx: PoolClient) => Promise<void>,
  signal?: AbortSignal,
): Promise<'applied' | 'duplicate'> {
  return withTransaction(
    pool,
    async (tx) => {
      const first = await tx.query(
        `INSERT INTO event_inbox (event_id, subscriber) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
        [eventId, subscriber],
      );
      if (first.rowCount === 0) return 'duplicate';
      await react(tx);
      return 'applied';
    },
    signal ? { signal } : {},
  );
}
