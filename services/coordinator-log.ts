// The 2PC coordinator's durable log: one row per transaction id (the coordinator's workflow id), written before
// phase one with the digest of the exact operation, and decided exactly once before phase two. Kept in the
// outbox service's database (the coordinator's own message store, reached on the outbox task queue).
//
// The decision is write-once: whoever records first (the coordinator, or the in-doubt sweeper presuming abort)
// wins, and everyone else follows the recorded decision. So a reset coordinator, a second run under the same id,
// a cancel, a timer or a sweep can never decide the other way once any branch may have committed, and a
// transaction id used for another operation is refused instead of adopting someone else's prepared branches.
// Knows nothing of Temporal.
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { canonicalJson, type Decision, type LoggedLeg, type TransactionRecord } from '../shared';
import type { Migration } from './db';

export const coordinatorLogMigration: Migration = {
  id: 52,
  name: 'xa_transactions',
  sql: `
    CREATE TABLE IF NOT EXISTS xa_transactions (
      tx_id        text PRIMARY KEY,
      digest       text NOT NULL,
      first_run_id text NOT NULL,
      decision     text CHECK (decision IN ('commit', 'abort')),
      reason       text,
      created_at   timestamptz NOT NULL DEFAULT now(),
      decided_at   timestamptz
    );`,
};

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The digest of a whole transaction: every leg's participant, queue and ops, in the coordinator's order. */
export function transactionDigest(legs: readonly LoggedLeg[]): string {
  return sha256(canonicalJson(legs.map((l) => ({ name: l.name, queue: l.queue, ops: l.ops }))));
}

interface Row {
  tx_id: string;
  digest: string;
  first_run_id: string;
  decision: Decision | null;
  reason: string | null;
}

const toRecord = (r: Row): TransactionRecord => ({
  txId: r.tx_id,
  digest: r.digest,
  firstRunId: r.first_run_id,
  ...(r.decision ? { decision: r.decision } : {}),
  ...(r.reason ? { reason: r.reason } : {}),
});

export async function transactionRecord(pool: Pool, txId: string): Promise<TransactionRecord | undefined> {
  const r = await pool.query<Row>('SELECT * FROM xa_transactions WHERE tx_id = $1', [txId]);
  return r.rows[0] && toRecord(r.rows[0]);
}

/**
 * Before phase one: record (txId, digest) unless the id is known. The same digest returns the existing record
 * (with its decision, if an earlier run made one); another digest returns `conflict` and changes nothing.
 */
export async function beginTransaction(
  pool: Pool,
  txId: string,
  runId: string,
  digest: string,
): Promise<TransactionRecord> {
  await pool.query(
    `INSERT INTO xa_transactions (tx_id, digest, first_run_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [txId, digest, runId],
  );
  const rec = await transactionRecord(pool, txId);
  if (!rec) throw new Error(`coordinator log: ${txId} vanished after its insert`);
  return rec.digest === digest ? rec : { ...rec, conflict: true };
}

/**
 * Record the decision unless one exists; returns the decision that stands (yours, or the one recorded first).
 * A transaction never begun (a branch whose coordinator never existed) is recorded with its decision.
 */
export async function decideTransaction(
  pool: Pool,
  txId: string,
  digest: string,
  decision: Decision,
  reason: string,
): Promise<TransactionRecord> {
  await pool.query(
    `INSERT INTO xa_transactions (tx_id, digest, first_run_id, decision, reason, decided_at)
     VALUES ($1, $2, '', $3, $4, now())
     ON CONFLICT (tx_id) DO UPDATE SET decision = $3, reason = $4, decided_at = now()
      WHERE xa_transactions.decision IS NULL AND xa_transactions.digest = $2`,
    [txId, digest, decision, reason],
  );
  const rec = await transactionRecord(pool, txId);
  if (!rec?.decision) throw new Error(`coordinator log: ${txId} is bound to another operation`);
  return rec;
}
