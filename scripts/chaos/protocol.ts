// The chaos harness's wire between the driver (scripts/chaos/run.ts) and its worker processes
// (scripts/chaos/worker.ts): a small JSON control file the driver rewrites atomically, and the lines a worker
// prints on stdout. Every armed fault is keyed by the workflow id of its cell, so cells sharing one stack never
// trigger each other's faults.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** What the worker does when an armed activity call reaches its point (the cell's `at`). */
export type Behaviour =
  /** Print HIT and block until SIGKILL, before the side effect. */
  | 'kill-before'
  /** Run the side effect (it commits), print HIT, block until SIGKILL: the completion never reaches Temporal. */
  | 'kill-after'
  /** Print HIT, wait delayMs (past the activity's timeout), then run the side effect: it commits late. */
  | 'late'
  /** Run the side effect, print HIT, run it again (a duplicate delivery), return the second answer. */
  | 'duplicate'
  /** Print HIT, hold (before the side effect) until the driver sets released, then run normally. */
  | 'hold'
  /** Fail (non-retryable) every call until released; `effectFirst`: the side effect commits before each failure. */
  | 'fail';

export interface ArmedFault {
  behaviour: Behaviour;
  /** The activity point: e.g. `charge`, `undo:charge`, `prepare:bank-b`, `try:debit`, `deliver:OrderPlaced`. */
  at: string;
  delayMs?: number;
  effectFirst?: boolean;
  /**
   * hold: every call to this participant (`<phase>:<participant>`, any attempt, any run) is held too until
   * released: the participant's worker is down (a reset that meets a dead participant).
   */
  participantDown?: string;
  released?: boolean;
}

export type ControlFile = Record<string, ArmedFault>;

export function readControl(path: string): ControlFile {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ControlFile;
  } catch {
    return {};
  }
}

export function writeControl(path: string, control: ControlFile): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(control));
  renameSync(tmp, path);
}

const PHASES: Record<string, string> = {
  prepareBranch: 'prepare',
  commitBranch: 'commit',
  rollbackBranch: 'rollback',
  canCommit: 'can-commit',
  preCommit: 'pre-commit',
  doCommit: 'do-commit',
  abortBranch: 'abort',
  tccTry: 'try',
  tccConfirm: 'confirm',
  tccCancel: 'cancel',
};
const COMPENSATIONS = new Set([
  'cancelOrder',
  'releaseStock',
  'refundPayment',
  'retractNotification',
  'releaseHold',
  'refundTrip',
  'revokeConfirmation',
]);

interface ActivityArg {
  step?: string;
  participant?: string;
  branch?: string;
  workflowId?: string;
  event?: { topic?: string; payload?: { workflowId?: string } };
}

/**
 * The point an activity call is at, and the workflow (cell) it belongs to; undefined for calls the matrix
 * never targets (relay fetches, sweeps, queries).
 */
export function pointOf(
  activityType: string,
  arg: unknown,
  workflowId: string,
): { at: string; workflowId: string } | undefined {
  const a = (arg ?? {}) as ActivityArg;
  if (activityType === 'deliverEvent' && a.event?.topic)
    return { at: `deliver:${a.event.topic}`, workflowId: a.event.payload?.workflowId ?? workflowId };
  if (activityType === 'placeChoreographedOrder')
    return { at: 'place', workflowId: a.workflowId ?? workflowId };
  const phase = PHASES[activityType];
  if (phase && a.participant) return { at: `${phase}:${a.participant}`, workflowId };
  if (phase && a.branch) return { at: `${phase}:${a.branch}`, workflowId };
  if (typeof a.step === 'string')
    return { at: COMPENSATIONS.has(activityType) ? `undo:${a.step}` : a.step, workflowId };
  return undefined;
}
