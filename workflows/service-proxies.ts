// Activity proxies for a saga participant, shared by every saga: one for forward steps (a few fast retries,
// business rejections never retried, then the saga compensates) and one for compensations (a long budget
// before an operator is asked).
import { proxyActivities, type ActivityInterfaceFor } from '@temporalio/workflow';
import { NON_RETRYABLE } from '../shared';

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

export function serviceProxies<A>(taskQueue: string): {
  forward: ActivityInterfaceFor<A>;
  undo: ActivityInterfaceFor<A>;
} {
  return {
    forward: proxyActivities<A>({ taskQueue, startToCloseTimeout: '10s', retry: FORWARD_RETRY }),
    undo: proxyActivities<A>({ taskQueue, startToCloseTimeout: '10s', retry: COMPENSATION_RETRY }),
  };
}
