// Direct database reads for CLI commands that show participant state (balances, stock, prepared transactions).
import { Pool } from 'pg';
import { serviceDatabaseUrl, type ServiceName } from '../services/db';
import { CliError, EXIT } from './cli-kit';
import { databaseUrl } from './config';

/** Run fn with a short-lived pool on one service's database; clear errors when there is no database to reach. */
export async function withServiceDb<T>(service: ServiceName, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const base = databaseUrl();
  if (!base)
    throw new CliError(
      `no database to read: start the local stack with 'npm start', or set DATABASE_URL to your PostgreSQL server`,
      EXIT.unreachable,
    );
  const pool = new Pool({
    // SETTLE_DB_PREFIX: the databases' name prefix when it is not the default (settle_orders, ...).
    connectionString: serviceDatabaseUrl(base, service, process.env.SETTLE_DB_PREFIX || undefined),
    max: 2,
    // Every CLI read is bounded: a stuck lock or a dead server is an error, not a hang.
    connectionTimeoutMillis: 5000,
    query_timeout: 10_000,
    statement_timeout: 10_000,
  });
  pool.on('error', () => undefined);
  try {
    return await fn(pool);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === '3D000' || code === 'ENOTFOUND')
      throw new CliError(
        `cannot reach the ${service} database (${(err as Error).message}): is the stack running ('npm start')?`,
        EXIT.unreachable,
      );
    throw err;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
