// `settle cancel <id>`: request cancellation. A saga then compensates what it completed (inside a non-cancellable
// scope), so cancel means "undo it", not "abandon it"; --wait follows it to its outcome.
import { EXIT, CliError, type Command } from '../cli-kit';
import { describeTransaction, printLedger } from '../transactions';
import { endedWell } from './watch';

export const cancel: Command = {
  name: 'cancel',
  summary:
    'Cancel a running transaction: a saga compensates its completed steps, a 2PC aborts before its decision.',
  usage: 'cancel <workflowId> [--reason TEXT] [--wait] [--json]',
  examples: [
    'settle cancel order-o-123',
    'settle cancel order-o-123 --wait           # wait for the compensations, print the ledger',
    'settle cancel order-o-123 --wait --json    # {workflowId, runId, requested, previousStatus, status, ...}',
  ],
  options: {
    reason: { type: 'string' },
    wait: { type: 'boolean', default: false },
  },
  positionals: [{ name: 'workflowId', required: true }],
  async run(ctx) {
    const workflowId = ctx.positionals[0]!;
    const client = await ctx.client();
    const before = await describeTransaction(client, workflowId);
    if (before.temporalStatus !== 'RUNNING')
      throw new CliError(
        `${workflowId} has already ended (${before.status}); there is nothing to cancel`,
        EXIT.usage,
      );
    const handle = client.workflow.getHandle(workflowId, before.runId);
    // The reason is recorded in history with the cancel request (shown in the Web UI).
    const reason = typeof ctx.values.reason === 'string' ? ctx.values.reason : 'cancelled with settle cancel';
    try {
      await client.workflowService.requestCancelWorkflowExecution({
        namespace: client.options.namespace,
        workflowExecution: { workflowId, runId: before.runId },
        identity: client.options.identity,
        reason,
      });
    } catch (err) {
      // It ended between the description and the request.
      if (/not found|already completed/i.test((err as Error).message))
        throw new CliError(`${workflowId} has already ended; there is nothing to cancel`, EXIT.usage);
      throw err;
    }
    if (!ctx.values.wait) {
      if (ctx.json)
        ctx.emit({
          workflowId,
          runId: before.runId,
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
    await handle.result().catch(() => undefined);
    const after = await describeTransaction(client, workflowId);
    if (ctx.json) ctx.emit({ ...after, requested: true, previousStatus: before.status });
    else {
      ctx.out(`cancelled ${workflowId}: ${before.status} -> ${after.status}`);
      printLedger(after, ctx.out);
    }
    return endedWell(after) ? EXIT.ok : EXIT.attention;
  },
};
