// The operator's side of a saga parked in needs-operator: list the sagas waiting for a decision, and resolve one
// (retry the failed compensation or post-pivot step, skip it because it was done by hand, or abort the saga).
// The decision is a workflow update: validated by the workflow before it is accepted, recorded in its history.
import { userInfo } from 'node:os';
import type { Client } from '@temporalio/client';
import {
  resolveCompensationUpdate,
  type LedgerEntry,
  type OperatorAction,
  type OperatorDecision,
  type SagaProgress,
} from '../../shared';
import { BULK_OPTIONS, bulkQuery, printBulk, rateFlag, runBulk } from '../bulk';
import { CliError, EXIT, intFlag, str, usageError, type Command } from '../cli-kit';
import { temporalClient } from '../temporal';
import { ledgerView, queryProgress } from '../transactions';
import { explain } from './stuck';
import { buildListQuery, listTransactions } from './list';

const ACTIONS: OperatorAction[] = ['retry', 'skip', 'abort'];
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,63}$/;

function defaultOperator(): string {
  try {
    return process.env.SETTLE_OPERATOR || userInfo().username || 'operator';
  } catch {
    return 'operator';
  }
}

/** The parked entries of a ledger, in the shape both commands print. */
function parkedEntries(
  ledger: LedgerEntry[],
): { name: string; kind: string; undoes?: string; attempts: number; failures: number; lastError?: string }[] {
  return ledger
    .filter((e) => e.status === 'needs-operator')
    .map((e) => ({
      name: e.name,
      kind: e.kind,
      undoes: e.undoes,
      attempts: e.attempts,
      failures: e.attempts,
      lastError: e.lastError,
    }));
}

export const resolve: Command = {
  name: 'resolve',
  summary:
    'Resolve a saga parked in needs-operator: retry the failing step, skip it (done by hand; --reason required) or abort the saga.',
  usage:
    'resolve <workflowId> retry|skip|abort [--reason TEXT] [--operator NAME] [--step NAME] [--json]\n       settle resolve --query QUERY retry|skip|abort [--reason TEXT] [--rate N/s] [--dry-run] [--limit N] [--json]',
  examples: [
    'settle resolve order-o-123 retry',
    "settle resolve order-o-123 skip --reason 'refunded by bank transfer #4411' --operator olga",
    "settle resolve trip-t-9 abort --reason 'finance reconciles it' --json",
    'settle resolve trip-t-9 retry --step releaseFlight   # when several steps are parked',
    `settle resolve --query "SettlePattern = 'saga'" retry --dry-run   # what a bulk retry would touch`,
    `settle resolve --query "SettleBusinessKey IN ('o-1', 'o-2')" skip --reason 'refunded by hand' --rate 2/s`,
  ],
  options: {
    reason: {
      type: 'string',
      placeholder: 'TEXT',
      description: 'why (required for skip: what was done by hand); recorded in history',
    },
    operator: {
      type: 'string',
      placeholder: 'NAME',
      description: 'who decided',
      defaultText: '$SETTLE_OPERATOR or your user name',
    },
    step: {
      type: 'string',
      placeholder: 'NAME',
      description: 'the parked step or compensation to resolve',
      defaultText: 'the one waiting longest',
    },
    ...BULK_OPTIONS,
  },
  positionals: [
    { name: 'workflowId', required: false },
    { name: 'action', required: false },
  ],
  async run(ctx) {
    const query = str(ctx.values.query);
    const [workflowId, action] = (
      query === undefined ? ctx.positionals : [undefined, ...ctx.positionals]
    ) as [string | undefined, string | undefined];
    if (query !== undefined && ctx.positionals.length > 1)
      throw usageError(`with --query, give only the action\nUsage: settle ${this.usage}`);
    if (action === undefined || (query === undefined && workflowId === undefined))
      throw usageError(
        `missing <workflowId> and action (or --query QUERY and action)\nUsage: settle ${this.usage}`,
      );
    if (!ACTIONS.includes(action as OperatorAction))
      throw usageError(
        `action must be one of ${ACTIONS.join(', ')}, got '${action}'\nUsage: settle ${this.usage}`,
      );
    const reason = str(ctx.values.reason)?.trim();
    if (action === 'skip' && !reason)
      throw usageError(
        'skip needs --reason: what was done by hand instead of the compensation (it is recorded in history)',
      );
    if (reason !== undefined && reason.length > 1000)
      throw usageError('--reason must be at most 1000 characters');
    const operator = str(ctx.values.operator) ?? defaultOperator();
    if (!NAME_RE.test(operator))
      throw usageError('--operator must be 1-64 characters of letters, digits, space . _ @ : -');
    const step = str(ctx.values.step);
    if (step !== undefined && !/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(step))
      throw usageError(`--step '${step}' is not a step name`);

    const decision: OperatorDecision = { action: action as OperatorAction, operator };
    if (reason) decision.reason = reason;
    if (step) decision.step = step;

    const client = await ctx.client();
    if (query !== undefined) {
      const r = await runBulk(ctx, client, {
        query: bulkQuery(query, ['SettleNeedsOperator = true']),
        limit: intFlag('limit', ctx.values.limit, { min: 1, max: 10_000 }) ?? 1000,
        rate: rateFlag(ctx.values.rate),
        dryRun: ctx.values['dry-run'] === true,
        verb: action,
        async act(row) {
          try {
            const p = await resolveOne(client, row.workflowId, decision);
            return { outcome: 'accepted', status: p.status };
          } catch (err) {
            if (err instanceof CliError) return { outcome: 'refused', why: err.message };
            throw err;
          }
        },
      });
      if (ctx.json) ctx.emit({ ...r, action, reason: reason ?? null, operator });
      else printBulk(ctx.out, r);
      return r.transactions.some((t) => t.outcome !== 'accepted' && !t.outcome.startsWith('would-'))
        ? EXIT.attention
        : EXIT.ok;
    }
    const progress = await resolveOne(client, workflowId!, decision);
    const doc = {
      workflowId,
      action,
      reason: reason ?? null,
      operator,
      step: step ?? null,
      status: progress.status,
      parked: parkedEntries(progress.ledger),
      ledger: ledgerView(progress.ledger),
    };
    if (ctx.json) ctx.emit(doc);
    else {
      ctx.out(
        `${workflowId}: ${action} accepted (by ${operator}${reason ? `: ${reason}` : ''}); the saga is now ${progress.status}`,
      );
      for (const p of doc.parked)
        ctx.out(`  still waiting: ${p.name}${p.lastError ? ` — ${p.lastError}` : ''}`);
    }
    return progress.status === 'needs-operator' ? EXIT.attention : EXIT.ok;
  },
};

/** Hand one saga a decision (a workflow update, validated by the workflow); CliError when refused or unknown. */
async function resolveOne(
  client: Client,
  workflowId: string,
  decision: OperatorDecision,
): Promise<SagaProgress> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await handle.executeUpdate(resolveCompensationUpdate, { args: [decision] });
  } catch (err) {
    const { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } =
      temporalClient();
    if (err instanceof WorkflowNotFoundError)
      throw new CliError(`no running saga with id '${workflowId}'`, EXIT.notFound);
    if (err instanceof WorkflowUpdateFailedError) {
      // The workflow's validator refused the decision: nothing was changed.
      const why = err.cause?.message ?? err.message;
      throw new CliError(`${workflowId} refused the decision: ${why}`, EXIT.usage);
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError)
      throw new CliError(
        `${workflowId} did not answer in time: is a worker for the orchestration queue running? (the decision may still be applied; check with: settle status ${workflowId})`,
        EXIT.unreachable,
      );
    throw err;
  }
}

export const needsOperator: Command = {
  name: 'needs-operator',
  summary:
    'List the sagas parked in needs-operator (SettleNeedsOperator = true), with the step each waits on.',
  usage: 'needs-operator [--limit N] [--json]',
  examples: [
    'settle needs-operator',
    'settle needs-operator --json | jq -r ".sagas[].workflowId"',
    'settle needs-operator --json || page-the-on-call     # exit code 5 when any saga waits for an operator',
  ],
  options: {
    limit: { type: 'string', placeholder: 'N', description: 'at most this many, 1-1000', defaultText: '100' },
  },
  async run(ctx) {
    const limit = intFlag('limit', ctx.values.limit, { min: 1, max: 1000 }) ?? 100;
    const client = await ctx.client();
    const { rows, truncated } = await listTransactions(
      client,
      buildListQuery({ needsOperator: true, runningOnly: true }),
      limit,
    );
    const sagas = await Promise.all(
      rows.map(async (r) => {
        const { progress, note } = await queryProgress(client, r.workflowId, r.runId);
        return {
          workflowId: r.workflowId,
          runId: r.runId,
          type: r.type,
          pattern: r.pattern ?? null,
          businessKey: r.businessKey ?? null,
          status: r.status,
          startedAt: r.startedAt,
          parked: progress ? parkedEntries(progress.ledger) : [],
          why: progress ? explain({ ...progress, note }).why : (note ?? 'parked'),
          note: note ?? null,
        };
      }),
    );
    // `transactions` is the shared name (as in list and stuck); `sagas` is kept for scripts.
    if (ctx.json) ctx.emit({ count: sagas.length, truncated, transactions: sagas, sagas });
    else if (sagas.length === 0) ctx.out('no saga needs an operator');
    else {
      for (const s of sagas) {
        ctx.out(
          `${s.workflowId}  ${s.type}${s.businessKey ? `  (${s.businessKey})` : ''}  since ${s.startedAt}`,
        );
        for (const p of s.parked)
          ctx.out(
            `  ${p.kind === 'compensation' ? '↩ ' : ''}${p.name}: ${p.lastError ?? 'failed'}  (${p.attempts} failed)`,
          );
        if (s.note) ctx.out(`  (${s.note})`);
      }
      ctx.out(`resolve one with: settle resolve <workflowId> retry|skip|abort [--reason TEXT]`);
      if (truncated) ctx.out(`(first ${limit} shown; raise --limit for more)`);
    }
    return sagas.length > 0 ? EXIT.attention : EXIT.ok;
  },
};
