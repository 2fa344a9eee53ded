// What bounds one activity attempt on the participant side: the attempt heartbeats (so Temporal can deliver a
// cancellation, and a server-side timeout reaches the worker as one), and its database work is given a signal
// that aborts on cancellation or just before the attempt's start-to-close deadline. withTransaction destroys the
// connection when the signal aborts, so the server rolls the transaction back: an attempt the workflow has
// given up on (timed out, retried, compensated) can never commit late.
import { Context } from '@temporalio/activity';

/**
 * Time kept between the local deadline and the server's start-to-close timeout, for COMMIT to reach the server:
 * a tenth of the timeout, at most this much.
 */
export const COMMIT_MARGIN_MS = 1_000;
export const commitMarginMs = (startToCloseMs: number): number =>
  Math.min(COMMIT_MARGIN_MS, Math.floor(startToCloseMs / 10));

export interface AttemptGuard {
  signal: AbortSignal;
  dispose(): void;
}

export function guardAttempt(): AttemptGuard {
  const ctx = Context.current();
  const { startToCloseTimeoutMs, heartbeatTimeoutMs } = ctx.info;
  const signals: AbortSignal[] = [ctx.cancellationSignal];
  let deadline: ReturnType<typeof setTimeout> | undefined;
  if (startToCloseTimeoutMs > 0) {
    const local = new AbortController();
    // Measured from when this code starts, which is after the server started the attempt: the margin covers it.
    const ms = Math.max(0, startToCloseTimeoutMs - commitMarginMs(startToCloseTimeoutMs));
    deadline = setTimeout(
      () => local.abort(new Error(`attempt deadline: start-to-close ${startToCloseTimeoutMs} ms`)),
      ms,
    );
    signals.push(local.signal);
  }
  // The SDK throttles heartbeats to a fraction of the heartbeat timeout; beating more often costs nothing.
  ctx.heartbeat();
  const beat = setInterval(
    () => ctx.heartbeat(),
    Math.max(200, Math.min(1_000, (heartbeatTimeoutMs ?? 3_000) / 3)),
  );
  return {
    signal: AbortSignal.any(signals),
    dispose() {
      clearInterval(beat);
      if (deadline) clearTimeout(deadline);
    },
  };
}
