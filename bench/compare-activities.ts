// The orchestrated saga's steps for `settle compare` (bench/compare-workflows.ts compareSaga), one factory per
// bank over its pool. Each step is idempotent and bound to the calling workflow: its key is the workflow id, so
// a retried attempt (a worker SIGKILLed after the commit, before the answer) never debits or credits twice.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { applyOnce, refundOnce } from '../services/compare';

export interface CompareStepInput {
  account: string;
  amountCents: number;
}

function workflowKey(step: string): string {
  const id = Context.current().info.workflowExecution?.workflowId;
  if (!id)
    throw ApplicationFailure.nonRetryable('a compare step runs only inside a workflow', 'CompareNoWorkflow');
  return `${id}:${step}`;
}

export function createCompareActivities(pool: Pool) {
  return {
    async compareDebit(input: CompareStepInput): Promise<string> {
      const outcome = await applyOnce(pool, {
        key: workflowKey('debit'),
        kind: 'debit',
        ...input,
        blockedBy: workflowKey('refund'),
      });
      if (outcome === 'blocked')
        throw ApplicationFailure.nonRetryable('the debit was already compensated', 'CompareCompensated');
      return outcome;
    },
    async compareCredit(input: CompareStepInput): Promise<string> {
      return applyOnce(pool, { key: workflowKey('credit'), kind: 'credit', ...input });
    },
    async compareRefund(input: CompareStepInput): Promise<string> {
      return refundOnce(pool, workflowKey('debit'), workflowKey('refund'), input.account, input.amountCents);
    },
  };
}

export type CompareActivities = ReturnType<typeof createCompareActivities>;
