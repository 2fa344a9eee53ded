// The saga library's public vocabulary: step specs, the built definition, run options, and the duration type.
// Workflow-side only (deterministic): imported by the builder, the runner and every saga definition.
import type { Pattern } from '../../shared';

/** A duration the engine computes with: milliseconds, or a number with a unit ('500ms', '30s', '5m', '2h', '1d'). */
export type Interval = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/** The failure type of a step cancelled by its saga-level `timeout`. */
export const STEP_TIMEOUT = 'StepTimeout';

export interface StepContext<I, R> {
  input: I;
  /** Results of the steps before this one, by step name (all of them completed: a saga is sequential between stages). */
  results: Readonly<R>;
  workflowId: string;
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
  /** Invocations before an operator is asked (a non-retryable failure asks at once). Default: unlimited. */
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

export interface PivotSpec<I, R, O> extends CommonSpec<I, R> {
  run: (ctx: StepContext<I, R>) => Promise<O>;
  /**
   * Optional. Runs only when the pivot itself *fails* with an outcome that may still have committed (a timed-out
   * charge): it undoes that through the barrier (a no-op when nothing committed). Never runs once the pivot
   * succeeded. Without it, a pivot failure must be definite (nothing committed).
   */
  compensate?: (ctx: StepContext<I, R>, result: O | undefined) => Promise<CompensationReturn>;
  compensationName?: string;
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
}

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
