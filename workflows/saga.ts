// Settle's saga engine: the workflow-side library every saga is built on.
//
//   const orderSaga = defineSaga<OrderInput>('order')
//     .step('create', { run: (c) => createOrder(...), compensate: (c) => cancelOrder(...) })
//     .step('reserve', { run: (c) => reserveStock(...), compensate: (c) => releaseStock(...) })
//     .build();
//   return runSaga(orderSaga, input);
//
// Guarantees:
//  - a step's compensation is registered *before* its forward action runs: an action that timed out may
//    still have committed, so it is compensated too (the participant's barrier turns that into a recorded
//    no-op when nothing committed);
//  - compensations run in reverse order (or in parallel when asked) inside a non-cancellable scope, so a
//    cancelled saga is compensated rather than abandoned;
//  - a compensation that still fails after its retry budget parks the saga in `needs-operator` until an
//    operator resolves it (retry / skip with a reason / abort), every decision recorded in history;
//  - the step ledger is queryable, mirrored into current details for the Web UI, and the status is a
//    search attribute.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  setCurrentDetails,
  setHandler,
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

export interface StepContext<I, R> {
  input: I;
  /** Results of the steps that completed before this one, by step name. */
  results: Partial<R>;
  workflowId: string;
}

/** What a compensation may return: `{ state: 'noop' }` marks a null compensation in the ledger. */
export type CompensationReturn = { state?: string } | void | unknown;

export interface StepSpec<I, R, O> {
  run(ctx: StepContext<I, R>): Promise<O>;
  /** Receives the step's result when it completed, undefined when its outcome is unknown (failed or timed out). */
  compensate(ctx: StepContext<I, R>, result: O | undefined): Promise<CompensationReturn>;
  /** Name of the compensation in the ledger and result (default `undo-<step>`). */
  compensationName?: string;
}

export interface ForwardSpec<I, R, O> {
  run(ctx: StepContext<I, R>): Promise<O>;
}

type StepKind = 'compensatable' | 'pivot' | 'forward';

interface StepDef<I> {
  name: string;
  kind: StepKind;
  run(ctx: StepContext<I, unknown>): Promise<unknown>;
  compensate?(ctx: StepContext<I, unknown>, result: unknown): Promise<CompensationReturn>;
  compensationName?: string;
}

export interface SagaDefinition<I, R> {
  readonly name: string;
  readonly steps: readonly StepDef<I>[];
  /** Phantom field carrying the results type. */
  readonly _results?: R;
}

export class SagaDefinitionError extends Error {
  override name = 'SagaDefinitionError';
}

const STEP_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export class SagaBuilder<I, R> {
  private readonly steps: StepDef<I>[] = [];
  private pivoted = false;

  constructor(private readonly name: string) {}

  private add(def: StepDef<I>): void {
    if (!STEP_NAME.test(def.name)) throw new SagaDefinitionError(`saga ${this.name}: invalid step name '${def.name}'`);
    if (this.steps.some((s) => s.name === def.name))
      throw new SagaDefinitionError(`saga ${this.name}: duplicate step name '${def.name}'`);
    this.steps.push(def);
  }

  /** A compensatable step: its compensation is required and registered before it runs. */
  step<N extends string, O>(name: N, spec: StepSpec<I, R, O>): SagaBuilder<I, R & Record<N, O>> {
    if (this.pivoted)
      throw new SagaDefinitionError(`saga ${this.name}: step '${name}' comes after the pivot; use .forward() for it`);
    if (typeof (spec as Partial<StepSpec<I, R, O>>).compensate !== 'function')
      throw new SagaDefinitionError(`saga ${this.name}: compensatable step '${name}' has no compensation`);
    this.add({
      name,
      kind: 'compensatable',
      run: spec.run as StepDef<I>['run'],
      compensate: spec.compensate as StepDef<I>['compensate'],
      compensationName: spec.compensationName ?? `undo-${name}`,
    });
    if (this.steps.some((s) => s.name !== name && (s.compensationName === spec.compensationName || s.name === spec.compensationName)))
      throw new SagaDefinitionError(`saga ${this.name}: duplicate compensation name '${spec.compensationName}'`);
    return this as unknown as SagaBuilder<I, R & Record<N, O>>;
  }

  /** The pivot: the go/no-go step. If it fails, earlier steps are compensated; once it succeeds the saga only goes forward. */
  pivot<N extends string, O>(name: N, spec: ForwardSpec<I, R, O>): SagaBuilder<I, R & Record<N, O>> {
    if (this.pivoted) throw new SagaDefinitionError(`saga ${this.name}: a saga has at most one pivot ('${name}')`);
    this.add({ name, kind: 'pivot', run: spec.run as StepDef<I>['run'] });
    this.pivoted = true;
    return this as unknown as SagaBuilder<I, R & Record<N, O>>;
  }

  /** A step after the pivot: retried until it succeeds (give it a retry policy without a maximum). */
  forward<N extends string, O>(name: N, spec: ForwardSpec<I, R, O>): SagaBuilder<I, R & Record<N, O>> {
    if (!this.pivoted) throw new SagaDefinitionError(`saga ${this.name}: forward-only step '${name}' needs a pivot before it`);
    this.add({ name, kind: 'forward', run: spec.run as StepDef<I>['run'] });
    return this as unknown as SagaBuilder<I, R & Record<N, O>>;
  }

  build(): SagaDefinition<I, R> {
    if (this.steps.length === 0) throw new SagaDefinitionError(`saga ${this.name}: no steps`);
    return { name: this.name, steps: [...this.steps] };
  }
}

export function defineSaga<I>(name: string): SagaBuilder<I, {}> {
  return new SagaBuilder<I, {}>(name);
}

export interface RunSagaOptions {
  /** Compensate in reverse order (default) or all at once. */
  compensation?: 'reverse' | 'parallel';
  /** Set Settle's search attributes (needs them registered on the server; default true). */
  searchAttributes?: boolean;
  pattern?: Pattern;
  businessKey?: string;
}

function describeError(err: unknown): { type?: string; message: string } {
  let e: unknown = err;
  // Unwrap ActivityFailure -> ApplicationFailure / TimeoutFailure so the ledger names the real cause.
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return { type: e.type ?? undefined, message: e.message };
  if (e instanceof TimeoutFailure) return { type: 'Timeout', message: `${String(e.timeoutType ?? 'activity').toLowerCase()} timeout` };
  if (e instanceof Error) return { type: e.name, message: e.message };
  return { message: String(err) };
}

const now = (): string => new Date().toISOString();

export async function runSaga<I, R>(def: SagaDefinition<I, R>, input: I, opts: RunSagaOptions = {}): Promise<SagaResult<R>> {
  const ledger: LedgerEntry[] = [];
  let status: SagaStatus = 'running';
  let failure: SagaFailureInfo | undefined;
  let pendingDecision: OperatorDecision | undefined;
  const useSA = opts.searchAttributes !== false;

  const publish = (): void => {
    const lines = ledger.map((e) => `${e.kind === 'compensation' ? '↩ ' : ''}${e.name}: ${e.status}${e.noop ? ' (nothing to undo)' : ''}${e.lastError ? ` — ${e.lastError}` : ''}`);
    setCurrentDetails([`**${def.name} saga: ${status}**`, '', ...lines.map((l) => `- ${l}`)].join('\n'));
  };
  const setStatus = (s: SagaStatus): void => {
    status = s;
    if (useSA) {
      upsertSearchAttributes([
        { key: SA.status, value: s },
        { key: SA.needsOperator, value: s === 'needs-operator' },
      ]);
    }
    publish();
  };

  setHandler(sagaProgressQuery, (): SagaProgress => ({ status, ledger: ledger.map((e) => ({ ...e })), failure }));
  setHandler(
    resolveCompensationUpdate,
    (decision): SagaProgress => {
      pendingDecision = decision;
      return { status, ledger: ledger.map((e) => ({ ...e })), failure };
    },
    {
      validator: (d: OperatorDecision) => {
        if (status !== 'needs-operator') throw new Error(`saga is ${status}, not needs-operator: nothing to resolve`);
        if (pendingDecision) throw new Error('a decision is already pending');
        if (!['retry', 'skip', 'abort'].includes(d?.action)) throw new Error(`action must be retry, skip or abort`);
        if (d.action === 'skip' && !d.reason?.trim()) throw new Error('skip needs a reason (what was done by hand)');
      },
    },
  );

  if (useSA) {
    const pairs: Parameters<typeof upsertSearchAttributes>[0] = [{ key: SA.pattern, value: opts.pattern ?? 'saga' }];
    if (opts.businessKey) pairs.push({ key: SA.businessKey, value: opts.businessKey });
    upsertSearchAttributes(pairs);
  }
  setStatus('running');

  const results: Partial<R> = {};
  const ctx: StepContext<I, R> = { input, results, workflowId: workflowInfo().workflowId };
  // Compensations registered so far, with the index of the step they undo.
  const registered: { step: StepDef<I>; entry: LedgerEntry }[] = [];
  const completed: string[] = [];
  let cancelled = false;
  let pivoted = false;

  for (const step of def.steps) {
    const entry: LedgerEntry = { name: step.name, kind: 'step', status: 'running', attempts: 0, startedAt: now() };
    ledger.push(entry);
    if (step.compensate) registered.push({ step, entry });
    publish();
    try {
      const out = await step.run(ctx as StepContext<I, unknown>);
      (results as Record<string, unknown>)[step.name] = out;
      entry.status = 'completed';
      entry.endedAt = now();
      completed.push(step.name);
      if (step.kind === 'pivot') pivoted = true;
    } catch (err) {
      entry.status = 'failed';
      entry.endedAt = now();
      entry.attempts += 1;
      const d = describeError(err);
      entry.lastError = d.type ? `${d.type}: ${d.message}` : d.message;
      cancelled = isCancellation(err);
      failure = { step: step.name, ...d };
      if (pivoted && !cancelled) {
        // Past the pivot there is nothing to compensate back to: surface the failure as the workflow's.
        setStatus('needs-operator');
        throw err;
      }
      break;
    }
  }

  if (!failure) {
    setStatus('completed');
    return { status: 'completed', steps: completed, compensations: [], result: results as R, ledger };
  }

  setStatus('compensating');
  const compensations: string[] = [];
  let aborted = false;

  const compensateOne = async ({ step, entry }: (typeof registered)[number]): Promise<void> => {
    const name = step.compensationName ?? `undo-${step.name}`;
    const c: LedgerEntry = { name, kind: 'compensation', undoes: step.name, status: 'compensating', attempts: 0, startedAt: now() };
    ledger.push(c);
    publish();
    for (;;) {
      try {
        const out = await step.compensate!(ctx as StepContext<I, unknown>, (results as Record<string, unknown>)[step.name]);
        c.status = 'compensated';
        c.noop = (out as { state?: string } | undefined)?.state === 'noop';
        c.endedAt = now();
        entry.status = 'compensated';
        compensations.push(name);
        publish();
        return;
      } catch (err) {
        c.attempts += 1;
        const d = describeError(err);
        c.lastError = d.type ? `${d.type}: ${d.message}` : d.message;
        c.status = 'needs-operator';
        setStatus('needs-operator');
        await condition(() => pendingDecision !== undefined);
        const decision = pendingDecision!;
        pendingDecision = undefined;
        if (decision.action === 'retry') {
          c.status = 'compensating';
          setStatus('compensating');
          continue;
        }
        c.endedAt = now();
        if (decision.action === 'skip') {
          c.status = 'skipped';
          c.lastError = `skipped by ${decision.operator ?? 'operator'}: ${decision.reason}`;
          setStatus('compensating');
          return;
        }
        c.status = 'needs-operator';
        c.lastError = `aborted by ${decision.operator ?? 'operator'}${decision.reason ? `: ${decision.reason}` : ''}`;
        aborted = true;
        return;
      }
    }
  };

  await CancellationScope.nonCancellable(async () => {
    const todo = [...registered].reverse();
    if (opts.compensation === 'parallel') {
      await Promise.all(todo.map(compensateOne));
    } else {
      for (const r of todo) {
        await compensateOne(r);
        if (aborted) break;
      }
    }
  });

  const final = aborted ? 'aborted' : 'compensated';
  setStatus(final);
  return { status: final, steps: completed, compensations, failure, cancelled: cancelled || undefined, ledger };
}
