// What `settle order place` and `settle trip book` share: the required-flag check and the report of an
// orchestrated saga's outcome (JSON document or text, and the exit code).
import type { SagaResult } from '../shared';
import { EXIT, str, usageError, type CommandContext, type Values } from './cli-kit';
import { moneyInText } from './money';
import { idFields, type StartSpec } from './start';
import { ledgerView } from './transactions';

/** Refuse the command (usage error, naming every missing flag) unless each of `keys` was given. */
export function requireFlags(values: Values, keys: string[], usage: string): void {
  const missing = keys.filter((k) => str(values[k]) === undefined);
  if (missing.length)
    throw usageError(`missing ${missing.map((m) => `--${m}`).join(', ')}\nUsage: settle ${usage}`);
}

export interface SagaReportOptions {
  /** How the text report names it: 'Order o-1', 'Trip t-1'. */
  title: string;
  /** Fields the JSON document carries between the id fields and the status (e.g. the order's mode). */
  extra?: Record<string, unknown>;
  /** Say '(nothing to undo)' after a compensation the ledger records as a no-op. */
  markNoopCompensations?: boolean;
}

/** Print a finished saga's outcome; exit 0 when it completed or compensated, else 'attention'. */
export function reportSagaResult(
  ctx: CommandContext,
  spec: StartSpec,
  runId: string,
  result: SagaResult,
  opts: SagaReportOptions,
): number {
  const failure = result.failure && { ...result.failure, message: moneyInText(result.failure.message) };
  const doc = {
    ...idFields(spec, runId),
    ...opts.extra,
    status: result.status,
    steps: result.steps,
    compensations: result.compensations,
    failure,
    ledger: ledgerView(result.ledger),
  };
  if (ctx.json) ctx.emit(doc);
  else {
    ctx.out(`${opts.title}: ${result.status}  (${spec.workflowId})`);
    ctx.out(`  steps:         ${result.steps.join(', ') || 'none'}`);
    const noop = new Set(
      opts.markNoopCompensations
        ? result.ledger.filter((e) => e.kind === 'compensation' && e.noop).map((e) => e.name)
        : [],
    );
    const comps = result.compensations.map((c) => (noop.has(c) ? `${c} (nothing to undo)` : c));
    ctx.out(`  compensations: ${comps.join(', ') || 'none'}`);
    if (failure) ctx.out(`  failed at:     ${failure.step}: ${failure.type ?? ''} ${failure.message}`);
  }
  return result.status === 'completed' || result.status === 'compensated' ? EXIT.ok : EXIT.attention;
}
