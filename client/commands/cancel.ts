// `settle cancel <id>` (or `--query`): request cancellation. A running saga then compensates what it completed
// (inside a non-cancellable scope), so cancel means "undo it", not "abandon it"; a 2PC/3PC aborts before its
// decision; a TCC cancels its reservation. A saga parked in needs-operator is NOT sent a cancel: it already waits
// for a person, and its compensation cannot go further than the failing step; the command says so and exits 5
// (decide with `settle resolve <id> retry|skip|abort`). --wait follows it to its outcome, bounded by --timeout.
import { EXIT, CliError, str, intFlag, usageError, type Command, type CommandContext } from '../cli-kit';
import { BULK_OPTIONS, bulkQuery, printBulk, rateFlag, runBulk } from '../bulk';
import { temporalClient } from '../temporal';
import { describeTransaction, printLedger, type TransactionView } from '../transactions';
import { DEFAULT_WAIT, reportUnfinished, timeoutFlag, timeoutOption, waitForResult } from '../wait';
import { endedWell } from './watch';

const DEFAULT_REASON = 'cancelled with settle cancel';

async function requestCancel(
  ctx: CommandContext,
  workflowId: string,
  runId: string,
  reason: string,
): Promise<void> {
  const client = await ctx.client();
  try {
    await client.workflowService.requestCancelWorkflowExecution({
      namespace: client.options.namespace,
      workflowExecution: { workflowId, runId },
      identity: client.options.identity,
      reason, // recorded in history with the request (shown in the Web UI)
    });
  } catch (err) {
    // It ended between the description and the request.
    if (/not found|already completed/i.test((err as Error).message))
      throw new CliError(`${workflowId} has already ended; there is nothing to cancel`, EXIT.usage);
    throw err;
  }
}

const parkedMessage = (id: string): string =>
  `${id} is parked in needs-operator: a cancel is not sent (its compensation cannot get past the failing step). Decide with: settle resolve ${id} retry|skip|abort`;

export const cancel: Command = {
  name: 'cancel',
  summary:
    'Cancel a running transaction: a saga compensates its completed steps, a 2PC/3PC aborts before its decision, a TCC cancels its holds. A saga parked in needs-operator is left to settle resolve (exit 5).',
  usage:
    'cancel <workflowId> [--reason TEXT] [--wait] [--timeout DURATION] [--json]\n       settle cancel --query QUERY [--reason TEXT] [--dry-run] [--rate N/s] [--limit N] [--json]',
  examples: [
    'settle cancel order-o-123',
    'settle cancel order-o-123 --wait           # wait (up to 5m) for the compensations, print the ledger',
    'settle cancel order-o-123 --wait --json    # {workflowId, runId, requested, previousStatus, status, ...}',
    `settle cancel --query "SettlePattern = 'saga' AND StartTime < '2026-11-24T18:00:00Z'" --dry-run`,
  ],
  options: {
    reason: {
      type: 'string',
      placeholder: 'TEXT',
      description: 'why, recorded in history with the cancel request',
      defaultText: `'${DEFAULT_REASON}'`,
    },
    wait: {
      type: 'boolean',
      default: false,
      description: 'wait for the transaction to end and print its ledger',
    },
    timeout: timeoutOption(DEFAULT_WAIT),
    ...BULK_OPTIONS,
  },
  positionals: [{ name: 'workflowId', required: false }],
  async run(ctx) {
    const workflowId = ctx.positionals[0];
    const query = str(ctx.values.query);
    const reason = str(ctx.values.reason) ?? DEFAULT_REASON;
    if (reason.length > 1000) throw usageError('--reason must be at most 1000 characters');
    if ((workflowId === undefined) === (query === undefined))
      throw usageError(
        `give a workflow id or --query, not ${workflowId ? 'both' : 'neither'}\nUsage: settle ${cancel.usage}`,
      );
    if (query !== undefined) return cancelMany(ctx, query, reason);
    const timeoutMs = timeoutFlag(ctx, DEFAULT_WAIT);
    const client = await ctx.client();
    const before = await describeTransaction(client, workflowId!);
    if (before.temporalStatus !== 'RUNNING')
      throw new CliError(
        `${workflowId} has already ended (${before.status}); there is nothing to cancel`,
        EXIT.usage,
      );
    if (before.status === 'needs-operator' || before.needsOperator) {
      const parked = before.ledger.filter((e) => e.status === 'needs-operator').map((e) => e.name);
      if (ctx.json)
        ctx.emit({
          workflowId,
          runId: before.runId,
          pattern: before.pattern,
          businessKey: before.businessKey,
          requested: false,
          previousStatus: before.status,
          status: before.status,
          needsOperator: true,
          parked,
          error: parkedMessage(workflowId!),
          exitCode: EXIT.attention,
        });
      ctx.note(parkedMessage(workflowId!));
      return EXIT.attention;
    }
    await requestCancel(ctx, workflowId!, before.runId, reason);
    if (!ctx.values.wait) {
      if (ctx.json)
        ctx.emit({
          workflowId,
          runId: before.runId,
          pattern: before.pattern,
          businessKey: before.businessKey,
          requested: true,
          previousStatus: before.status,
          status: before.status,
        });
      else
        ctx.out(
          `cancellation requested for ${workflowId} (was ${before.status}); follow it with: settle watch ${workflowId}`,
        );
      return EXIT.ok;
    }
    const handle = client.workflow.getHandle(workflowId!, before.runId);
    const outcome = await waitForResult(ctx, client, handle, {
      what: `${workflowId} to finish cancelling`,
      timeoutMs,
      stopWhenParked: true,
      // A workflow that did not handle the cancel fails with CancelledFailure: that is an outcome, not an error.
      failureIsResult: true,
      ...(before.pattern ? { pattern: before.pattern } : {}),
    });
    if (outcome.kind !== 'result') {
      return reportUnfinished(ctx, outcome, {
        workflowId: workflowId!,
        runId: before.runId,
        pattern: before.pattern,
        businessKey: before.businessKey,
        requested: true,
        previousStatus: before.status,
        what: `cancellation of ${workflowId}`,
        timeoutMs,
      });
    }
    return printOutcome(ctx, await describeTransaction(client, workflowId!), before);
  },
};

function printOutcome(ctx: CommandContext, after: TransactionView, before: TransactionView): number {
  if (ctx.json) ctx.emit({ ...after, requested: true, previousStatus: before.status });
  else {
    ctx.out(`cancelled ${after.workflowId}: ${before.status} -> ${after.status}`);
    printLedger(after, ctx.out);
  }
  return endedWell(after) ? EXIT.ok : EXIT.attention;
}

async function cancelMany(ctx: CommandContext, userQuery: string, reason: string): Promise<number> {
  if (ctx.values.wait) throw usageError('--wait is for one workflow id, not --query');
  const client = await ctx.client();
  const r = await runBulk(ctx, client, {
    query: bulkQuery(userQuery),
    limit: intFlag('limit', ctx.values.limit, { min: 1, max: 10_000 }) ?? 1000,
    rate: rateFlag(ctx.values.rate),
    dryRun: ctx.values['dry-run'] === true,
    verb: 'cancel',
    refuse: (row) =>
      row.needsOperator || row.status === 'needs-operator'
        ? 'parked in needs-operator: settle resolve decides'
        : undefined,
    async act(row) {
      await requestCancel(ctx, row.workflowId, row.runId, reason).catch((err: unknown) => {
        if (err instanceof CliError) throw new Error(err.message);
        if (err instanceof temporalClient().WorkflowNotFoundError) throw new Error('it has already ended');
        throw err;
      });
      return { outcome: 'requested' };
    },
  });
  if (ctx.json) ctx.emit(r);
  else printBulk(ctx.out, r);
  return r.transactions.some((t) => t.outcome === 'skipped' || t.outcome === 'failed')
    ? EXIT.attention
    : EXIT.ok;
}
