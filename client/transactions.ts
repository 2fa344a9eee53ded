// Reading a transaction's state, whatever its pattern: Temporal's description, the workflow's progress query
// while it runs, its result once it has closed. One stable JSON shape for every CLI command that shows one.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { SA, sagaProgressQuery, type LedgerEntry, type SagaResult } from '../shared';
import { CliError, EXIT } from './cli-kit';

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
}

export async function describeTransaction(client: Client, workflowId: string): Promise<TransactionView> {
  const handle = client.workflow.getHandle(workflowId);
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new CliError(`no transaction with id '${workflowId}'`, EXIT.notFound);
    throw err;
  }
  const view: TransactionView = {
    workflowId,
    runId: d.runId,
    type: d.type,
    pattern: d.typedSearchAttributes.get(SA.pattern),
    businessKey: d.typedSearchAttributes.get(SA.businessKey),
    status: d.typedSearchAttributes.get(SA.status) ?? d.status.name.toLowerCase(),
    temporalStatus: d.status.name,
    startedAt: d.startTime.toISOString(),
    closedAt: d.closeTime?.toISOString(),
    steps: [],
    compensations: [],
    ledger: [],
  };
  if (d.status.name === 'RUNNING') {
    try {
      const p = await handle.query(sagaProgressQuery);
      view.status = p.status;
      view.ledger = p.ledger;
      view.failure = p.failure;
      view.steps = p.ledger
        .filter((e) => e.kind === 'step' && (e.status === 'completed' || e.status === 'compensated'))
        .map((e) => e.name);
      view.compensations = p.ledger
        .filter((e) => e.kind === 'compensation' && e.status === 'compensated')
        .map((e) => e.name);
    } catch {
      /* not a saga, or no worker to answer the query right now: the description is all we have */
    }
  } else if (d.status.name === 'COMPLETED') {
    const r = (await handle.result()) as Partial<SagaResult> & { status?: string };
    if (r && typeof r === 'object') {
      view.status = r.status ?? view.status;
      view.steps = r.steps ?? [];
      view.compensations = r.compensations ?? [];
      view.ledger = r.ledger ?? [];
      view.failure = r.failure;
      view.result = r;
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

export function printLedger(view: TransactionView, out: (t: string) => void): void {
  out(`${view.workflowId}  ${view.type}  ${view.status}${view.businessKey ? `  (${view.businessKey})` : ''}`);
  if (view.ledger.length === 0) return;
  const rows = view.ledger.map((e) => [
    e.kind === 'compensation' ? `↩ ${e.name}` : e.name,
    e.status + (e.noop ? ' (nothing to undo)' : ''),
    String(e.attempts),
    e.startedAt?.slice(11, 23) ?? '',
    e.endedAt?.slice(11, 23) ?? '',
    e.lastError ?? '',
  ]);
  const head = ['STEP', 'STATUS', 'FAILS', 'STARTED', 'ENDED', 'LAST ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  out(fmt(head));
  for (const r of rows) out(fmt(r));
  if (view.failure)
    out(
      `failure: ${view.failure.step ? `${view.failure.step}: ` : ''}${view.failure.type ? `${view.failure.type}: ` : ''}${view.failure.message}`,
    );
}
