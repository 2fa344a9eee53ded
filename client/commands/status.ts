// `settle status <id>`: one transaction, any pattern: its step ledger as a table while it runs, its outcome once done.
import { EXIT, type Command } from '../cli-kit';
import { describeTransaction, printLedger } from '../transactions';

export const status: Command = {
  name: 'status',
  summary:
    "Show one transaction's step ledger as a table: each step and compensation, its status, failures and timing.",
  usage: 'status <workflowId> [--json]',
  examples: [
    'settle status order-o-123',
    'settle status order-o-123 --json    # {workflowId, status, temporalStatus, ledger: [...], failure, ...}',
    'settle list --status needs-operator   # to find the ids worth looking at',
  ],
  options: {},
  positionals: [{ name: 'workflowId', required: true }],
  async run(ctx) {
    const view = await describeTransaction(await ctx.client(), ctx.positionals[0]!);
    if (ctx.json) ctx.emit(view);
    else printLedger(view, ctx.out);
    return view.status === 'needs-operator' ? EXIT.attention : EXIT.ok;
  },
};
