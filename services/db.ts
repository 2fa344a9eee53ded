// Database plumbing shared by every participant service: one PostgreSQL database per service,
// migrations that run on start, and pools. Knows nothing of Temporal.
import { Client, Pool, type PoolClient } from 'pg';

export const SERVICE_NAMES = [
  'orders',
  'inventory',
  'payments',
  'notifications',
  'bank_a',
  'bank_b',
  'tcc',
  'outbox',
  'trip',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const DEFAULT_DB_PREFIX = 'settle';

/** The URL of one service's database on the server that `baseUrl` points at. */
export function serviceDatabaseUrl(
  baseUrl: string,
  service: ServiceName,
  prefix = DEFAULT_DB_PREFIX,
): string {
  const url = new URL(baseUrl);
  url.pathname = `/${prefix}_${service}`;
  return url.toString();
}

export function databaseName(service: ServiceName, prefix = DEFAULT_DB_PREFIX): string {
  return `${prefix}_${service}`;
}

/** Create the database if it does not exist yet (CREATE DATABASE cannot run in a transaction or IF NOT EXISTS). */
export async function ensureDatabase(baseUrl: string, name: string): Promise<void> {
  const admin = new Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } catch (err) {
        // Two processes starting at once: the other one won.
        if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505')
          throw err;
      }
    }
  } finally {
    await admin.end();
  }
}

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** Apply pending migrations in order, each in its own transaction, serialised by an advisory lock. */
export async function migrate(pool: Pool, migrations: readonly Migration[]): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    // Another process may be migrating the same database (two workers starting at once): wait for it for up
    // to a minute instead of the pool's short lock_timeout, which is for business rows, not for migrations.
    await client.query(`SET lock_timeout = '60s'; SET statement_timeout = '120s'`);
    await client.query('SELECT pg_advisory_lock(7412001)');
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ id: number }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id),
    );
    for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
      if (done.has(m.id)) continue;
      await inTransaction(client, async () => {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
      });
      applied.push(m.id);
    }
  } finally {
    const unlocked = await client
      .query(
        `SELECT pg_advisory_unlock(7412001); SET lock_timeout = ${DB_TIMEOUTS.lockMs}; SET statement_timeout = ${DB_TIMEOUTS.statementMs}`,
      )
      .then(() => true)
      .catch(() => false);
    // A connection whose unlock failed still holds the session lock: destroy it rather than pool it.
    client.release(unlocked ? undefined : new Error('migration lock not released'));
  }
  return applied;
}

export async function inTransaction<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Database time bounds. Every pooled connection gets them, so no call can wait forever: an abandoned activity
 * attempt that waits for a pool client or a row lock gives up well inside its activity's start-to-close
 * timeout instead of committing late, and a lock held by an in-doubt prepared transaction becomes a clear,
 * retryable error (SQLSTATE 55P03 lock_not_available / 57014 query_canceled).
 */
export const DB_TIMEOUTS = {
  /** Waiting for a pool client. */
  acquireMs: Number(process.env.SETTLE_DB_ACQUIRE_TIMEOUT_MS ?? 5_000),
  /** Waiting for a row or table lock. */
  lockMs: Number(process.env.SETTLE_DB_LOCK_TIMEOUT_MS ?? 3_000),
  /** One statement. */
  statementMs: Number(process.env.SETTLE_DB_STATEMENT_TIMEOUT_MS ?? 10_000),
  /** A session left idle inside an open transaction (a crashed caller) is ended by the server. */
  idleInTransactionMs: Number(process.env.SETTLE_DB_IDLE_TX_TIMEOUT_MS ?? 60_000),
} as const;

/** pg pool/client options carrying DB_TIMEOUTS (for pools created outside createPools). */
export function timeoutOptions(): {
  connectionTimeoutMillis: number;
  lock_timeout: number;
  statement_timeout: number;
  idle_in_transaction_session_timeout: number;
} {
  return {
    connectionTimeoutMillis: DB_TIMEOUTS.acquireMs,
    lock_timeout: DB_TIMEOUTS.lockMs,
    statement_timeout: DB_TIMEOUTS.statementMs,
    idle_in_transaction_session_timeout: DB_TIMEOUTS.idleInTransactionMs,
  };
}

/** A lock or statement timeout: the participant is busy, not wrong; the caller may retry. */
export function isDbTimeout(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === '55P03' || code === '57014';
}

export interface TransactionOptions {
  /**
   * Aborting (an activity's cancellation signal) destroys the connection: the server rolls the transaction
   * back, so an attempt the workflow has given up on can never commit late.
   */
  signal?: AbortSignal;
}

/** Run fn in a transaction on a pooled connection. */
export async function withTransaction<T>(
  pool: Pool,
  fn: (tx: PoolClient) => Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  opts.signal?.throwIfAborted();
  const client = await pool.connect();
  let destroyed = false;
  const onAbort = (): void => {
    destroyed = true;
    client.release(new Error('transaction abandoned: the caller was cancelled'));
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    opts.signal?.throwIfAborted();
    return await inTransaction(client, () => fn(client));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (!destroyed) client.release();
  }
}

export type Pools = Record<ServiceName, Pool>;

/**
 * A PostgreSQL restart must not crash the process. pg-pool listens for a client's 'error' only while it is idle
 * in the pool: a client checked out between two statements (a transaction held open across an await) emits an
 * unhandled 'error' when its server goes away, which ends the worker. Every client gets a listener of its own;
 * the lost client's next query then fails (and its transaction was rolled back by the server), and the pool
 * replaces it.
 */
export function survivesServerRestart(pool: Pool): Pool {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export function createPools(
  baseUrl: string,
  /** urlFor: each service's own connection URL (its database role, services/pg-roles.ts); default baseUrl's user. */
  opts: { max?: number; prefix?: string; urlFor?: (s: ServiceName) => string } = {},
): Pools {
  const pools = {} as Pools;
  for (const s of SERVICE_NAMES) {
    const pool = new Pool({
      connectionString: opts.urlFor?.(s) ?? serviceDatabaseUrl(baseUrl, s, opts.prefix),
      max: opts.max ?? 10,
      application_name: `settle-${s}`,
      ...timeoutOptions(),
    });
    pools[s] = survivesServerRestart(pool);
  }
  return pools;
}

export async function closePools(pools: Partial<Pools>): Promise<void> {
  await Promise.all(Object.values(pools).map((p) => p?.end().catch(() => undefined)));
}
