// Glue between Temporal activities and the participant-side barrier: the global transaction id is the
// workflow id, the branch is the saga step, so every retry of a step, by any worker, hits the same key.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool, PoolClient } from 'pg';
import {
  barrierAction,
  barrierCompensation,
  BarrierRejectedError,
  type BranchKey,
  type CompensationOutcome,
} from '../services/barrier';
import { BusinessRejection } from '../services/shop';
import { ERR } from '../shared';
import { guardAttempt } from './attempt';

/** Test and demo hooks: called inside an activity, they can throw to simulate faults. */
export interface FaultHooks {
  /** After the local transaction committed, before the activity returns (a "crash after commit"). */
  afterCommit?(step: string, attempt: number): void | Promise<void>;
  /** Before the local transaction starts. */
  beforeAction?(step: string, attempt: number): void | Promise<void>;
  /**
   * Inside the local transaction, after the business change and the barrier row, before COMMIT: an attempt that
   * is still "in flight" (its rows locked, nothing committed) when the workflow gives up on it.
   */
  beforeCommit?(step: string, attempt: number): void | Promise<void>;
}

export interface StepRef {
  /** The saga step (branch) name; with the workflow id (and run) it is the idempotency key. */
  step: string;
  /**
   * The saga run (StepContext.run): binds the key to one run, so a later run reusing the business id never
   * meets this run's barrier rows. Absent for sagas started before keys were bound to runs.
   */
  run?: string;
}

export function branchKey(ref: StepRef): BranchKey {
  const wf = Context.current().info.workflowExecution;
  if (!wf)
    throw new Error(
      'saga activities must be called from a workflow (their idempotency key is the workflow id)',
    );
  return { gid: ref.run ? `${wf.workflowId}/${ref.run}` : wf.workflowId, branch: ref.step };
}

/** Business rejections and barrier refusals are final; everything else (I/O) is retried by Temporal. */
export function translateError(err: unknown): never {
  if (err instanceof BusinessRejection) throw ApplicationFailure.nonRetryable(err.message, err.type);
  if (err instanceof BarrierRejectedError)
    throw ApplicationFailure.nonRetryable(err.message, ERR.barrierRejected);
  throw err;
}

export interface ActionResult<T> {
  state: 'applied' | 'duplicate';
  result: T;
}

/** Heartbeating, cancellable and deadline-bound (activities/attempt.ts): an abandoned attempt rolls back. */
export async function runAction<T>(
  pool: Pool,
  ref: StepRef,
  hooks: FaultHooks | undefined,
  action: (tx: PoolClient) => Promise<T>,
  inject?: boolean,
): Promise<ActionResult<T>> {
  const { step } = ref;
  const attempt = Context.current().info.attempt;
  const guard = guardAttempt();
  let outcome;
  try {
    await hooks?.beforeAction?.(step, attempt);
    outcome = await barrierAction(
      pool,
      branchKey(ref),
      async (tx) => {
        const result = await action(tx);
        // Injected after the write, inside the transaction: the rollback is part of what is demonstrated.
        if (inject) throw ApplicationFailure.nonRetryable(`injected failure at ${step}`, ERR.injected);
        await hooks?.beforeCommit?.(step, attempt);
        return result;
      },
      // A saga never goes forward on a step that was undone (a reset run meets the earlier run's rows).
      { signal: guard.signal, afterCompensation: 'refuse' },
    );
  } catch (err) {
    translateError(err);
  } finally {
    guard.dispose();
  }
  await hooks?.afterCommit?.(step, attempt);
  return outcome;
}

export async function runCompensation<T>(
  pool: Pool,
  ref: StepRef,
  compensate: (tx: PoolClient, actionResult: T) => Promise<void>,
): Promise<CompensationOutcome> {
  const guard = guardAttempt();
  try {
    return await barrierCompensation(pool, branchKey(ref), compensate, { signal: guard.signal });
  } catch (err) {
    translateError(err);
  } finally {
    guard.dispose();
  }
}
