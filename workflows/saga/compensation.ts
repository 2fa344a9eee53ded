// The way back: registered compensations run in reverse stage order (a parallel group's together), or all at
// once when asked, inside a non-cancellable scope so that a cancelled saga is compensated, not abandoned.
import { CancellationScope } from '@temporalio/workflow';
import type { LedgerEntry } from '../../shared';
import { untilDone } from './invoke';
import { now, type SagaLedger } from './ledger';
import type { OperatorDesk } from './operator';
import type { AnyCtx, BackoffPolicy, StepDef } from './types';

/** A compensation registered for a step, with the step's own ledger entry (marked compensated when it ran). */
export interface Registered {
  step: StepDef;
  entry: LedgerEntry;
}

export interface CompensationRun {
  ledger: SagaLedger;
  desk: OperatorDesk;
  results: Record<string, unknown>;
  ctxFor: (step: string, attempt?: number) => AnyCtx;
  policy: BackoffPolicy;
  order: 'reverse' | 'parallel';
}

/** Run every registered compensation; returns the names of those that ran, in the order they finished. */
export async function compensateAll(registered: Registered[][], run: CompensationRun): Promise<string[]> {
  const { ledger, desk, results, ctxFor, policy } = run;
  const compensations: string[] = [];

  const compensateOne = async ({ step, entry }: Registered): Promise<void> => {
    const name = step.compensationName ?? `undo-${step.name}`;
    const c = ledger.startCompensation(step, name);
    const r = await untilDone(
      ledger,
      desk,
      c,
      policy,
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
    ledger.publish();
  };

  await CancellationScope.nonCancellable(async () => {
    const stages = [...registered].reverse();
    if (run.order === 'parallel') {
      await Promise.all(stages.flat().map(compensateOne));
      return;
    }
    for (const stage of stages) {
      await Promise.all(stage.map(compensateOne));
      if (desk.aborted) break;
    }
  });
  return compensations;
}
