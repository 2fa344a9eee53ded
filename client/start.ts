// Start a transaction and follow it to its outcome: the one path `order place`, `trip book` and `transfer` share
// (start with the business id as workflow id, refuse a reused id, --detach, a bounded wait that says what it
// waits for, and the same JSON fields for the ids whatever the command).
import type { SearchAttributePair } from '@temporalio/common';
import { SA, type Pattern } from '../shared';
import { EXIT, usageError, type CommandContext } from './cli-kit';
import { temporalClient } from './temporal';
import { DEFAULT_WAIT, reportUnfinished, timeoutFlag, timeoutOption, waitForResult } from './wait';

/** The options every starting command takes. */
export const START_OPTIONS = {
  detach: {
    type: 'boolean',
    default: false,
    description: 'start it and return at once (exit 0); follow it later with settle watch <id>',
  },
  timeout: timeoutOption(DEFAULT_WAIT),
} as const;

/** The business-id option of a starting command (`--order-id`, `--trip-id`). */
export const BUSINESS_ID_OPTION = {
  type: 'string',
  placeholder: 'ID',
  description: 'the business id (a reused id is refused)',
  defaultText: 'a new id',
} as const;

export interface StartSpec {
  /** 'order', 'trip', 'transfer': how messages name it. */
  noun: string;
  workflowType: string;
  workflowId: string;
  businessKey: string;
  pattern: Pattern;
  taskQueue: string;
  args: unknown[];
  /** SettleStatus at start (the engine keeps it current). */
  initialStatus: string;
  staticSummary: string;
  staticDetails: string;
  /** Recorded in the workflow's memo: what `list --customer` filters on. */
  customer?: string;
  /** The command's old name for the business key (orderId, tripId, ref), kept in its JSON for scripts. */
  legacyKey: string;
  /** The command to follow it with, for --detach and timeouts. */
  followWith: string;
  /** A saga parked in needs-operator ends the wait (exit 5): it waits for a person, not for time. */
  stopWhenParked?: boolean;
}

/** The id fields every starting command prints, under the shared names and the command's old one. */
export function idFields(spec: StartSpec, runId?: string): Record<string, string> {
  return {
    workflowId: spec.workflowId,
    ...(runId ? { runId } : {}),
    pattern: spec.pattern,
    businessKey: spec.businessKey,
    [spec.legacyKey]: spec.businessKey,
  };
}

export type Started<T> = { done: true; exitCode: number } | { done: false; result: T; runId: string };

/**
 * Start the workflow; with --detach report it and return; else wait (bounded) for its result. Returns the result
 * for the command to print, or the exit code when there is nothing more to print (detached, timed out, parked,
 * server gone).
 */
export async function startAndAwait<T>(ctx: CommandContext, spec: StartSpec): Promise<Started<T>> {
  const timeoutMs = timeoutFlag(ctx, DEFAULT_WAIT); // a bad --timeout is refused before anything starts
  const client = await ctx.client();
  const { WorkflowExecutionAlreadyStartedError } = temporalClient();
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: SA.pattern, value: spec.pattern },
    { key: SA.businessKey, value: spec.businessKey },
    { key: SA.status, value: spec.initialStatus },
  ];
  let handle;
  try {
    handle = await client.workflow.start(spec.workflowType, {
      taskQueue: spec.taskQueue,
      workflowId: spec.workflowId,
      args: spec.args,
      staticSummary: spec.staticSummary,
      staticDetails: spec.staticDetails,
      typedSearchAttributes,
      ...(spec.customer ? { memo: { customer: spec.customer } } : {}),
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw usageError(`${spec.noun} ${spec.businessKey} already exists (${spec.workflowId})`);
    throw err;
  }
  const runId = handle.firstExecutionRunId;
  if (ctx.values.detach) {
    if (ctx.json) ctx.emit({ ...idFields(spec, runId), status: spec.initialStatus });
    else ctx.out(`started ${spec.workflowId}; follow it with: ${spec.followWith}`);
    return { done: true, exitCode: EXIT.ok };
  }
  const outcome = await waitForResult<T>(ctx, client, handle, {
    what: `${spec.workflowId} (${spec.noun} ${spec.businessKey}) to end`,
    timeoutMs,
    pattern: spec.pattern,
    stopWhenParked: spec.stopWhenParked ?? false,
  });
  if (outcome.kind === 'result') return { done: false, result: outcome.value, runId };
  return {
    done: true,
    exitCode: reportUnfinished(ctx, outcome, {
      ...idFields(spec, runId),
      workflowId: spec.workflowId,
      what: `${spec.noun} ${spec.businessKey} (${spec.workflowId})`,
      timeoutMs,
    }),
  };
}
