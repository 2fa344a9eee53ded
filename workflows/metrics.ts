// Settle's own metrics, emitted from workflow code through the SDK's workflow metric meter (forwarded to the
// worker's runtime, so they appear on its Prometheus endpoint next to the SDK's; never emitted while replaying).
//
// Two ways in:
//  - `interceptors` (this module is a workflow interceptor module): when a Settle transaction (a workflow with a
//    SettlePattern search attribute) ends, its outcome, its compensations and its phase durations are recorded
//    from the returned result and ledger, for every pattern, without touching the engines;
//  - the record* functions, for an engine to call at the moment something happens (e.g. parking in
//    needs-operator, which can last hours, so it must not wait for the end).
import {
  ContinueAsNew,
  metricMeter,
  workflowInfo,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowInternalsInterceptor,
  type ConcludeActivationInput,
  type ConcludeActivationOutput,
} from '@temporalio/workflow';
import { SA, type LedgerEntry } from '../shared';
import { canonicalStatus } from '../shared/status';

/** Metric names, also used by docs/operations.md and the alert rules. */
export const METRICS = {
  /** Counter: transactions that ended, by pattern and final status. */
  outcomes: 'settle_transactions_total',
  /** Counter: compensations that ran, by pattern, compensation and outcome (compensated, noop, skipped, aborted). */
  compensations: 'settle_compensations_total',
  /** Counter: times a transaction parked in needs-operator, by pattern and step. */
  needsOperator: 'settle_needs_operator_total',
  /** Histogram (ms): how long each phase took, by pattern and phase (forward, compensation, total, prepare, ...). */
  phaseDuration: 'settle_phase_duration_ms',
} as const;

export type CompensationOutcome = 'compensated' | 'noop' | 'skipped' | 'aborted';

/** The pattern of the running workflow (its SettlePattern search attribute), or undefined if it is not a Settle transaction. */
export function currentPattern(): string | undefined {
  return workflowInfo().typedSearchAttributes.get(SA.pattern);
}

export function recordOutcome(pattern: string, status: string): void {
  metricMeter
    .createCounter(METRICS.outcomes, '1', 'Settle transactions that ended, by pattern and final status')
    .add(1, { pattern, status });
}

export function recordCompensation(
  pattern: string,
  compensation: string,
  outcome: CompensationOutcome,
): void {
  metricMeter
    .createCounter(METRICS.compensations, '1', 'Compensations run, by pattern, compensation and outcome')
    .add(1, { pattern, compensation, outcome });
}

export function recordNeedsOperator(pattern: string, step?: string): void {
  metricMeter
    .createCounter(METRICS.needsOperator, '1', 'Times a transaction parked for an operator')
    .add(1, step ? { pattern, step } : { pattern });
}

export function recordPhase(pattern: string, phase: string, durationMs: number): void {
  if (!Number.isFinite(durationMs) || durationMs < 0) return;
  metricMeter
    .createHistogram(METRICS.phaseDuration, 'int', 'ms', 'Duration of a Settle transaction phase')
    .record(Math.round(durationMs), { pattern, phase });
}

/** A phase timer in workflow time: `const done = startPhase('2pc', 'prepare'); ...; done();` */
export function startPhase(pattern: string, phase: string): () => void {
  const t0 = Date.now();
  return () => recordPhase(pattern, phase, Date.now() - t0);
}

function span(entries: LedgerEntry[]): number | undefined {
  const starts = entries.map((e) => (e.startedAt ? Date.parse(e.startedAt) : NaN)).filter(Number.isFinite);
  const ends = entries.map((e) => (e.endedAt ? Date.parse(e.endedAt) : NaN)).filter(Number.isFinite);
  if (starts.length === 0 || ends.length === 0) return undefined;
  return Math.max(...ends) - Math.min(...starts);
}

function compensationOutcome(e: LedgerEntry): CompensationOutcome | undefined {
  if (e.status === 'compensated') return e.noop ? 'noop' : 'compensated';
  if (e.status === 'skipped') return 'skipped';
  if (e.status === 'needs-operator') return 'aborted';
  return undefined;
}

interface ResultLike {
  status?: unknown;
  ledger?: unknown;
}

/** What the interceptor records for a finished transaction (exported for tests of the mapping). */
export function recordResult(pattern: string, result: unknown, totalMs: number): void {
  const r = (result && typeof result === 'object' ? result : {}) as ResultLike;
  const status =
    typeof r.status === 'string'
      ? r.status
      : (workflowInfo().typedSearchAttributes.get(SA.status) ?? 'completed');
  recordOutcome(pattern, canonicalStatus(pattern, status)); // one vocabulary with the CLI (shared/status.ts)
  const ledger = Array.isArray(r.ledger) ? (r.ledger as LedgerEntry[]) : [];
  const steps = ledger.filter((e) => e.kind === 'step');
  const comps = ledger.filter((e) => e.kind === 'compensation');
  for (const c of comps) {
    const outcome = compensationOutcome(c);
    if (outcome) recordCompensation(pattern, c.name, outcome);
  }
  const forward = span(steps);
  if (forward !== undefined) recordPhase(pattern, 'forward', forward);
  const undo = span(comps);
  if (undo !== undefined) recordPhase(pattern, 'compensation', undo);
  recordPhase(pattern, 'total', totalMs);
}

class SettleMetricsInbound implements WorkflowInboundCallsInterceptor {
  async execute(
    input: WorkflowExecuteInput,
    next: Next<WorkflowInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    const started = workflowInfo().startTime.getTime();
    try {
      const result = await next(input);
      const pattern = currentPattern();
      if (pattern) recordResult(pattern, result, Date.now() - started);
      return result;
    } catch (err) {
      const pattern = currentPattern();
      if (pattern && !(err instanceof ContinueAsNew)) {
        recordOutcome(pattern, 'failed');
        recordPhase(pattern, 'total', Date.now() - started);
      }
      throw err;
    }
  }
}

/**
 * settle_needs_operator_total: counts each time a transaction starts waiting for an operator, for every engine
 * without touching it. At the end of each activation it reads SettleNeedsOperator (upsertSearchAttributes updates
 * workflowInfo at once) and counts a false -> true change; while replaying the meter emits nothing, so a worker
 * rebuilding a parked workflow does not count it again.
 */
class SettleNeedsOperatorInternals implements WorkflowInternalsInterceptor {
  private parked = false;
  concludeActivation(
    input: ConcludeActivationInput,
    next: Next<WorkflowInternalsInterceptor, 'concludeActivation'>,
  ): ConcludeActivationOutput {
    const now = workflowInfo().typedSearchAttributes.get(SA.needsOperator) === true;
    if (now && !this.parked) {
      const pattern = currentPattern();
      if (pattern) recordNeedsOperator(pattern);
    }
    this.parked = now;
    return next(input);
  }
}

/** Workflow interceptor module entry: pass this file in workflowModules / workflowInterceptorModules. */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new SettleMetricsInbound()],
  internals: [new SettleNeedsOperatorInternals()],
});
