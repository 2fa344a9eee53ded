// runSaga: runs a built definition stage by stage. Before and at the pivot every step's compensation is
// registered before the step runs; the pivot runs to a known outcome even when the saga is cancelled; after it
// the saga only goes forward (steps retried with backoff, then an operator). A failure before the point of no
// return compensates everything registered (compensation.ts).
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import type { LedgerEntry, SagaResult } from '../../shared';
import { compensateAll, type Registered } from './compensation';
import { describeError, errorText, withDeadline } from './failures';
import { untilDone } from './invoke';
import { now, SagaLedger } from './ledger';
import { OperatorDesk } from './operator';
import { SagaSearchAttributes } from './search-attributes';
import {
  DEFAULT_FORWARD_ATTEMPTS,
  intervalMs,
  type AnyCtx,
  type BackoffPolicy,
  type RunSagaOptions,
  type SagaDefinition,
  type SagaStage,
  type StepDef,
} from './types';

/** Barrier keys bound to the run: executions started before this change keep their (workflow id, step) keys. */
const RUN_BOUND_BARRIER_KEYS = 'saga-barrier-key-per-run';
/**
 * Executions started before the run-bound keys (legacy ones) were also started before the forward-step budget and
 * continue-as-new: their forward steps were retried without limit and never continued as new. A history of theirs
 * past ten failures has a backoff timer where the budget would ask an operator, so they move to the new behaviour
 * only at a decision point reached live (this marker), never in a replayed history.
 */
const LEGACY_FORWARD_BUDGET = 'saga-forward-budget-legacy';

/** Let an operator update that is still answering finish first (non-cancellable: a cancelled saga still returns). */
async function handlersDone(): Promise<void> {
  if (!allHandlersFinished()) await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
}

export async function runSaga<I, R>(
  def: SagaDefinition<I, R>,
  input: I,
  opts: RunSagaOptions = {},
): Promise<SagaResult<R>> {
  const searchAttributes = new SagaSearchAttributes(opts.searchAttributes !== false);
  const ledger = new SagaLedger(def.name, searchAttributes);
  const desk = new OperatorDesk(ledger);
  const workflowId = workflowInfo().workflowId;

  const resume = opts.resume;
  // A continued chain keeps the keys its first run chose: a legacy chain (no run) must not switch keys mid-saga.
  const run = resume
    ? resume.run
    : patched(RUN_BOUND_BARRIER_KEYS)
      ? workflowInfo().firstExecutionRunId
      : undefined;
  const legacy = run === undefined;
  const budgetApplies = (): boolean => !legacy || patched(LEGACY_FORWARD_BUDGET);

  desk.install();
  searchAttributes.identify(opts.pattern ?? 'saga', opts.businessKey);
  if (resume) {
    ledger.entries.push(...resume.ledger);
    ledger.failure = resume.failure;
  }
  ledger.setStatus('running');

  const results: Record<string, unknown> = { ...resume?.results };
  const ctxFor = (step: string, attempt = 1): AnyCtx => ({
    input,
    results,
    workflowId,
    run,
    step,
    attempt,
  });
  const timeoutOf = (s: StepDef): number | undefined => {
    const t = opts.timeouts?.[s.name];
    return t === undefined ? s.timeoutMs : intervalMs(t);
  };

  // Compensations registered so far, one array per stage (a group's compensations run together).
  const registered: Registered[][] = [];
  const completed: string[] = [...(resume?.completed ?? [])];
  let cancelled = false;

  // Continue-as-new happens only after the pivot, at a retry point of a forward step, when nothing waits for an
  // operator: the history stays far below the server's limit however long a forward step keeps failing.
  const mayContinueAsNew = opts.continueAsNew !== undefined;
  const shouldPause = (): boolean => {
    if (!mayContinueAsNew || !desk.idle || !budgetApplies()) return false;
    const info = workflowInfo();
    const limit = opts.continueAsNewAfterEvents;
    return info.continueAsNewSuggested || (limit !== undefined && info.historyLength >= limit);
  };
  /** A forward step's entry: the one carried over from the previous run, or a new one. */
  const forwardEntry = (s: StepDef): LedgerEntry | 'finished' | undefined => {
    const carried = resume?.ledger.length
      ? ledger.entries.find((e) => e.kind === 'step' && e.name === s.name)
      : undefined;
    if (!carried) return undefined;
    return carried.status === 'completed' || carried.status === 'skipped' || carried.status === 'failed'
      ? 'finished'
      : carried;
  };

  /** Run a forward stage; false when a step paused for continue-as-new. */
  const forwardStage = async (stage: SagaStage, resumed: boolean): Promise<boolean> => {
    let paused = false;
    await CancellationScope.nonCancellable(() =>
      Promise.all(
        stage.steps.map(async (s) => {
          const found = resumed ? forwardEntry(s) : undefined;
          if (found === 'finished') return;
          if (!found && s.when && !s.when(ctxFor(s.name))) return;
          const entry = found ?? ledger.startStep(s);
          const explicitBudget = s.retry?.maximumAttempts ?? opts.forwardRetry?.maximumAttempts;
          const policy: BackoffPolicy = {
            ...opts.forwardRetry,
            ...s.retry,
            maximumAttempts: explicitBudget ?? DEFAULT_FORWARD_ATTEMPTS,
          };
          const r = await untilDone(
            ledger,
            desk,
            entry,
            policy,
            (attempt) => withDeadline(timeoutOf(s), s.name, () => s.run(ctxFor(s.name, attempt))),
            'running',
            shouldPause,
            explicitBudget === undefined ? budgetApplies : undefined,
          );
          if (r.outcome === 'paused') {
            paused = true;
          } else if (r.outcome === 'done') {
            results[s.name] = r.value;
            entry.status = 'completed';
            entry.endedAt = now();
            completed.push(s.name);
          } else if (r.outcome === 'aborted' && !ledger.failure) {
            ledger.failure = {
              step: s.name,
              type: 'Aborted',
              message: entry.lastError ?? 'aborted by an operator',
            };
          }
          ledger.publish();
        }),
      ),
    );
    return !paused;
  };

  /** Run a stage before/at the pivot. Returns false when a step failed (the saga must compensate). */
  const compensatableStage = async (stage: SagaStage): Promise<boolean> => {
    const steps = stage.steps.filter((s) => !s.when || s.when(ctxFor(s.name)));
    if (steps.length === 0) return true;
    const entries = steps.map((s) => ledger.startStep(s));
    // Registered *before* anything runs: a step that fails or times out may still have committed.
    const undo = steps.flatMap((s, i) => (s.compensate ? [{ step: s, entry: entries[i]! }] : []));
    if (undo.length) registered.push(undo);
    ledger.publish();

    // Every step of the stage runs to its own outcome (each bounded by its activity timeouts and its saga-level
    // deadline) before the saga decides: then a compensation knows whether its step completed, and no
    // cancellation races a step that is finishing anyway.
    let first: { step: StepDef; err: unknown } | undefined;
    const runOne = async (s: StepDef, entry: LedgerEntry): Promise<void> => {
      try {
        const out = await withDeadline(timeoutOf(s), s.name, () => s.run(ctxFor(s.name)));
        results[s.name] = out;
        entry.status = 'completed';
        completed.push(s.name);
      } catch (err) {
        entry.status = 'failed';
        entry.attempts += 1;
        entry.lastError = errorText(describeError(err));
        first ??= { step: s, err };
      } finally {
        entry.endedAt = now();
        ledger.publish();
      }
    };
    const run = (): Promise<unknown> => Promise.all(steps.map((s, i) => runOne(s, entries[i]!)));
    // The pivot runs to a known outcome even if the saga is cancelled meanwhile: it has no way back once done.
    await (stage.kind === 'pivot' ? CancellationScope.nonCancellable(run) : run());
    if (!first) return true;
    cancelled = isCancellation(first.err);
    ledger.failure = { step: first.step.name, ...describeError(first.err) };
    return false;
  };

  let ok = true;
  const first = resume?.stage ?? 0;
  for (let index = first; index < def.stages.length; index++) {
    const stage = def.stages[index]!;
    if (stage.kind === 'forward') {
      if (!(await forwardStage(stage, resume !== undefined && index === first))) {
        await handlersDone();
        return opts.continueAsNew!({
          stage: index,
          run,
          ledger: ledger.entries,
          results,
          completed,
          failure: ledger.failure,
        });
      }
      if (desk.aborted) break;
      continue;
    }
    if (stage.kind === 'pivot' && CancellationScope.current().consideredCancelled) {
      // Cancelled before the point of no return: the (non-cancellable) pivot must not start.
      const pivot = stage.steps[0]!;
      cancelled = true;
      ledger.failure = {
        step: pivot.name,
        type: 'CancelledFailure',
        message: 'the saga was cancelled before its pivot',
      };
      ok = false;
      break;
    }
    ok = await compensatableStage(stage);
    if (!ok) break;
    // Past the pivot nothing is compensated any more.
    if (stage.kind === 'pivot') registered.length = 0;
  }

  if (ok) {
    const final = desk.aborted ? 'aborted' : 'completed';
    ledger.setStatus(final);
    await handlersDone();
    return {
      status: final,
      steps: completed,
      compensations: [],
      failure: ledger.failure,
      result: results as R,
      ledger: ledger.entries,
    };
  }

  ledger.phase = 'compensating';
  ledger.setStatus('compensating');
  const compensationPolicy: BackoffPolicy = opts.compensationRetry ?? { maximumAttempts: 1 };
  const compensations = await compensateAll(registered, {
    ledger,
    desk,
    results,
    ctxFor,
    policy: compensationPolicy,
    order: opts.compensation ?? 'reverse',
  });

  const final = desk.aborted ? 'aborted' : 'compensated';
  ledger.setStatus(final);
  await handlersDone();
  return {
    status: final,
    steps: completed,
    compensations,
    failure: ledger.failure,
    cancelled: cancelled || undefined,
    ledger: ledger.entries,
  };
}
