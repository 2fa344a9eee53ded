// The saga's observable shape: the step ledger (queried by the CLI, shown in the Web UI) and the result.
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export type SagaStatus =
  'running' | 'compensating' | 'completed' | 'compensated' | 'needs-operator' | 'aborted';

export type LedgerStatus =
  | 'pending'
  | 'running'
  | 'completed'
  | 'failed'
  | 'compensating'
  | 'compensated'
  | 'skipped'
  | 'needs-operator';

export interface LedgerEntry {
  /** Step name (forward) or compensation name. */
  name: string;
  kind: 'step' | 'compensation';
  /** For a compensation: the step it undoes. */
  undoes?: string;
  status: LedgerStatus;
  /**
   * Failed invocations seen by the saga engine. One invocation is one call of the step's (or compensation's)
   * run function: the activity's own retries inside it are in history (and in `settle status` as pending
   * activities), so each count here is one *exhausted* retry budget, a saga-level step timeout, or a
   * non-retryable failure. It grows again with each engine re-try after the pivot and each operator `retry`.
   */
  attempts: number;
  lastError?: string;
  startedAt?: string;
  endedAt?: string;
  /** For a compensation: true when the barrier found nothing to undo (a null compensation). */
  noop?: boolean;
  /** The parallel group the step belongs to (its steps run concurrently and are compensated together). */
  group?: string;
  /** The last operator decision applied to this entry (also recorded in history as an update). */
  resolution?: { action: OperatorAction; reason?: string; operator?: string; at: string };
}

export interface SagaFailureInfo {
  step: string;
  type?: string;
  message: string;
}

export interface SagaResult<R = unknown> {
  status: Exclude<SagaStatus, 'running' | 'compensating'>;
  /** Forward steps that completed, in the order they ran. */
  steps: string[];
  /** Compensations that ran, in the order they ran. */
  compensations: string[];
  failure?: SagaFailureInfo;
  cancelled?: boolean;
  result?: R;
  ledger: LedgerEntry[];
}

export interface SagaProgress {
  status: SagaStatus;
  ledger: LedgerEntry[];
  failure?: SagaFailureInfo;
}

export const sagaProgressQuery = defineQuery<SagaProgress>('sagaProgress');

/** Operator decision for a saga parked in needs-operator. */
export type OperatorAction = 'retry' | 'skip' | 'abort';
export interface OperatorDecision {
  action: OperatorAction;
  /** Required for skip: what the operator did by hand. */
  reason?: string;
  operator?: string;
  /**
   * The parked entry to resolve (a compensation name or the step it undoes, or a forward step name). Optional:
   * by default the decision goes to the entry that has been waiting longest.
   */
  step?: string;
}
export const resolveCompensationUpdate = defineUpdate<SagaProgress, [OperatorDecision]>(
  'resolveCompensation',
);
