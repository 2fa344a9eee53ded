// The local stack: PostgreSQL (embedded, or DATABASE_URL), one database per service migrated and seeded,
// and the Temporal dev server (or an external cluster). Used by `npm start`, the demo, integration tests
// and the benchmark, so all of them run against the same real parts.
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
import { externalPostgres, startEmbeddedPostgres, type PostgresHandle } from './postgres';
import { SERVICES } from './registry';
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

export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? (() => undefined);
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
      : await startEmbeddedPostgres({ dataDir: join(opts.dataDir, 'postgres'), port: opts.pgPort });
    stops.push(() => postgres.stop());

    const pools = createPools(postgres.url, { max: opts.poolMax, prefix: opts.dbPrefix });
    stops.push(() => closePools(pools));
    await prepareDatabases(postgres.url, pools, opts.dbPrefix);
    log('databases migrated and seeded');

    let temporal: Stack['temporal'];
    if (opts.temporalAddress) {
      temporal = { address: opts.temporalAddress, namespace: 'default' };
    } else {
      log(`starting Temporal dev server on port ${opts.temporalPort}`);
      const server = await startDevServer({
        dataDir: join(opts.dataDir, 'temporal'),
        port: opts.temporalPort,
        uiPort: opts.uiPort,
        persistent: opts.persistent,
        sqlitePragmas: opts.sqlitePragmas,
        dynamicConfig: opts.dynamicConfig,
      });
      stops.push(() => server.stop());
      temporal = { address: server.address, namespace: server.namespace, uiUrl: server.uiUrl, server };
    }
    return { temporal, postgres, pools, dbPrefix: opts.dbPrefix ?? 'settle', stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
