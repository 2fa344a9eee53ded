// The saga's search attributes: SettlePattern / SettleBusinessKey once at start, SettleStatus and
// SettleNeedsOperator whenever they change (an upsert is a history command, so only on change).
import { upsertSearchAttributes } from '@temporalio/workflow';
import { SA, type Pattern, type SagaStatus } from '../../shared';

export class SagaSearchAttributes {
  private shown: { status?: SagaStatus; needsOperator?: boolean } = {};
  constructor(private readonly enabled: boolean) {}

  /** Written once, when the saga starts. */
  identify(pattern: Pattern, businessKey: string | undefined): void {
    if (!this.enabled) return;
    const pairs: Parameters<typeof upsertSearchAttributes>[0] = [{ key: SA.pattern, value: pattern }];
    if (businessKey) pairs.push({ key: SA.businessKey, value: businessKey });
    upsertSearchAttributes(pairs);
  }

  status(s: SagaStatus): void {
    const needsOperator = s === 'needs-operator';
    if (!this.enabled || (this.shown.status === s && this.shown.needsOperator === needsOperator)) return;
    upsertSearchAttributes([
      { key: SA.status, value: s },
      { key: SA.needsOperator, value: needsOperator },
    ]);
    this.shown = { status: s, needsOperator };
  }
}
