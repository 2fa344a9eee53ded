// Settle's saga engine: the workflow-side library every saga is built on.
//
//   const trip = defineSaga<TripInput>('trip')
//     .step('flight', { run: (c) => holdFlight(...), compensate: (c, held) => releaseFlight(...) })
//     .parallel('stay', (g) => g
//       .step('hotel', { run: (c) => holdHotel(...), compensate: (c) => releaseHotel(...) })
//       .step('car', { run: (c) => holdCar(...), compensate: (c) => releaseCar(...), timeout: '2m' }))
//     .pivot('pay', { run: ({ results }) => charge(results.flight.result.holdId, ...) })
//     .forward('email', { run: ({ results }) => sendItinerary(results.pay.result.paymentId) })
//     .build();
//   return runSaga(trip, input, { businessKey: input.tripId });
//
// Guarantees:
//  - a step's compensation is registered *before* its forward action runs: an action that timed out may
//    still have committed, so it is compensated too (the participant's barrier turns that into a recorded
//    no-op when nothing committed, and refuses the action if it arrives after its compensation);
//  - compensations run in reverse order (a parallel group's steps together), or all at once when asked,
//    inside a non-cancellable scope, so a cancelled saga is compensated rather than abandoned;
//  - the pivot runs to a known outcome even when the saga is cancelled; after it the saga only goes forward,
//    and forward steps are retried (durable timer backoff) until they succeed;
//  - a compensation (or post-pivot step) that still fails after its retry budget parks the saga in
//    `needs-operator` until an operator resolves it (retry / skip with a reason / abort), every decision
//    validated and recorded in history;
//  - the step ledger is queryable, mirrored into current details for the Web UI, and the status is a
//    search attribute (SettleStatus, SettleNeedsOperator).
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  setCurrentDetails,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  resolveCompensationUpdate,
  SA,
  sagaProgressQuery,
  type LedgerEntry,
  type OperatorDecision,
  type Pattern,
  type SagaFailureInfo,
  type SagaProgress,
  type SagaResult,
  type SagaStatus,
} from '../shared';

// ------------------------------------------------------------------------------------------------ public types

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

interface CommonSpec<I, R> {
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

type StepKind = 'compensatable' | 'pivot' | 'forward';

type AnyCtx = StepContext<unknown, unknown>;

interface StepDef {
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

// ------------------------------------------------------------------------------------------------ builder

const STEP_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

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

/** Checks shared by the saga builder and its parallel groups: one namespace for step, compensation and group names. */
class Names {
  private readonly taken = new Set<string>();
  constructor(private readonly saga: string) {}
  claim(name: string, what: string): void {
    if (!STEP_NAME.test(name))
      throw new SagaDefinitionError(`saga ${this.saga}: invalid ${what} name '${name}'`);
    if (this.taken.has(name))
      throw new SagaDefinitionError(`saga ${this.saga}: duplicate ${what} name '${name}'`);
    this.taken.add(name);
  }
}

function common(
  saga: string,
  name: string,
  spec: CommonSpec<unknown, unknown>,
): Pick<StepDef, 'timeoutMs' | 'when'> {
  let timeoutMs: number | undefined;
  if (spec.timeout !== undefined) {
    timeoutMs = intervalMs(spec.timeout);
    if (timeoutMs <= 0)
      throw new SagaDefinitionError(`saga ${saga}: step '${name}' has a timeout of ${timeoutMs} ms`);
  }
  return { timeoutMs, when: spec.when };
}

function compensatable(
  saga: string,
  names: Names,
  name: string,
  spec: StepSpec<unknown, unknown, unknown>,
  group?: string,
): StepDef {
  names.claim(name, 'step');
  if (typeof (spec as Partial<typeof spec>).compensate !== 'function')
    throw new SagaDefinitionError(`saga ${saga}: compensatable step '${name}' has no compensation`);
  const compensationName = spec.compensationName ?? `undo-${name}`;
  names.claim(compensationName, 'compensation');
  return {
    name,
    kind: 'compensatable',
    group,
    run: spec.run,
    compensate: spec.compensate,
    compensationName,
    ...common(saga, name, spec),
  };
}

function forwardOnly(
  saga: string,
  names: Names,
  name: string,
  spec: ForwardSpec<unknown, unknown, unknown>,
  group?: string,
): StepDef {
  names.claim(name, 'step');
  if ('compensate' in spec)
    throw new SagaDefinitionError(
      `saga ${saga}: forward-only step '${name}' comes after the pivot and cannot have a compensation`,
    );
  const r = spec.retry;
  if (r?.maximumAttempts !== undefined && !(Number.isInteger(r.maximumAttempts) && r.maximumAttempts >= 1))
    throw new SagaDefinitionError(
      `saga ${saga}: step '${name}' retry.maximumAttempts must be a whole number >= 1`,
    );
  if (r?.initialInterval !== undefined) intervalMs(r.initialInterval);
  if (r?.maximumInterval !== undefined) intervalMs(r.maximumInterval);
  return {
    name,
    kind: 'forward',
    group,
    run: spec.run,
    retry: r,
    ...common(saga, name, spec),
  };
}

/** The steps of one parallel group: all compensatable (before the pivot) or all forward-only (after it). */
export class ParallelGroup<I, R, G> {
  /** @internal */
  readonly defs: StepDef[] = [];
  constructor(
    private readonly saga: string,
    private readonly group: string,
    private readonly names: Names,
    private readonly afterPivot: boolean,
  ) {}

  step<N extends string, O>(name: N, spec: StepSpec<I, R, O>): ParallelGroup<I, R, G & Record<N, O>> {
    if (this.afterPivot)
      throw new SagaDefinitionError(
        `saga ${this.saga}: group '${this.group}' comes after the pivot; use .forward('${name}') in it`,
      );
    this.defs.push(
      compensatable(
        this.saga,
        this.names,
        name,
        spec as unknown as StepSpec<unknown, unknown, unknown>,
        this.group,
      ),
    );
    return this;
  }

  forward<N extends string, O>(
    name: N,
    spec: ForwardSpec<I, R, O>,
  ): ParallelGroup<I, R, G & Record<N, O | undefined>> {
    if (!this.afterPivot)
      throw new SagaDefinitionError(
        `saga ${this.saga}: forward-only step '${name}' in group '${this.group}' needs a pivot before it`,
      );
    this.defs.push(
      forwardOnly(
        this.saga,
        this.names,
        name,
        spec as unknown as ForwardSpec<unknown, unknown, unknown>,
        this.group,
      ),
    );
    return this;
  }
}

export class SagaBuilder<I, R> {
  private readonly stages: SagaStage[] = [];
  private readonly names: Names;
  private pivoted = false;

  constructor(private readonly name: string) {
    if (!STEP_NAME.test(name)) throw new SagaDefinitionError(`invalid saga name '${name}'`);
    this.names = new Names(name);
  }

  /** A compensatable step: its compensation is required and registered before it runs. */
  step<N extends string, O>(name: N, spec: StepSpec<I, R, O>): SagaBuilder<I, R & Record<N, O>> {
    if (this.pivoted)
      throw new SagaDefinitionError(
        `saga ${this.name}: step '${name}' comes after the pivot; use .forward() for it`,
      );
    const def = compensatable(
      this.name,
      this.names,
      name,
      spec as unknown as StepSpec<unknown, unknown, unknown>,
    );
    this.stages.push({ kind: 'compensatable', steps: [def] });
    return this as unknown as SagaBuilder<I, R & Record<N, O>>;
  }

  /**
   * Steps that run concurrently. Before the pivot they are compensatable: if one fails, the others still run to
   * their own outcome, then the whole group is compensated together (each compensation gets its step's result
   * when it completed). After the pivot they are forward-only, each retried until it succeeds.
   */
  parallel<G>(
    group: string,
    build: (g: ParallelGroup<I, R, object>) => ParallelGroup<I, R, G>,
  ): SagaBuilder<I, R & G> {
    this.names.claim(group, 'group');
    const g = build(new ParallelGroup<I, R, object>(this.name, group, this.names, this.pivoted));
    if (g.defs.length < 2)
      throw new SagaDefinitionError(`saga ${this.name}: parallel group '${group}' needs at least two steps`);
    this.stages.push({ group, kind: this.pivoted ? 'forward' : 'compensatable', steps: [...g.defs] });
    return this as unknown as SagaBuilder<I, R & G>;
  }

  /** The pivot: the go/no-go step. If it fails, earlier steps are compensated; once it succeeds the saga only goes forward. */
  pivot<N extends string, O>(name: N, spec: PivotSpec<I, R, O>): SagaBuilder<I, R & Record<N, O>> {
    if (this.pivoted)
      throw new SagaDefinitionError(`saga ${this.name}: a saga has at most one pivot ('${name}')`);
    this.names.claim(name, 'step');
    let compensationName: string | undefined;
    if (spec.compensate) {
      compensationName = spec.compensationName ?? `undo-${name}`;
      this.names.claim(compensationName, 'compensation');
    }
    this.stages.push({
      kind: 'pivot',
      steps: [
        {
          name,
          kind: 'pivot',
          run: spec.run as StepDef['run'],
          compensate: spec.compensate as StepDef['compensate'],
          compensationName,
          ...common(this.name, name, spec as CommonSpec<unknown, unknown>),
        },
      ],
    });
    this.pivoted = true;
    return this as unknown as SagaBuilder<I, R & Record<N, O>>;
  }

  /**
   * A step after the pivot: retried (engine-level, with backoff) until it succeeds; an operator resolves one that
   * cannot. Its result is typed `O | undefined` for later steps: undefined when an operator skipped it.
   */
  forward<N extends string, O>(
    name: N,
    spec: ForwardSpec<I, R, O>,
  ): SagaBuilder<I, R & Record<N, O | undefined>> {
    if (!this.pivoted)
      throw new SagaDefinitionError(`saga ${this.name}: forward-only step '${name}' needs a pivot before it`);
    const def = forwardOnly(
      this.name,
      this.names,
      name,
      spec as unknown as ForwardSpec<unknown, unknown, unknown>,
    );
    this.stages.push({ kind: 'forward', steps: [def] });
    return this as unknown as SagaBuilder<I, R & Record<N, O | undefined>>;
  }

  build(): SagaDefinition<I, R> {
    if (this.stages.length === 0) throw new SagaDefinitionError(`saga ${this.name}: no steps`);
    const stages = this.stages.map((s) => ({ ...s, steps: [...s.steps] }));
    return { name: this.name, stages, steps: stages.flatMap((s) => s.steps) };
  }
}

export function defineSaga<I>(name: string): SagaBuilder<I, object> {
  return new SagaBuilder<I, object>(name);
}

// ------------------------------------------------------------------------------------------------ engine

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

function describeError(err: unknown): { type?: string; message: string } {
  let e: unknown = err;
  // Unwrap ActivityFailure -> ApplicationFailure / TimeoutFailure so the ledger names the real cause.
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return { type: e.type ?? undefined, message: e.message };
  if (e instanceof TimeoutFailure)
    return { type: 'Timeout', message: `${String(e.timeoutType ?? 'activity').toLowerCase()} timeout` };
  if (e instanceof Error) return { type: e.name, message: e.message };
  return { message: String(err) };
}

/** A failure that another identical call cannot fix: only an operator can (or the saga must compensate). */
function isNonRetryable(err: unknown): boolean {
  let e: unknown = err;
  while (e instanceof Error) {
    if (e instanceof ActivityFailure && e.retryState === 'NON_RETRYABLE_FAILURE') return true;
    if (e instanceof ApplicationFailure && e.nonRetryable && e.type !== STEP_TIMEOUT) return true;
    e = e.cause;
  }
  return false;
}

function backoffMs(policy: BackoffPolicy, failures: number): number {
  const initial = intervalMs(policy.initialInterval ?? '1s');
  const max = intervalMs(policy.maximumInterval ?? '5m');
  return Math.min(max, initial * Math.pow(policy.backoffCoefficient ?? 2, Math.max(0, failures - 1)));
}

/** Run `fn` with a saga-level deadline: a cancellation scope raced against a workflow timer. */
async function withDeadline<T>(ms: number | undefined, step: string, fn: () => Promise<T>): Promise<T> {
  if (ms === undefined) return fn();
  let timedOut = false;
  const work = new CancellationScope({ cancellable: true });
  const timer = new CancellationScope({ cancellable: true });
  timer
    .run(() => sleep(ms))
    .then(
      () => {
        timedOut = true;
        work.cancel();
      },
      () => undefined, // the timer was cancelled: the step finished first, or the saga was cancelled
    );
  try {
    return await work.run(fn);
  } catch (err) {
    if (timedOut && isCancellation(err))
      throw ApplicationFailure.create({
        type: STEP_TIMEOUT,
        message: `step ${step} did not finish within ${ms} ms`,
        nonRetryable: true,
      });
    throw err;
  } finally {
    timer.cancel();
  }
}

const now = (): string => new Date().toISOString();

/** Let an operator update that is still answering finish first (non-cancellable: a cancelled saga still returns). */
async function handlersDone(): Promise<void> {
  if (!allHandlersFinished()) await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
}
const errorText = (d: { type?: string; message: string }): string =>
  d.type ? `${d.type}: ${d.message}` : d.message;

interface Registered {
  step: StepDef;
  entry: LedgerEntry;
}

export async function runSaga<I, R>(
  def: SagaDefinition<I, R>,
  input: I,
  opts: RunSagaOptions = {},
): Promise<SagaResult<R>> {
  const ledger: LedgerEntry[] = [];
  let phase: 'running' | 'compensating' = 'running';
  let status: SagaStatus = 'running';
  let failure: SagaFailureInfo | undefined;
  let aborted = false;
  const useSA = opts.searchAttributes !== false;
  const workflowId = workflowInfo().workflowId;

  // Entries waiting for an operator, oldest first, and the decisions handed to them by the update.
  const parked: LedgerEntry[] = [];
  const decisions = new Map<LedgerEntry, OperatorDecision>();

  const progress = (): SagaProgress => ({ status, ledger: ledger.map((e) => ({ ...e })), failure });
  const publish = (): void => {
    const lines = ledger.map(
      (e) =>
        `${e.kind === 'compensation' ? '↩ ' : ''}${e.group ? `[${e.group}] ` : ''}${e.name}: ${e.status}` +
        `${e.noop ? ' (nothing to undo)' : ''}${e.attempts ? ` (${e.attempts} failed)` : ''}${e.lastError ? ` — ${e.lastError}` : ''}`,
    );
    setCurrentDetails([`**${def.name} saga: ${status}**`, '', ...lines.map((l) => `- ${l}`)].join('\n'));
  };
  let shown: { status?: SagaStatus; needsOperator?: boolean } = {};
  const setStatus = (s: SagaStatus): void => {
    status = s;
    const needsOperator = s === 'needs-operator';
    if (useSA && (shown.status !== s || shown.needsOperator !== needsOperator)) {
      upsertSearchAttributes([
        { key: SA.status, value: s },
        { key: SA.needsOperator, value: needsOperator },
      ]);
      shown = { status: s, needsOperator };
    }
    publish();
  };
  const refreshStatus = (): void => setStatus(parked.length > 0 ? 'needs-operator' : phase);

  const findParked = (d: OperatorDecision): LedgerEntry | undefined =>
    d.step === undefined
      ? parked.find((e) => !decisions.has(e))
      : parked.find((e) => e.name === d.step || (e.kind === 'compensation' && e.undoes === d.step));

  setHandler(sagaProgressQuery, progress);
  setHandler(
    resolveCompensationUpdate,
    async (decision): Promise<SagaProgress> => {
      const target = findParked(decision)!;
      decisions.set(target, decision);
      // Answer once the engine has acted on the decision, so the caller sees its effect.
      await condition(() => !decisions.has(target));
      return progress();
    },
    {
      validator: (d: OperatorDecision) => {
        if (parked.length === 0) throw new Error(`saga is ${status}, not needs-operator: nothing to resolve`);
        if (!d || !['retry', 'skip', 'abort'].includes(d.action))
          throw new Error('action must be retry, skip or abort');
        if (d.action === 'skip' && !d.reason?.trim())
          throw new Error('skip needs a reason (what was done by hand)');
        if (d.reason !== undefined && d.reason.length > 1000)
          throw new Error('reason is longer than 1000 characters');
        const target = findParked(d);
        if (!target) {
          if (d.step !== undefined)
            throw new Error(
              `'${d.step}' is not waiting for an operator (waiting: ${parked.map((e) => e.name).join(', ')})`,
            );
          throw new Error('a decision is already pending for every parked step');
        }
        if (decisions.has(target)) throw new Error(`a decision for '${target.name}' is already pending`);
      },
    },
  );

  /** Park `entry` until an operator decides; the decision is applied to the entry's ledger record. */
  const awaitOperator = async (entry: LedgerEntry): Promise<OperatorDecision> => {
    entry.status = 'needs-operator';
    parked.push(entry);
    refreshStatus();
    await condition(() => decisions.has(entry) || aborted);
    const decision: OperatorDecision = decisions.get(entry) ?? {
      action: 'abort',
      reason: 'the saga was aborted',
    };
    decisions.delete(entry);
    parked.splice(parked.indexOf(entry), 1);
    entry.resolution = {
      action: decision.action,
      reason: decision.reason,
      operator: decision.operator,
      at: now(),
    };
    if (decision.action === 'abort') aborted = true;
    return decision;
  };

  /**
   * Invoke `fn` until it succeeds, with engine-level backoff between invocations; when the budget is spent, or the
   * failure is non-retryable, ask an operator. Returns `skipped` / `aborted` when an operator said so.
   */
  const untilDone = async (
    entry: LedgerEntry,
    policy: BackoffPolicy,
    fn: (attempt: number) => Promise<unknown>,
    running: LedgerEntry['status'],
  ): Promise<{ outcome: 'done'; value: unknown } | { outcome: 'skipped' | 'aborted' }> => {
    for (let attempt = 1; ; attempt++) {
      if (aborted) return { outcome: 'aborted' };
      entry.status = running;
      publish();
      try {
        return { outcome: 'done', value: await fn(attempt) };
      } catch (err) {
        entry.attempts += 1;
        entry.lastError = errorText(describeError(err));
        const budget = policy.maximumAttempts ?? Infinity;
        if (!isNonRetryable(err) && entry.attempts < budget) {
          publish();
          await sleep(backoffMs(policy, entry.attempts));
          continue;
        }
        const d = await awaitOperator(entry);
        if (d.action === 'retry') {
          refreshStatus();
          continue;
        }
        entry.endedAt = now();
        const by = `${d.operator ?? 'operator'}${d.reason ? `: ${d.reason}` : ''}`;
        if (d.action === 'skip') {
          entry.status = 'skipped';
          entry.lastError = `skipped by ${by}`;
          refreshStatus();
          return { outcome: 'skipped' };
        }
        entry.status = 'failed';
        entry.lastError = `aborted by ${by}`;
        refreshStatus();
        return { outcome: 'aborted' };
      }
    }
  };

  if (useSA) {
    const pairs: Parameters<typeof upsertSearchAttributes>[0] = [
      { key: SA.pattern, value: opts.pattern ?? 'saga' },
    ];
    if (opts.businessKey) pairs.push({ key: SA.businessKey, value: opts.businessKey });
    upsertSearchAttributes(pairs);
  }
  setStatus('running');

  const results: Record<string, unknown> = {};
  const ctxFor = (step: string, attempt = 1): AnyCtx => ({ input, results, workflowId, step, attempt });
  const timeoutOf = (s: StepDef): number | undefined => {
    const t = opts.timeouts?.[s.name];
    return t === undefined ? s.timeoutMs : intervalMs(t);
  };
  const startEntry = (s: StepDef): LedgerEntry => {
    const entry: LedgerEntry = {
      name: s.name,
      kind: 'step',
      status: 'running',
      attempts: 0,
      startedAt: now(),
    };
    if (s.group) entry.group = s.group;
    ledger.push(entry);
    return entry;
  };

  // Compensations registered so far, one array per stage (a group's compensations run together).
  const registered: Registered[][] = [];
  const completed: string[] = [];
  let cancelled = false;

  const forwardStage = async (stage: SagaStage): Promise<void> => {
    await CancellationScope.nonCancellable(() =>
      Promise.all(
        stage.steps.map(async (s) => {
          if (s.when && !s.when(ctxFor(s.name))) return;
          const entry = startEntry(s);
          const policy = s.retry ?? opts.forwardRetry ?? {};
          const r = await untilDone(
            entry,
            policy,
            (attempt) => withDeadline(timeoutOf(s), s.name, () => s.run(ctxFor(s.name, attempt))),
            'running',
          );
          if (r.outcome === 'done') {
            results[s.name] = r.value;
            entry.status = 'completed';
            entry.endedAt = now();
            completed.push(s.name);
          } else if (r.outcome === 'aborted' && !failure) {
            failure = { step: s.name, type: 'Aborted', message: entry.lastError ?? 'aborted by an operator' };
          }
          publish();
        }),
      ),
    );
  };

  /** Run a stage before/at the pivot. Returns false when a step failed (the saga must compensate). */
  const compensatableStage = async (stage: SagaStage): Promise<boolean> => {
    const steps = stage.steps.filter((s) => !s.when || s.when(ctxFor(s.name)));
    if (steps.length === 0) return true;
    const entries = steps.map((s) => startEntry(s));
    // Registered *before* anything runs: a step that fails or times out may still have committed.
    const undo = steps.flatMap((s, i) => (s.compensate ? [{ step: s, entry: entries[i]! }] : []));
    if (undo.length) registered.push(undo);
    publish();

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
        publish();
      }
    };
    const run = (): Promise<unknown> => Promise.all(steps.map((s, i) => runOne(s, entries[i]!)));
    // The pivot runs to a known outcome even if the saga is cancelled meanwhile: it has no way back once done.
    await (stage.kind === 'pivot' ? CancellationScope.nonCancellable(run) : run());
    if (!first) return true;
    cancelled = isCancellation(first.err);
    failure = { step: first.step.name, ...describeError(first.err) };
    return false;
  };

  let ok = true;
  for (const stage of def.stages) {
    if (stage.kind === 'forward') {
      await forwardStage(stage);
      if (aborted) break;
      continue;
    }
    if (stage.kind === 'pivot' && CancellationScope.current().consideredCancelled) {
      // Cancelled before the point of no return: the (non-cancellable) pivot must not start.
      const pivot = stage.steps[0]!;
      cancelled = true;
      failure = {
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
    const final = aborted ? 'aborted' : 'completed';
    setStatus(final);
    await handlersDone();
    return { status: final, steps: completed, compensations: [], failure, result: results as R, ledger };
  }

  phase = 'compensating';
  setStatus('compensating');
  const compensations: string[] = [];
  const compensationPolicy: BackoffPolicy = opts.compensationRetry ?? { maximumAttempts: 1 };

  const compensateOne = async ({ step, entry }: Registered): Promise<void> => {
    const name = step.compensationName ?? `undo-${step.name}`;
    const c: LedgerEntry = {
      name,
      kind: 'compensation',
      undoes: step.name,
      status: 'compensating',
      attempts: 0,
      startedAt: now(),
    };
    if (step.group) c.group = step.group;
    ledger.push(c);
    const r = await untilDone(
      c,
      compensationPolicy,
      (attempt) => step.compensate!(ctxFor(step.name, attempt), results[step.name]),
      'compensating',
    );
    if (r.outcome === 'done') {
      c.status = 'compensated';
      c.noop = (r.value as { state?: string } | undefined)?.state === 'noop';
      c.endedAt = now();
      entry.status = 'compensated';
      compensations.push(name);
    }
    publish();
  };

  await CancellationScope.nonCancellable(async () => {
    const stages = [...registered].reverse();
    if (opts.compensation === 'parallel') {
      await Promise.all(stages.flat().map(compensateOne));
      return;
    }
    for (const stage of stages) {
      await Promise.all(stage.map(compensateOne));
      if (aborted) break;
    }
  });

  const final = aborted ? 'aborted' : 'compensated';
  setStatus(final);
  await handlersDone();
  return {
    status: final,
    steps: completed,
    compensations,
    failure,
    cancelled: cancelled || undefined,
    ledger,
  };
}
