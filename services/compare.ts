// The data side of `settle compare` (bench/compare.ts): one operation, "move N cents from account X at bank-a
// to account Y at bank-b", as the saga, choreography and weak models do it on the bank databases, and the reads
// that judge every model the same way. Bench-only tables (compare_ledger, compare_inbox, and an outbox_events in
// bank-a shaped like the transfer outbox so services/outbox-relay.ts reads it) are created by setupCompareTables
// on the compare run's own stack, never by the product's migrations. Every call runs on the stack's pools, which
// carry the statement and lock timeouts (services/db.ts DB_TIMEOUTS).
import type { Pool, PoolClient } from 'pg';
import { withTransaction, type Pools } from './db';
import { credit, debit, outboxMigrations } from './banks';
import { transferOutboxRelayMigration } from './outbox-relay';

export const COMPARE_CREDIT_TOPIC = 'CompareCreditDue';

/** The models `settle compare` measures, in its table order. */
export const COMPARE_MODELS = ['2pc', 'tcc', 'saga', 'choreography', 'weak'] as const;
export type CompareModel = (typeof COMPARE_MODELS)[number];

export interface CompareRunOptions {
  transfers: number;
  concurrency: number[];
  models: CompareModel[];
  kill: boolean;
}

/** The options of a compare run, checked (shared by `settle compare` and `npm run compare`); throws why not. */
export function parseCompareOptions(raw: {
  transfers?: string;
  concurrency?: string;
  models?: string;
  noKill?: boolean;
}): CompareRunOptions {
  const transfers = Number(raw.transfers ?? '200');
  if (!Number.isInteger(transfers) || transfers < 1)
    throw new Error(`--transfers must be a whole number >= 1, got '${raw.transfers}'`);
  const concurrency = (raw.concurrency ?? '1,50').split(',').map((x) => Number(x.trim()));
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1))
    throw new Error(`--concurrency must be a comma list of whole numbers >= 1, got '${raw.concurrency}'`);
  const models = (raw.models ?? COMPARE_MODELS.join(',')).split(',').map((m) => m.trim());
  const unknown = models.filter((m) => !(COMPARE_MODELS as readonly string[]).includes(m));
  if (unknown.length || !models.length)
    throw new Error(`unknown model '${unknown.join(', ')}' (known: ${COMPARE_MODELS.join(', ')})`);
  return { transfers, concurrency, models: models as CompareModel[], kill: raw.noKill !== true };
}

export interface CreditDue {
  account: string;
  amountCents: number;
}

export async function setupCompareTables(pools: Pick<Pools, 'bank_a' | 'bank_b'>): Promise<void> {
  for (const pool of [pools.bank_a, pools.bank_b])
    await pool.query(`CREATE TABLE IF NOT EXISTS compare_ledger (
        entry_key  text PRIMARY KEY,
        account_id text NOT NULL,
        amount_cents bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())`);
  await pools.bank_b.query(`CREATE TABLE IF NOT EXISTS compare_inbox (
      event_id    text PRIMARY KEY,
      received_at timestamptz NOT NULL DEFAULT now())`);
  // The transfer outbox's own DDL (both statements are IF NOT EXISTS): bank-a becomes a publishing service.
  await pools.bank_a.query(outboxMigrations[0]!.sql);
  await pools.bank_a.query(transferOutboxRelayMigration.sql);
}

/** Accounts `<tag>-<i>-a` at bank-a holding amount each and `<tag>-<i>-b` at bank-b holding 0. */
export async function seedComparePairs(
  pools: Pick<Pools, 'bank_a' | 'bank_b'>,
  tag: string,
  count: number,
  amountCents: number,
): Promise<void> {
  const seed = (pool: Pool, side: 'a' | 'b', balance: number) =>
    pool.query(
      `INSERT INTO accounts (account_id, owner, balance_cents)
       SELECT $1 || '-' || i || '-' || $2, 'compare', $3::bigint FROM generate_series(0, $4::int - 1) i`,
      [tag, side, balance, count],
    );
  await seed(pools.bank_a, 'a', amountCents);
  await seed(pools.bank_b, 'b', 0);
}

export const pairAccount = (tag: string, i: number, side: 'a' | 'b'): string => `${tag}-${i}-${side}`;

const hasEntry = async (tx: PoolClient, key: string): Promise<boolean> =>
  ((await tx.query('SELECT 1 FROM compare_ledger WHERE entry_key = $1', [key])).rowCount ?? 0) > 0;

/**
 * Apply a balance change once per key, in one local transaction with its ledger row: a retried call with the
 * same key is a no-op. `blockedBy`: a key whose presence refuses this change (a debit whose refund already ran,
 * arriving late, must not take the money again).
 */
export async function applyOnce(
  pool: Pool,
  change: { key: string; kind: 'debit' | 'credit'; account: string; amountCents: number; blockedBy?: string },
  also?: (tx: PoolClient) => Promise<void>,
): Promise<'applied' | 'duplicate' | 'blocked'> {
  return withTransaction(pool, async (tx) => {
    // The ledger row first: a concurrent retry with the same key waits on it, then sees a duplicate.
    const r = await tx.query(
      'INSERT INTO compare_ledger (entry_key, account_id, amount_cents) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [change.key, change.account, change.kind === 'debit' ? -change.amountCents : change.amountCents],
    );
    if (r.rowCount === 0) return 'duplicate';
    if (change.blockedBy && (await hasEntry(tx, change.blockedBy))) {
      await tx.query('DELETE FROM compare_ledger WHERE entry_key = $1', [change.key]);
      return 'blocked';
    }
    if (change.kind === 'debit') await debit(tx, change.account, change.amountCents);
    else await credit(tx, change.account, change.amountCents);
    await also?.(tx);
    return 'applied';
  });
}

/** Undo a debit if (and only if) it was applied; marks the refund so the debit can never apply afterwards. */
export async function refundOnce(
  pool: Pool,
  debitKey: string,
  refundKey: string,
  account: string,
  amountCents: number,
): Promise<'refunded' | 'nothing to undo' | 'duplicate'> {
  return withTransaction(pool, async (tx) => {
    const r = await tx.query(
      'INSERT INTO compare_ledger (entry_key, account_id, amount_cents) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING',
      [refundKey, account],
    );
    if (r.rowCount === 0) return 'duplicate';
    if (!(await hasEntry(tx, debitKey))) return 'nothing to undo';
    await tx.query('UPDATE compare_ledger SET amount_cents = $2 WHERE entry_key = $1', [
      refundKey,
      amountCents,
    ]);
    await credit(tx, account, amountCents);
    return 'refunded';
  });
}

/** Choreography's first step: the debit and its "credit due" event commit together in bank-a. */
export async function debitWithOutboxEvent(
  pool: Pool,
  eventId: string,
  from: string,
  due: CreditDue,
): Promise<void> {
  await applyOnce(
    pool,
    { key: `${eventId}:debit`, kind: 'debit', account: from, amountCents: due.amountCents },
    (tx) =>
      tx
        .query(`INSERT INTO outbox_events (event_id, topic, event_key, payload) VALUES ($1, $2, $3, $4)`, [
          eventId,
          COMPARE_CREDIT_TOPIC,
          due.account,
          JSON.stringify(due),
        ])
        .then(() => undefined),
  );
}

/** The subscriber side at bank-b: the credit and its inbox row in one transaction (a redelivery is a no-op). */
export async function creditFromEvent(pool: Pool, eventId: string, due: CreditDue): Promise<boolean> {
  return withTransaction(pool, async (tx) => {
    const r = await tx.query('INSERT INTO compare_inbox (event_id) VALUES ($1) ON CONFLICT DO NOTHING', [
      eventId,
    ]);
    if (r.rowCount === 0) return false;
    await credit(tx, due.account, due.amountCents);
    return true;
  });
}

/** The weak model's credit: no key, no inbox, no retry. */
export async function plainCredit(pool: Pool, due: CreditDue): Promise<void> {
  await withTransaction(pool, (tx) => credit(tx, due.account, due.amountCents));
}

/**
 * What a concurrent reader sees: the sum of the run's balances in bank-a, then in bank-b, each one statement
 * (its own snapshot), as a reader of two services does. TCC holds are not added back: held money is in neither
 * account.
 */
export async function readPairSum(pools: Pick<Pools, 'bank_a' | 'bank_b'>, tag: string): Promise<number> {
  let total = 0;
  for (const pool of [pools.bank_a, pools.bank_b]) {
    const r = await pool.query<{ s: string }>(
      `SELECT coalesce(sum(balance_cents), 0) AS s FROM accounts WHERE account_id LIKE $1`,
      [`${tag}-%`],
    );
    total += Number(r.rows[0]?.s ?? 0);
  }
  return total;
}

export interface PairState {
  i: number;
  /** bank-a balance (amount = untouched or refunded, 0 = debited). */
  from: number;
  /** bank-b balance (amount x number of credits). */
  to: number;
  /** When bank-b's account last changed (ms since epoch), if it was credited. */
  creditedAtMs?: number;
}

export async function pairStates(pools: Pick<Pools, 'bank_a' | 'bank_b'>, tag: string): Promise<PairState[]> {
  const read = (pool: Pool, side: 'a' | 'b') =>
    pool.query<{ i: string; balance_cents: string; at: string }>(
      `SELECT split_part(account_id, '-', array_length(string_to_array(account_id, '-'), 1) - 1) AS i,
              balance_cents, (extract(epoch FROM updated_at) * 1000)::text AS at
         FROM accounts WHERE account_id LIKE $1 AND account_id LIKE $2`,
      [`${tag}-%`, `%-${side}`],
    );
  const [a, b] = await Promise.all([read(pools.bank_a, 'a'), read(pools.bank_b, 'b')]);
  const byI = new Map<number, PairState>();
  for (const r of a.rows) byI.set(Number(r.i), { i: Number(r.i), from: Number(r.balance_cents), to: 0 });
  for (const r of b.rows) {
    const p = byI.get(Number(r.i));
    if (!p) continue;
    p.to = Number(r.balance_cents);
    if (p.to > 0) p.creditedAtMs = Number(r.at);
  }
  return [...byI.values()].sort((x, y) => x.i - y.i);
}

/** Undelivered "credit due" events of a run (choreography is quiet once this is 0). */
export async function pendingCredits(pool: Pool, tag: string): Promise<number> {
  const r = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM outbox_events WHERE published_at IS NULL AND event_id LIKE $1`,
    [`${tag}-%`],
  );
  return Number(r.rows[0]?.n ?? 0);
}
