// The saga's search attributes: SettlePattern / SettleBusinessKey once at start, SettleStatus and
// SettleNeedsOperator whenever they change (an upsert is a history command, so only on change).
//
// Since the `settle-search-attributes-on-change` patch, a value the client already set when it started the
// workflow (`settle order place` sets pattern, business key and status `running`) is not written again, and
// the start-time writes go out as one upsert: a saga started that way upserts once, its final status.
// Histories recorded before the patch replay the old writes (two upserts at start).
import { patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SA, type Pattern, type SagaStatus } from '../../shared';

export const SA_ON_CHANGE_PATCH = 'settle-search-attributes-on-change';

type Pairs = Extract<Parameters<typeof upsertSearchAttributes>[0], unknown[]>;

export class SagaSearchAttributes {
  private shown: { status?: SagaStatus; needsOperator?: boolean } = {};
  /** Patched behaviour: compare with what is shown, write only differences. */
  private onChange = false;
  /** Start-time pairs held back to go out with the first status in one upsert. */
  private pending: Pairs = [];
  constructor(private readonly enabled: boolean) {}

  /** Written once, when the saga starts. */
  identify(pattern: Pattern, businessKey: string | undefined): void {
    if (!this.enabled) return;
    this.onChange = patched(SA_ON_CHANGE_PATCH);
    if (!this.onChange) {
      const pairs: Pairs = [{ key: SA.pattern, value: pattern }];
      if (businessKey) pairs.push({ key: SA.businessKey, value: businessKey });
      upsertSearchAttributes(pairs);
      return;
    }
    const atStart = workflowInfo().typedSearchAttributes;
    if (atStart.get(SA.pattern) !== pattern) this.pending.push({ key: SA.pattern, value: pattern });
    if (businessKey && atStart.get(SA.businessKey) !== businessKey)
      this.pending.push({ key: SA.businessKey, value: businessKey });
    this.shown = {
      status: atStart.get(SA.status) as SagaStatus | undefined,
      needsOperator: atStart.get(SA.needsOperator),
    };
  }

  status(s: SagaStatus): void {
    const needsOperator = s === 'needs-operator';
    // An unset SettleNeedsOperator reads as false everywhere (`= true` filters, `=== true` checks): unset -> false
    // alone is no reason to write; it goes out with the next status write.
    const operatorChanged = (this.shown.needsOperator ?? false) !== needsOperator;
    if (!this.enabled || (this.shown.status === s && !operatorChanged)) {
      this.flush([]);
      return;
    }
    if (!this.onChange) {
      upsertSearchAttributes([
        { key: SA.status, value: s },
        { key: SA.needsOperator, value: needsOperator },
      ]);
    } else {
      const pairs: Pairs = [];
      if (this.shown.status !== s) pairs.push({ key: SA.status, value: s });
      if (this.shown.needsOperator !== needsOperator)
        pairs.push({ key: SA.needsOperator, value: needsOperator });
      this.flush(pairs);
    }
    this.shown = { status: s, needsOperator };
  }

  /** One upsert for the held-back start-time pairs and these, if there is anything to write. */
  private flush(pairs: Pairs): void {
    const all = [...this.pending, ...pairs];
    this.pending = [];
    if (all.length) upsertSearchAttributes(all);
  }
}
