// `settle list`: a visibility query over Settle's search attributes, so the same filters work here, in the Web UI
// and with `temporal workflow list --query`.
import type { Client } from '@temporalio/client';
import type { Pattern } from '../../shared';
import { CliError, EXIT, intFlag, str, usageError, type Command } from '../cli-kit';
import { durationFlag, formatDuration } from '../duration';
import { IN_PROGRESS_STATUSES, table, transactionRow, type TransactionRow } from '../transactions';

/** Every pattern Settle runs (a Record so that adding a Pattern without listing it here fails to compile). */
const PATTERNS: Record<Pattern, true> = {
  saga: true,
  '2pc': true,
  '3pc': true,
  tcc: true,
  choreography: true,
};
export const KNOWN_PATTERNS = Object.keys(PATTERNS);

/**
 * Statuses only Temporal records (the workflow could not set SettleStatus): filtered by ExecutionStatus. Temporal's
 * own cancellation is "canceled"; "cancelled" is a TCC outcome (SettleStatus).
 */
const TEMPORAL_STATUSES: Record<string, string> = {
  failed: 'Failed',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
  canceled: 'Canceled',
};
const STATUS_RE = /^[a-z][a-z0-9-]{0,31}$/;
/**
 * SettleStatus of long-lived service workflows that carry a pattern but are not transactions (the outbox
 * relays): they run forever by design, so `stuck` and the stuck gauge leave them out.
 */
export const SERVICE_STATUSES = ['relay'] as const;

export interface ListFilter {
  pattern?: string;
  status?: string;
  /** Only transactions started more than this many milliseconds before `now`. */
  olderThanMs?: number;
  /** Only transactions still running (Temporal's view). */
  runningOnly?: boolean;
  /** Only transactions parked for an operator. */
  needsOperator?: boolean;
  /** Leave out long-lived service workflows (SERVICE_STATUSES). */
  transactionsOnly?: boolean;
  now?: number;
}

const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The visibility query for a filter. Values are validated by the flags; quoting is defence in depth. */
export function buildListQuery(f: ListFilter): string {
  const parts = ['SettlePattern IS NOT NULL'];
  if (f.pattern) parts.push(`SettlePattern = ${quote(f.pattern)}`);
  if (f.status) {
    const temporal = TEMPORAL_STATUSES[f.status];
    if (temporal) parts.push(`ExecutionStatus = ${quote(temporal)}`);
    else {
      parts.push(`SettleStatus = ${quote(f.status)}`);
      if (IN_PROGRESS_STATUSES.has(f.status)) parts.push(`ExecutionStatus = 'Running'`);
    }
  }
  if (f.needsOperator) parts.push('SettleNeedsOperator = true');
  if (f.runningOnly && !parts.includes(`ExecutionStatus = 'Running'`))
    parts.push(`ExecutionStatus = 'Running'`);
  if (f.transactionsOnly) parts.push(`SettleStatus NOT IN (${SERVICE_STATUSES.map(quote).join(', ')})`);
  if (f.olderThanMs !== undefined)
    parts.push(`StartTime < ${quote(new Date((f.now ?? Date.now()) - f.olderThanMs).toISOString())}`);
  return parts.join(' AND ');
}

export function validatePattern(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!KNOWN_PATTERNS.includes(v))
    throw usageError(`--pattern must be one of ${KNOWN_PATTERNS.join(', ')}, got '${v}'`);
  return v;
}

export function validateStatus(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!STATUS_RE.test(v))
    throw usageError(
      `--status must be a status word like running, compensated, needs-operator, committed or failed, got '${v}'`,
    );
  return v;
}

/** Run a visibility query; at most `limit` rows, and whether there were more. */
export async function listTransactions(
  client: Client,
  query: string,
  limit: number,
): Promise<{ rows: TransactionRow[]; truncated: boolean }> {
  const rows: TransactionRow[] = [];
  let truncated = false;
  const now = Date.now();
  try {
    for await (const info of client.workflow.list({ query, pageSize: Math.min(limit + 1, 1000) })) {
      if (rows.length === limit) {
        truncated = true;
        break;
      }
      rows.push(transactionRow(info, now));
    }
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    if (
      /Settle(Pattern|Status|NeedsOperator|BusinessKey)/.test(msg) &&
      /not defined|unknown|invalid/i.test(msg)
    )
      throw new CliError(
        `the server does not know Settle's search attributes (${msg.split('\n')[0]}).\n` +
          `'npm start' registers them on its dev server; on another cluster run: temporal operator search-attribute create ` +
          `--name SettlePattern --type Keyword --name SettleStatus --type Keyword --name SettleBusinessKey --type Keyword --name SettleNeedsOperator --type Bool`,
        EXIT.error,
      );
    throw err;
  }
  return { rows, truncated };
}

export function printRows(
  rows: TransactionRow[],
  out: (t: string) => void,
  extra?: { head: string; cell(r: TransactionRow): string },
): void {
  const head = ['WORKFLOW ID', 'PATTERN', 'STATUS', 'BUSINESS KEY', 'STARTED', 'AGE'];
  const data = rows.map((r) => [
    r.workflowId,
    r.pattern ?? '',
    r.status,
    r.businessKey ?? '',
    r.startedAt.slice(0, 19).replace('T', ' '),
    r.ageSeconds === 0 ? '<1s' : formatDuration(r.ageSeconds * 1000, 2),
  ]);
  if (extra) {
    head.push(extra.head);
    rows.forEach((r, i) => data[i]!.push(extra.cell(r)));
  }
  for (const line of table(head, data)) out(line);
}

export const list: Command = {
  name: 'list',
  summary:
    'List transactions of every pattern: filter by pattern, status and age (a visibility query on Settle search attributes).',
  usage: 'list [--pattern saga|2pc|3pc|tcc] [--status STATUS] [--older-than DURATION] [--limit N] [--json]',
  examples: [
    'settle list                                   # the 50 most recent transactions',
    'settle list --pattern saga --status compensated',
    'settle list --status needs-operator           # parked, waiting for: settle resolve <id> ...',
    'settle list --status running --older-than 10m --json',
    'settle list --status failed --limit 200       # also: terminated, timed-out, cancelled',
  ],
  options: {
    pattern: { type: 'string' },
    status: { type: 'string' },
    'older-than': { type: 'string' },
    limit: { type: 'string' },
  },
  async run(ctx) {
    const v = ctx.values;
    const filter: ListFilter = {
      pattern: validatePattern(str(v.pattern)),
      status: validateStatus(str(v.status)),
      olderThanMs: durationFlag('older-than', v['older-than']),
    };
    const limit = intFlag('limit', v.limit, { min: 1, max: 10_000 }) ?? 50;
    const query = buildListQuery(filter);
    const client = await ctx.client();
    const { rows, truncated } = await listTransactions(client, query, limit);
    if (ctx.json) {
      ctx.emit({ query, count: rows.length, truncated, transactions: rows });
      return EXIT.ok;
    }
    if (rows.length === 0) {
      ctx.out(`no transactions match (query: ${query})`);
      return EXIT.ok;
    }
    printRows(rows, ctx.out);
    ctx.out(
      `${rows.length} transaction${rows.length === 1 ? '' : 's'}${truncated ? ` (more exist: raise --limit)` : ''}`,
    );
    return EXIT.ok;
  },
};
