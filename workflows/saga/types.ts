// The saga library's public vocabulary: step specs, the built definition, run options, and the duration type.
// Workflow-side only (deterministic): imported by the builder, the runner and every saga definition.
import type { LedgerEntry, Pattern, SagaFailureInfo } from '../../shared';

/** A duration the engine computes with: milliseconds, or a number with a unit ('500ms', '30s', '5m', '2h', '1d'). */
export type Interval = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/** The failure type of a step cancelled by its saga-level `timeout`. */
export const STEP_TIMEOUT = 'StepTimeout';

export interface StepContext<I, R> {
  input: I;
  /** Results of the steps before this one, by step name (all of them completed: a saga is sequential between stages). */
  results: Readonly<R>;
  workflowId: string;
  /**
   * The saga run the step belongs to (the first run id of the execution chain, so it survives continue-as-new);
   * with the workflow id and the step it is the barrier key, so a new run reusing a business id never meets the
   * barrier rows of an earlier, finished run. Undefined for executions started before this key existed.
   */
  run?: string;
  /** The step's name, also in its compensation (with the workflow id it is the step's idempotency key). */
  step: string;
  /** 1 on the first invocation; higher when the engine or an operator runs the step (or compensation) again. */
  attempt: number;
}

/** What a compensation may return: `{ state: 'noop' }` marks a null compensation in the ledger. */
export type CompensationReturn = unknown;

/** Engine-level retries: after the run function's own activity retries are exhausted, wait, then call it again. */
export interface BackoffPolicy {
  /** Default 1s. */
  initialInterval?: Interval;
  /** Default 2. */
  backoffCoefficient?: number;
  /** Default 5m. */
  maximumInterval?: Interval;
  /**
   * Invocations before an operator is asked (a non-retryable failure asks at once). Default: 10 for forward
   * steps (about 15 minutes of backoff), 1 for compensations: a step that keeps failing parks in needs-operator
   * instead of growing its history towards the server's limit.
   */
  maximumAttempts?: number;
}

export interface CommonSpec<I, R> {
  /**
   * Saga-level deadline for the whole step, all its activity attempts included: the step runs in a cancellation
   * scope raced against a workflow timer, and fails with type `StepTimeout` when the timer wins. Activity
   * timeouts and retry policies stay in the run function's `proxyActivities` options.
   */
  timeout?: Interval;
  /** Run the step only when this returns true (evaluated when reached; e.g. `() => patched('my-change')`). */
  when?: (ctx: StepContext<I, R>) => boolean;
}

export interface StepSpec<I, R, O> extends CommonSpec<I, R> {
  run: (ctx: StepContext<I, R>) => Promise<O>;
  /** Receives the step's result when it completed, undefined when its outcome is unknown (failed or timed out). */
  compensate: (ctx: StepContext<I, R>, result: O | undefined) => Promise<CompensationReturn>;
  /** Name of the compensation in the ledger and result (default `undo-<step>`). */
  compensationName?: string;
}

export interface PivotSpec<I, R, O> extends Omit<CommonSpec<I, R>, 'when'> {
  run: (ctx: StepContext<I, R>) => Promise<O>;
  /**
   * Required: the pivot's barrier compensation. Runs only when the pivot itself *fails* (a timeout, retries
   * spent), before every other compensation: through the participant's barrier it writes the marker that refuses
   * a pivot attempt still in flight, or undoes one that committed (a no-op when nothing committed). Without it a
   * late-committing pivot attempt would undo the saga's compensation (a confirmed, unpaid order). Never runs once
   * the pivot succeeded.
   */
  compensate: (ctx: StepContext<I, R>, result: O | undefined) => Promise<CompensationReturn>;
  compensationName?: string;
  /** Not allowed: skipping the point of no return would let the saga go forward as if it had been passed. */
  when?: never;
}

export interface ForwardSpec<I, R, O> extends CommonSpec<I, R> {
  run: (ctx: StepContext<I, R>) => Promise<O>;
  /** Engine-level retries after the activity's own (default: forever, 1s doubling to 5m). */
  retry?: BackoffPolicy;
}

export type StepKind = 'compensatable' | 'pivot' | 'forward';

export type AnyCtx = StepContext<unknown, unknown>;

export interface StepDef {
  name: string;
  kind: StepKind;
  group?: string;
  run: (ctx: AnyCtx) => Promise<unknown>;
  compensate?: (ctx: AnyCtx, result: unknown) => Promise<CompensationReturn>;
  compensationName?: string;
  timeoutMs?: number;
  when?: (ctx: AnyCtx) => boolean;
  retry?: BackoffPolicy;
}

/** Steps run one stage at a time; the steps of one stage (a parallel group) run concurrently. */
export interface SagaStage {
  readonly group?: string;
  readonly kind: StepKind;
  readonly steps: readonly StepDef[];
}

export interface SagaDefinition<I, R> {
  readonly name: string;
  readonly stages: readonly SagaStage[];
  /** Every step in definition order (introspection, docs, tests). */
  readonly steps: readonly StepDef[];
  /** Phantom fields carrying the input and results types. */
  readonly _input?: I;
  readonly _results?: R;
}

export class SagaDefinitionError extends Error {
  override name = 'SagaDefinitionError';
}

export interface RunSagaOptions {
  /** Compensate in reverse order (default; a parallel group's steps together) or everything at once. */
  compensation?: 'reverse' | 'parallel';
  /** Set Settle's search attributes (needs them registered on the server; default true). */
  searchAttributes?: boolean;
  pattern?: Pattern;
  businessKey?: string;
  /** Per-run step deadlines by step name, overriding the definition's `timeout` (e.g. from the workflow's input). */
  timeouts?: Record<string, Interval | undefined>;
  /**
   * Engine-level re-invocations of a failing compensation before the saga parks in needs-operator. Default: one
   * invocation (the compensation's activity retry policy is the budget), then park.
   */
  compensationRetry?: BackoffPolicy;
  /** Default engine-level retry for forward steps after the pivot (a step's own `retry` wins). */
  forwardRetry?: BackoffPolicy;
  /**
   * Continue-as-new: called with a checkpoint when the server suggests it (or `continueAsNewAfterEvents` is
   * reached) at a quiet point after the pivot; it must continue-as-new with the checkpoint in `resume`. Without
   * it the saga never continues-as-new.
   */
  continueAsNew?: (checkpoint: SagaCheckpoint) => Promise<never>;
  /** Continue-as-new once history has this many events, even before the server suggests it (tests, tuning). */
  continueAsNewAfterEvents?: number;
  /** The checkpoint handed over by the previous run of this execution chain. */
  resume?: SagaCheckpoint;
}

/** What a saga carries across continue-as-new: it only ever happens after the pivot, at a forward stage. */
export interface SagaCheckpoint {
  /** Index of the forward stage to resume at. */
  stage: number;
  run?: string;
  ledger: LedgerEntry[];
  results: Record<string, unknown>;
  completed: string[];
  failure?: SagaFailureInfo;
}

/** Forward steps: invocations before an operator is asked, unless a policy says otherwise. */
export const DEFAULT_FORWARD_ATTEMPTS = 10;

export function intervalMs(d: Interval): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new SagaDefinitionError(`invalid interval ${d}`);
    return d;
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new SagaDefinitionError(`invalid interval '${String(d)}' (use e.g. 500ms, 30s, 5m, 2h, 1d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * unit;
}
