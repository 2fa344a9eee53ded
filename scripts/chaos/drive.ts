// One cell: start the pattern's workflow with the fault armed at its point, inject the fault when the worker
// reaches the point, let everything settle, then read the invariants straight from the databases (one snapshot
// per database, every cell's data included: the invariants are global).
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { checkInvariants } from '../../services/invariants';
import {
  coordinatorStateQuery,
  resolveCompensationUpdate,
  TASK_QUEUES,
  sagaProgressQuery,
  type OperatorAction,
} from '../../shared';
import type { Cell } from './cells';
import { endingOf, SPECS, type PatternSpec } from './patterns';
import type { ArmedFault } from './protocol';
import { until, type ChaosStack } from './stack';

export interface CellResult extends Cell {
  passed: boolean;
  violations: string[];
  /** `/abort` cells: what the aborted saga left, as settle check reports it (expected, for finance). */
  left_for_reconciliation?: string[];
  quiesce_ms: number;
  ms: number;
}

export interface DriveOptions {
  /** Upper bound for the run to close, and again for the invariants to hold after it closed. */
  closeTimeoutMs: number;
  quiesceTimeoutMs: number;
  /** Extra harness checks (e.g. the trip resources the harness added), run with the invariants. */
  extraChecks?: (st: ChaosStack) => Promise<string[]>;
  /**
   * Violations earlier cells on this stack already reported: the invariants are global, so a cell is charged
   * only with the violations that appeared during it. New ones are added here.
   */
  known: Set<string>;
}

/** Coordinators that answer coordinatorStateQuery with their decision. */
const COORDINATED = new Set(['2pc-2', '2pc-4', '3pc']);

function armedFor(cell: Cell, spec: PatternSpec): ArmedFault | undefined {
  const [at, how] = cell.at.split('/');
  switch (cell.fault) {
    case 'kill-before':
    case 'kill-after':
    case 'duplicate':
      return { behaviour: cell.fault, at: at! };
    case 'late-commit':
      return { behaviour: 'late', at: at!, delayMs: spec.lateMs(at!) };
    case 'compensation-fails':
      return { behaviour: 'fail', at: at!, effectFirst: how === 'skip' };
    case 'cancel':
      return how === 'parked' ? { behaviour: 'fail', at: at! } : { behaviour: 'hold', at: at! };
    case 'same-id':
      return undefined;
    case 'reset':
      if (how === 'parked') return { behaviour: 'fail', at: at! };
      // A coordinator reset while the held participant stays down until the new run has decided.
      return COORDINATED.has(cell.pattern)
        ? { behaviour: 'hold', at: at!, participantDown: at!.split(':')[1] }
        : { behaviour: 'hold', at: at! };
    default:
      return { behaviour: 'hold', at: at! };
  }
}

async function firstWorkflowTaskCompleted(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  const e = history.events?.find((x) => x.workflowTaskCompletedEventAttributes);
  if (!e?.eventId) throw new Error('no completed workflow task to reset to');
  return Number(e.eventId);
}

async function cancelRequestSeen(handle: WorkflowHandle): Promise<boolean> {
  const events = (await handle.fetchHistory()).events ?? [];
  const i = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
  return i >= 0 && events.slice(i + 1).some((e) => e.workflowTaskCompletedEventAttributes);
}

/** Inject the fault once the worker reached the point; returns the handle of the run to wait for. */
async function inject(
  st: ChaosStack,
  cell: Cell,
  wf: string,
  handle: WorkflowHandle,
): Promise<WorkflowHandle> {
  await st.waitLine(`HIT ${wf} ${cell.at.split('/')[0]}`);
  switch (cell.fault) {
    case 'kill-before':
    case 'kill-after':
      await st.restartWorker();
      return handle;
    case 'cancel':
      if (cell.at.endsWith('/parked')) {
        await untilParked(handle);
        await cancelAndWait(handle);
        await resolveParked(st, cell, handle, 'retry');
        return handle;
      }
      await cancelAndWait(handle);
      break;
    case 'reset': {
      if (cell.at.endsWith('/parked')) {
        // The parked run has no call in flight: the fault is cleared first, so the new run's way back succeeds
        // without racing the release.
        await untilParked(handle);
        st.release(wf);
        return resetToFirstTask(st, wf, handle);
      }
      const next = await resetToFirstTask(st, wf, handle);
      if (COORDINATED.has(cell.pattern))
        await until('the new run to decide', async () =>
          Boolean((await next.query(coordinatorStateQuery).catch(() => undefined))?.decision),
        );
      st.release(wf);
      return next;
    }
    case 'pg-restart':
      await st.restartPostgres();
      break;
    case 'temporal-restart':
      await st.restartTemporal();
      break;
    case 'power-loss':
      await st.powerLoss();
      break;
    case 'compensation-fails':
      await untilParked(handle);
      await resolveParked(st, cell, handle, cell.at.split('/')[1] as OperatorAction);
      break;
    default:
      break;
  }
  st.release(wf);
  return handle;
}

async function resetToFirstTask(st: ChaosStack, wf: string, handle: WorkflowHandle): Promise<WorkflowHandle> {
  const eventId = await firstWorkflowTaskCompleted(handle);
  const desc = await handle.describe();
  const r: { runId?: string | null } = await st.client.workflowService.resetWorkflowExecution({
    namespace: st.client.options.namespace,
    workflowExecution: { workflowId: wf, runId: desc.runId },
    workflowTaskFinishEventId: eventId as unknown as never, // int64: protobufjs encodes a number
    requestId: randomUUID(),
    reason: 'chaos: reset to the first workflow task',
  });
  return st.client.workflow.getHandle(wf, r.runId ?? undefined);
}

async function cancelAndWait(handle: WorkflowHandle): Promise<void> {
  await handle.cancel();
  await until('the workflow to react to the cancel', () => cancelRequestSeen(handle));
}

async function untilParked(handle: WorkflowHandle): Promise<void> {
  await until('the saga to park in needs-operator', async () => {
    const p = await handle.query(sagaProgressQuery);
    return p.status === 'needs-operator';
  });
}

async function resolveParked(
  st: ChaosStack,
  cell: Cell,
  handle: WorkflowHandle,
  how: OperatorAction,
): Promise<void> {
  const at = cell.at.split('/')[0]!;
  // retry: the fault is cleared first (the operator fixed the cause); skip: the undo did commit (the operator
  // verified it by hand); abort: the saga stops where it is.
  if (how === 'retry') st.release(handle.workflowId);
  await handle.executeUpdate(resolveCompensationUpdate, {
    args: [
      { action: how, step: at.replace(/^undo:/, ''), operator: 'chaos', reason: 'chaos: verified by hand' },
    ],
  });
}

async function sameId(
  st: ChaosStack,
  spec: PatternSpec,
  id: string,
  violations: string[],
): Promise<WorkflowHandle> {
  const twice = await Promise.allSettled([spec.start(st.client, id, {}), spec.start(st.client, id, {})]);
  const started = twice.filter((t) => t.status === 'fulfilled');
  const refused = twice.filter(
    (t) => t.status === 'rejected' && t.reason instanceof WorkflowExecutionAlreadyStartedError,
  );
  if (started.length !== 1 || refused.length !== 1)
    violations.push(`same id started concurrently: ${started.length} started, ${refused.length} refused`);
  const first = (started[0] as PromiseFulfilledResult<WorkflowHandle> | undefined)?.value;
  if (first) await first.result().catch(() => undefined);
  // The SDK's default policy allows a new run once the first closed: the business id must not act twice.
  return spec.start(st.client, id, { allowDuplicate: true });
}

/** Run 1 held at the point (its other branches prepared) and terminated; run 2, another amount, same id. */
async function sameIdAfterTerminate(
  st: ChaosStack,
  spec: PatternSpec,
  cell: Cell,
  id: string,
): Promise<WorkflowHandle> {
  const wf = spec.workflowId(id);
  const at = cell.at.split('/')[0]!;
  st.arm(wf, { behaviour: 'hold', at });
  const first = await spec.start(st.client, id, {});
  await st.waitLine(`HIT ${wf} ${at}`);
  await first.terminate('chaos: terminated before deciding');
  const second = await spec.start(st.client, id, { allowDuplicate: true, amountCents: 300 });
  st.release(wf);
  return second;
}

/**
 * A second run of a business id that was already used for another operation may be refused (it fails with
 * TransactionIdReused, nothing prepared): a legitimate ending for same-id cells only.
 */
function refusal(cell: Cell, err: unknown): { status: string } {
  // The refusal's type: the workflow's own failure, or an activity's it passed on (ActivityFailure wraps it).
  type Cause = { type?: string; message?: string; cause?: Cause };
  let cause = (err as { cause?: Cause }).cause;
  while (cause && !cause.type && cause.cause) cause = cause.cause;
  // Transfers refuse with TransactionIdReused; an order id placed by another run is refused as bad input.
  const reused =
    cause?.type === 'TransactionIdReused' ||
    (cause?.type === 'InvalidInput' && /already exists/.test(cause.message ?? ''));
  if (cell.fault === 'same-id' && err instanceof WorkflowFailedError && reused) return { status: 'refused' };
  throw err;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref()),
  ]);

export async function driveCell(
  st: ChaosStack,
  cell: Cell,
  id: string,
  opts: DriveOptions,
): Promise<CellResult> {
  const spec = SPECS[cell.pattern];
  const wf = spec.workflowId(id);
  const t0 = Date.now();
  const violations: string[] = [];
  const armed = armedFor(cell, spec);
  const base = cell.at.split('/')[0]!;
  let injectedAt = t0;
  try {
    let handle: WorkflowHandle;
    if (cell.fault === 'same-id' && cell.at.endsWith('/terminated'))
      handle = await sameIdAfterTerminate(st, spec, cell, id);
    else if (cell.fault === 'same-id') handle = await sameId(st, spec, id, violations);
    else {
      st.arm(wf, armed!);
      handle = await spec.start(st.client, id, {
        failing: spec.undo.includes(base) || cell.fault === 'compensation-fails',
        giveUpFast: cell.fault === 'late-commit',
      });
      handle = await withTimeout(
        inject(st, cell, wf, handle),
        opts.closeTimeoutMs,
        `fault point ${base} not reached`,
      );
    }
    injectedAt = Date.now();
    const result: unknown = await withTimeout<unknown>(
      handle.result().catch((err: unknown) => refusal(cell, err)),
      opts.closeTimeoutMs,
      'the run did not close',
    );
    const ending = endingOf(result);
    const how = cell.at.split('/')[1];
    // A run cancelled while parked on its way back must still finish it: compensated, nothing else.
    const allowed =
      how === 'abort'
        ? ['aborted']
        : how === 'parked'
          ? ['compensated']
          : cell.fault === 'same-id'
            ? [...spec.endings, 'refused']
            : spec.endings;
    if (!allowed.includes(ending))
      violations.push(`ended '${ending}', expected one of ${allowed.join(', ')}`);
    if (
      armed &&
      cell.fault !== 'same-id' &&
      armed.behaviour !== 'kill-before' &&
      armed.behaviour !== 'kill-after' &&
      cell.fault !== 'power-loss'
    )
      await st.waitLine(`DONE ${wf} ${base}`, opts.closeTimeoutMs);
  } catch (err) {
    const cause = (err as { cause?: { type?: string; message?: string } }).cause;
    const why = cause?.message ? ` (${cause.type ?? 'cause'}: ${cause.message.split('\n')[0]})` : '';
    violations.push(`run: ${(err as Error).message.split('\n')[0]}${why}`);
  }
  // Quiesce: the invariants must hold once every straggler (a late attempt, the in-doubt sweeper) is done.
  // An operator's abort stops the saga where it is ("half-undone, finance reconciles it"): what the aborted run
  // left is expected, and settle check is what shows it; anything else is a violation.
  const aborted = cell.at.endsWith('/abort');
  const leftForFinance = (x: string): boolean => aborted && x.includes(id);
  let last: string[] = [];
  const deadline = Date.now() + opts.quiesceTimeoutMs;
  let quiesced = Date.now();
  for (;;) {
    last = (await readInvariants(st, opts)).filter((x) => !opts.known.has(x));
    quiesced = Date.now();
    if (last.every(leftForFinance) || Date.now() > deadline) break;
    // The stack's in-doubt sweeper (a schedule in production), run now rather than at its next minute.
    if (last.some((x) => x.startsWith('no-prepared-transactions'))) await sweepInDoubt(st);
    // A terminated coordinator leaves its holds and undecided branches to the participants' own backstops
    // (TCC hold expiry, 3PC participant timeouts, minutes away): move the participants' clock past them.
    if (cell.at.endsWith('/terminated') && last.some((x) => /^(no-stranded-tcc-hold|no-prepared)/.test(x)))
      await st.runParticipantTimersAt(new Date(Date.now() + 24 * 3600_000));
    await new Promise((r) => setTimeout(r, 500));
  }
  violations.push(...last.filter((x) => !leftForFinance(x)));
  for (const x of last) opts.known.add(x);
  return {
    ...cell,
    passed: violations.length === 0,
    violations,
    ...(aborted ? { left_for_reconciliation: last.filter(leftForFinance) } : {}),
    quiesce_ms: quiesced - injectedAt,
    ms: Date.now() - t0,
  };
}

async function sweepInDoubt(st: ChaosStack): Promise<void> {
  await st.client.workflow
    .execute('inDoubtSweeper', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: `chaos-sweep-${randomUUID()}`,
      args: [{ graceMs: 2000 }],
      workflowExecutionTimeout: '30s',
    })
    .catch(() => undefined);
}

async function readInvariants(st: ChaosStack, opts: DriveOptions): Promise<string[]> {
  try {
    const report = await checkInvariants(st.pools, undefined, { quiesced: true });
    const out = report.checks.flatMap((c) => c.violations.map((d) => `${c.name}: ${d}`));
    return [...out, ...((await opts.extraChecks?.(st)) ?? [])];
  } catch (err) {
    return [`invariants unreadable: ${(err as Error).message}`];
  }
}
