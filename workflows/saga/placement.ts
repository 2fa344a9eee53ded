// Where a saga step runs: as an activity on its service's task queue, or as a local activity inside the
// orchestrator's workflow task. A local step needs the service's code and database pool in the orchestration
// worker's own process, which only the deployment knows: a worker that hosts services beside the orchestrator
// adds a workflow interceptor module that calls declareHostedServices (workflows/in-process-services.ts, added by
// workers/index.ts for the all-in-one host of `npm start` and the demo). Sagas only say which participants may
// run locally (placedProxies); separate-process deployments declare nothing and keep activities.
//
// Determinism: the choice is recorded in history with the `settle-local-steps` patch marker, so a history
// replays with the placement it was recorded with: a remote-step history replays as remote on any worker; a
// local-step history needs a worker that hosts the services (move an all-in-one deployment to separate
// processes only once its in-flight sagas have finished, as for any change of a workflow's commands).
//
// What a local step changes (docs/benchmark.md, "Local activities"): no activity task, no extra workflow task
// and three fewer history events per step (a marker instead); the retry policy is the same, but retries of up
// to a minute run inside the workflow task (longer backoffs become timers); start-to-close applies per attempt;
// it cannot heartbeat, so it is for short steps (one database transaction here), not long ones; the barrier
// keeps a step that re-runs after a lost workflow task idempotent, exactly as for a retried activity.
import {
  patched,
  proxyActivities,
  proxyLocalActivities,
  type ActivityInterfaceFor,
  type RetryPolicy,
} from '@temporalio/workflow';

export const LOCAL_STEPS_PATCH = 'settle-local-steps';

/** Task queues whose service this worker's process hosts (declared by its interceptor module). */
const hosted = new Set<string>();

export function declareHostedServices(taskQueues: Iterable<string>): void {
  for (const q of taskQueues) hosted.add(q);
}

/** Whether a step of the service on `taskQueue` runs as a local activity in this workflow (recorded in history). */
export function runsLocally(taskQueue: string): boolean {
  return hosted.has(taskQueue) && patched(LOCAL_STEPS_PATCH);
}

/** The same for both placements: a local step keeps the activity's per-attempt timeout and retry policy. */
export interface PlacementOptions {
  startToCloseTimeout: string;
  retry: RetryPolicy;
  /** As an activity only: a local activity cannot heartbeat (the workflow task carries its cancellation). */
  heartbeatTimeout?: string;
}

type AnyFn = ((...args: unknown[]) => Promise<unknown>) & {
  executeWithOptions(options: object, args: unknown[]): Promise<unknown>;
};

/**
 * Activity proxies for a participant that may run locally: each call goes to the service's queue, or runs as a
 * local activity when this worker hosts the service. Same call shapes as proxyActivities (call, executeWithOptions).
 */
export function placedProxies<A extends object>(
  taskQueue: string,
  opts: PlacementOptions,
): ActivityInterfaceFor<A> {
  const { startToCloseTimeout, retry, heartbeatTimeout } = opts;
  const remote = proxyActivities<A>({
    taskQueue,
    startToCloseTimeout,
    retry,
    ...(heartbeatTimeout ? { heartbeatTimeout } : {}),
  }) as unknown as Record<string, AnyFn>;
  const local = proxyLocalActivities<A>({ startToCloseTimeout, retry }) as unknown as Record<string, AnyFn>;
  const pick = (name: string): AnyFn => (runsLocally(taskQueue) ? local : remote)[name]!;
  return new Proxy({} as ActivityInterfaceFor<A>, {
    get(_, name) {
      if (typeof name !== 'string') return undefined;
      const call = ((...args: unknown[]) => pick(name)(...args)) as AnyFn;
      call.executeWithOptions = (options, args) => pick(name).executeWithOptions(options, args);
      return call;
    },
  });
}
