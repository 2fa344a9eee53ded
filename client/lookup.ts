// Finding one transaction by whatever the operator has (its workflow id, or the business id: order id, trip id,
// transfer reference) and describing it whatever its pattern: the saga ledger, a choreographed order's events as
// a ledger, a transfer's coordinator decision and participants.
import type { Client } from '@temporalio/client';
import type { ChoreographedOrderResult } from '../shared/events';
import { CliError, EXIT } from './cli-kit';
import { transferStatus } from './commands/transfer';
import { moneyInText } from './money';
import { describeTransaction, ledgerView, type TransactionView } from './transactions';

const REJECTION_TOPICS = new Set(['StockRejected', 'PaymentFailed']);

/** A choreographed order's events as ledger entries, so it reads like an orchestrated one. */
export function choreographyLedger(
  r: Pick<ChoreographedOrderResult, 'events'>,
): ReturnType<typeof ledgerView> {
  return ledgerView(
    r.events.map((e) => ({
      name: e.topic,
      kind: e.topic === 'StockReleased' ? ('compensation' as const) : ('step' as const),
      status: REJECTION_TOPICS.has(e.topic) ? ('failed' as const) : ('completed' as const),
      attempts: REJECTION_TOPICS.has(e.topic) ? 1 : 0,
      ...(e.reason ? { lastError: moneyInText(e.reason) } : {}),
      startedAt: e.createdAt,
      ...(e.publishedAt ? { endedAt: e.publishedAt } : {}),
    })),
  );
}

export type AnyTransactionView = TransactionView & {
  decision?: string;
  reason?: string;
  participants?: unknown[];
  anomalies?: string[];
  events?: unknown[];
};

/** describeTransaction plus what only some patterns have (participants of a transfer, events of a choreography). */
export async function describeAny(client: Client, workflowId: string): Promise<AnyTransactionView> {
  const view: AnyTransactionView = await describeTransaction(client, workflowId);
  if (view.pattern === '2pc' || view.pattern === '3pc' || view.pattern === 'tcc') {
    const t = await transferStatus(client, workflowId).catch(() => undefined);
    if (t) {
      if (t.decision) view.decision = t.decision;
      if (t.reason) view.reason = moneyInText(t.reason);
      view.participants = t.participants;
      view.anomalies = t.anomalies;
    }
  }
  const r = view.result as Partial<ChoreographedOrderResult> | undefined;
  if (view.pattern === 'choreography' && Array.isArray(r?.events)) {
    view.events = r.events;
    view.ledger = choreographyLedger({ events: r.events });
    const rejection = r.events.find((e) => REJECTION_TOPICS.has(e.topic));
    if (rejection)
      view.failure = {
        step: rejection.topic,
        type: rejection.topic,
        message: moneyInText(rejection.reason ?? rejection.topic),
      };
  }
  if (view.failure) view.failure = { ...view.failure, message: moneyInText(view.failure.message) };
  view.ledger = view.ledger.map((e) => (e.lastError ? { ...e, lastError: moneyInText(e.lastError) } : e));
  return view;
}

const notFound = (err: unknown): boolean => err instanceof CliError && err.exitCode === EXIT.notFound;

/**
 * The transaction `id` names: a workflow id, else one of the command's candidate ids for a business id
 * (order-<id>, ...), else the newest transaction whose SettleBusinessKey is `id`.
 */
export async function findByIdOrBusinessKey(
  client: Client,
  id: string,
  opts: { candidates?: (id: string) => string[] } = {},
): Promise<AnyTransactionView> {
  for (const candidate of [id, ...(opts.candidates?.(id) ?? [])]) {
    try {
      return await describeAny(client, candidate);
    } catch (err) {
      if (!notFound(err)) throw err;
    }
  }
  if (/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(id)) {
    let newest: { workflowId: string; startTime: Date } | undefined;
    const query = `SettlePattern IS NOT NULL AND SettleBusinessKey = '${id}'`;
    for await (const info of client.workflow.list({ query, pageSize: 100 }))
      if (!newest || info.startTime > newest.startTime)
        newest = { workflowId: info.workflowId, startTime: info.startTime };
    if (newest) return describeAny(client, newest.workflowId);
  }
  throw new CliError(`no transaction with id or business key '${id}' (see: settle list)`, EXIT.notFound);
}
