// Bounded waiting, for every command that waits for a transaction (order place, trip book, transfer, cancel
// --wait, watch): it says what it waits for, gives up after --timeout (exit 5), notices a parked saga (exit 5) and a
// Temporal server that went away (exit 3), and ends each of those with one JSON document on stdout under --json.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { SA } from '../shared';
import { canonicalStatus } from '../shared/status';
import { EXIT, probeTcp, type CommandContext } from './cli-kit';
import { describeTarget } from './config';
import { durationFlag, formatDuration } from './duration';

/** Default bound of the commands that start a transaction and wait for its outcome. */
export const DEFAULT_WAIT = '5m';
/** Default bound of `watch` (it is meant to be left open). */
export const DEFAULT_WATCH = '30m';
/** How often the server and the transaction are looked at while waiting. */
const POLL_MS = 1000;

export function timeoutOption(dflt: string): {
  type: 'string';
  placeholder: string;
  description: string;
  defaultText: string;
} {
  return {
    type: 'string',
    placeholder: 'DURATION',
    description: 'stop waiting after this long (exit 5; the transaction keeps running), e.g. 30s, 5m, 1h',
    defaultText: dflt,
  };
}

/** --timeout in milliseconds (its default when absent). */
export function timeoutFlag(ctx: CommandContext, dflt: string): number {
  return durationFlag('timeout', ctx.values.timeout ?? dflt)!;
}

/** Network trouble rather than an answer: the server (or the connection to it) is gone. */
export function isUnreachableError(err: unknown): boolean {
  const e = err as { code?: number; cause?: { code?: number }; message?: string };
  if (e?.code === 14 || e?.cause?.code === 14) return true;
  return /UNAVAILABLE|ECONNREFUSED|ECONNRESET|connection refused|Connection dropped|No connection established/i.test(
    e?.message ?? '',
  );
}

export type WaitOutcome<T> =
  | { kind: 'result'; value: T }
  | { kind: 'timeout'; status: string }
  | { kind: 'parked'; status: string }
  | { kind: 'unreachable'; status: string; message: string };

const sleep = (ms: number): Promise<'tick'> => new Promise((r) => setTimeout(() => r('tick'), ms));

/**
 * Wait for a workflow's result, bounded by timeoutMs. Every second it checks that the server still answers and
 * reads the workflow's SettleStatus; with stopWhenParked, a saga parked in needs-operator ends the wait.
 */
export async function waitForResult<T>(
  ctx: CommandContext,
  client: Client,
  handle: WorkflowHandle,
  opts: {
    what: string;
    timeoutMs: number;
    stopWhenParked?: boolean;
    pattern?: string;
    /** A failed, cancelled or terminated workflow is an outcome too (cancel --wait): resolve instead of throwing. */
    failureIsResult?: boolean;
  },
): Promise<WaitOutcome<T>> {
  ctx.note(
    `waiting for ${opts.what} (up to ${formatDuration(opts.timeoutMs)}; --timeout changes it; Ctrl-C stops waiting, not the transaction)`,
  );
  const deadline = Date.now() + opts.timeoutMs;
  let status = 'running';
  let failures = 0;
  const result = handle.result().then(
    (value) => ({ done: true as const, value: value as T }),
    (error: unknown) => ({ done: true as const, error }),
  );
  for (;;) {
    const r = await Promise.race([result, sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())))]);
    if (r !== 'tick') {
      if ('error' in r) {
        if (!isUnreachableError(r.error)) {
          if (opts.failureIsResult) return { kind: 'result', value: undefined as T };
          throw r.error;
        }
      } else return { kind: 'result', value: r.value };
    }
    try {
      const d = await client.withDeadline(Date.now() + 3000, () => handle.describe());
      failures = 0;
      const stored = d.typedSearchAttributes.get(SA.status);
      if (stored) status = canonicalStatus(opts.pattern ?? d.typedSearchAttributes.get(SA.pattern), stored);
      if (opts.stopWhenParked && d.status.name === 'RUNNING' && d.typedSearchAttributes.get(SA.needsOperator))
        return { kind: 'parked', status: 'needs-operator' };
    } catch (err) {
      const gone =
        isUnreachableError(err) ||
        (await probeTcp(ctx.target().address).then(
          () => false,
          () => true,
        ));
      if (gone && ++failures >= 2)
        return {
          kind: 'unreachable',
          status,
          message: `lost Temporal at ${describeTarget(ctx.target())} while waiting for ${opts.what}; the transaction's outcome is unknown here: check it with settle status once the server is back`,
        };
    }
    if (Date.now() >= deadline) return { kind: 'timeout', status };
  }
}

/**
 * End a wait that produced no result: the last JSON document (--json) or a line on stderr, and the exit code
 * (5 timed out or parked, 3 server gone).
 */
export function reportUnfinished(
  ctx: CommandContext,
  outcome: Exclude<WaitOutcome<unknown>, { kind: 'result' }>,
  doc: { workflowId: string; what: string; timeoutMs: number; jsonLine?: boolean } & Record<string, unknown>,
): number {
  const { what, timeoutMs, jsonLine, ...ids } = doc;
  const exitCode = outcome.kind === 'unreachable' ? EXIT.unreachable : EXIT.attention;
  const error =
    outcome.kind === 'unreachable'
      ? outcome.message
      : outcome.kind === 'parked'
        ? `${what} is parked in needs-operator: resolve it with settle resolve ${doc.workflowId} retry|skip|abort (settle status ${doc.workflowId} shows the step)`
        : `${what} has not ended after ${formatDuration(timeoutMs)}; it is ${outcome.status} and keeps running: follow it with settle watch ${doc.workflowId}`;
  const last = {
    ...ids,
    status: outcome.status,
    needsOperator: outcome.kind === 'parked',
    timedOut: outcome.kind === 'timeout',
    waitedFor: what,
    error,
    exitCode,
    // watch --json prints JSON lines: its last line says it is over, like a closing one.
    ...(jsonLine ? { at: new Date().toISOString(), done: false } : {}),
  };
  if (ctx.json) {
    if (jsonLine) process.stdout.write(JSON.stringify(last) + '\n');
    else ctx.emit(last);
  }
  ctx.note(error);
  return exitCode;
}
