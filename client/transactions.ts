// Reading a transaction's state, whatever its pattern: Temporal's description, the workflow's progress query
// while it runs, its result once it has closed. One stable JSON shape for every CLI command that shows one.
import type { Client, WorkflowExecutionDescription, WorkflowExecutionInfo } from '@temporalio/client';
import { SA, sagaProgressQuery, type LedgerEntry, type SagaProgress, type SagaResult } from '../shared';
import { canonicalStatus, isInProgress } from '../shared/status';
import { CliError, EXIT } from './cli-kit';
import { temporalClient } from './temporal';

/** Milliseconds of a protobuf timestamp (what @temporalio/common's optionalTsToMs does, without loading it). */
function optionalTsToMs(
  ts: { seconds?: unknown; nanos?: number | null } | null | undefined,
): number | undefined {
  if (!ts) return undefined;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** How long a progress query may take: a workflow whose worker is down must not hang the CLI. */
export const QUERY_DEADLINE_MS = 5000;

/** An activity Temporal is retrying or running right now (retries inside one step are not in the ledger). */
export interface PendingActivityView {
  activityType: string;
  state: string;
  attempt: number;
  maximumAttempts?: number;
  lastFailure?: string;
  scheduledAt?: string;
  lastStartedAt?: string;
}

export interface TransactionView {
  workflowId: string;
  runId: string;
  type: string;
  pattern?: string;
  businessKey?: string;
  /** Settle's status: running, compensating, completed, compensated, needs-operator, committed, aborted, ... */
  status: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  temporalStatus: string;
  startedAt?: string;
  closedAt?: string;
  steps: string[];
  compensations: string[];
  ledger: LedgerEntry[];
  failure?: { step?: string; type?: string; message: string };
  result?: unknown;
  /** Added later (optional, so older consumers are unaffected): */
  /** The workflow's one-line static summary ("Order o-1: 2 x SKU-1 for alice, 30.00"). */
  summary?: string;
  needsOperator?: boolean;
  pendingActivities?: PendingActivityView[];
  /** Why the ledger is empty for a running workflow (no worker answered the progress query, ...). */
  note?: string;
}

/** The short form `list` and `stuck` print: what visibility knows, without asking the workflow. */
export interface TransactionRow {
  workflowId: string;
  /** The customer the CLI recorded at start (memo), when known: what --customer filters on. */
  customer?: string;
  runId: string;
  type: string;
  pattern?: string;
  businessKey?: string;
  status: string;
  temporalStatus: string;
  needsOperator: boolean;
  startedAt: string;
  closedAt?: string;
  /** Whole seconds since it started (what --older-than compares). */
  ageSeconds: number;
  /** Whole seconds from start to close, once closed. */
  durationSeconds?: number;
}

/** Settle statuses that mean "still in progress" (every pattern's), from shared/status.ts. */
export const IN_PROGRESS_STATUSES = { has: isInProgress } as const;

/** Temporal's closing statuses as Settle status words (Temporal's own spelling "canceled" is accepted as an alias). */
const TEMPORAL_WORDS: Record<string, string> = {
  FAILED: 'failed',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed-out',
  CANCELLED: 'cancelled',
};

/**
 * Settle's status for a row: the SettleStatus search attribute in the pattern's vocabulary (shared/status.ts),
 * except when Temporal ended the workflow in a way the workflow could not record (terminated, timed out,
 * failed, cancelled without an outcome): then that is the truth.
 */
export function effectiveStatus(
  saStatus: string | undefined,
  temporalStatus: string,
  pattern?: string,
): string {
  const word = TEMPORAL_WORDS[temporalStatus];
  if (saStatus && !(word && isInProgress(canonicalStatus(pattern, saStatus))))
    return canonicalStatus(pattern, saStatus);
  return word ?? temporalStatus.toLowerCase().replace(/_/g, '-');
}

/** Ledger entries as the CLI prints them: `failures` says what `attempts` counts (failed invocations). */
export function ledgerView(ledger: LedgerEntry[]): (LedgerEntry & { failures: number })[] {
  return ledger.map((e) => ({ ...e, failures: e.attempts }));
}

export function transactionRow(info: WorkflowExecutionInfo, now = Date.now()): TransactionRow {
  const sa = info.typedSearchAttributes;
  const customer = (info.memo as { customer?: unknown } | undefined)?.customer;
  return {
    workflowId: info.workflowId,
    ...(typeof customer === 'string' ? { customer } : {}),
    runId: info.runId,
    type: info.type,
    pattern: sa.get(SA.pattern),
    businessKey: sa.get(SA.businessKey),
    status: effectiveStatus(sa.get(SA.status), info.status.name, sa.get(SA.pattern)),
    temporalStatus: info.status.name,
    needsOperator: sa.get(SA.needsOperator) === true,
    startedAt: info.startTime.toISOString(),
    closedAt: info.closeTime?.toISOString(),
    ageSeconds: Math.max(0, Math.floor((now - info.startTime.getTime()) / 1000)),
    durationSeconds: info.closeTime
      ? Math.max(0, Math.floor((info.closeTime.getTime() - info.startTime.getTime()) / 1000))
      : undefined,
  };
}

// temporal.api.enums.v1.PendingActivityState (the raw description carries the number).
const PENDING_STATES: Record<number, string> = {
  1: 'SCHEDULED',
  2: 'STARTED',
  3: 'CANCEL_REQUESTED',
  4: 'PAUSED',
  5: 'PAUSE_REQUESTED',
};

function pendingActivities(d: WorkflowExecutionDescription): PendingActivityView[] {
  return (d.raw.pendingActivities ?? []).map((a) => {
    const scheduled = optionalTsToMs(a.scheduledTime);
    const started = optionalTsToMs(a.lastStartedTime);
    const state =
      typeof a.state === 'number' ? (PENDING_STATES[a.state] ?? String(a.state)) : String(a.state ?? '');
    return {
      activityType: a.activityType?.name ?? '?',
      state: state.replace(/^PENDING_ACTIVITY_STATE_/, ''),
      attempt: a.attempt ?? 1,
      maximumAttempts: a.maximumAttempts || undefined,
      lastFailure: a.lastFailure?.message ?? undefined,
      scheduledAt: scheduled === undefined ? undefined : new Date(scheduled).toISOString(),
      lastStartedAt: started === undefined ? undefined : new Date(started).toISOString(),
    };
  });
}

/** Ask a running workflow for its ledger, bounded by QUERY_DEADLINE_MS. Undefined (with a reason) when it cannot answer. */
export async function queryProgress(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<{ progress?: SagaProgress; note?: string }> {
  try {
    const handle = client.workflow.getHandle(workflowId, runId);
    const progress = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
      handle.query(sagaProgressQuery),
    );
    return { progress };
  } catch (err) {
    if (err instanceof temporalClient().QueryNotRegisteredError)
      return { note: 'this workflow has no step ledger (not a saga)' };
    const msg = (err as Error).message ?? String(err);
    if (/deadline|timeout|timed out/i.test(msg))
      return {
        note: 'no worker answered the progress query: is a worker for the orchestration queue running?',
      };
    return { note: `progress query failed: ${msg.split('\n')[0]}` };
  }
}

function applyProgress(view: TransactionView, p: SagaProgress): void {
  view.status = p.status;
  view.ledger = ledgerView(p.ledger);
  view.failure = p.failure;
  view.steps = p.ledger
    .filter((e) => e.kind === 'step' && (e.status === 'completed' || e.status === 'compensated'))
    .map((e) => e.name);
  view.compensations = p.ledger
    .filter((e) => e.kind === 'compensation' && e.status === 'compensated')
    .map((e) => e.name);
  view.needsOperator = p.status === 'needs-operator';
}

/** Encrypted payloads read without the key: say which setting is missing instead of a converter stack trace. */
function explainDecodeError(err: unknown): never {
  const msg = (err as Error).message ?? String(err);
  if (/encoding|binary\/encrypted|decrypt/i.test(msg))
    throw new CliError(
      `cannot read this transaction's payloads (${msg.split('\n')[0]}); they are encrypted: set SETTLE_ENCRYPTION_KEY / SETTLE_ENCRYPTION_OLD_KEYS to the workers' keys`,
      EXIT.error,
    );
  throw err;
}

export async function describeTransaction(client: Client, workflowId: string): Promise<TransactionView> {
  const handle = client.workflow.getHandle(workflowId);
  let d: WorkflowExecutionDescription;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof temporalClient().WorkflowNotFoundError)
      throw new CliError(`no transaction with id '${workflowId}' (see: settle list)`, EXIT.notFound);
    throw err;
  }
  const sa = d.typedSearchAttributes;
  const view: TransactionView = {
    workflowId,
    runId: d.runId,
    type: d.type,
    pattern: sa.get(SA.pattern),
    businessKey: sa.get(SA.businessKey),
    status: effectiveStatus(sa.get(SA.status), d.status.name, sa.get(SA.pattern)),
    temporalStatus: d.status.name,
    startedAt: d.startTime.toISOString(),
    closedAt: d.closeTime?.toISOString(),
    steps: [],
    compensations: [],
    ledger: [],
    needsOperator: sa.get(SA.needsOperator) === true,
  };
  view.summary = await d.staticSummary().catch(() => undefined);
  if (d.status.name === 'RUNNING') {
    const { progress, note } = await queryProgress(client, workflowId, d.runId);
    if (progress) applyProgress(view, progress);
    if (note) view.note = note;
    const pending = pendingActivities(d);
    if (pending.length) view.pendingActivities = pending;
  } else if (d.status.name === 'COMPLETED') {
    const r = (await handle.result().catch(explainDecodeError)) as Partial<SagaResult> & { status?: string };
    if (r && typeof r === 'object') {
      view.status = r.status ? canonicalStatus(view.pattern, r.status) : view.status;
      view.steps = r.steps ?? [];
      view.compensations = r.compensations ?? [];
      view.ledger = ledgerView(r.ledger ?? []);
      view.failure = r.failure;
      view.result = r;
      view.needsOperator = r.status === 'needs-operator';
    }
  } else {
    try {
      await handle.result();
    } catch (err) {
      view.failure = { message: (err as Error).message };
      const cause = (err as { cause?: Error }).cause;
      if (cause) view.failure.message = `${view.failure.message}: ${cause.message}`;
    }
  }
  return view;
}

/** Render rows as an aligned table (no trailing spaces). */
export function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)];
}

const clock = (iso?: string): string => iso?.slice(11, 23) ?? '';

export function printLedger(view: TransactionView, out: (t: string) => void): void {
  out(`${view.workflowId}  ${view.type}  ${view.status}${view.businessKey ? `  (${view.businessKey})` : ''}`);
  if (view.summary) out(`  ${view.summary}`);
  const times = [
    view.startedAt && `started ${view.startedAt}`,
    view.closedAt && `closed ${view.closedAt}`,
  ].filter(Boolean);
  if (times.length)
    out(
      `  ${times.join(', ')}${view.pattern ? `, pattern ${view.pattern}` : ''}, Temporal status ${view.temporalStatus}`,
    );
  if (view.ledger.length > 0) {
    const rows = view.ledger.map((e) => [
      e.kind === 'compensation' ? `↩ ${e.name}` : e.name,
      e.status + (e.noop ? ' (nothing to undo)' : ''),
      String(e.attempts),
      clock(e.startedAt),
      clock(e.endedAt),
      e.lastError ?? '',
    ]);
    for (const line of table(['STEP', 'STATUS', 'FAILS', 'STARTED', 'ENDED', 'LAST ERROR'], rows)) out(line);
  } else if (view.note) {
    out(`  (${view.note})`);
  }
  for (const a of view.pendingActivities ?? []) {
    const max = a.maximumAttempts ? `/${a.maximumAttempts}` : '';
    out(
      `  in flight: ${a.activityType} ${a.state.toLowerCase()}, attempt ${a.attempt}${max}${a.lastFailure ? `, last failure: ${a.lastFailure}` : ''}`,
    );
  }
  if (view.failure)
    out(
      `failure: ${view.failure.step ? `${view.failure.step}: ` : ''}${view.failure.type ? `${view.failure.type}: ` : ''}${view.failure.message}`,
    );
  if (view.status === 'needs-operator')
    out(`needs an operator: settle resolve ${view.workflowId} retry|skip|abort`);
}
