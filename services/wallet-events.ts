// The wallet as an event-sourced aggregate (the seed's User: UserCreated, BalanceUpdated). wallet_events is the
// source of truth: per-stream versions, appends checked against the expected version (the primary key rejects
// a concurrent writer), versioned event schemas read through upcasters, snapshots, state as of a version or a
// time, and a check that the `wallets` read model equals a full replay.
import type { Pool, PoolClient } from 'pg';
import { deleteEventsBefore, refuseIfDeleted } from './event-stream-lifecycle';

/**
 * The version of WalletState's shape and of the rules apply() enforces. Bump it when either changes: snapshots
 * taken under another version are then ignored (the state is replayed from the events under the new rules).
 */
export const WALLET_STATE_SCHEMA = 1;

/** A snapshot is taken automatically every N events of a stream (SETTLE_SNAPSHOT_EVERY, default 100; 0: never). */
export function snapshotEvery(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.SETTLE_SNAPSHOT_EVERY ?? 100);
  return Number.isInteger(n) && n >= 0 ? n : 100;
}

/** The current shape of every event type, after upcasting. */
export type WalletEvent =
  | { type: 'UserCreated'; version: number; recordedAt: string; data: { name: string; email: string } }
  | {
      type: 'BalanceUpdated';
      version: number;
      recordedAt: string;
      data: { amountCents: number; reason: string };
    };

interface RawEvent {
  version: number;
  type: string;
  schema_version: number;
  data: Record<string, unknown>;
  recorded_at: Date;
}

export class EventSchemaError extends Error {
  override name = 'EventSchemaError';
}

/**
 * Upcasters: old stored shapes are read as the current one, so history is never rewritten.
 * BalanceUpdated v1 stored `{ amount }` (cents, sign = direction); v2 stores `{ amountCents, reason }`.
 */
export function upcast(raw: RawEvent): WalletEvent {
  const recordedAt = raw.recorded_at.toISOString();
  if (raw.type === 'UserCreated' && raw.schema_version === 1) {
    return {
      type: 'UserCreated',
      version: raw.version,
      recordedAt,
      data: { name: String(raw.data.name), email: String(raw.data.email) },
    };
  }
  if (raw.type === 'BalanceUpdated' && raw.schema_version === 1) {
    return {
      type: 'BalanceUpdated',
      version: raw.version,
      recordedAt,
      data: {
        amountCents: Number(raw.data.amount),
        reason: typeof raw.data.reason === 'string' ? raw.data.reason : '',
      },
    };
  }
  if (raw.type === 'BalanceUpdated' && raw.schema_version === 2) {
    return {
      type: 'BalanceUpdated',
      version: raw.version,
      recordedAt,
      data: {
        amountCents: Number(raw.data.amountCents),
        reason: typeof raw.data.reason === 'string' ? raw.data.reason : '',
      },
    };
  }
  throw new EventSchemaError(`no upcaster for ${raw.type} schema v${raw.schema_version}`);
}

export interface WalletState {
  customerId: string;
  name: string;
  email: string;
  balanceCents: number;
  /** Version of the last event applied (0: no events). */
  version: number;
}

export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

/** Apply one event: the same rules the live aggregate enforces, so a replay can never hide a broken history. */
export function apply(state: WalletState, e: WalletEvent): WalletState {
  if (e.version !== state.version + 1)
    throw new InvariantViolation(`${state.customerId}: event version ${e.version} after ${state.version}`);
  if (e.type === 'UserCreated')
    return { ...state, name: e.data.name, email: e.data.email, version: e.version };
  const balanceCents = state.balanceCents + e.data.amountCents;
  if (balanceCents < 0)
    throw new InvariantViolation(`${state.customerId}: balance would be negative at version ${e.version}`);
  return { ...state, balanceCents, version: e.version };
}

export const emptyWallet = (customerId: string): WalletState => ({
  customerId,
  name: '',
  email: '',
  balanceCents: 0,
  version: 0,
});

export function replay(
  customerId: string,
  events: WalletEvent[],
  from: WalletState = emptyWallet(customerId),
): WalletState {
  return events.reduce(apply, from);
}

type Db = Pool | PoolClient;

export async function readEvents(
  db: Db,
  customerId: string,
  opts: { afterVersion?: number; toVersion?: number; until?: Date } = {},
): Promise<WalletEvent[]> {
  const res = await db.query<RawEvent>(
    `SELECT version, type, schema_version, data, recorded_at FROM wallet_events
      WHERE stream_id = $1 AND version > $2 AND ($3::int IS NULL OR version <= $3) AND ($4::timestamptz IS NULL OR recorded_at <= $4)
      ORDER BY version`,
    [customerId, opts.afterVersion ?? 0, opts.toVersion ?? null, opts.until ?? null],
  );
  return res.rows.map(upcast);
}

/** The wallet's state, optionally as of a version or a point in time; starts from the newest usable snapshot. */
export async function loadWallet(
  db: Db,
  customerId: string,
  opts: { asOfVersion?: number; asOf?: Date } = {},
): Promise<WalletState | undefined> {
  const snap = await db.query<{ state: WalletState }>(
    `SELECT state FROM wallet_snapshots WHERE stream_id = $1 AND state_schema = $4 AND ($2::int IS NULL OR version <= $2)
       AND ($3::timestamptz IS NULL OR version <= (SELECT coalesce(max(version), 0) FROM wallet_events WHERE stream_id = $1 AND recorded_at <= $3))
     ORDER BY version DESC LIMIT 1`,
    [customerId, opts.asOfVersion ?? null, opts.asOf ?? null, WALLET_STATE_SCHEMA],
  );
  const from = snap.rows[0]?.state ?? emptyWallet(customerId);
  const events = await readEvents(db, customerId, {
    afterVersion: from.version,
    toVersion: opts.asOfVersion,
    until: opts.asOf,
  });
  const state = replay(customerId, events, from);
  return state.version === 0 ? undefined : state;
}

/** Store a snapshot of the state (now, or as of a version): idempotent per version, replacing a stale-schema one. */
export async function snapshotWallet(
  db: Db,
  customerId: string,
  opts: { asOfVersion?: number } = {},
): Promise<WalletState | undefined> {
  const state = await loadWallet(db, customerId, opts);
  if (!state) return undefined;
  await db.query(
    `INSERT INTO wallet_snapshots (stream_id, version, state, state_schema) VALUES ($1, $2, $3, $4)
     ON CONFLICT (stream_id, version) DO UPDATE SET state = excluded.state, state_schema = excluded.state_schema,
       taken_at = now() WHERE wallet_snapshots.state_schema <> excluded.state_schema`,
    [customerId, state.version, JSON.stringify(state), WALLET_STATE_SCHEMA],
  );
  return state;
}

/** Retention: drop the events before `version`, keeping a snapshot of the state just before it (one transaction). */
export async function truncateWalletBefore(
  tx: PoolClient,
  customerId: string,
  version: number,
): Promise<number> {
  if (version <= 1) return 0;
  const kept = await snapshotWallet(tx, customerId, { asOfVersion: version - 1 });
  if (!kept) return 0;
  return deleteEventsBefore(tx, customerId, kept.version + 1);
}

export class ConcurrencyError extends Error {
  override name = 'ConcurrencyError';
}

/** Append with an expected version: fails with ConcurrencyError when another writer got there first. */
export async function appendEvent(
  tx: PoolClient,
  customerId: string,
  expectedVersion: number,
  event: { type: WalletEvent['type']; data: WalletEvent['data'] },
): Promise<number> {
  const version = expectedVersion + 1;
  const schema = event.type === 'BalanceUpdated' ? 2 : 1;
  await refuseIfDeleted(tx, customerId);
  try {
    // clock_timestamp(), not now(): now() is the transaction's start, so a writer that began before another
    // but appended after it (the caller holds the stream's lock) would stamp a later version with an earlier
    // time, and an as-of read would include an event recorded after its instant.
    await tx.query(
      `INSERT INTO wallet_events (stream_id, version, type, schema_version, data, recorded_at)
       VALUES ($1, $2, $3, $4, $5, clock_timestamp())`,
      [customerId, version, event.type, schema, JSON.stringify(event.data)],
    );
  } catch (err) {
    if ((err as { code?: string }).code === '23505')
      throw new ConcurrencyError(
        `${customerId}: expected version ${expectedVersion}, but the stream has moved on`,
      );
    throw err;
  }
  const every = snapshotEvery();
  if (every > 0 && version % every === 0) await snapshotWallet(tx, customerId);
  return version;
}

export interface ProjectionMismatch {
  customerId: string;
  projected: { balanceCents: number; version: number };
  replayed: { balanceCents: number; version: number } | null;
}

/** Rebuild every wallet from its events and compare with the `wallets` read model. */
export async function verifyProjection(
  db: Db,
): Promise<{ checked: number; mismatches: ProjectionMismatch[] }> {
  const rows = await db.query<{ customer_id: string; balance_cents: string; version: number }>(
    'SELECT customer_id, balance_cents, version FROM wallets ORDER BY customer_id',
  );
  const mismatches: ProjectionMismatch[] = [];
  for (const r of rows.rows) {
    const state = await loadWallet(db, r.customer_id);
    const projected = { balanceCents: Number(r.balance_cents), version: r.version };
    if (!state || state.balanceCents !== projected.balanceCents || state.version !== projected.version) {
      mismatches.push({
        customerId: r.customer_id,
        projected,
        replayed: state ? { balanceCents: state.balanceCents, version: state.version } : null,
      });
    }
  }
  return { checked: rows.rowCount ?? 0, mismatches };
}
