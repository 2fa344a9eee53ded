// Configuration from the environment, read only by entry points (CLI, workers, scripts). Temporal settings
// follow the standard client environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
// TEMPORAL_TLS_*, TEMPORAL_PROFILE and the TOML config file) through @temporalio/envconfig.
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..');
export const DATA_DIR = resolve(process.env.SETTLE_DATA_DIR ?? join(ROOT, '.data'));
export const STACK_FILE = join(DATA_DIR, 'stack.json');

export interface TemporalConfig {
  address: string;
  namespace: string;
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export function temporalConfig(): TemporalConfig {
  const cfg = loadClientConnectConfig();
  const address = cfg.connectionOptions.address ?? 'localhost:7233';
  return {
    address,
    namespace: cfg.namespace ?? 'default',
    connectionOptions: { ...cfg.connectionOptions, address },
  };
}

/** What `npm start` wrote about the running local stack, so the CLI finds its database without flags. */
export interface StackInfo {
  temporalAddress: string;
  namespace: string;
  uiUrl?: string;
  databaseUrl: string;
  pid: number;
  metricsUrl?: string;
  tccUrl?: string;
}

export function readStackInfo(): StackInfo | undefined {
  if (!existsSync(STACK_FILE)) return undefined;
  try {
    return JSON.parse(readFileSync(STACK_FILE, 'utf8')) as StackInfo;
  } catch {
    return undefined;
  }
}

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535)
    throw new Error(`${name} must be a port number, got '${raw}'`);
  return n;
}

export function localPorts(): {
  temporal: number;
  ui: number;
  postgres: number;
  metrics: number;
  tcc: number;
} {
  return {
    temporal: intEnv('SETTLE_TEMPORAL_PORT', 7233),
    ui: intEnv('SETTLE_UI_PORT', 8233),
    postgres: intEnv('SETTLE_PG_PORT', 55432),
    metrics: intEnv('SETTLE_METRICS_PORT', 9464),
    tcc: intEnv('SETTLE_TCC_PORT', 8787),
  };
}

/** DATABASE_URL (a user's own server) or the running local stack's embedded one. */
export function databaseUrl(): string | undefined {
  return process.env.DATABASE_URL || readStackInfo()?.databaseUrl;
}
