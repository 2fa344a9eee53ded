// The documented consumer of the 2PC/3PC transfer outbox: the notifications service keeps one notice per
// committed transfer (what a customer-facing "you sent / you received" message is built from). The transfer
// relay (workflows/relay.ts, relay 'transfers') delivers every `transfer.committed` event that the outbox
// participant committed together with the money; the notice and the inbox row commit together, so each
// transfer produces exactly one notice however often the event is delivered, and an aborted transfer (its
// outbox row rolled back with the money) none.
import type { Pool } from 'pg';
import { TRANSFER_COMMITTED } from '../shared/relay';
import type { Migration } from './db';
import { applyOnce, INBOX_TABLE_SQL } from './inbox';

export const transferNoticesMigration: Migration = {
  id: 30,
  name: 'transfer_notices',
  sql: `${INBOX_TABLE_SQL}
    CREATE TABLE IF NOT EXISTS transfer_notices (
      event_id     text PRIMARY KEY,
      ref          text NOT NULL,
      from_account text NOT NULL,
      to_account   text NOT NULL,
      amount_cents bigint NOT NULL,
      body         text NOT NULL,
      received_at  timestamptz NOT NULL DEFAULT now()
    );`,
};

export interface TransferCommittedPayload {
  ref: string;
  from: string;
  to: string;
  amountCents: number;
  text: string;
}

export const TRANSFER_SUBSCRIBER = 'notifications';

export async function receiveTransferEvent(
  pool: Pool,
  event: { eventId: string; topic: string; payload: unknown },
  signal?: AbortSignal,
): Promise<'applied' | 'duplicate'> {
  if (event.topic !== TRANSFER_COMMITTED) throw new Error(`notifications cannot handle topic ${event.topic}`);
  const p = event.payload as TransferCommittedPayload;
  return applyOnce(
    pool,
    TRANSFER_SUBSCRIBER,
    event.eventId,
    async (tx) => {
      await tx.query(
        `INSERT INTO transfer_notices (event_id, ref, from_account, to_account, amount_cents, body)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [event.eventId, p.ref, p.from, p.to, p.amountCents, p.text],
      );
    },
    signal,
  );
}

export async function noticesFor(pool: Pool, ref: string): Promise<{ eventId: string; body: string }[]> {
  const r = await pool.query<{ event_id: string; body: string }>(
    'SELECT event_id, body FROM transfer_notices WHERE ref = $1 ORDER BY received_at',
    [ref],
  );
  return r.rows.map((x) => ({ eventId: x.event_id, body: x.body }));
}
