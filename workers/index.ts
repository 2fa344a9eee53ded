// One Worker per task queue: each participant service's activities on its own queue (next to its database),
// and the workflows on the orchestration queue. The demo hosts them all in one process; production runs
// them as separate processes (`settle worker --queues ...`, workers/main.ts) with as many replicas as needed.
import type { NativeConnection } from '@temporalio/worker';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import {
  createInventoryActivities,
  createNotificationsActivities,
  createOrdersActivities,
  createPaymentsActivities,
} from '../activities/shop';
import type { FaultHooks } from '../activities/branch';
import { faultsEnabledFromEnv, ignoreFaultSwitches } from '../activities/faults';
import { createChoreographyActivities } from '../activities/choreography';
import { createRelaySourceActivities } from '../activities/outbox-relay';
import { createTransferNoticeActivities } from '../activities/transfer-notices';
import { createBankActivities, createOutboxActivities } from '../activities/banks';
import { createTccActivities } from '../activities/tcc';
import { createTripActivities } from '../activities/trip';
import { localPorts } from '../client/config';
import type { Pools } from '../services/db';
import { WORKFLOW_METRICS_MODULE } from './metrics';
import { tracing, type Tracing } from '../services/tracing';
import { OTEL_WORKFLOW_MODULE, traceServicePools, workerTracing } from './tracing';
import { TASK_QUEUES } from '../shared';

export const WORKFLOWS_PATH = require.resolve('../workflows');
/** Workflow interceptor module declaring the shop's services hosted beside the orchestrator (local steps). */
export const IN_PROCESS_SERVICES_MODULE = require.resolve('../workflows/in-process-services');
/** The queues whose services the all-in-one host must run for the order saga's steps to be local. */
const IN_PROCESS_QUEUES: QueueKey[] = ['orders', 'inventory', 'payments', 'notifications'];

export type QueueKey = keyof typeof TASK_QUEUES;
export const ALL_QUEUES = Object.keys(TASK_QUEUES) as QueueKey[];

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace: string;
  pools: Pools;
  queues?: QueueKey[];
  /** Pre-built workflow bundle (tests and the bench build it once). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  hooks?: FaultHooks;
  /**
   * Honour fault injection (hooks, and the failAt/voteNo/refuse switches in activity inputs). Default:
   * SETTLE_FAULTS=1 (tests and the demo); production workers leave it off (activities/faults.ts).
   */
  faults?: boolean;
  /** Extra activities per queue (later patterns register theirs here). */
  extraActivities?: Partial<Record<QueueKey, object>>;
  tuning?: Partial<
    Pick<
      WorkerOptions,
      | 'maxCachedWorkflows'
      | 'maxConcurrentActivityTaskExecutions'
      | 'maxConcurrentWorkflowTaskExecutions'
      | 'maxConcurrentLocalActivityExecutions'
      | 'workflowTaskPollerBehavior'
      | 'activityTaskPollerBehavior'
      | 'nonStickyToStickyPollRatio'
      | 'shutdownGraceTime'
    >
  >;
  /** Extra options for the orchestration worker (interceptors, sinks). */
  orchestration?: Partial<WorkerOptions>;
  /**
   * OpenTelemetry (default: the process's, when services/tracing.ts set it up). With a pre-built workflowBundle,
   * bundle OTEL_WORKFLOW_MODULE into it (workflowInterceptorModules).
   */
  tracing?: Tracing;
  /**
   * All-in-one host: when this set also runs the orders, inventory, payments and notifications queues, the
   * orchestration worker gets their activities too and the order saga runs its steps as local activities
   * (workflows/saga/placement.ts). With a pre-built workflowBundle, bundle IN_PROCESS_SERVICES_MODULE into it.
   */
  localSteps?: boolean;
  /**
   * Payload codec (+ failure converter) for every worker: set only when encryption is configured
   * (services/codec.ts encryptionDataConverter). With a pre-built workflowBundle, bundle it with the same
   * failureConverterPath.
   */
  dataConverter?: WorkerOptions['dataConverter'];
}

export function activitiesFor(queue: QueueKey, pools: Pools, hooks?: FaultHooks): object {
  switch (queue) {
    case 'orders':
      return {
        ...createOrdersActivities(pools.orders, hooks),
        ...createChoreographyActivities('orders', pools.orders),
      };
    case 'inventory':
      return {
        ...createInventoryActivities(pools.inventory, hooks),
        ...createChoreographyActivities('inventory', pools.inventory),
      };
    case 'payments':
      return {
        ...createPaymentsActivities(pools.payments, hooks),
        ...createChoreographyActivities('payments', pools.payments),
      };
    case 'notifications':
      return {
        ...createNotificationsActivities(pools.notifications, hooks),
        ...createTransferNoticeActivities(pools.notifications), // the transfer relay's consumer
      };
    case 'bankA':
      return createBankActivities(pools.bank_a, hooks);
    case 'bankB':
      return createBankActivities(pools.bank_b, hooks);
    case 'outbox':
      return {
        ...createOutboxActivities(pools.outbox, hooks),
        ...createRelaySourceActivities(pools.outbox, 'outbox_events'), // the transfer relay's source
      };
    case 'tcc':
      // The TCC participant server (started with the stack); tests override this with their own server's URL.
      return createTccActivities({
        baseUrl: () => process.env.SETTLE_TCC_URL || `http://127.0.0.1:${localPorts().tcc}`,
      });
    case 'trip':
      return createTripActivities(pools.trip, hooks);
    default:
      return {};
  }
}

export async function createWorkers(opts: WorkerSetOptions): Promise<Worker[]> {
  const queues = opts.queues ?? ALL_QUEUES;
  const workers: Worker[] = [];
  const traced = opts.tracing ?? tracing();
  const otel = traced ? workerTracing(traced) : undefined;
  if (traced) traceServicePools(opts.pools);
  const faults = opts.faults ?? faultsEnabledFromEnv();
  const activitiesOf = (q: QueueKey): object => {
    const all = {
      ...activitiesFor(q, opts.pools, faults ? opts.hooks : undefined),
      ...opts.extraActivities?.[q],
    };
    return faults ? all : ignoreFaultSwitches(all);
  };
  const localSteps = opts.localSteps === true && IN_PROCESS_QUEUES.every((q) => queues.includes(q));
  for (const q of queues) {
    const base = {
      connection: opts.connection,
      namespace: opts.namespace,
      taskQueue: TASK_QUEUES[q],
      ...opts.tuning,
      ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
      ...(otel ? { sinks: otel.sinks, interceptors: { activity: otel.activity } } : {}),
    };
    if (q === 'orchestration') {
      workers.push(
        await Worker.create({
          ...base,
          ...(opts.workflowBundle
            ? { workflowBundle: opts.workflowBundle }
            : // Settle's own metrics (outcomes, compensations, phase durations) from workflow code; a pre-built
              // bundle carries its interceptor modules itself (bundleWorkflowCode workflowInterceptorModules).
              {
                workflowsPath: WORKFLOWS_PATH,
                interceptors: {
                  ...(otel ? { activity: otel.activity } : {}),
                  workflowModules: [
                    WORKFLOW_METRICS_MODULE,
                    ...(otel ? [OTEL_WORKFLOW_MODULE] : []),
                    ...(localSteps ? [IN_PROCESS_SERVICES_MODULE] : []),
                  ],
                },
              }),
          // Local steps run on this worker: it needs the hosted services' activities.
          ...(localSteps
            ? { activities: Object.assign({}, ...IN_PROCESS_QUEUES.map(activitiesOf)) as object }
            : {}),
          ...opts.orchestration,
        }),
      );
      continue;
    }
    const activities = activitiesOf(q);
    if (Object.keys(activities).length === 0) continue;
    workers.push(await Worker.create({ ...base, activities: activities }));
  }
  return workers;
}

/** Run a set of workers until `signal` aborts; resolves when all have shut down. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}

export function shutdownWorkers(workers: Worker[]): void {
  for (const w of workers) {
    if (w.getState() === 'RUNNING') w.shutdown();
  }
}
