// Configuration from the environment, read only by entry points (CLI, workers, scripts). Temporal settings
// follow the standard client environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
// TEMPORAL_TLS_*, TEMPORAL_PROFILE and the TOML config file) through @temporalio/envconfig.
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { unmaskUrl } from '../services/secrets';

/** The checkout: the nearest folder up from here with a package.json (this file also runs compiled, from dist/). */
function findRoot(from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) return resolve(from, '..');
  }
}
export const ROOT = findRoot(resolve(__dirname, '..'));
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

/** Where the CLI's Temporal target came from, in the order it is resolved (first match wins). */
export type TargetSource =
  '--address' | 'stack file' | 'SETTLE_TEMPORAL_PORT' | 'Temporal environment' | 'default';

export interface CliTarget extends TemporalConfig {
  source: TargetSource;
  /** The stack file read (source 'stack file'), or one that was ignored because its stack is not running. */
  stackFile?: string;
  staleStackFile?: boolean;
}

/** How the target is named in messages: "127.0.0.1:7233 (namespace default; from stack file /x/.data/stack.json)". */
export function describeTarget(t: CliTarget): string {
  const from = t.source === 'stack file' ? `stack file ${t.stackFile}` : t.source;
  const stale = t.staleStackFile ? `; ignored ${t.stackFile}: its stack (pid) is not running` : '';
  return `${t.address} (namespace ${t.namespace}; from ${from}${stale})`;
}

function alive(pid: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The Temporal the CLI talks to: --address / --namespace flags, else the running local stack's stack file
 * (SETTLE_DATA_DIR/stack.json, written by `npm start`), else SETTLE_TEMPORAL_PORT on localhost, else the standard
 * Temporal environment (TEMPORAL_ADDRESS, TEMPORAL_PROFILE, the TOML config file), else localhost:7233. TLS and
 * API key settings of the Temporal environment apply whenever the address is the one they were given for.
 */
export function cliTarget(flags: { address?: string; namespace?: string } = {}): CliTarget {
  const env = loadClientConnectConfig();
  const envAddress = env.connectionOptions.address;
  const withEnvTls = (address: string): TemporalConfig['connectionOptions'] =>
    address === envAddress ? { ...env.connectionOptions, address } : { address };
  const stackFile = STACK_FILE;
  const info = readStackInfo();
  const live = info !== undefined && alive(info.pid);
  const stale = info !== undefined && !live ? { stackFile, staleStackFile: true } : {};
  const ns = (fallback: string | undefined): string =>
    flags.namespace ?? fallback ?? env.namespace ?? 'default';
  if (flags.address)
    return {
      address: flags.address,
      namespace: ns(undefined),
      connectionOptions: withEnvTls(flags.address),
      source: '--address',
      ...stale,
    };
  if (live && info.temporalAddress)
    return {
      address: info.temporalAddress,
      namespace: ns(info.namespace),
      connectionOptions: withEnvTls(info.temporalAddress),
      source: 'stack file',
      stackFile,
    };
  if (process.env.SETTLE_TEMPORAL_PORT) {
    const address = `localhost:${localPorts().temporal}`;
    return {
      address,
      namespace: ns(undefined),
      connectionOptions: { address },
      source: 'SETTLE_TEMPORAL_PORT',
      ...stale,
    };
  }
  if (envAddress)
    return {
      address: envAddress,
      namespace: ns(undefined),
      connectionOptions: env.connectionOptions,
      source: 'Temporal environment',
      ...stale,
    };
  const address = 'localhost:7233';
  return {
    address,
    namespace: ns(undefined),
    connectionOptions: { ...env.connectionOptions, address },
    source: 'default',
    ...stale,
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

/** DATABASE_URL (a user's own server) or the running local stack's embedded one (from its stack file). */
export function databaseUrl(): string | undefined {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const info = readStackInfo();
  // stack.json stores the URL masked; the password is in the install's 0600 secret file (services/secrets.ts).
  return info && alive(info.pid) ? unmaskUrl(info.databaseUrl, DATA_DIR) : undefined;
}
