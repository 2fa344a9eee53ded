// Operator handling: entries parked in needs-operator, the `resolveCompensation` update that hands them a
// decision (retry / skip with a reason / abort), and the abort flag the rest of the saga honours.
import { CancellationScope, condition, setHandler } from '@temporalio/workflow';
import {
  resolveCompensationUpdate,
  sagaProgressQuery,
  type LedgerEntry,
  type OperatorDecision,
  type SagaProgress,
} from '../../shared';
import { now, type SagaLedger } from './ledger';

export class OperatorDesk {
  /** Entries waiting for an operator, oldest first. */
  private readonly parked: LedgerEntry[] = [];
  /** Decisions handed to parked entries by the update, not yet acted on by the engine. */
  private readonly decisions = new Map<LedgerEntry, OperatorDecision>();
  /** Set by an operator's abort (or the saga's own): no further step or compensation starts. */
  aborted = false;

  constructor(private readonly ledger: SagaLedger) {}

  /** Nothing waits for an operator and no decision is in flight (a quiet point, e.g. for continue-as-new). */
  get idle(): boolean {
    return this.parked.length === 0 && this.decisions.size === 0;
  }

  /** needs-operator while anything is parked, else the saga's phase. */
  refreshStatus(): void {
    this.ledger.setStatus(this.parked.length > 0 ? 'needs-operator' : this.ledger.phase);
  }

  private findParked(d: OperatorDecision): LedgerEntry | undefined {
    return d.step === undefined
      ? this.parked.find((e) => !this.decisions.has(e))
      : this.parked.find((e) => e.name === d.step || (e.kind === 'compensation' && e.undoes === d.step));
  }

  /** Register the progress query and the operator update. */
  install(): void {
    setHandler(sagaProgressQuery, () => this.ledger.progress());
    setHandler(
      resolveCompensationUpdate,
      async (decision): Promise<SagaProgress> => {
        const target = this.findParked(decision)!;
        this.decisions.set(target, decision);
        // Answer once the engine has acted on the decision, so the caller sees its effect. Non-cancellable: on a
        // cancelled saga the wait would otherwise reject with CancelledFailure after the decision was stored, and
        // the operator would be told nothing changed while it was applied.
        await CancellationScope.nonCancellable(() => condition(() => !this.decisions.has(target)));
        return this.ledger.progress();
      },
      { validator: (d: OperatorDecision) => this.validate(d) },
    );
  }

  private validate(d: OperatorDecision): void {
    const parked = this.parked;
    if (parked.length === 0)
      throw new Error(`saga is ${this.ledger.status}, not needs-operator: nothing to resolve`);
    if (!d || !['retry', 'skip', 'abort'].includes(d.action))
      throw new Error('action must be retry, skip or abort');
    if (d.action === 'skip' && !d.reason?.trim())
      throw new Error('skip needs a reason (what was done by hand)');
    if (d.reason !== undefined && d.reason.length > 1000)
      throw new Error('reason is longer than 1000 characters');
    const target = this.findParked(d);
    if (!target) {
      if (d.step !== undefined)
        throw new Error(
          `'${d.step}' is not waiting for an operator (waiting: ${parked.map((e) => e.name).join(', ')})`,
        );
      throw new Error('a decision is already pending for every parked step');
    }
    if (this.decisions.has(target)) throw new Error(`a decision for '${target.name}' is already pending`);
  }

  /** Park `entry` until an operator decides; the decision is applied to the entry's ledger record. */
  async awaitOperator(entry: LedgerEntry): Promise<OperatorDecision> {
    entry.status = 'needs-operator';
    this.parked.push(entry);
    this.refreshStatus();
    await condition(() => this.decisions.has(entry) || this.aborted);
    const decision: OperatorDecision = this.decisions.get(entry) ?? {
      action: 'abort',
      reason: 'the saga was aborted',
    };
    this.decisions.delete(entry);
    this.parked.splice(this.parked.indexOf(entry), 1);
    entry.resolution = {
      action: decision.action,
      reason: decision.reason,
      operator: decision.operator,
      at: now(),
    };
    if (decision.action === 'abort') this.aborted = true;
    return decision;
  }
}
