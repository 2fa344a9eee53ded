// What a `settle worker` process serves and where it connects, from its flags and the environment: the task
// queues (full names or short keys), the database of each service those queues touch (SETTLE_DB_<SERVICE>_URL, else
// DATABASE_URL with the service's database name, else the local stack's), concurrency and the metrics port.
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { databaseUrl, localPorts } from '../client/config';
import {
  serviceDatabaseUrl,
  SERVICE_NAMES,
  survivesServerRestart,
  timeoutOptions,
  type Pools,
  type ServiceName,
} from '../services/db';
import { TASK_QUEUES } from '../shared';
import { ALL_QUEUES, type QueueKey } from './index';

export class WorkerUsageError extends Error {}

export const WORKER_USAGE = `Usage: settle worker (--queues <queue>[,<queue>...] | --all) [options]
       npm run worker -- (--queues ... | --all) [options]

Serves the named task queues in this process, with as many replicas (processes) as you like. Stops on SIGTERM or
Ctrl-C after the tasks in flight finish (up to --drain-timeout).

Options:
  --queues <list>          comma-separated task queues: ${Object.values(TASK_QUEUES).join(', ')}
                           (or their short names: ${ALL_QUEUES.join(', ')})
  --all                    every task queue (what npm start runs in one process)
  --concurrency <n>        task slots per worker: activities, workflow tasks (default: the SDK's, 200 / 40)
  --drain-timeout <secs>   how long in-flight activities may run after SIGTERM before they are cancelled
                           (default 30)
  --metrics-port <port>    Prometheus endpoint (default SETTLE_METRICS_PORT, else 9464; 0 = off)
  --metrics-host <host>    address it binds (default SETTLE_METRICS_HOST, else 127.0.0.1; 0.0.0.0 in a container)
  -h, --help

Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE (the
standard Temporal client environment and config file); DATABASE_URL, or one database per service with
SETTLE_DB_<SERVICE>_URL (${SERVICE_NAMES.map((s) => s.toUpperCase()).join(', ')}); SETTLE_TCC_URL (the TCC
participant server); SETTLE_ENCRYPTION_KEY (payload encryption); OTEL_EXPORTER_OTLP_ENDPOINT (tracing).
Exit codes: 0 stopped cleanly, 1 error, 2 bad arguments.
`;

/** The database each task queue's activities use (none: workflows only, or the TCC participants over HTTP). */
export const QUEUE_SERVICE: Record<QueueKey, ServiceName | undefined> = {
  orchestration: undefined,
  orders: 'orders',
  inventory: 'inventory',
  payments: 'payments',
  notifications: 'notifications',
  bankA: 'bank_a',
  bankB: 'bank_b',
  tcc: undefined,
  outbox: 'outbox',
  trip: 'trip',
};

export interface WorkerProcessOptions {
  queues: QueueKey[];
  concurrency?: number;
  drainTimeoutSec: number;
  metricsPort?: number;
  metricsHost: string;
  help: boolean;
}

function positiveInt(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new WorkerUsageError(`--${name} must be an integer >= ${min}, got '${raw}'`);
  return n;
}

export function queueKey(name: string): QueueKey {
  const byName = ALL_QUEUES.find((k) => TASK_QUEUES[k] === name || k === name);
  if (!byName)
    throw new WorkerUsageError(
      `unknown task queue '${name}' (one of: ${Object.values(TASK_QUEUES).join(', ')})`,
    );
  return byName;
}

export function parseWorkerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): WorkerProcessOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        queues: { type: 'string' },
        all: { type: 'boolean', default: false },
        concurrency: { type: 'string' },
        'drain-timeout': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new WorkerUsageError((err as Error).message);
  }
  const v = parsed.values;
  const base = {
    drainTimeoutSec: positiveInt('drain-timeout', v['drain-timeout'], 0) ?? 30,
    metricsHost: v['metrics-host'] ?? env.SETTLE_METRICS_HOST ?? '127.0.0.1',
    help: v.help === true,
  };
  if (base.help) return { ...base, queues: [] };
  if (v.all && v.queues) throw new WorkerUsageError('give --queues or --all, not both');
  if (!v.all && !v.queues)
    throw new WorkerUsageError('which task queues? give --queues settle-payments,... or --all');
  const queues = v.all ? [...ALL_QUEUES] : [...new Set(v.queues!.split(',').map((q) => queueKey(q.trim())))];
  const concurrency = positiveInt('concurrency', v.concurrency, 1);
  const metricsPort = positiveInt('metrics-port', v['metrics-port'], 0) ?? localPorts().metrics;
  return {
    ...base,
    queues,
    ...(concurrency ? { concurrency } : {}),
    ...(metricsPort ? { metricsPort } : {}),
  };
}

/**
 * One pool per service the queues need, each on SETTLE_DB_<SERVICE>_URL or DATABASE_URL's server (the local
 * stack's when neither is set). Services no queue needs get no pool: touching one is a programming error.
 */
export function poolsForQueues(queues: QueueKey[], env: NodeJS.ProcessEnv = process.env): Pools {
  const needed = [...new Set(queues.map((q) => QUEUE_SERVICE[q]).filter((s): s is ServiceName => !!s))];
  const pools: Partial<Pools> = {};
  for (const s of needed) {
    const own = env[`SETTLE_DB_${s.toUpperCase()}_URL`];
    const base = env.DATABASE_URL || (env === process.env ? databaseUrl() : undefined);
    if (!own && !base)
      throw new WorkerUsageError(
        `no database for the ${s} service: set SETTLE_DB_${s.toUpperCase()}_URL or DATABASE_URL (or run npm start)`,
      );
    const pool = new Pool({
      connectionString: own || serviceDatabaseUrl(base!, s),
      max: 10,
      application_name: `settle-worker-${s}`,
      ...timeoutOptions(),
    });
    pools[s] = survivesServerRestart(pool);
  }
  return pools as Pools;
}
