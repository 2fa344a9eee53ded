// The environment for running the real `npm start` (or `settle worker`) from a test: its own data folder and free
// ports for every listener, no external Temporal or database, and without node:test's marker variable.
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../services/processes';

export interface LocalStackEnv {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  temporalAddress: string;
}

export async function localStackEnv(): Promise<LocalStackEnv> {
  const dataDir = mkdtempSync(join(tmpdir(), 'settle-host-'));
  chmodSync(dataDir, 0o755); // the embedded server runs as 'postgres' when we are root
  // SETTLE_FAULTS=1: the load's orders that fail at payment (failAt) really fail there, as in the other tests.
  const env: NodeJS.ProcessEnv = { ...process.env, SETTLE_DATA_DIR: dataDir, SETTLE_FAULTS: '1' };
  for (const name of ['TEMPORAL', 'UI', 'PG', 'METRICS', 'TCC', 'CODEC'])
    env[`SETTLE_${name}_PORT`] = String(await freePort());
  for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'DATABASE_URL', 'NODE_TEST_CONTEXT'])
    delete env[name];
  return { dataDir, env, temporalAddress: `127.0.0.1:${env.SETTLE_TEMPORAL_PORT}` };
}
