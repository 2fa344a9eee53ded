// The workers a bench run drives: the project's own worker set (createWorkers: orchestration + every service
// queue) plus one worker per bench queue for the no-I/O activities. Used by the bench process and by every
// extra worker process it spawns, so both run exactly the same thing.
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createBenchActivities } from './activities';
import { createTccActivities } from '../activities/tcc';
import type { Pools } from '../services/db';
import { BENCH_TASK_QUEUES } from '../shared';
import { activitiesFor, createWorkers, runWorkers, shutdownWorkers, type QueueKey } from '../workers';
import type { Tuning } from './tuning';

/** The bench's workflow bundle: the product's workflows plus bench/workflows.ts (never on production workers). */
export const BENCH_WORKFLOWS_PATH = require.resolve('./workflows');

export interface BenchWorkers {
  workers: Worker[];
  orchestration: Worker | undefined;
  running: Promise<void>;
  stop(): Promise<void>;
}

type Activities = Record<string, (...a: never[]) => Promise<unknown>>;

export async function startBenchWorkers(opts: {
  connection: NativeConnection;
  namespace: string;
  pools: Pools;
  workflowBundle: WorkerOptions['workflowBundle'];
  tuning: Pick<Tuning, 'worker' | 'local' | 'inProcess'>;
  /** Only these project queues (default all). */
  queues?: QueueKey[];
  /** The rig's own TCC participant server (the default activities would call the local stack's port). */
  tccUrl?: string;
}): Promise<BenchWorkers> {
  const bench = createBenchActivities();
  // Local activities run on the workflow worker: it then needs every step's activity (and so the pools).
  // In the all-in-one deployment (inProcess) the workflow bundle also declares the services hosted.
  const local =
    opts.tuning.local?.length || opts.tuning.inProcess
      ? {
          activities: {
            ...activitiesFor('orders', opts.pools),
            ...activitiesFor('inventory', opts.pools),
            ...activitiesFor('payments', opts.pools),
            ...activitiesFor('notifications', opts.pools),
            ...bench.orders,
            ...bench.inventory,
            ...bench.payments,
            ...bench.notifications,
          } as Activities,
        }
      : undefined;
  const workers = await createWorkers({
    connection: opts.connection,
    namespace: opts.namespace,
    pools: opts.pools,
    workflowBundle: opts.workflowBundle,
    tuning: opts.tuning.worker,
    orchestration: local,
    localSteps: opts.tuning.inProcess,
    queues: opts.queues,
    // The bench workloads inject failures on purpose (failAt in their inputs).
    faults: true,
    ...(opts.tccUrl ? { extraActivities: { tcc: createTccActivities({ baseUrl: opts.tccUrl }) } } : {}),
  });
  const orchestration = workers[0];
  for (const key of ['orders', 'inventory', 'payments', 'notifications'] as const) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: BENCH_TASK_QUEUES[key],
        activities: bench[key],
        ...opts.tuning.worker,
      }),
    );
  }
  const running = runWorkers(workers);
  return {
    workers,
    orchestration,
    running,
    async stop() {
      shutdownWorkers(workers);
      await running;
    },
  };
}
