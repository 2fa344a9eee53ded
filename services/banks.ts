// The two banks (bank-a, bank-b: one database each) and the transfer outbox: schema, demo accounts, and the
// local work each participant does inside its prepared transaction (2PC/3PC) or its TCC try/confirm/cancel.
// Balances are integer cents and can never go negative (a CHECK, besides the explicit test). Knows nothing of
// Temporal.
import type { Client, Pool, PoolClient } from 'pg';
import { centsFromDb, ERR, SEED_ACCOUNTS, TRANSFER_ERR, type BankId, type BranchOp } from '../shared';
import { barrierMigration } from './barrier';
import type { Migration, Pools, ServiceName } from './db';
import { BusinessRejection } from './shop';
import { coordinatorLogMigration } from './coordinator-log';
import { xaBindingMigration, xaMigration } from './xa';

type Tx = Pick<PoolClient, 'query'> | Client;

export const BANK_SERVICES: Record<BankId, ServiceName> = { 'bank-a': 'bank_a', 'bank-b': 'bank_b' };

export const bankMigrations: Migration[] = [
  barrierMigration,
  {
    id: 2,
    name: 'accounts',
    sql: `
      CREATE TABLE IF NOT EXISTS accounts (
        account_id    text PRIMARY KEY,
        owner         text NOT NULL,
        balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
      -- The ledger: one row per applied leg (a 2PC/3PC branch, or a confirmed TCC reservation).
      CREATE TABLE IF NOT EXISTS transfers (
        entry_id     bigserial PRIMARY KEY,
        entry_key    text NOT NULL UNIQUE,
        workflow_id  text NOT NULL,
        account_id   text NOT NULL REFERENCES accounts (account_id),
        amount_cents bigint NOT NULL CHECK (amount_cents <> 0),
        protocol     text NOT NULL CHECK (protocol IN ('2pc', '3pc', 'tcc')),
        created_at   timestamptz NOT NULL DEFAULT now()
      );
      -- TCC reservations: a debit's money leaves the balance at try (held here) and is released on cancel;
      -- a credit reaches the balance only on confirm.
      CREATE TABLE IF NOT EXISTS reservations (
        reservation_id text PRIMARY KEY,
        workflow_id    text NOT NULL,
        branch         text NOT NULL,
        account_id     text NOT NULL REFERENCES accounts (account_id),
        amount_cents   bigint NOT NULL CHECK (amount_cents <> 0),
        status         text NOT NULL CHECK (status IN ('held', 'confirmed', 'cancelled')),
        expires_at     timestamptz,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now()
      );`,
  },
  xaMigration,
  xaBindingMigration,
  {
    id: 3,
    name: 'reservation_expiry',
    // The participant enforces expiry itself (services/tcc-expiry.ts): why a reservation was cancelled, and the
    // index its expiry job scans.
    sql: `
      ALTER TABLE reservations ADD COLUMN IF NOT EXISTS cancel_reason text;
      CREATE INDEX IF NOT EXISTS reservations_held_by_expiry ON reservations (expires_at) WHERE status = 'held';`,
  },
];

/** The message-queue participant: transfer events, prepared in the same 2PC as the money. */
export const outboxMigrations: Migration[] = [
  {
    id: 2,
    name: 'outbox_events',
    sql: `
      CREATE TABLE IF NOT EXISTS outbox_events (
        event_id     text PRIMARY KEY,
        topic        text NOT NULL,
        event_key    text NOT NULL,
        payload      jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      );`,
  },
  xaMigration,
  xaBindingMigration,
  coordinatorLogMigration,
];

/** The TCC server's request log: every call as it arrived (duplicates included), and what it answered. */
export const tccMigrations: Migration[] = [
  barrierMigration,
  {
    id: 2,
    name: 'tcc_requests',
    sql: `
      CREATE TABLE IF NOT EXISTS tcc_requests (
        request_id  bigserial PRIMARY KEY,
        op          text NOT NULL CHECK (op IN ('try', 'confirm', 'cancel')),
        workflow_id text NOT NULL,
        branch      text NOT NULL,
        bank        text NOT NULL,
        status      int NOT NULL,
        outcome     text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      );`,
  },
];

/** Insert the demo accounts where missing; never resets a balance. */
export async function seedBank(pool: Pool, bank: BankId): Promise<void> {
  for (const a of SEED_ACCOUNTS.filter((s) => s.bank === bank)) {
    await pool.query(
      'INSERT INTO accounts (account_id, owner, balance_cents) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [a.account, a.owner, a.balanceCents],
    );
  }
}

export async function seedBanks(pools: Pick<Pools, 'bank_a' | 'bank_b'>): Promise<void> {
  await seedBank(pools.bank_a, 'bank-a');
  await seedBank(pools.bank_b, 'bank-b');
}

// ---------------------------------------------------------------------------------------------- balances
async function lockAccount(tx: Tx, account: string): Promise<number> {
  const r = await tx.query<{ balance_cents: string }>(
    'SELECT balance_cents FROM accounts WHERE account_id = $1 FOR UPDATE',
    [account],
  );
  const row = r.rows[0];
  if (!row) throw new BusinessRejection(ERR.unknownAccount, `unknown account ${account}`);
  return centsFromDb(row.balance_cents);
}

/** Checked debit: refuses (a no vote) rather than going below zero. */
export async function debit(tx: Tx, account: string, amountCents: number): Promise<number> {
  const balance = await lockAccount(tx, account);
  if (balance < amountCents)
    throw new BusinessRejection(
      ERR.insufficientFunds,
      `insufficient funds: ${account} has ${balance} cents, needs ${amountCents}`,
    );
  await tx.query(
    'UPDATE accounts SET balance_cents = balance_cents - $2, updated_at = now() WHERE account_id = $1',
    [account, amountCents],
  );
  return balance - amountCents;
}

export async function credit(tx: Tx, account: string, amountCents: number): Promise<number> {
  const balance = await lockAccount(tx, account);
  await tx.query(
    'UPDATE accounts SET balance_cents = balance_cents + $2, updated_at = now() WHERE account_id = $1',
    [account, amountCents],
  );
  return balance + amountCents;
}

async function ledger(
  tx: Tx,
  entryKey: string,
  workflowId: string,
  account: string,
  amountCents: number,
  protocol: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO transfers (entry_key, workflow_id, account_id, amount_cents, protocol) VALUES ($1, $2, $3, $4, $5)`,
    [entryKey, workflowId, account, amountCents, protocol],
  );
}

/** A bank participant's work inside its prepared transaction (2PC or 3PC). */
export async function applyBankOps(
  tx: Tx,
  gid: string,
  workflowId: string,
  ops: BranchOp[],
  protocol: '2pc' | '3pc',
): Promise<void> {
  for (const [i, op] of ops.entries()) {
    if (op.kind === 'event') throw new BusinessRejection(ERR.invalidInput, 'a bank cannot prepare an event');
    if (!Number.isSafeInteger(op.amountCents) || op.amountCents <= 0)
      throw new BusinessRejection(ERR.invalidInput, `amount must be positive cents, got ${op.amountCents}`);
    if (op.kind === 'debit') await debit(tx, op.account, op.amountCents);
    else await credit(tx, op.account, op.amountCents);
    await ledger(
      tx,
      `${gid}#${i}`,
      workflowId,
      op.account,
      op.kind === 'debit' ? -op.amountCents : op.amountCents,
      protocol,
    );
  }
}

/** The outbox participant's work: the event rows, visible if and only if the transaction commits. */
export async function applyOutboxOps(tx: Tx, ops: BranchOp[]): Promise<void> {
  for (const op of ops) {
    if (op.kind !== 'event') throw new BusinessRejection(ERR.invalidInput, 'the outbox only prepares events');
    const r = await tx.query(
      `INSERT INTO outbox_events (event_id, topic, event_key, payload) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [op.eventId, op.topic, op.key, JSON.stringify(op.payload)],
    );
    if (r.rowCount === 0) throw new BusinessRejection(ERR.invalidInput, `event ${op.eventId} already exists`);
  }
}

// ---------------------------------------------------------------------------------------------- TCC
export interface Reservation {
  reservationId: string;
  workflowId: string;
  branch: string;
  account: string;
  amountCents: number;
  status: 'held' | 'confirmed' | 'cancelled';
  expiresAt?: string;
}

/** TCC try: a debit takes the money out of the balance into the hold; a credit only records the reservation. */
export async function tryReservation(
  tx: Tx,
  r: {
    reservationId: string;
    workflowId: string;
    branch: string;
    account: string;
    amountCents: number;
    expiresAt?: string;
  },
): Promise<Reservation> {
  if (!Number.isSafeInteger(r.amountCents) || r.amountCents === 0)
    throw new BusinessRejection(ERR.invalidInput, 'amountCents must be a non-zero whole number');
  if (r.amountCents < 0) await debit(tx, r.account, -r.amountCents);
  else await lockAccount(tx, r.account);
  await tx.query(
    `INSERT INTO reservations (reservation_id, workflow_id, branch, account_id, amount_cents, status, expires_at)
     VALUES ($1, $2, $3, $4, $5, 'held', $6)`,
    [r.reservationId, r.workflowId, r.branch, r.account, r.amountCents, r.expiresAt ?? null],
  );
  return { ...r, status: 'held' };
}

/** The barrier key a TCC try and its cancel share (the participant's expiry job cancels through it too). */
export const tccTryKey = (workflowId: string, branch: string): { gid: string; branch: string } => ({
  gid: workflowId,
  branch: `tcc-${branch}`,
});

async function lockReservation(
  tx: Tx,
  reservationId: string,
  asOf?: Date,
): Promise<{
  account: string;
  amountCents: number;
  status: string;
  workflowId: string;
  expired: boolean;
  cancelReason: string | null;
}> {
  const r = await tx.query<{
    account_id: string;
    amount_cents: string;
    status: string;
    workflow_id: string;
    expired: boolean;
    cancel_reason: string | null;
  }>(
    `SELECT account_id, amount_cents, status, workflow_id, cancel_reason,
            coalesce(expires_at <= coalesce($2::timestamptz, now()), false) AS expired
       FROM reservations WHERE reservation_id = $1 FOR UPDATE`,
    [reservationId, asOf ?? null],
  );
  const row = r.rows[0];
  if (!row)
    throw new BusinessRejection(
      TRANSFER_ERR.unknownReservation,
      `no reservation ${reservationId} (its try never ran)`,
    );
  return {
    account: row.account_id,
    amountCents: centsFromDb(row.amount_cents),
    status: row.status,
    workflowId: row.workflow_id,
    expired: row.expired,
    cancelReason: row.cancel_reason,
  };
}

/** Reason recorded on a reservation the participant cancelled because its expiry passed. */
export const EXPIRED = 'expired';

/**
 * TCC confirm: a credit reaches the balance; a debit's hold is spent. Refused after a cancel, and after the
 * reservation's expiry (whether or not the participant's expiry job has released it yet).
 */
export async function confirmReservation(tx: Tx, reservationId: string): Promise<void> {
  const res = await lockReservation(tx, reservationId);
  if (res.status === 'confirmed') return;
  if ((res.status === 'held' && res.expired) || res.cancelReason === EXPIRED)
    throw new BusinessRejection(
      TRANSFER_ERR.reservationExpired,
      `reservation ${reservationId} expired; it cannot be confirmed (the participant releases it)`,
    );
  if (res.status === 'cancelled')
    throw new BusinessRejection(
      TRANSFER_ERR.reservationCancelled,
      `reservation ${reservationId} was cancelled; it cannot be confirmed`,
    );
  if (res.amountCents > 0) await credit(tx, res.account, res.amountCents);
  await tx.query(
    `UPDATE reservations SET status = 'confirmed', updated_at = now() WHERE reservation_id = $1`,
    [reservationId],
  );
  await ledger(tx, `tcc:${reservationId}`, res.workflowId, res.account, res.amountCents, 'tcc');
}

/**
 * TCC cancel: a debit's hold goes back to the balance; a credit is dropped. Refused after a confirm. With
 * `expiredAsOf` (the participant's expiry job), only a reservation still held and expired at that time.
 */
export async function cancelReservation(
  tx: Tx,
  reservationId: string,
  opts: { expiredAsOf?: Date; expiring?: boolean } = {},
): Promise<void> {
  const res = await lockReservation(tx, reservationId, opts.expiredAsOf);
  if (res.status === 'cancelled') return;
  if (opts.expiring && !(res.status === 'held' && res.expired))
    throw new BusinessRejection(
      TRANSFER_ERR.reservationConfirmed,
      `reservation ${reservationId} is not expired`,
    );
  if (res.status === 'confirmed')
    throw new BusinessRejection(
      TRANSFER_ERR.reservationConfirmed,
      `reservation ${reservationId} was confirmed; it cannot be cancelled`,
    );
  if (res.amountCents < 0) await credit(tx, res.account, -res.amountCents);
  await tx.query(
    `UPDATE reservations SET status = 'cancelled', cancel_reason = $2, updated_at = now() WHERE reservation_id = $1`,
    [reservationId, opts.expiring ? EXPIRED : null],
  );
}

/** Held reservations past their expiry: money the participant's expiry job has not released yet. */
export async function strandedHolds(
  pool: Pool,
): Promise<{ reservationId: string; workflowId: string; amountCents: number; expiresAt: string }[]> {
  const r = await pool.query<{
    reservation_id: string;
    workflow_id: string;
    amount_cents: string;
    expires_at: Date;
  }>(
    `SELECT reservation_id, workflow_id, amount_cents, expires_at FROM reservations
      WHERE status = 'held' AND expires_at <= now() ORDER BY expires_at`,
  );
  return r.rows.map((row) => ({
    reservationId: row.reservation_id,
    workflowId: row.workflow_id,
    amountCents: centsFromDb(row.amount_cents),
    expiresAt: row.expires_at.toISOString(),
  }));
}

export async function listReservations(pool: Pool, workflowId: string): Promise<Reservation[]> {
  const r = await pool.query<{
    reservation_id: string;
    workflow_id: string;
    branch: string;
    account_id: string;
    amount_cents: string;
    status: Reservation['status'];
    expires_at: Date | null;
  }>('SELECT * FROM reservations WHERE workflow_id = $1 ORDER BY reservation_id', [workflowId]);
  return r.rows.map((row) => ({
    reservationId: row.reservation_id,
    workflowId: row.workflow_id,
    branch: row.branch,
    account: row.account_id,
    amountCents: centsFromDb(row.amount_cents),
    status: row.status,
    expiresAt: row.expires_at?.toISOString(),
  }));
}

// ---------------------------------------------------------------------------------------------- reads
export interface AccountBalance {
  account: string;
  owner: string;
  balanceCents: number;
  /** Money of pending TCC debits: out of the balance, not yet confirmed or released. */
  heldCents: number;
}

export async function listAccounts(pool: Pool): Promise<AccountBalance[]> {
  const r = await pool.query<{ account_id: string; owner: string; balance_cents: string; held: string }>(
    `SELECT a.account_id, a.owner, a.balance_cents,
            coalesce((SELECT -sum(amount_cents) FROM reservations r
                       WHERE r.account_id = a.account_id AND r.status = 'held' AND r.amount_cents < 0), 0) AS held
       FROM accounts a ORDER BY a.account_id`,
  );
  return r.rows.map((row) => ({
    account: row.account_id,
    owner: row.owner,
    balanceCents: centsFromDb(row.balance_cents),
    heldCents: centsFromDb(row.held),
  }));
}

/** The money invariant: balances plus TCC holds, over both banks. Unchanged by any mix of outcomes. */
export async function totalMoney(pools: Pick<Pools, 'bank_a' | 'bank_b'>): Promise<number> {
  let total = 0;
  for (const pool of [pools.bank_a, pools.bank_b]) {
    for (const a of await listAccounts(pool)) total += a.balanceCents + a.heldCents;
  }
  return total;
}

export async function accountBalance(pool: Pool, account: string): Promise<number | undefined> {
  const r = await pool.query<{ balance_cents: string }>(
    'SELECT balance_cents FROM accounts WHERE account_id = $1',
    [account],
  );
  return r.rows[0] ? centsFromDb(r.rows[0].balance_cents) : undefined;
}

export async function outboxEvent(
  pool: Pool,
  eventId: string,
): Promise<{ topic: string; payload: Record<string, unknown> } | undefined> {
  const r = await pool.query<{ topic: string; payload: Record<string, unknown> }>(
    'SELECT topic, payload FROM outbox_events WHERE event_id = $1',
    [eventId],
  );
  return r.rows[0];
}

export interface PreparedXact {
  gid: string;
  database: string;
  owner: string;
  preparedAt: string;
  ageSeconds: number;
}

/** Every prepared transaction on the server (pg_prepared_xacts is cluster-wide). */
export async function listAllPrepared(db: Pick<Pool, 'query'>): Promise<PreparedXact[]> {
  const r = await db.query<{ gid: string; database: string; owner: string; prepared: Date; age: string }>(
    `SELECT gid, database, owner, prepared, extract(epoch FROM now() - prepared)::float8 AS age FROM pg_prepared_xacts ORDER BY prepared`,
  );
  return r.rows.map((row) => ({
    gid: row.gid,
    database: row.database,
    owner: row.owner,
    preparedAt: row.prepared.toISOString(),
    ageSeconds: Math.round(Number(row.age) * 10) / 10,
  }));
}
