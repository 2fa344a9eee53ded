// `settle stuck`: what needs a human now. Transactions parked for an operator (any age) and those still running
// after --older-than, each with the reason read from its ledger and Temporal's pending activities.
import type { Client } from '@temporalio/client';
import { EXIT, intFlag, type Command } from '../cli-kit';
import { durationFlag, formatDuration } from '../duration';
import { describeTransaction, type TransactionRow, type TransactionView } from '../transactions';
import { buildListQuery, listTransactions, printRows } from './list';

export const DEFAULT_STUCK_AFTER = '5m';

export type StuckReason = 'needs-operator' | 'running-too-long';

export interface StuckTransaction extends TransactionRow {
  reasons: StuckReason[];
  /** The step or compensation it is on, when the ledger says. */
  currentStep?: string;
  /** One line: why it is stuck, from the ledger and the pending activities. */
  why: string;
  /** The ledger entries parked for an operator (as in needs-operator). */
  parked: { name: string; kind: string; failures: number; lastError?: string }[];
}

/** The most useful one-line explanation from a transaction's description. */
export function explain(view: Pick<TransactionView, 'ledger' | 'pendingActivities' | 'note' | 'status'>): {
  currentStep?: string;
  why: string;
} {
  const parked = [...view.ledger].reverse().find((e) => e.status === 'needs-operator');
  if (parked) {
    const name = parked.kind === 'compensation' ? `↩ ${parked.name}` : parked.name;
    return {
      currentStep: parked.name,
      why: `${name} needs an operator${parked.lastError ? `: ${parked.lastError}` : ''}`,
    };
  }
  const active = [...view.ledger]
    .reverse()
    .find((e) => e.status === 'running' || e.status === 'compensating');
  const pending = view.pendingActivities?.[0];
  const retry = pending
    ? `${pending.activityType} attempt ${pending.attempt}${pending.maximumAttempts ? `/${pending.maximumAttempts}` : ''}${pending.lastFailure ? `, last failure: ${pending.lastFailure}` : ''}`
    : undefined;
  if (active) {
    const name = active.kind === 'compensation' ? `↩ ${active.name}` : active.name;
    return { currentStep: active.name, why: `${name} ${active.status}${retry ? ` (${retry})` : ''}` };
  }
  if (retry) return { why: retry };
  return { why: view.note ?? `${view.status}, no step in flight` };
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, work));
  return out;
}

export async function findStuck(
  client: Client,
  olderThanMs: number,
  limit: number,
): Promise<{ transactions: StuckTransaction[]; truncated: boolean }> {
  const now = Date.now();
  const [parked, old] = await Promise.all([
    listTransactions(client, buildListQuery({ needsOperator: true, runningOnly: true }), limit),
    listTransactions(
      client,
      buildListQuery({ runningOnly: true, transactionsOnly: true, olderThanMs, now }),
      limit,
    ),
  ]);
  const byId = new Map<string, { row: TransactionRow; reasons: StuckReason[] }>();
  for (const row of parked.rows) byId.set(row.workflowId, { row, reasons: ['needs-operator'] });
  for (const row of old.rows) {
    const seen = byId.get(row.workflowId);
    if (seen) seen.reasons.push('running-too-long');
    else byId.set(row.workflowId, { row, reasons: ['running-too-long'] });
  }
  const entries = [...byId.values()].slice(0, limit);
  const transactions = await mapLimit(entries, 4, async ({ row, reasons }): Promise<StuckTransaction> => {
    try {
      const view = await describeTransaction(client, row.workflowId);
      // The progress query is fresher than visibility (eventually consistent) on needs-operator.
      if (view.status === 'needs-operator' && !reasons.includes('needs-operator'))
        reasons.unshift('needs-operator');
      const parked = view.ledger
        .filter((e) => e.status === 'needs-operator')
        .map((e) => ({
          name: e.name,
          kind: e.kind,
          failures: e.attempts,
          ...(e.lastError ? { lastError: e.lastError } : {}),
        }));
      return { ...row, status: view.status, reasons, ...explain(view), parked };
    } catch (err) {
      return {
        ...row,
        reasons,
        parked: [],
        why: `could not describe: ${(err as Error).message.split('\n')[0]}`,
      };
    }
  });
  return { transactions, truncated: parked.truncated || old.truncated || byId.size > limit };
}

export const stuck: Command = {
  name: 'stuck',
  summary: `List transactions that need attention: parked for an operator, or still running after --older-than (default ${DEFAULT_STUCK_AFTER}). Exits 5 when there are any.`,
  usage: 'stuck [--older-than DURATION] [--limit N] [--json]',
  examples: [
    'settle stuck                        # needs-operator, or running for more than 5m',
    'settle stuck --older-than 30s',
    'settle stuck --json || alert        # exit code 5 when something is stuck (cron-friendly)',
  ],
  options: {
    'older-than': {
      type: 'string',
      placeholder: 'DURATION',
      description: 'running longer than this counts as stuck (30s, 5m, 1h)',
      defaultText: DEFAULT_STUCK_AFTER,
    },
    limit: { type: 'string', placeholder: 'N', description: 'at most this many, 1-1000', defaultText: '50' },
  },
  async run(ctx) {
    const olderThanText =
      typeof ctx.values['older-than'] === 'string' ? ctx.values['older-than'] : DEFAULT_STUCK_AFTER;
    const olderThanMs = durationFlag('older-than', olderThanText)!;
    const limit = intFlag('limit', ctx.values.limit, { min: 1, max: 1000 }) ?? 50;
    const client = await ctx.client();
    const { transactions, truncated } = await findStuck(client, olderThanMs, limit);
    if (ctx.json) {
      ctx.emit({
        olderThan: olderThanText,
        olderThanSeconds: Math.floor(olderThanMs / 1000),
        count: transactions.length,
        truncated,
        transactions,
      });
    } else if (transactions.length === 0) {
      ctx.out(
        `nothing stuck: no transaction needs an operator or has run longer than ${formatDuration(olderThanMs)}`,
      );
    } else {
      printRows(transactions, ctx.out, { head: 'WHY', cell: (r) => (r as StuckTransaction).why });
      const parked = transactions.filter((t) => t.reasons.includes('needs-operator')).length;
      ctx.out(
        `${transactions.length} stuck: ${parked} need${parked === 1 ? 's' : ''} an operator (settle resolve <id> retry|skip|abort), ` +
          `${transactions.length - parked} running longer than ${formatDuration(olderThanMs)} (settle status <id>)${truncated ? '; more exist: raise --limit' : ''}`,
      );
    }
    return transactions.length > 0 ? EXIT.attention : EXIT.ok;
  },
};
