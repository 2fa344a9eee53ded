// Test-only workflows for test/workflows/saga-engine.test.ts: one saga that uses every feature of the library
// (sequential steps, a parallel group, a step with a saga-level deadline, a pivot with its own compensation,
// forward-only steps and a forward parallel group), on two generic stub activities the test controls.
// Bundled separately from the production workflows.
import { continueAsNew, proxyActivities, sleep } from '@temporalio/workflow';
import type { SagaResult } from '../../shared';
import { defineSaga, runSaga, type RunSagaOptions, type SagaCheckpoint } from '../../workflows/saga';

export const ENGINE_QUEUE = 'saga-engine-test';

export interface ActCall {
  step: string;
  attempt: number;
  /** What the step received from earlier steps (typed results). */
  seen?: unknown;
  /** The saga run the step's barrier key is bound to (StepContext.run). */
  run?: string;
}
export interface UndoCall {
  step: string;
  compensation: string;
  attempt: number;
  /** The step's own result as the compensation received it (undefined when the outcome was unknown). */
  result?: unknown;
}
export interface Token {
  step: string;
  token: string;
}
export interface EngineActivities {
  act(call: ActCall): Promise<Token>;
  undo(call: UndoCall): Promise<{ state: 'applied' | 'noop' }>;
}

const fwd = proxyActivities<EngineActivities>({
  taskQueue: ENGINE_QUEUE,
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', maximumAttempts: 2, nonRetryableErrorTypes: ['Rejected'] },
});
const comp = proxyActivities<EngineActivities>({
  taskQueue: ENGINE_QUEUE,
  startToCloseTimeout: '10s',
  retry: { initialInterval: '100ms', maximumAttempts: 3, nonRetryableErrorTypes: ['Broken'] },
});

export interface EngineInput {
  /** The `slow` step takes this long (a workflow timer) against its 1h saga-level deadline. */
  slowFor?: '2h';
  options?: Omit<RunSagaOptions, 'searchAttributes' | 'continueAsNew' | 'resume'>;
  /** Carried by continue-as-new. */
  resume?: SagaCheckpoint;
}

const undo = (compensation: string) => (ctx: { step: string; attempt: number }, result: Token | undefined) =>
  comp.undo({ step: ctx.step, compensation, attempt: ctx.attempt, result });

export const engineDefinition = defineSaga<EngineInput>('engine')
  .step('a', {
    run: ({ attempt }) => fwd.act({ step: 'a', attempt }),
    compensate: undo('undo-a'),
    compensationName: 'undo-a',
  })
  .parallel('bc', (g) =>
    g
      .step('b', {
        run: ({ results, attempt }) => fwd.act({ step: 'b', attempt, seen: results.a.token }),
        compensate: undo('undo-b'),
        compensationName: 'undo-b',
      })
      .step('c', {
        run: ({ results, attempt }) => fwd.act({ step: 'c', attempt, seen: results.a.token }),
        compensate: undo('undo-c'),
        compensationName: 'undo-c',
      }),
  )
  .step('slow', {
    timeout: '1h',
    run: async ({ input, attempt }) => {
      if (input.slowFor) await sleep(input.slowFor);
      return fwd.act({ step: 'slow', attempt });
    },
    compensate: undo('undo-slow'),
    compensationName: 'undo-slow',
  })
  .pivot('p', {
    run: ({ results, attempt }) => fwd.act({ step: 'p', attempt, seen: [results.b.token, results.c.token] }),
    compensate: undo('undo-p'),
    compensationName: 'undo-p',
  })
  .forward('f', {
    // Engine-level retries come from the run's options (RunSagaOptions.forwardRetry) so each test picks its own.
    run: ({ results, attempt, run }) => fwd.act({ step: 'f', attempt, seen: results.p.token, run }),
  })
  .parallel('gh', (g) =>
    g
      .forward('g', {
        run: ({ results, attempt }) => fwd.act({ step: 'g', attempt, seen: results.f?.token }),
      })
      .forward('h', {
        run: ({ results, attempt }) => fwd.act({ step: 'h', attempt, seen: results.f?.token }),
      }),
  )
  .build();

export type EngineResults = NonNullable<typeof engineDefinition._results>;

export async function engineSaga(input: EngineInput): Promise<SagaResult<EngineResults>> {
  return runSaga(engineDefinition, input, {
    ...input.options,
    searchAttributes: false,
    resume: input.resume,
    continueAsNew: (resume) => continueAsNew<typeof engineSaga>({ ...input, resume }),
  });
}
