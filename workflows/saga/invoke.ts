// Invoking a step or compensation until it is done: engine-level backoff between invocations, then an operator
// once the budget is spent or the failure is non-retryable.
import { sleep } from '@temporalio/workflow';
import type { LedgerEntry } from '../../shared';
import { backoffMs, describeError, errorText, isNonRetryable } from './failures';
import { now, type SagaLedger } from './ledger';
import type { OperatorDesk } from './operator';
import type { BackoffPolicy } from './types';

export type InvokeOutcome = { outcome: 'done'; value: unknown } | { outcome: 'skipped' | 'aborted' };

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
): Promise<InvokeOutcome> {
  for (let attempt = 1; ; attempt++) {
    if (desk.aborted) return { outcome: 'aborted' };
    entry.status = running;
    ledger.publish();
    try {
      return { outcome: 'done', value: await fn(attempt) };
    } catch (err) {
      entry.attempts += 1;
      entry.lastError = errorText(describeError(err));
      const budget = policy.maximumAttempts ?? Infinity;
      if (!isNonRetryable(err) && entry.attempts < budget) {
        ledger.publish();
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
