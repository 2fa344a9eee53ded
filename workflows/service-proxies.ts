// Activity proxies for a saga participant, shared by every saga: one for forward steps (a few fast retries,
// business rejections never retried, then the saga compensates) and one for compensations (a long budget
// before an operator is asked).
import { proxyActivities, type ActivityInterfaceFor } from '@temporalio/workflow';
import { NON_RETRYABLE } from '../shared';
import { placedProxies } from './saga/placement';

export const FORWARD_RETRY = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '5s',
  maximumAttempts: 5,
  nonRetryableErrorTypes: NON_RETRYABLE,
};

export const COMPENSATION_RETRY = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 20,
};

/**
 * One attempt's budget. It must exceed the database pool's acquire timeout (services/db.ts DB_TIMEOUTS.acquireMs,
 * 5 s) plus the participant's commit margin (activities/attempt.ts), so that an attempt waiting for a pool client
 * gives up on its own before Temporal retries it; the participant aborts its transaction just before this
 * deadline, so an attempt that outlives it can never commit late (test/integration/barrier.test.ts checks both).
 */
export const START_TO_CLOSE = '10s';
/** Heartbeats carry cancellation (a saga-level deadline, a cancelled saga) to the attempt within this bound. */
export const HEARTBEAT_TIMEOUT = '3s';

/**
 * `local-when-hosted`: the participant's steps run as local activities when the worker hosts its service in
 * the same process (workflows/saga/placement.ts); default: always activities on the service's queue.
 */
export type Placement = 'service-queue' | 'local-when-hosted';

export function serviceProxies<A extends object>(
  taskQueue: string,
  placement: Placement = 'service-queue',
): {
  forward: ActivityInterfaceFor<A>;
  undo: ActivityInterfaceFor<A>;
} {
  if (placement === 'local-when-hosted')
    return {
      forward: placedProxies<A>(taskQueue, {
        startToCloseTimeout: START_TO_CLOSE,
        heartbeatTimeout: HEARTBEAT_TIMEOUT,
        retry: FORWARD_RETRY,
      }),
      undo: placedProxies<A>(taskQueue, {
        startToCloseTimeout: START_TO_CLOSE,
        heartbeatTimeout: HEARTBEAT_TIMEOUT,
        retry: COMPENSATION_RETRY,
      }),
    };
  return {
    forward: proxyActivities<A>({
      taskQueue,
      startToCloseTimeout: START_TO_CLOSE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: FORWARD_RETRY,
    }),
    undo: proxyActivities<A>({
      taskQueue,
      startToCloseTimeout: START_TO_CLOSE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: COMPENSATION_RETRY,
    }),
  };
}
