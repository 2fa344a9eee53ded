// `settle status <id>`: one transaction, any pattern, by workflow id or business id: its step ledger as a table
// while it runs and its outcome once done; a transfer's decision and participants; a choreographed order's events.
import { EXIT, type Command } from '../cli-kit';
import { findByIdOrBusinessKey, type AnyTransactionView } from '../lookup';
import { printLedger } from '../transactions';
import { printParticipants } from './transfer';
import type { ParticipantView } from '../../shared';

export function printAnyTransaction(view: AnyTransactionView, out: (t: string) => void): void {
  printLedger(view, out);
  if (view.decision) out(`  decision: ${view.decision}${view.reason ? ` — ${view.reason}` : ''}`);
  if (view.participants?.length) printParticipants(view.participants as ParticipantView[], out);
  for (const a of view.anomalies ?? []) out(`  ANOMALY: ${a}`);
}

export const status: Command = {
  name: 'status',
  summary:
    "Show one transaction of any pattern: its step ledger (each step and compensation, status, failures, timing), a transfer's participants.",
  usage: 'status <workflowId|businessKey> [--json]',
  examples: [
    'settle status order-o-123',
    'settle status o-123                 # the business id works too (order id, trip id, transfer reference)',
    'settle status transfer-t-9 --json   # {workflowId, pattern, businessKey, status, decision, participants, ...}',
    'settle list --status needs-operator   # to find the ids worth looking at',
  ],
  options: {},
  positionals: [{ name: 'workflowId|businessKey', required: true }],
  async run(ctx) {
    const view = await findByIdOrBusinessKey(await ctx.client(), ctx.positionals[0]!);
    if (ctx.json) ctx.emit(view);
    else printAnyTransaction(view, ctx.out);
    return view.status === 'needs-operator' || (view.anomalies?.length ?? 0) > 0 ? EXIT.attention : EXIT.ok;
  },
};
