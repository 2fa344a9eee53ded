// Bulk operator actions (`resolve --query`, `cancel --query`): select with a visibility query, list what would be
// touched with --dry-run, act at a bounded --rate, report each transaction's outcome in one document.
import type { Client } from '@temporalio/client';
import { usageError, type CommandContext, type Values } from './cli-kit';
import { listTransactions } from './commands/list';
import type { TransactionRow } from './transactions';

export const BULK_OPTIONS = {
  query: {
    type: 'string',
    placeholder: 'QUERY',
    description:
      "act on every transaction this visibility query selects (e.g. \"SettlePattern = 'saga' AND StartTime > '2026-11-24T18:00:00Z'\") instead of one id",
  },
  'dry-run': {
    type: 'boolean',
    default: false,
    description: 'with --query: list what would be touched, change nothing',
  },
  rate: {
    type: 'string',
    placeholder: 'N/s',
    description: 'with --query: at most this many actions per second',
    defaultText: '10/s',
  },
  limit: {
    type: 'string',
    placeholder: 'N',
    description: 'with --query: at most this many transactions',
    defaultText: '1000',
  },
} as const;

/** --rate "5/s" or "5": actions per second, 0.1-1000. */
export function rateFlag(v: Values[string]): number {
  if (v === undefined) return 10;
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(String(v));
  const n = m ? Number(m[1]) : NaN;
  if (!(n >= 0.1 && n <= 1000))
    throw usageError(`--rate must be actions per second like 5/s (0.1-1000), got '${String(v)}'`);
  return n;
}

/** Only what a bulk action may select: Settle transactions (not the relays), still running. */
export function bulkQuery(userQuery: string, extra: string[] = []): string {
  const q = userQuery.trim();
  if (!q) throw usageError('--query must not be empty');
  if (q.length > 2000) throw usageError('--query must be at most 2000 characters');
  return [
    'SettlePattern IS NOT NULL',
    "ExecutionStatus = 'Running'",
    "SettleStatus NOT IN ('relay')",
    ...extra,
    `(${q})`,
  ].join(' AND ');
}

export interface BulkItem {
  workflowId: string;
  runId: string;
  pattern?: string;
  businessKey?: string;
  status: string;
  /** would-* under --dry-run; done, skipped or failed otherwise. */
  outcome: string;
  why?: string;
}

/** Select, then act on each row at `rate` per second (or only list them under --dry-run). */
export async function runBulk(
  ctx: CommandContext,
  client: Client,
  opts: {
    query: string;
    limit: number;
    rate: number;
    dryRun: boolean;
    verb: string;
    act(row: TransactionRow): Promise<{ outcome: string; why?: string; status?: string }>;
    /** Rows the action refuses up front (e.g. a parked saga for cancel): the reason, shown also under --dry-run. */
    refuse?(row: TransactionRow): string | undefined;
  },
): Promise<{ query: string; dryRun: boolean; count: number; truncated: boolean; transactions: BulkItem[] }> {
  const { rows, truncated } = await listTransactions(client, opts.query, opts.limit);
  const items: BulkItem[] = [];
  const gap = 1000 / opts.rate;
  let last = 0;
  for (const row of rows) {
    const base = {
      workflowId: row.workflowId,
      runId: row.runId,
      pattern: row.pattern,
      businessKey: row.businessKey,
      status: row.status,
    };
    const refused = opts.refuse?.(row);
    if (refused) {
      items.push({ ...base, outcome: 'skipped', why: refused });
      continue;
    }
    if (opts.dryRun) {
      items.push({ ...base, outcome: `would-${opts.verb}` });
      continue;
    }
    const wait = last + gap - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    last = Date.now();
    try {
      const r = await opts.act(row);
      items.push({
        ...base,
        ...(r.status ? { status: r.status } : {}),
        outcome: r.outcome,
        ...(r.why ? { why: r.why } : {}),
      });
    } catch (err) {
      items.push({ ...base, outcome: 'failed', why: (err as Error).message.split('\n')[0] });
    }
    ctx.note(`${opts.verb} ${row.workflowId}: ${items[items.length - 1]!.outcome}`);
  }
  return { query: opts.query, dryRun: opts.dryRun, count: items.length, truncated, transactions: items };
}

export function printBulk(
  out: (t: string) => void,
  r: { dryRun: boolean; count: number; truncated: boolean; query: string; transactions: BulkItem[] },
): void {
  for (const t of r.transactions)
    out(`${t.workflowId}  ${t.pattern ?? ''}  ${t.status}  ${t.outcome}${t.why ? `  (${t.why})` : ''}`);
  out(
    `${r.count} transaction${r.count === 1 ? '' : 's'} ${r.dryRun ? 'selected (dry run: nothing changed)' : 'processed'}${r.truncated ? '; more match: raise --limit' : ''}  (query: ${r.query})`,
  );
}
