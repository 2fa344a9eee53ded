// `settle list`: a visibility query over Settle's search attributes, so the same filters work here, in the Web UI
// and with `temporal workflow list --query`.
import type { Client } from '@temporalio/client';
import type { Pattern } from '../../shared';
import {
  isInProgress,
  knownStatusWords,
  SERVICE_STATUSES as SERVICE_STATUS_MEANINGS,
  STATUS_INPUT_ALIASES,
  statusQuery,
  TEMPORAL_STATUSES,
} from '../../shared/status';
import { CliError, EXIT, intFlag, str, usageError, type Command } from '../cli-kit';
import { durationFlag, formatDuration } from '../duration';
import { table, transactionRow, type TransactionRow } from '../transactions';

/** Every pattern Settle runs (a Record so that adding a Pattern without listing it here fails to compile). */
const PATTERNS: Record<Pattern, true> = {
  saga: true,
  '2pc': true,
  '3pc': true,
  tcc: true,
  choreography: true,
};
export const KNOWN_PATTERNS = Object.keys(PATTERNS);

const STATUS_WORDS = knownStatusWords();
/** SettleStatus of long-lived service workflows that are not transactions (the outbox relays). */
export const SERVICE_STATUSES = Object.keys(SERVICE_STATUS_MEANINGS);

export interface ListFilter {
  pattern?: string;
  status?: string;
  /** Only this business key (order id, trip id, transfer reference). */
  businessKey?: string;
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
  const running = `ExecutionStatus = 'Running'`;
  if (f.pattern) parts.push(`SettlePattern = ${quote(f.pattern)}`);
  if (f.businessKey) parts.push(`SettleBusinessKey = ${quote(f.businessKey)}`);
  if (f.status) {
    const word = STATUS_INPUT_ALIASES[f.status] ?? f.status;
    const temporal = TEMPORAL_STATUSES[word];
    if (temporal) parts.push(`ExecutionStatus = ${quote(temporal.executionStatus)}`);
    else {
      parts.push(statusQuery(word, f.pattern)!);
      if (isInProgress(word)) parts.push(running);
    }
  }
  if (f.needsOperator) parts.push('SettleNeedsOperator = true');
  if (f.runningOnly && !parts.includes(running)) parts.push(running);
  if (f.transactionsOnly && !(f.status && SERVICE_STATUSES.includes(f.status)))
    parts.push(`SettleStatus NOT IN (${SERVICE_STATUSES.map(quote).join(', ')})`);
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

/** --status: a word of the vocabulary (docs/operations.md, Statuses); anything else is bad input. */
export function validateStatus(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!STATUS_WORDS.includes(v))
    throw usageError(
      `--status must be one of ${STATUS_WORDS.join(', ')}, got '${v}' (see docs/operations.md, Statuses)`,
    );
  return v;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
export function validateId(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!ID_RE.test(v))
    throw usageError(`--${flag} must be 1-128 characters of letters, digits, . _ : @ -, got '${v}'`);
  return v;
}

/** How many rows `list` reads to sort them newest first (visibility returns running ones first, not by start). */
export const SCAN_MAX = 10_000;

const newestFirst = (a: TransactionRow, b: TransactionRow): number =>
  b.startedAt.localeCompare(a.startedAt) || a.workflowId.localeCompare(b.workflowId);

/**
 * Run a visibility query: rows newest first (by start time), at most `limit` of them after skipping `offset`,
 * optionally filtered by the customer recorded at start; `total` is how many matched (of the first SCAN_MAX read).
 */
export async function listTransactions(
  client: Client,
  query: string,
  limit: number,
  opts: { offset?: number; customer?: string } = {},
): Promise<{ rows: TransactionRow[]; truncated: boolean; total: number; scanTruncated: boolean }> {
  const all: TransactionRow[] = [];
  let scanTruncated = false;
  const now = Date.now();
  const offset = opts.offset ?? 0;
  try {
    for await (const info of client.workflow.list({ query, pageSize: 1000 })) {
      if (all.length === SCAN_MAX) {
        scanTruncated = true;
        break;
      }
      const row = transactionRow(info, now);
      if (opts.customer === undefined || row.customer === opts.customer) all.push(row);
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
  all.sort(newestFirst);
  const rows = all.slice(offset, offset + limit);
  return { rows, truncated: all.length > offset + limit || scanTruncated, total: all.length, scanTruncated };
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
    'List transactions of every pattern, newest first: filter by pattern, status, business key, customer and age (a visibility query on Settle search attributes).',
  usage:
    'list [--pattern P] [--status STATUS] [--business-key KEY] [--customer ID] [--older-than DURATION] [--limit N] [--page N] [--json]',
  examples: [
    'settle list                                   # the 50 most recent transactions (outbox relays left out)',
    'settle list --pattern saga --status compensated',
    'settle list --status needs-operator           # parked, waiting for: settle resolve <id> ...',
    'settle list --status running --older-than 10m --json',
    'settle list --business-key o-1001             # every transaction of one order, transfer or trip',
    'settle list --customer alice --page 2         # the next 50',
    'settle list --status relay                    # the outbox relays themselves',
  ],
  options: {
    pattern: { type: 'string', placeholder: 'P', description: 'only this pattern', choices: KNOWN_PATTERNS },
    status: {
      type: 'string',
      placeholder: 'STATUS',
      description: 'only this status (docs/operations.md lists every status of every pattern)',
      choices: STATUS_WORDS,
    },
    'business-key': {
      type: 'string',
      placeholder: 'KEY',
      description: 'only this business key (order id, trip id, transfer reference)',
    },
    customer: {
      type: 'string',
      placeholder: 'ID',
      description: 'only transactions started for this customer (recorded by the CLI at start)',
    },
    'older-than': {
      type: 'string',
      placeholder: 'DURATION',
      description: 'only those started longer ago than this (30s, 10m, 2h)',
    },
    limit: { type: 'string', placeholder: 'N', description: 'rows per page, 1-10000', defaultText: '50' },
    page: {
      type: 'string',
      placeholder: 'N',
      description: 'which page of --limit rows, newest first',
      defaultText: '1',
    },
  },
  async run(ctx) {
    const v = ctx.values;
    const filter: ListFilter = {
      pattern: validatePattern(str(v.pattern)),
      status: validateStatus(str(v.status)),
      businessKey: validateId('business-key', str(v['business-key'])),
      olderThanMs: durationFlag('older-than', v['older-than']),
      transactionsOnly: true,
    };
    const customer = validateId('customer', str(v.customer));
    const limit = intFlag('limit', v.limit, { min: 1, max: 10_000 }) ?? 50;
    const page = intFlag('page', v.page, { min: 1, max: 1_000_000 }) ?? 1;
    const query = buildListQuery(filter);
    const client = await ctx.client();
    const { rows, truncated, total } = await listTransactions(client, query, limit, {
      offset: (page - 1) * limit,
      ...(customer ? { customer } : {}),
    });
    if (ctx.json) {
      ctx.emit({
        query,
        count: rows.length,
        total,
        page,
        ...(truncated ? { nextPage: page + 1 } : {}),
        truncated,
        transactions: rows,
      });
      return EXIT.ok;
    }
    if (rows.length === 0) {
      ctx.out(
        `no transactions match (query: ${query}${customer ? `, customer ${customer}` : ''}${page > 1 ? `, page ${page}` : ''})`,
      );
      return EXIT.ok;
    }
    printRows(rows, ctx.out);
    ctx.out(
      `${rows.length} of ${total} transaction${total === 1 ? '' : 's'}${page > 1 ? ` (page ${page})` : ''}${truncated ? `; more: --page ${page + 1}` : ''}`,
    );
    return EXIT.ok;
  },
};
