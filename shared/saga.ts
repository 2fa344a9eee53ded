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
  /** Failed attempts seen by the workflow (activity retries inside one call are in history). */
  attempts: number;
  lastError?: string;
  startedAt?: string;
  endedAt?: string;
  /** For a compensation: true when the barrier found nothing to undo (a null compensation). */
  noop?: boolean;
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
}
export const resolveCompensationUpdate = defineUpdate<SagaProgress, [OperatorDecision]>(
  'resolveCompensation',
);
