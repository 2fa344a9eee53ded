// How the engine reads a failure: its ledger text, whether another identical call could fix it, the engine-level
// backoff between invocations, and the saga-level step deadline that turns a cancellation into `StepTimeout`.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import { intervalMs, STEP_TIMEOUT, type BackoffPolicy } from './types';

export function describeError(err: unknown): { type?: string; message: string } {
  let e: unknown = err;
  // Unwrap ActivityFailure -> ApplicationFailure / TimeoutFailure so the ledger names the real cause.
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return { type: e.type ?? undefined, message: e.message };
  if (e instanceof TimeoutFailure)
    return { type: 'Timeout', message: `${String(e.timeoutType ?? 'activity').toLowerCase()} timeout` };
  if (e instanceof Error) return { type: e.name, message: e.message };
  return { message: String(err) };
}

export const errorText = (d: { type?: string; message: string }): string =>
  d.type ? `${d.type}: ${d.message}` : d.message;

/** A failure that another identical call cannot fix: only an operator can (or the saga must compensate). */
export function isNonRetryable(err: unknown): boolean {
  let e: unknown = err;
  while (e instanceof Error) {
    if (e instanceof ActivityFailure && e.retryState === 'NON_RETRYABLE_FAILURE') return true;
    if (e instanceof ApplicationFailure && e.nonRetryable && e.type !== STEP_TIMEOUT) return true;
    e = e.cause;
  }
  return false;
}

export function backoffMs(policy: BackoffPolicy, failures: number): number {
  const initial = intervalMs(policy.initialInterval ?? '1s');
  const max = intervalMs(policy.maximumInterval ?? '5m');
  return Math.min(max, initial * Math.pow(policy.backoffCoefficient ?? 2, Math.max(0, failures - 1)));
}

/** Run `fn` with a saga-level deadline: a cancellation scope raced against a workflow timer. */
export async function withDeadline<T>(
  ms: number | undefined,
  step: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (ms === undefined) return fn();
  let timedOut = false;
  const work = new CancellationScope({ cancellable: true });
  const timer = new CancellationScope({ cancellable: true });
  timer
    .run(() => sleep(ms))
    .then(
      () => {
        timedOut = true;
        work.cancel();
      },
      () => undefined, // the timer was cancelled: the step finished first, or the saga was cancelled
    );
  try {
    return await work.run(fn);
  } catch (err) {
    if (timedOut && isCancellation(err))
      throw ApplicationFailure.create({
        type: STEP_TIMEOUT,
        message: `step ${step} did not finish within ${ms} ms`,
        nonRetryable: true,
      });
    throw err;
  } finally {
    timer.cancel();
  }
}
