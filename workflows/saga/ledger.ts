// The saga's step ledger and status: what `sagaProgress` answers, what the Web UI shows as current details,
// and what the search attributes mirror.
import { setCurrentDetails } from '@temporalio/workflow';
import type { LedgerEntry, SagaFailureInfo, SagaProgress, SagaStatus } from '../../shared';
import type { SagaSearchAttributes } from './search-attributes';
import type { StepDef } from './types';

export const now = (): string => new Date().toISOString();

export class SagaLedger {
  readonly entries: LedgerEntry[] = [];
  status: SagaStatus = 'running';
  /** What the saga is doing when no entry waits for an operator. */
  phase: 'running' | 'compensating' = 'running';
  failure: SagaFailureInfo | undefined;

  constructor(
    private readonly sagaName: string,
    private readonly searchAttributes: SagaSearchAttributes,
  ) {}

  progress(): SagaProgress {
    return { status: this.status, ledger: this.entries.map((e) => ({ ...e })), failure: this.failure };
  }

  /** Mirror the ledger into the workflow's current details (the Web UI's "current details" pane). */
  publish(): void {
    const lines = this.entries.map(
      (e) =>
        `${e.kind === 'compensation' ? '↩ ' : ''}${e.group ? `[${e.group}] ` : ''}${e.name}: ${e.status}` +
        `${e.noop ? ' (nothing to undo)' : ''}${e.attempts ? ` (${e.attempts} failed)` : ''}${e.lastError ? ` — ${e.lastError}` : ''}`,
    );
    setCurrentDetails(
      [`**${this.sagaName} saga: ${this.status}**`, '', ...lines.map((l) => `- ${l}`)].join('\n'),
    );
  }

  setStatus(s: SagaStatus): void {
    this.status = s;
    this.searchAttributes.status(s);
    this.publish();
  }

  /** A forward step's entry, appended when the step starts. */
  startStep(s: StepDef): LedgerEntry {
    const entry: LedgerEntry = {
      name: s.name,
      kind: 'step',
      status: 'running',
      attempts: 0,
      startedAt: now(),
    };
    if (s.group) entry.group = s.group;
    this.entries.push(entry);
    return entry;
  }

  /** A compensation's entry, appended when the compensation starts. */
  startCompensation(step: StepDef, name: string): LedgerEntry {
    const c: LedgerEntry = {
      name,
      kind: 'compensation',
      undoes: step.name,
      status: 'compensating',
      attempts: 0,
      startedAt: now(),
    };
    if (step.group) c.group = step.group;
    this.entries.push(c);
    return c;
  }
}
