// Named tunings: each atom changes one thing, atoms combine with '+', and a bench run can compare several
// (`--tuning default,wal,wal+eager`). Every row of the docs' tuning table is one of these names.
import { CLI_DEFAULTS, TUNED_DYNAMIC_CONFIG } from '../services/dev-server-tuning';
import type { WorkerSetOptions } from '../workers';
import type { BenchStep } from './workflows';

export interface Tuning {
  name: string;
  /** Worker options for every worker (orchestration, services, bench activities). */
  worker: NonNullable<WorkerSetOptions['tuning']>;
  /** Start workflows with requestEagerStart (the client shares the worker's NativeConnection; default on). */
  eager: boolean;
  /** Saga steps run as local activities; undefined = the real order saga with its activities on their queues. */
  local?: BenchStep[];
  /**
   * The deployment: true (default) = `npm start`'s all-in-one host, the services beside the orchestrator, so
   * the real order saga's steps (and the bench sagas') run as local activities; false (`steps-remote`) = the
   * separate-process deployment, every step an activity on its service's queue.
   */
  inProcess: boolean;
  /** pg pool size per service (default 10, services/db.ts). */
  poolMax?: number;
  /** Dev server --sqlite-pragma values over the tuned defaults (services/dev-server-tuning.ts), per key. */
  sqlitePragmas: string[];
  /** Dev server dynamic config (`--dynamic-config-value`) over the tuned defaults, per key. */
  dynamicConfig: Record<string, string | number | boolean>;
  /** Temporal history in a SQLite file (default, like `npm start`) or in memory. */
  persistent: boolean;
  /** Worker processes: the bench process itself, plus N-1 spawned ones running the same workers. */
  workerProcesses: number;
}

/** The history service's queue readers: the dev server runs one shard, read at most 20 times a second by default. */
export const FAST_QUEUES = TUNED_DYNAMIC_CONFIG;

export const ALL_STEPS: BenchStep[] = ['create', 'reserve', 'charge', 'notify', 'confirm'];

export const TUNING_HELP = `Tuning atoms (combine with '+', compare several with ','):
  default              the local stack's defaults: the tuned dev server (fastq + wal + sync-normal, see
                       services/dev-server-tuning.ts), SDK worker defaults, pg pool 10, SQLite file, 1 worker
                       process, eager start (the bench's client shares the worker's connection)
  cli-defaults         the dev server as the Temporal CLI runs it when given nothing (journal_mode=DELETE,
                       synchronous=FULL, queue readers at 20/s): the "before" of the tuned defaults
  cache-N              maxCachedWorkflows = N
  wft-N                maxConcurrentWorkflowTaskExecutions = N
  act-N                maxConcurrentActivityTaskExecutions = N (and maxConcurrentLocalActivityExecutions)
  pollers-N            simple-maximum of N workflow and N activity pollers per worker
  autopoll             autoscaling pollers (min 1, initial 5, max 100)
  sticky-R             nonStickyToStickyPollRatio = R (0..1)
  eager | no-eager     eager workflow start (requestEagerStart) on (default) / off
  steps-local          the all-in-one deployment (default): services in the orchestrator's process, the order
                       saga's steps run as local activities (workers/index.ts localSteps)
  steps-remote         the separate-process deployment: every step an activity on its service's queue
  la-none|la-all|la-S.S  order saga variant with these steps as local activities (S: create reserve charge notify confirm)
  pool-N               PostgreSQL pool size N per service
  wal                  SQLite journal_mode=WAL
  sync-normal|sync-off SQLite synchronous=NORMAL / OFF
  fastq                dev server reads its transfer/timer/visibility task queues at up to 1000/s instead of 20/s
                       (history.*ProcessorMaxPollRPS; with one history shard the default adds ~25 ms per task hop)
  dc-KEY=JSON          any other dev server dynamic config value, e.g. dc-history.enableHostLevelEventsCache=true
  memdb                Temporal history in memory (no SQLite file; a reference point, not durable)
  workers-N            N worker processes (the bench process + N-1 spawned)`;

function int(atom: string, s: string | undefined, min: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new Error(`tuning '${atom}': expected a whole number >= ${min}`);
  return n;
}

export function parseTuning(spec: string): Tuning {
  const t: Tuning = {
    name: spec,
    worker: {},
    eager: true,
    inProcess: true,
    sqlitePragmas: [],
    dynamicConfig: {},
    persistent: true,
    workerProcesses: 1,
  };
  for (const atom of spec.split('+').map((a) => a.trim())) {
    const [key, arg] = atom.includes('-')
      ? [atom.slice(0, atom.indexOf('-')), atom.slice(atom.indexOf('-') + 1)]
      : [atom, undefined];
    switch (key) {
      case 'default':
        break;
      case 'cache':
        t.worker.maxCachedWorkflows = int(atom, arg, 0);
        break;
      case 'wft':
        t.worker.maxConcurrentWorkflowTaskExecutions = int(atom, arg, 2);
        break;
      case 'act':
        t.worker.maxConcurrentActivityTaskExecutions = int(atom, arg, 1);
        t.worker.maxConcurrentLocalActivityExecutions = int(atom, arg, 1);
        break;
      case 'pollers': {
        const n = int(atom, arg, 2);
        t.worker.workflowTaskPollerBehavior = { type: 'simple-maximum', maximum: n };
        t.worker.activityTaskPollerBehavior = { type: 'simple-maximum', maximum: n };
        break;
      }
      case 'autopoll':
        t.worker.workflowTaskPollerBehavior = { type: 'autoscaling', minimum: 2, initial: 5, maximum: 100 };
        t.worker.activityTaskPollerBehavior = { type: 'autoscaling', minimum: 1, initial: 5, maximum: 100 };
        break;
      case 'sticky': {
        const r = Number(arg);
        if (!(r >= 0 && r <= 1)) throw new Error(`tuning '${atom}': ratio must be between 0 and 1`);
        t.worker.nonStickyToStickyPollRatio = r;
        break;
      }
      case 'eager':
        t.eager = true;
        break;
      case 'no':
        if (arg !== 'eager') throw new Error(`unknown tuning atom '${atom}'\n${TUNING_HELP}`);
        t.eager = false;
        break;
      case 'steps':
        if (arg !== 'local' && arg !== 'remote')
          throw new Error(`tuning '${atom}': steps-local or steps-remote`);
        t.inProcess = arg === 'local';
        break;
      case 'cli':
        if (arg !== 'defaults') throw new Error(`unknown tuning atom '${atom}'\n${TUNING_HELP}`);
        t.sqlitePragmas.push(...CLI_DEFAULTS.sqlitePragmas);
        Object.assign(t.dynamicConfig, CLI_DEFAULTS.dynamicConfig);
        break;
      case 'la':
        if (arg === 'none') t.local = [];
        else if (arg === 'all') t.local = [...ALL_STEPS];
        else {
          const steps = (arg ?? '').split('.');
          for (const s of steps)
            if (!ALL_STEPS.includes(s as BenchStep)) throw new Error(`tuning '${atom}': unknown step '${s}'`);
          t.local = steps as BenchStep[];
        }
        break;
      case 'pool':
        t.poolMax = int(atom, arg, 1);
        break;
      case 'wal':
        t.sqlitePragmas.push('journal_mode=WAL');
        break;
      case 'sync':
        if (arg !== 'normal' && arg !== 'off') throw new Error(`tuning '${atom}': sync-normal or sync-off`);
        t.sqlitePragmas.push(`synchronous=${arg.toUpperCase()}`);
        break;
      case 'fastq':
        Object.assign(t.dynamicConfig, FAST_QUEUES);
        break;
      case 'dc': {
        const eq = (arg ?? '').indexOf('=');
        if (eq <= 0) throw new Error(`tuning '${atom}': expected dc-KEY=JSON`);
        const raw = arg!.slice(eq + 1);
        let value: string | number | boolean;
        try {
          value = JSON.parse(raw) as string | number | boolean;
        } catch {
          value = raw;
        }
        t.dynamicConfig[arg!.slice(0, eq)] = value;
        break;
      }
      case 'memdb':
        t.persistent = false;
        break;
      case 'workers':
        t.workerProcesses = int(atom, arg, 1);
        break;
      default:
        throw new Error(`unknown tuning atom '${atom}'\n${TUNING_HELP}`);
    }
  }
  return t;
}
