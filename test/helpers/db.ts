// PostgreSQL alone (no Temporal) for tests of the participant services: embedded on a free port in a temp
// directory (or SETTLE_TEST_DATABASE_URL), every service database migrated and seeded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closePools, createPools, type Pools } from '../../services/db';
import { externalPostgres, startEmbeddedPostgres, type PostgresHandle } from '../../services/postgres';
import { freePort } from '../../services/processes';
import { prepareDatabases } from '../../services/stack';

export interface TestDatabases {
  postgres: PostgresHandle;
  pools: Pools;
  teardown(): Promise<void>;
}

export async function startTestDatabases(): Promise<TestDatabases> {
  const dataDir = mkdtempSync(join(tmpdir(), 'settle-db-'));
  const external = process.env.SETTLE_TEST_DATABASE_URL;
  const postgres = external
    ? externalPostgres(external)
    : await startEmbeddedPostgres({ dataDir, port: await freePort() });
  const prefix = `t${process.pid}`;
  const pools = createPools(postgres.url, { prefix });
  await prepareDatabases(postgres.url, pools, prefix);
  return {
    postgres,
    pools,
    async teardown() {
      await closePools(pools);
      await postgres.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (postgres.clusterDir) rmSync(postgres.clusterDir, { recursive: true, force: true });
    },
  };
}
