// The saga definition builder: `defineSaga(name).step(...).parallel(...).pivot(...).forward(...).build()`.
// Every rule about a saga's shape is checked here, when the definition is built (at workflow module load), so a
// malformed saga fails its first test rather than a running execution.
import {
  intervalMs,
  SagaDefinitionError,
  type CommonSpec,
  type ForwardSpec,
  type PivotSpec,
  type SagaDefinition,
  type SagaStage,
  type StepDef,
  type StepSpec,
} from './types';

const STEP_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

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

  /** A step with `when` may be skipped: its result is typed `O | undefined`. */
  step<N extends string, O>(
    name: N,
    spec: StepSpec<I, R, O> & Required<Pick<StepSpec<I, R, O>, 'when'>>,
  ): ParallelGroup<I, R, G & Record<N, O | undefined>>;
  step<N extends string, O>(name: N, spec: StepSpec<I, R, O>): ParallelGroup<I, R, G & Record<N, O>>;
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

  /**
   * A compensatable step: its compensation is required and registered before it runs. A step with `when` may be
   * skipped: its result is typed `O | undefined`.
   */
  step<N extends string, O>(
    name: N,
    spec: StepSpec<I, R, O> & Required<Pick<StepSpec<I, R, O>, 'when'>>,
  ): SagaBuilder<I, R & Record<N, O | undefined>>;
  step<N extends string, O>(name: N, spec: StepSpec<I, R, O>): SagaBuilder<I, R & Record<N, O>>;
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
    if ((spec as { when?: unknown }).when !== undefined)
      throw new SagaDefinitionError(
        `saga ${this.name}: the pivot '${name}' cannot be conditional (a skipped point of no return would ` +
          `let the saga go forward as if it had been passed)`,
      );
    if (typeof (spec as Partial<typeof spec>).compensate !== 'function')
      throw new SagaDefinitionError(
        `saga ${this.name}: the pivot '${name}' has no compensation: give it one through the participant's ` +
          `barrier (a no-op when nothing committed), so that a pivot attempt committing after the saga gave ` +
          `up on it is refused or undone instead of undoing the compensation`,
      );
    const compensationName = spec.compensationName ?? `undo-${name}`;
    this.names.claim(compensationName, 'compensation');
    this.stages.push({
      kind: 'pivot',
      steps: [
        {
          name,
          kind: 'pivot',
          run: spec.run as StepDef['run'],
          compensate: spec.compensate as StepDef['compensate'],
          compensationName,
          ...common(this.name, name, spec),
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
