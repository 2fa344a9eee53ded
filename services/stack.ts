// The local stack: PostgreSQL (embedded, or DATABASE_URL), one database per service migrated and seeded,
// and the Temporal dev server (or an external cluster). Used by `npm start`, the demo, integration tests
// and the benchmark, so all of them run against the same real parts.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  closePools,
  createPools,
  databaseName,
  ensureDatabase,
  migrate,
  SERVICE_NAMES,
  type Pools,
} from './db';
import { ensureServiceRoles, serviceUrl } from './pg-roles';
import { externalPostgres, startEmbeddedPostgres, type PostgresHandle } from './postgres';
import { SERVICES } from './registry';
import { privateDir } from './secrets';
import { startDevServer, type DevServerHandle } from './temporal-server';

export interface StackOptions {
  dataDir: string;
  /** External PostgreSQL; otherwise embedded on pgPort. */
  databaseUrl?: string;
  pgPort: number;
  /** External Temporal; otherwise a dev server on temporalPort. */
  temporalAddress?: string;
  temporalPort: number;
  uiPort?: number;
  /** Keep Temporal history in a SQLite file (default true). */
  persistent?: boolean;
  /** Database name prefix (tests use their own so they never touch the demo's data). */
  dbPrefix?: string;
  poolMax?: number;
  sqlitePragmas?: string[];
  /** Extra Temporal dev server dynamic config (see startDevServer). */
  dynamicConfig?: Record<string, string | number | boolean>;
  log?: (msg: string) => void;
  /** PostgreSQL's own log lines (embedded only). */
  pgLog?: (line: string) => void;
}

export interface Stack {
  temporal: { address: string; namespace: string; uiUrl?: string; server?: DevServerHandle };
  postgres: PostgresHandle;
  pools: Pools;
  dbPrefix: string;
  stop(): Promise<void>;
}

export async function prepareDatabases(baseUrl: string, pools: Pools, prefix?: string): Promise<void> {
  await Promise.all(SERVICE_NAMES.map((s) => ensureDatabase(baseUrl, databaseName(s, prefix))));
  await Promise.all(SERVICE_NAMES.map((s) => migrate(pools[s], SERVICES[s].migrations)));
  for (const s of SERVICE_NAMES) await SERVICES[s].seed?.(pools);
}

/**
 * The embedded server's service roles (each service reaches only its own database, not as a superuser): the
 * databases are created and handed to their roles first, then every service connects as its role. On a server
 * of the user's own (DATABASE_URL) roles are theirs to manage: every service connects with that URL.
 */
async function servicePools(postgres: PostgresHandle, opts: StackOptions): Promise<Pools> {
  const poolOpts = { max: opts.poolMax, prefix: opts.dbPrefix };
  if (!postgres.embedded) return createPools(postgres.url, poolOpts);
  await Promise.all(SERVICE_NAMES.map((s) => ensureDatabase(postgres.url, databaseName(s, opts.dbPrefix))));
  const creds = await ensureServiceRoles(postgres.url, opts.dataDir, opts.dbPrefix);
  return createPools(postgres.url, { ...poolOpts, urlFor: (s) => serviceUrl(postgres.url, creds[s]) });
}

/** History (temporal.db and its journal) and the server's log: the owner's alone. */
function closeTemporalFiles(dir: string): void {
  for (const f of ['temporal.db', 'temporal.db-wal', 'temporal.db-shm', 'temporal.log'])
    if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o600);
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? (() => undefined);
  // Secrets, the history database and (when not root) the cluster live here: closed to other users.
  privateDir(opts.dataDir);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((e: Error) => log(`shutdown: ${e.message}`));
  };
  try {
    log(
      opts.databaseUrl
        ? 'using PostgreSQL at DATABASE_URL'
        : `starting embedded PostgreSQL on port ${opts.pgPort}`,
    );
    const postgres = opts.databaseUrl
      ? externalPostgres(opts.databaseUrl)
      : await startEmbeddedPostgres({
          dataDir: join(opts.dataDir, 'postgres'),
          secretsDataDir: opts.dataDir,
          port: opts.pgPort,
          log: opts.pgLog,
        });
    stops.push(() => postgres.stop());

    const pools = await servicePools(postgres, opts);
    stops.push(() => closePools(pools));
    await prepareDatabases(postgres.url, pools, opts.dbPrefix);
    log('databases migrated and seeded');

    let temporal: Stack['temporal'];
    if (opts.temporalAddress) {
      temporal = { address: opts.temporalAddress, namespace: 'default' };
    } else {
      log(`starting Temporal dev server on port ${opts.temporalPort}`);
      const temporalDir = join(opts.dataDir, 'temporal');
      mkdirSync(temporalDir, { recursive: true, mode: 0o700 });
      privateDir(temporalDir);
      const server = await startDevServer({
        dataDir: join(opts.dataDir, 'temporal'),
        port: opts.temporalPort,
        uiPort: opts.uiPort,
        persistent: opts.persistent,
        sqlitePragmas: opts.sqlitePragmas,
        dynamicConfig: opts.dynamicConfig,
      });
      stops.push(() => server.stop());
      closeTemporalFiles(temporalDir);
      temporal = { address: server.address, namespace: server.namespace, uiUrl: server.uiUrl, server };
    }
    return { temporal, postgres, pools, dbPrefix: opts.dbPrefix ?? 'settle', stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
