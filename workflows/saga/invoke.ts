// Invoking a step or compensation until it is done: engine-level backoff between invocations, then an operator
// once the budget is spent or the failure is non-retryable.
import { sleep } from '@temporalio/workflow';
import type { LedgerEntry } from '../../shared';
import { backoffMs, describeError, errorText, isNonRetryable } from './failures';
import { now, type SagaLedger } from './ledger';
import type { OperatorDesk } from './operator';
import type { BackoffPolicy } from './types';

export type InvokeOutcome =
  | { outcome: 'done'; value: unknown }
  | { outcome: 'skipped' | 'aborted' }
  /** Stopped at a retry point because the saga continues as new; the entry resumes in the next run. */
  | { outcome: 'paused' };

/**
 * Invoke `fn` until it succeeds, with engine-level backoff between invocations; when the budget is spent, or the
 * failure is non-retryable, ask an operator. Returns `skipped` / `aborted` when an operator said so.
 */
export async function untilDone(
  ledger: SagaLedger,
  desk: OperatorDesk,
  entry: LedgerEntry,
  policy: BackoffPolicy,
  fn: (attempt: number) => Promise<unknown>,
  running: LedgerEntry['status'],
  /** Asked before each engine-level backoff: true stops here (continue-as-new). */
  pause: () => boolean = () => false,
  /** Asked once the budget is spent: false keeps retrying (an execution from before the budget existed). */
  budgetApplies: () => boolean = () => true,
): Promise<InvokeOutcome> {
  // Counting on from the entry's failures: an entry resumed after continue-as-new keeps its invocation number.
  for (let attempt = entry.attempts + 1; ; attempt++) {
    if (desk.aborted) {
      // An abort (of another entry) that raced this entry's retry: the entry must not stay parked or running in
      // a finished saga's ledger.
      if (attempt > 1) {
        entry.status = 'failed';
        entry.endedAt = now();
        entry.lastError = 'not retried: the saga was aborted';
        desk.refreshStatus();
      }
      return { outcome: 'aborted' };
    }
    entry.status = running;
    ledger.publish();
    try {
      return { outcome: 'done', value: await fn(attempt) };
    } catch (err) {
      entry.attempts += 1;
      entry.lastError = errorText(describeError(err));
      const budget = policy.maximumAttempts ?? Infinity;
      if (!isNonRetryable(err) && (entry.attempts < budget || !budgetApplies())) {
        ledger.publish();
        if (pause()) return { outcome: 'paused' };
        await sleep(backoffMs(policy, entry.attempts));
        continue;
      }
      const d = await desk.awaitOperator(entry);
      if (d.action === 'retry') {
        desk.refreshStatus();
        continue;
      }
      entry.endedAt = now();
      const by = `${d.operator ?? 'operator'}${d.reason ? `: ${d.reason}` : ''}`;
      if (d.action === 'skip') {
        entry.status = 'skipped';
        entry.lastError = `skipped by ${by}`;
        desk.refreshStatus();
        return { outcome: 'skipped' };
      }
      entry.status = 'failed';
      entry.lastError = `aborted by ${by}`;
      desk.refreshStatus();
      return { outcome: 'aborted' };
    }
  }
}
