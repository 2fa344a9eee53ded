// The compare run's workflow bundle: the product's workflows (transfer2pc, transferTcc) plus compareSaga, the
// orchestrated saga of `settle compare`. Like bench/workflows.ts it is bundled by the bench only: a saga that
// moves any amount between any two accounts has no business check, so production workers never register it.
import { proxyActivities } from '@temporalio/workflow';
import { BANK_QUEUES, NON_RETRYABLE } from '../shared';
import type { CompareActivities, CompareStepInput } from './compare-activities';

export interface CompareSagaInput {
  from: string;
  to: string;
  amountCents: number;
}

const bank = (queue: string, maximumAttempts?: number) =>
  proxyActivities<CompareActivities>({
    taskQueue: queue,
    startToCloseTimeout: '10s',
    retry: {
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: '5s',
      maximumAttempts,
      nonRetryableErrorTypes: [...NON_RETRYABLE, 'CompareCompensated'],
    },
  });
const bankA = bank(BANK_QUEUES['bank-a'], 5);
const bankB = bank(BANK_QUEUES['bank-b'], 5);
// A compensation retries until it succeeds: giving up would leave the money in neither account.
const bankAUndo = bank(BANK_QUEUES['bank-a']);

/** Debit at bank-a, then credit at bank-b; a failed step refunds the debit (a no-op when it never applied). */
export async function compareSaga(input: CompareSagaInput): Promise<'completed' | 'compensated'> {
  const from: CompareStepInput = { account: input.from, amountCents: input.amountCents };
  try {
    await bankA.compareDebit(from);
    await bankB.compareCredit({ account: input.to, amountCents: input.amountCents });
    return 'completed';
  } catch {
    // A debit that timed out may still have committed: the refund finds out from bank-a's ledger.
    await bankAUndo.compareRefund(from);
    return 'compensated';
  }
}

export * from '../workflows';
