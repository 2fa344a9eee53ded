// The saga library itself, on the time-skipping server with stub activities the test controls: definition-time
// errors, typed results, parallel groups, the pivot and forward-only steps, saga-level timeouts, reverse and
// parallel compensation, cancellation at every step, compensations that fail and recover, needs-operator with
// each operator action, and the ledger query.
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  WorkflowUpdateFailedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  resolveCompensationUpdate,
  sagaProgressQuery,
  type LedgerEntry,
  type OperatorDecision,
  type SagaProgress,
  type SagaResult,
} from '../../shared';
import { defineSaga, SagaDefinitionError, STEP_TIMEOUT } from '../../workflows/saga';
import { timeSkippingEnv, uniqueId } from '../helpers/env';
import {
  ENGINE_QUEUE,
  engineDefinition,
  type ActCall,
  type EngineActivities,
  type EngineInput,
  type EngineResults,
  type engineSaga,
  type UndoCall,
} from './saga-engine.workflows';
import { waitForProgress } from '../helpers/saga';

// ------------------------------------------------------------------------------------------ definitions
describe('saga definitions are checked when they are built', () => {
  const noop = (): Promise<void> => Promise.resolve();
  const step = { run: noop, compensate: noop };
  const pivot = { run: noop, compensate: noop };

  const cases: [string, () => unknown, RegExp][] = [
    [
      'duplicate step names',
      () => defineSaga('s').step('a', step).step('a', step).build(),
      /duplicate step name 'a'/,
    ],
    [
      'a duplicate inside a parallel group',
      () =>
        defineSaga('s')
          .step('a', step)
          .parallel('g', (g) => g.step('b', step).step('a', step))
          .build(),
      /duplicate step name 'a'/,
    ],
    [
      'a compensatable step without a compensation',
      () =>
        defineSaga('s')
          .step('a', { run: noop } as unknown as typeof step)
          .build(),
      /compensatable step 'a' has no compensation/,
    ],
    [
      'a group step without a compensation',
      () =>
        defineSaga('s').parallel('g', (g) =>
          g.step('a', step).step('b', { run: noop } as unknown as typeof step),
        ),
      /compensatable step 'b' has no compensation/,
    ],
    [
      'two compensations with one name',
      () =>
        defineSaga('s')
          .step('a', { ...step, compensationName: 'undo' })
          .step('b', { ...step, compensationName: 'undo' }),
      /duplicate compensation name 'undo'/,
    ],
    [
      'a compensation named like a step',
      () =>
        defineSaga('s')
          .step('a', step)
          .step('b', { ...step, compensationName: 'a' }),
      /duplicate compensation name 'a'/,
    ],
    [
      'a compensatable step after the pivot',
      () => defineSaga('s').pivot('p', pivot).step('a', step),
      /comes after the pivot/,
    ],
    [
      'a forward-only step without a pivot',
      () => defineSaga('s').step('a', step).forward('f', { run: noop }),
      /needs a pivot before it/,
    ],
    ['a second pivot', () => defineSaga('s').pivot('p', pivot).pivot('q', pivot), /at most one pivot/],
    [
      'a forward-only step with a compensation',
      () => defineSaga('s').pivot('p', pivot).forward('f', step),
      /cannot have a compensation/,
    ],
    [
      'a forward step in a group before the pivot',
      () => defineSaga('s').parallel('g', (g) => g.forward('a', { run: noop })),
      /needs a pivot/,
    ],
    [
      'a compensatable step in a group after the pivot',
      () =>
        defineSaga('s')
          .pivot('p', pivot)
          .parallel('g', (g) => g.step('a', step)),
      /after the pivot/,
    ],
    ['a group of one', () => defineSaga('s').parallel('g', (g) => g.step('a', step)), /at least two steps/],
    [
      'a group named like a step',
      () =>
        defineSaga('s')
          .step('a', step)
          .parallel('a', (g) => g.step('b', step).step('c', step)),
      /duplicate group name 'a'/,
    ],
    [
      'an unreadable timeout',
      () => defineSaga('s').step('a', { ...step, timeout: 'soon' as '1s' }),
      /invalid interval 'soon'/,
    ],
    ['a zero timeout', () => defineSaga('s').step('a', { ...step, timeout: 0 }), /timeout of 0 ms/],
    [
      'a bad retry budget',
      () =>
        defineSaga('s')
          .pivot('p', pivot)
          .forward('f', { run: noop, retry: { maximumAttempts: 0 } }),
      /maximumAttempts/,
    ],
    ['an invalid step name', () => defineSaga('s').step('two words', step), /invalid step name 'two words'/],
    ['an empty saga', () => defineSaga('s').build(), /no steps/],
    // issue 9 item 1: a pivot attempt that commits late must meet a barrier marker written by the compensation path.
    [
      'a pivot without a (barrier) compensation',
      () => defineSaga('s').pivot('p', { run: noop } as unknown as typeof pivot),
      /pivot 'p' has no compensation/,
    ],
    // issue 9 item 5: a skipped pivot would let the saga go forward as if the point of no return had been passed.
    [
      'a conditional pivot',
      () => defineSaga('s').pivot('p', { ...pivot, when: (() => false) as never }),
      /pivot 'p' cannot be conditional/,
    ],
  ];
  for (const [what, build, message] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(build, (err: unknown) => err instanceof SagaDefinitionError && message.test(err.message));
    });
  }

  it("types a skippable step's result as possibly undefined (issue 9 item 5)", () => {
    const _skippable = defineSaga('s')
      .step('x', { when: () => false, run: () => Promise.resolve(1), compensate: noop })
      .step('y', { run: () => Promise.resolve(2), compensate: noop })
      .pivot('p', pivot)
      .build();
    type Results = NonNullable<typeof _skippable._results>;
    // Compile-time checks (npm run typecheck): `x` may be skipped, `y` always runs.
    const xMayBeUndefined: undefined extends Results['x'] ? true : false = true;
    const yIsDefined: undefined extends Results['y'] ? true : false = false;
    assert.deepEqual([xMayBeUndefined, yIsDefined], [true, false]);
  });

  it('keeps stages, groups and kinds as declared', () => {
    assert.deepEqual(
      engineDefinition.stages.map((s) => [s.kind, s.group ?? null, s.steps.map((x) => x.name)]),
      [
        ['compensatable', null, ['a']],
        ['compensatable', 'bc', ['b', 'c']],
        ['compensatable', null, ['slow']],
        ['pivot', null, ['p']],
        ['forward', null, ['f']],
        ['forward', 'gh', ['g', 'h']],
      ],
    );
  });
});

// ------------------------------------------------------------------------------------------ stubs
/**
 * ok; reject: non-retryable business failure; fail: retryable failure; broken: non-retryable compensation failure;
 * block: wait until the test releases it (then succeed, as a late commit would).
 */
type Behaviour = 'ok' | 'reject' | 'fail' | 'broken' | 'block';
/** By call name (step, or compensation name): one behaviour for every call, or one per call in order (the last repeats). */
type Plan = Record<string, Behaviour | Behaviour[]>;

interface Call {
  name: string;
  kind: 'act' | 'undo';
  /** The activity's own attempt number. */
  activityAttempt: number;
  /** The engine's invocation number (StepContext.attempt). */
  attempt: number;
  seen?: unknown;
  result?: unknown;
  run?: string;
}

function stubs(initial: Plan) {
  const plan: Plan = { ...initial };
  const calls: Call[] = [];
  const count = new Map<string, number>();
  const started = new Map<string, () => void>();
  const startedP = new Map<string, Promise<void>>();
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const onStart = (name: string): Promise<void> => {
    if (!startedP.has(name)) startedP.set(name, new Promise<void>((r) => started.set(name, r)));
    return startedP.get(name)!;
  };
  const behave = async (name: string): Promise<void> => {
    const n = (count.get(name) ?? 0) + 1;
    count.set(name, n);
    void onStart(name);
    started.get(name)!();
    const p = plan[name] ?? 'ok';
    const b = Array.isArray(p) ? (p[n - 1] ?? p[p.length - 1]!) : p;
    if (b === 'reject') throw ApplicationFailure.nonRetryable(`${name} rejected`, 'Rejected');
    if (b === 'broken') throw ApplicationFailure.nonRetryable(`${name} is broken`, 'Broken');
    if (b === 'fail') throw ApplicationFailure.retryable(`${name} failed (call ${n})`, 'Transient');
    if (b === 'block') await released;
  };
  const activities: EngineActivities = {
    async act(c: ActCall) {
      calls.push({
        name: c.step,
        kind: 'act',
        activityAttempt: Context.current().info.attempt,
        attempt: c.attempt,
        seen: c.seen,
        run: c.run,
      });
      await behave(c.step);
      return { step: c.step, token: `${c.step}-token` };
    },
    async undo(c: UndoCall) {
      calls.push({
        name: c.compensation,
        kind: 'undo',
        activityAttempt: Context.current().info.attempt,
        attempt: c.attempt,
        result: c.result,
      });
      // A compensation running means the saga moved on: blocked forward attempts may now "commit late".
      release();
      await behave(c.compensation);
      return { state: 'applied' };
    },
  };
  return {
    plan,
    calls,
    activities,
    release,
    /** Resolves when the named call has started at least once. */
    started: onStart,
    names: (kind?: 'act' | 'undo') => calls.filter((c) => !kind || c.kind === kind).map((c) => c.name),
  };
}
type Stubs = ReturnType<typeof stubs>;

const settle = <T>(p: Promise<T>): Promise<T> => {
  p.catch(() => undefined); // observed later; never an unhandled rejection while the test drives the saga
  return p;
};

const entry = (r: { ledger: LedgerEntry[] }, name: string): LedgerEntry => {
  const e = r.ledger.find((x) => x.name === name);
  assert.ok(e, `ledger has ${name}`);
  return e;
};

// ------------------------------------------------------------------------------------------ engine runs
interface Harness {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
}
let engineBundle: Promise<WorkflowBundleWithSourceMap> | undefined;
const bundleEngine = (): Promise<WorkflowBundleWithSourceMap> =>
  (engineBundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('./saga-engine.workflows'),
    logger: new DefaultLogger('ERROR'),
  }));

/**
 * Start the engine saga with its workers; `drive` runs while the result is awaited (time skipping on), unless
 * `parks`: a saga parked for an operator has nothing scheduled, and with time skipping on the test server would
 * jump straight to its execution timeout, so such a test drives first (time locked) and awaits the result after.
 */
async function runOn(
  { env, bundle }: Harness,
  plan: Plan,
  input: EngineInput = {},
  drive?: (h: WorkflowHandle<typeof engineSaga>, s: Stubs) => Promise<void>,
  opts: { parks?: boolean } = {},
): Promise<{ result: SagaResult<EngineResults>; s: Stubs; h: WorkflowHandle<typeof engineSaga> }> {
  const s = stubs(plan);
  const taskQueue = uniqueId('engine-wf');
  const workers = await Promise.all([
    Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle }),
    Worker.create({ connection: env.nativeConnection, taskQueue: ENGINE_QUEUE, activities: s.activities }),
  ]);
  const runs = workers.map((w) => w.run());
  try {
    const h = await env.client.workflow.start<typeof engineSaga>('engineSaga', {
      taskQueue,
      workflowId: uniqueId('engine'),
      args: [input],
    });
    if (opts.parks) {
      await drive?.(h, s);
      return { result: await h.result(), s, h };
    }
    const result = settle(h.result());
    if (drive) await drive(h, s);
    return { result: await result, s, h };
  } finally {
    s.release();
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.all(runs);
  }
}

/** Send an operator decision (deliberately untyped, so invalid ones reach the validator). */
const resolve = (h: WorkflowHandle, d: Record<string, unknown>): Promise<SagaProgress> =>
  h.executeUpdate(resolveCompensationUpdate, { args: [d as unknown as OperatorDecision] });

async function parked(h: WorkflowHandle, name: string): Promise<SagaProgress> {
  return waitForProgress(
    h,
    (p) =>
      p.status === 'needs-operator' && p.ledger.some((e) => e.name === name && e.status === 'needs-operator'),
    `${name} parked`,
  );
}

const rejectedWith = (re: RegExp) => (err: unknown) =>
  err instanceof WorkflowUpdateFailedError && re.test(String(err.cause?.message));

describe('saga engine (time-skipping, stub activities)', () => {
  const harness = {} as Harness;
  before(async () => {
    [harness.env, harness.bundle] = await Promise.all([timeSkippingEnv(), bundleEngine()]);
  });
  after(async () => {
    await harness.env?.teardown();
  });
  const run = (plan: Plan, input?: EngineInput, drive?: Parameters<typeof runOn>[3]) =>
    runOn(harness, plan, input, drive);

  it('runs every stage, passing typed results to later steps, and compensates nothing', async () => {
    const { result, s } = await run({});
    assert.equal(result.status, 'completed');
    assert.deepEqual([...result.steps].sort(), ['a', 'b', 'c', 'f', 'g', 'h', 'p', 'slow']);
    assert.deepEqual(result.compensations, []);
    const seen = Object.fromEntries(s.calls.map((c) => [c.name, c.seen]));
    assert.deepEqual(seen, {
      a: undefined,
      b: 'a-token',
      c: 'a-token',
      slow: undefined,
      p: ['b-token', 'c-token'],
      f: 'p-token',
      g: 'f-token',
      h: 'f-token',
    });
    assert.deepEqual(result.result?.p, { step: 'p', token: 'p-token' });
    assert.equal(entry(result, 'b').group, 'bc');
    assert.equal(entry(result, 'h').group, 'gh');
    assert.ok(
      result.ledger.every(
        (e) => e.kind === 'step' && e.status === 'completed' && e.attempts === 0 && e.startedAt && e.endedAt,
      ),
    );
  });

  // Which compensations run, by failing step: a stage's compensations run after every later stage's.
  const failures: { at: string; input?: EngineInput; type: string; stages: string[][] }[] = [
    { at: 'a', type: 'Rejected', stages: [['undo-a']] },
    { at: 'b', type: 'Rejected', stages: [['undo-b', 'undo-c'], ['undo-a']] },
    { at: 'c', type: 'Rejected', stages: [['undo-b', 'undo-c'], ['undo-a']] },
    {
      at: 'slow',
      input: { slowFor: '2h' },
      type: STEP_TIMEOUT,
      stages: [['undo-slow'], ['undo-b', 'undo-c'], ['undo-a']],
    },
    { at: 'p', type: 'Rejected', stages: [['undo-p'], ['undo-slow'], ['undo-b', 'undo-c'], ['undo-a']] },
  ];
  for (const f of failures) {
    it(`fails at ${f.at}: compensates it and everything before it, stage by stage in reverse`, async () => {
      const { result, s } = await run(f.input ? {} : { [f.at]: 'reject' }, f.input);
      assert.equal(result.status, 'compensated');
      assert.equal(result.failure?.step, f.at);
      assert.equal(result.failure?.type, f.type);
      const undone = s.names('undo');
      assert.deepEqual(undone.length, f.stages.flat().length, 'each compensation ran exactly once');
      let i = 0;
      for (const stage of f.stages) {
        assert.deepEqual(
          undone.slice(i, i + stage.length).sort(),
          stage,
          `stage ${stage.join('+')} in order`,
        );
        i += stage.length;
      }
      assert.deepEqual([...result.compensations].sort(), f.stages.flat().sort());
      assert.ok(!s.names('act').includes('f'), 'nothing after the failure ran');
      // A compensation gets its step's result when the step completed, nothing when its outcome is unknown.
      const undoA = s.calls.find((c) => c.name === 'undo-a');
      assert.deepEqual(undoA?.result, f.at === 'a' ? undefined : { step: 'a', token: 'a-token' });
      assert.equal(entry(result, f.at).status, 'compensated');
    });
  }

  it('a saga-level step deadline fires on a workflow timer (time-skipped) and names the step', async () => {
    const t0 = Date.now();
    const { result } = await run({}, { slowFor: '2h' });
    assert.equal(result.failure?.type, STEP_TIMEOUT);
    assert.match(result.failure?.message ?? '', /step slow did not finish within 3600000 ms/);
    assert.match(entry(result, 'slow').lastError ?? '', /StepTimeout/);
    assert.ok(Date.now() - t0 < 60_000, 'an hour of workflow time passed without waiting for it');
  });

  it('compensates in parallel when asked: every compensation is scheduled before any completes', async () => {
    const scheduledBeforeFirstDone = async (
      h: WorkflowHandle,
    ): Promise<{ scheduled: number; total: number }> => {
      const events = (await h.fetchHistory()).events ?? [];
      const undoIds = new Set(
        events
          .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'undo')
          .map((e) => String(e.eventId)),
      );
      const firstDone = events.findIndex((e) =>
        undoIds.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? '')),
      );
      const scheduled = events.slice(0, firstDone).filter((e) => undoIds.has(String(e.eventId))).length;
      return { scheduled, total: undoIds.size };
    };
    const parallel = await run({ p: 'reject' }, { options: { compensation: 'parallel' } });
    assert.equal(parallel.result.status, 'compensated');
    const par = await scheduledBeforeFirstDone(parallel.h);
    assert.deepEqual(par, { scheduled: 5, total: 5 });
    const reverse = await run({ p: 'reject' });
    const rev = await scheduledBeforeFirstDone(reverse.h);
    assert.deepEqual(rev, { scheduled: 1, total: 5 }, 'the default waits for each stage before the next');
  });

  it('when one step of a group fails, the group waits for its other steps, then compensates all of them together', async () => {
    // c needs a retry (1s backoff, time-skipped) and so finishes after b has failed.
    const { result, s } = await run({ b: 'reject', c: ['fail', 'ok'] });
    assert.equal(result.status, 'compensated');
    assert.equal(result.failure?.step, 'b');
    const order = s.calls.map((c) => `${c.name}#${c.activityAttempt}`);
    assert.ok(
      order.indexOf('c#2') < order.indexOf('undo-b#1'),
      'c finished before the group was compensated',
    );
    assert.deepEqual(s.names('undo').slice(0, 2).sort(), ['undo-b', 'undo-c']);
    assert.deepEqual(s.calls.find((c) => c.name === 'undo-c')?.result, { step: 'c', token: 'c-token' });
    assert.equal(
      s.calls.find((c) => c.name === 'undo-b')?.result,
      undefined,
      'the failed step has no result',
    );
  });

  // Cancellation: before the pivot every started step is compensated; from the pivot on, the saga finishes.
  const cancels: { at: string; compensated?: string[][] }[] = [
    { at: 'a', compensated: [['undo-a']] },
    { at: 'b', compensated: [['undo-b', 'undo-c'], ['undo-a']] },
    { at: 'c', compensated: [['undo-b', 'undo-c'], ['undo-a']] },
    { at: 'slow', compensated: [['undo-slow'], ['undo-b', 'undo-c'], ['undo-a']] },
    { at: 'p' },
    { at: 'f' },
    { at: 'g' },
  ];
  for (const c of cancels) {
    const what = c.compensated
      ? 'compensates every started step and ends compensated'
      : 'cannot go back: it finishes forward';
    it(`cancelled while ${c.at} runs: ${what}`, async () => {
      const { result, s } = await run({ [c.at]: 'block' }, {}, async (h, st) => {
        await st.started(c.at);
        // Cancel once the workflow has seen every other running step finish: a cancellation racing an activity
        // that completes at the same moment trips the test server (ACTIVITY_UNKNOWN; a real server ignores it).
        await waitForProgress(
          h,
          (p) =>
            p.ledger.some((e) => e.name === c.at) &&
            p.ledger.every((e) => e.name === c.at || e.status !== 'running'),
          `only ${c.at} running`,
        );
        await h.cancel();
        // Past the pivot nothing compensates (and so nothing releases the blocked attempt): let it finish.
        if (!c.compensated) st.release();
      });
      if (c.compensated) {
        assert.equal(result.status, 'compensated');
        assert.equal(result.cancelled, true);
        assert.equal(result.failure?.step, c.at);
        const undone = s.names('undo');
        let i = 0;
        for (const stage of c.compensated) {
          assert.deepEqual(undone.slice(i, i + stage.length).sort(), stage);
          i += stage.length;
        }
        assert.equal(undone.length, i);
        assert.ok(!s.names('act').includes('p'), 'the pivot never started');
      } else {
        assert.equal(result.status, 'completed');
        assert.equal(result.cancelled, undefined);
        assert.deepEqual(s.names('undo'), []);
        assert.deepEqual([...result.steps].sort(), ['a', 'b', 'c', 'f', 'g', 'h', 'p', 'slow']);
      }
    });
  }

  it('a compensation that fails twice inside its activity retry budget then succeeds: compensated, no operator', async () => {
    const { result, s } = await run({ a: 'reject', 'undo-a': ['fail', 'fail', 'ok'] });
    assert.equal(result.status, 'compensated');
    assert.deepEqual(
      s.calls.filter((c) => c.name === 'undo-a').map((c) => c.activityAttempt),
      [1, 2, 3],
    );
    assert.equal(entry(result, 'undo-a').attempts, 0, 'one invocation, retried by Temporal');
    assert.equal(entry(result, 'undo-a').status, 'compensated');
  });

  it('a compensation whose retry budget runs out twice is re-invoked by the engine (compensationRetry) and recovers', async () => {
    const fails: Behaviour[] = Array.from({ length: 6 }, () => 'fail');
    const { result, s } = await run(
      { a: 'reject', 'undo-a': [...fails, 'ok'] },
      { options: { compensationRetry: { maximumAttempts: 3, initialInterval: '10m' } } },
    );
    assert.equal(result.status, 'compensated');
    const undoA = s.calls.filter((c) => c.name === 'undo-a');
    assert.deepEqual(
      undoA.map((c) => c.attempt),
      [1, 1, 1, 2, 2, 2, 3],
      'three engine invocations of three activity attempts',
    );
    assert.equal(entry(result, 'undo-a').attempts, 2);
    assert.match(entry(result, 'undo-a').lastError ?? '', /Transient: undo-a failed \(call 6\)/);
  });

  it('rejects an operator decision when nothing is parked', async () => {
    await run({ a: 'block' }, {}, async (h, st) => {
      await st.started('a');
      await assert.rejects(
        resolve(h, { action: 'retry' }),
        rejectedWith(/not needs-operator: nothing to resolve/),
      );
      const p = await h.query(sagaProgressQuery);
      assert.equal(p.status, 'running');
      assert.equal(entry(p, 'a').status, 'running');
      st.release();
    });
  });

  // After the pivot: forward steps are retried until they succeed, or parked for an operator.
  it('a forward step after the pivot that keeps failing is retried by the engine (durable backoff) until it succeeds', async () => {
    const { result, s } = await run(
      { f: ['fail', 'fail', 'fail', 'fail', 'fail', 'ok'] },
      { options: { forwardRetry: { initialInterval: '10m' } } },
    );
    assert.equal(result.status, 'completed');
    assert.deepEqual(
      s.calls.filter((c) => c.name === 'f').map((c) => c.attempt),
      [1, 1, 2, 2, 3, 3],
    );
    assert.equal(entry(result, 'f').attempts, 2);
    assert.deepEqual(s.names('undo'), []);
  });

  // needs-operator: a compensation (or post-pivot step) that cannot succeed parks until an operator decides.
  const parking = (plan: Plan, input: EngineInput, drive: Parameters<typeof runOn>[3]) =>
    runOn(harness, plan, input, drive, { parks: true });

  it('needs-operator -> retry: the ledger query shows the parked compensation; retry re-runs it', async () => {
    const { result, s } = await parking({ a: 'reject', 'undo-a': 'broken' }, {}, async (h, st) => {
      const p = await parked(h, 'undo-a');
      const e = entry(p, 'undo-a');
      assert.equal(e.kind, 'compensation');
      assert.equal(e.undoes, 'a');
      assert.equal(e.attempts, 1);
      assert.match(e.lastError ?? '', /^Broken: undo-a is broken/);
      assert.ok(e.startedAt && !e.endedAt);
      assert.equal(p.failure?.step, 'a');
      st.plan['undo-a'] = 'ok';
      const after = await resolve(h, { action: 'retry', operator: 'olga' });
      assert.notEqual(after.status, 'needs-operator');
      assert.equal(entry(after, 'undo-a').resolution?.action, 'retry');
    });
    assert.equal(result.status, 'compensated');
    assert.deepEqual(result.compensations, ['undo-a']);
    assert.equal(s.calls.filter((c) => c.name === 'undo-a').length, 2);
    const resolution = entry(result, 'undo-a').resolution;
    assert.equal(resolution?.action, 'retry');
    assert.equal(resolution?.operator, 'olga');
    assert.ok(resolution?.at);
  });

  it('needs-operator -> skip: a reason is required; skipped compensations are recorded, not run', async () => {
    const { result, s } = await parking({ b: 'reject', 'undo-c': 'broken' }, {}, async (h) => {
      await parked(h, 'undo-c');
      await assert.rejects(resolve(h, { action: 'skip' }), rejectedWith(/skip needs a reason/));
      await assert.rejects(resolve(h, { action: 'undo' }), rejectedWith(/retry, skip or abort/));
      await assert.rejects(resolve(h, { action: 'retry', step: 'a' }), rejectedWith(/'a' is not waiting/));
      await resolve(h, { action: 'skip', reason: 'released the car by phone', operator: 'olga', step: 'c' });
    });
    assert.equal(result.status, 'compensated');
    assert.deepEqual([...result.compensations].sort(), ['undo-a', 'undo-b']);
    const c = entry(result, 'undo-c');
    assert.equal(c.status, 'skipped');
    assert.equal(c.lastError, 'skipped by olga: released the car by phone');
    assert.equal(
      s.calls.filter((x) => x.name === 'undo-c').length,
      1,
      'the skipped compensation was not run again',
    );
  });

  it('needs-operator -> abort: compensation stops, the saga ends aborted', async () => {
    const { result, s } = await parking({ b: 'reject', 'undo-b': 'broken' }, {}, async (h) => {
      await parked(h, 'undo-b');
      await resolve(h, { action: 'abort', reason: 'will be reconciled by finance', operator: 'olga' });
    });
    assert.equal(result.status, 'aborted');
    assert.ok(!s.names('undo').includes('undo-a'), 'the next stage was not compensated');
    assert.equal(entry(result, 'undo-b').status, 'failed');
    assert.match(entry(result, 'undo-b').lastError ?? '', /aborted by olga: will be reconciled by finance/);
    assert.deepEqual(result.compensations, ['undo-c'], 'the rest of its own group had already run');
  });

  it('a compensation that keeps failing (retryable) parks once its budget is spent', async () => {
    const { result, s } = await parking({ a: 'reject', 'undo-a': 'fail' }, {}, async (h) => {
      await parked(h, 'undo-a');
      await resolve(h, { action: 'skip', reason: 'done by hand' });
    });
    assert.equal(result.status, 'compensated');
    assert.equal(
      s.calls.filter((c) => c.name === 'undo-a').length,
      3,
      'the activity retry budget (3 attempts) was spent first',
    );
  });

  for (const action of ['retry', 'skip', 'abort'] as const) {
    it(`a forward step that cannot succeed parks the saga; operator ${action}`, async () => {
      const { result, s } = await parking({ f: 'reject' }, {}, async (h, st) => {
        await parked(h, 'f');
        st.plan.f = 'ok';
        await resolve(h, { action, reason: action === 'skip' ? 'confirmed by phone' : undefined });
      });
      assert.deepEqual(s.names('undo'), [], 'nothing is compensated after the pivot');
      const f = entry(result, 'f');
      if (action === 'abort') {
        assert.equal(result.status, 'aborted');
        assert.equal(result.failure?.step, 'f');
        assert.ok(!s.names('act').includes('g'));
      } else {
        assert.equal(result.status, 'completed');
        assert.equal(f.status, action === 'retry' ? 'completed' : 'skipped');
        const g = s.calls.find((c) => c.name === 'g');
        assert.equal(g?.seen, action === 'retry' ? 'f-token' : undefined, 'a skipped step has no result');
      }
    });
  }

  it('a forward step whose engine budget (retry.maximumAttempts) is spent parks for an operator', async () => {
    const { result, s } = await parking(
      { f: 'fail' },
      { options: { forwardRetry: { initialInterval: '50ms', maximumAttempts: 2 } } },
      async (h) => {
        await parked(h, 'f');
        await resolve(h, { action: 'skip', reason: 'sent by hand' });
      },
    );
    assert.equal(result.status, 'completed');
    assert.equal(entry(result, 'f').attempts, 2);
    assert.equal(s.calls.filter((c) => c.name === 'f').length, 4, 'two invocations of two activity attempts');
  });

  // ---------------------------------------------------------------------------------------- issue 9 regressions
  it('resolve after cancel: the decision is applied and reported as applied (issue 9 item 3)', async () => {
    const { result } = await parking({ a: 'block', 'undo-a': 'broken' }, {}, async (h, st) => {
      await st.started('a');
      await waitForProgress(h, (p) => entry(p, 'a').status === 'running', 'a running');
      await h.cancel();
      await parked(h, 'undo-a');
      const after = await resolve(h, { action: 'skip', reason: 'released by hand', operator: 'olga' });
      assert.equal(entry(after, 'undo-a').status, 'skipped', 'the answer shows the decision took effect');
    });
    assert.equal(result.status, 'compensated');
    assert.equal(result.cancelled, true);
    assert.equal(entry(result, 'undo-a').resolution?.operator, 'olga');
  });

  it('two concurrent resolves of one parked entry: never both applied, each answer true (issue 9 item 3)', async () => {
    const { result, h } = await parking({ a: 'reject', 'undo-a': 'broken' }, {}, async (h) => {
      await parked(h, 'undo-a');
      const outcomes = await Promise.allSettled([
        resolve(h, { action: 'skip', reason: 'one', operator: 'first' }),
        resolve(h, { action: 'skip', reason: 'two', operator: 'second' }),
      ]);
      const applied = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      assert.ok(applied.length <= 1, 'at most one decision is applied');
      for (const o of outcomes)
        if (o.status === 'rejected')
          assert.ok(
            rejectedWith(/already pending|nothing to resolve|not waiting/)(o.reason),
            String(o.reason),
          );
      const now = await h.query(sagaProgressQuery);
      if (applied.length === 1) {
        // The applied one is the one recorded; the refused one changed nothing.
        assert.equal(entry(now, 'undo-a').resolution?.operator, applied[0] === 0 ? 'first' : 'second');
      } else {
        // Both refused (each told "nothing changed"): and indeed the entry still waits.
        assert.equal(entry(now, 'undo-a').status, 'needs-operator');
        await resolve(h, { action: 'skip', reason: 'three', operator: 'third' });
      }
    });
    assert.equal(result.status, 'compensated');
    assert.equal(result.ledger.filter((e) => e.resolution).length, 1, 'one decision recorded');
    // Resolve after completion: refused, nothing changed.
    await assert.rejects(resolve(h, { action: 'retry' }));
  });

  it('a forward step that keeps failing has a finite default budget, then parks (issue 9 item 4)', async () => {
    const { result, s } = await parking({ f: 'fail' }, {}, async (h) => {
      // Days of (time-skipped) retries: an unbounded default would still be retrying, growing its history.
      await harness.env.sleep('3d');
      await parked(h, 'f');
      await resolve(h, { action: 'skip', reason: 'sent by hand' });
    });
    assert.equal(result.status, 'completed');
    assert.ok(entry(result, 'f').attempts >= 2, 'retried by the engine before parking');
    assert.ok(s.calls.filter((c) => c.name === 'f').length < 100);
  });

  it('a forward step failing for long continues-as-new, carrying the ledger and results (issue 9 item 4)', async () => {
    const fails: Behaviour[] = Array.from({ length: 8 }, () => 'fail');
    const { result, s, h } = await run(
      { f: [...fails, 'ok'] },
      {
        options: {
          forwardRetry: { initialInterval: '1m', maximumAttempts: 10 },
          continueAsNewAfterEvents: 60,
        },
      },
    );
    assert.equal(result.status, 'completed');
    const latest = await h.describe();
    const first = (h as WorkflowHandleWithFirstExecutionRunId).firstExecutionRunId;
    assert.notEqual(latest.runId, first, 'the saga continued as new');
    assert.equal(entry(result, 'f').attempts, 4, 'the failures before and after continue-as-new are counted');
    assert.deepEqual(
      s.calls.filter((c) => c.name === 'f').map((c) => c.attempt),
      [1, 1, 2, 2, 3, 3, 4, 4, 5],
      'engine invocation numbers carry on across runs',
    );
    assert.deepEqual(
      result.result?.p,
      { step: 'p', token: 'p-token' },
      'results from before the pivot carried',
    );
    assert.ok(['a', 'p', 'f', 'g', 'h'].every((n) => result.steps.includes(n)));
    assert.equal(s.names('act').filter((n) => n === 'p').length, 1, 'the pivot ran once');
    assert.ok(
      s.calls.filter((c) => c.name === 'f').every((c) => c.run === first),
      'every run of the chain keeps the barrier keys of its first run',
    );
  });

  it('a chain started before run-bound barrier keys keeps its (workflow id, step) keys after continue-as-new', async () => {
    // What a legacy execution (no run in its checkpoint) hands to the run it continues as.
    const { result, s } = await run(
      {},
      {
        resume: {
          stage: engineDefinition.stages.findIndex((st) => st.steps.some((x) => x.name === 'f')),
          ledger: [],
          results: { p: { step: 'p', token: 'p-token' } },
          completed: ['a', 'b', 'c', 'slow', 'p'],
        },
      },
    );
    assert.equal(result.status, 'completed');
    const f = s.calls.filter((c) => c.name === 'f');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.run, undefined, 'no switch to new keys mid-saga (a forward step would run twice)');
  });

  it('an abort racing a retry leaves no entry parked in the finished saga (issue 9 item 9)', async () => {
    const { result } = await parking(
      { b: 'reject', 'undo-b': 'broken', 'undo-c': 'broken' },
      {},
      async (h) => {
        await parked(h, 'undo-b');
        await parked(h, 'undo-c');
        // Both decisions sent at once: they may reach the workflow in one activation.
        const abort = { action: 'abort', step: 'b', reason: 'finance reconciles' };
        await Promise.allSettled([resolve(h, abort), resolve(h, { action: 'retry', step: 'c' })]);
        // The time-skipping server fails the workflow task an update arrives during (UNHANDLED_COMMAND) and then
        // drops that update: the saga would stay parked until its execution timeout. What it dropped is sent again
        // (only the abort matters: while undo-b is parked, it was not applied).
        const now = await h.query(sagaProgressQuery);
        if (now.ledger.some((e) => e.name === 'undo-b' && e.status === 'needs-operator'))
          await resolve(h, abort);
      },
    );
    assert.equal(result.status, 'aborted');
    assert.deepEqual(
      result.ledger
        .filter((e) => e.status === 'needs-operator' || e.status === 'compensating')
        .map((e) => e.name),
      [],
    );
  });
});
