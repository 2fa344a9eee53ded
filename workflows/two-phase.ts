// Settle's two-phase commit coordinator: a workflow-side library for 2 to 8 participants, each a PostgreSQL
// prepared transaction behind its own service's task queue.
//
//   const state = await runTwoPhase(participants, { voteTimeout: '30s' });
//
// Guarantees:
//  - prepare runs on every participant in parallel (latency stays nearly flat as k grows);
//  - any no vote, error or the vote timeout aborts; so does cancelling the workflow before the decision;
//  - the decision is recorded (SettleStatus = committing/aborting, the `decision` field of the state query,
//    both in workflow history) before any phase-two call is made, so it survives any crash of a worker;
//  - phase two retries until every participant is done and is idempotent; after a commit decision it never
//    aborts, and it is not cancellable;
//  - an abort rolls back every participant, including those whose prepare outcome is unknown (timed out,
//    still running): the participant's tombstone makes a late prepare vote no, or rolls it back;
//  - every run is bound to the exact operation: before phase one it records (workflow id, digest of its legs) in
//    the coordinator log; an id already used for another operation fails (TransactionIdReused), nothing
//    prepared; each branch is bound to the digest too, so it is never adopted by another operation;
//  - the decision is written once to the coordinator log before phase two; whatever was recorded first (by an
//    earlier run of this id before a reset, or by the sweeper presuming abort) is the decision every later run
//    follows, and a branch that reports "already committed" forces commit: no timer, cancel or sweep aborts it.
import { msToNumber } from '@temporalio/common/lib/time';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityInterfaceFor,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { ParticipantActivities, SweepEntry, SweepReport } from '../activities/banks';
import type { CoordinatorLogActivities } from '../activities/coordinator-log';
import {
  branchGid,
  coordinatorStateQuery,
  ERR,
  isValidGid,
  MAX_PARTICIPANTS,
  MIN_PARTICIPANTS,
  NON_RETRYABLE,
  PARTICIPANT_NAME_RE,
  type BranchRef,
  presumeAbortUpdate,
  SA,
  TASK_QUEUES,
  TRANSFER_ERR,
  unbalancedLegs,
  type CoordinatorOptions,
  type CoordinatorState,
  type CoordinatorStatus,
  type Decision,
  type LoggedLeg,
  type ParticipantSpec,
  type ParticipantView,
  type PhaseTwoState,
  type Vote,
} from '../shared';

export const DEFAULT_VOTE_TIMEOUT = '30s';
export const DEFAULT_ACTIVITY_TIMEOUT = '5s';
export const DEFAULT_PREPARE_HEARTBEAT_TIMEOUT = '5s';
/** Runs from here on keep a coordinator log (begin before phase one, write-once decision before phase two). */
export const COORDINATOR_LOG_PATCH = 'settle-2pc-coordinator-log';
/** Heuristic outcomes set SettleNeedsOperator from here on. */
export const HEURISTICS_VISIBLE_PATCH = 'settle-2pc-heuristics-visible';
/** Sweeps from here on resolve each branch from the coordinator log, one gid at a time. */
export const SWEEPER_LOG_PATCH = 'settle-sweeper-coordinator-log';

/** The coordinator log (activities/coordinator-log.ts) lives with the outbox service. Retried until it answers. */
const coordinatorLog = proxyActivities<CoordinatorLogActivities>({
  taskQueue: TASK_QUEUES.outbox,
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

/**
 * Phase one: a few quick retries of infrastructure errors, all inside the vote timeout. The prepare heartbeats,
 * so an attempt lost with its worker is retried after the heartbeat timeout, not after its start-to-close.
 */
export function voteOptions(queue: string, opts: CoordinatorOptions): ActivityOptions {
  return {
    taskQueue: queue,
    startToCloseTimeout: opts.activityTimeout ?? DEFAULT_ACTIVITY_TIMEOUT,
    scheduleToCloseTimeout: opts.voteTimeout ?? DEFAULT_VOTE_TIMEOUT,
    heartbeatTimeout: opts.prepareHeartbeatTimeout ?? DEFAULT_PREPARE_HEARTBEAT_TIMEOUT,
    retry: {
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: '2s',
      nonRetryableErrorTypes: [...NON_RETRYABLE, ...Object.values(TRANSFER_ERR), 'BranchAborted'],
    },
  };
}

/** Phase two: no attempt limit; after the decision there is nothing to do but finish it. */
export function phaseTwoOptions(queue: string, opts: CoordinatorOptions): ActivityOptions {
  return {
    taskQueue: queue,
    startToCloseTimeout: opts.activityTimeout ?? DEFAULT_ACTIVITY_TIMEOUT,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
  };
}

export function participantsOf(
  queue: string,
  options: ActivityOptions,
): ActivityInterfaceFor<ParticipantActivities> {
  return proxyActivities<ParticipantActivities>({ ...options, taskQueue: queue });
}

export function describeError(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return `${e.type ?? 'Error'}: ${e.message}`;
  if (e instanceof TimeoutFailure) return `timeout (${String(e.timeoutType ?? 'activity').toLowerCase()})`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(err);
}

/** Validate participants before anything is prepared; a bad definition fails the workflow, nothing touched. */
export function checkParticipants(participants: ParticipantSpec[], workflowId: string): void {
  const fail = (m: string): never => {
    throw ApplicationFailure.nonRetryable(m, ERR.invalidInput);
  };
  if (
    !Array.isArray(participants) ||
    participants.length < MIN_PARTICIPANTS ||
    participants.length > MAX_PARTICIPANTS
  )
    fail(
      `a coordinator takes ${MIN_PARTICIPANTS} to ${MAX_PARTICIPANTS} participants, got ${participants?.length}`,
    );
  const names = new Set<string>();
  for (const p of participants) {
    if (!PARTICIPANT_NAME_RE.test(p.name)) fail(`invalid participant name '${p.name}'`);
    if (names.has(p.name)) fail(`duplicate participant name '${p.name}'`);
    names.add(p.name);
    if (!isValidGid(branchGid(workflowId, p.name)))
      fail(`workflow id '${workflowId}' cannot be part of a global transaction id`);
    if (!p.queue) fail(`participant ${p.name} has no task queue`);
  }
  const unbalanced = unbalancedLegs(participants);
  if (unbalanced) fail(`refused before anything was prepared: ${unbalanced}`);
}

/**
 * The prepare activity ran out of its schedule-to-close timeout (= the vote timeout): either the last attempt
 * timed out, or its retries of an infrastructure error were cut off by the deadline.
 */
function isVoteTimeout(err: unknown): boolean {
  if (!(err instanceof ActivityFailure)) return false;
  if (err.retryState === 'TIMEOUT') return true;
  return err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_CLOSE';
}

/** Backoff of the workflow-side phase-two loop (only reached when an activity fails for good, e.g. a bug). */
const phaseTwoBackoff = (attempt: number): number => Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6));

export interface Coordinator {
  state: CoordinatorState;
  setStatus(s: CoordinatorStatus): void;
  decide(d: Decision, reason: string): void;
  /** The sweeper's presumed-abort request, if one arrived before the decision. */
  presumed(): string | undefined;
  publish(): void;
  snapshot(): CoordinatorState;
  /** Record the final status (committed/aborted) and return the final state. */
  finish(): CoordinatorState;
  /** A branch ended the other way than the decision (heuristic outcome): recorded and flagged for an operator. */
  flagAnomaly(anomaly: string): void;
}

/** State, query, update and search attributes shared by the 2PC and 3PC coordinators. */
export function createCoordinator(
  protocol: '2pc' | '3pc',
  participants: ParticipantSpec[],
  opts: CoordinatorOptions,
  /** The decision goes through the coordinator log: a presumed abort is proposed, never decided in the update. */
  durableDecision = false,
): Coordinator {
  const { workflowId } = workflowInfo();
  checkParticipants(participants, workflowId);
  const started = Date.now();
  const useSA = opts.searchAttributes !== false;
  const state: CoordinatorState = {
    protocol,
    status: 'preparing',
    participants: participants.map((p): ParticipantView => ({
      name: p.name,
      queue: p.queue,
      gid: branchGid(workflowId, p.name),
      vote: 'pending',
      phaseTwo: 'pending',
      attempts: 0,
    })),
    anomalies: [],
  };
  let presumedAbort: string | undefined;
  const snapshot = (): CoordinatorState => ({
    ...state,
    participants: state.participants.map((p) => ({ ...p })),
    anomalies: [...state.anomalies],
  });
  const publish = (): void => {
    const lines = state.participants.map(
      (p) =>
        `- ${p.name}: vote ${p.vote}${p.voteDetail ? ` (${p.voteDetail})` : ''}${p.outcome ? `, ${p.outcome}` : ''}${p.lastError ? ` — ${p.lastError}` : ''}`,
    );
    const head = `**${protocol.toUpperCase()} ${state.status}**${state.decision ? ` — decision: ${state.decision} (${state.decisionReason})` : ''}`;
    setCurrentDetails([head, '', ...lines, ...state.anomalies.map((a) => `- ⚠ ${a}`)].join('\n'));
  };
  const setStatus = (s: CoordinatorStatus): void => {
    state.status = s;
    if (useSA) upsertSearchAttributes([{ key: SA.status, value: s }]);
    publish();
  };
  const decide = (d: Decision, reason: string): void => {
    if (state.decision) return;
    state.decision = d;
    state.decisionReason = reason;
    state.decidedAfterMs = Date.now() - started;
    // Recorded before phase two: the commands of this workflow task are persisted together, search attribute first.
    setStatus(d === 'commit' ? 'committing' : 'aborting');
  };

  setHandler(coordinatorStateQuery, snapshot);
  setHandler(presumeAbortUpdate, async ({ reason }) => {
    if (!state.decision && state.status !== 'pre-committing') {
      presumedAbort ??= reason;
      // Answer with the durable decision: the one the log recorded (commit wins if it was recorded first).
      if (durableDecision) await condition(() => state.decision !== undefined);
      else decide('abort', `presumed abort: ${reason}`);
    }
    return snapshot();
  });

  if (useSA) {
    const sa: Parameters<typeof upsertSearchAttributes>[0] = [{ key: SA.pattern, value: protocol }];
    if (opts.businessKey) sa.push({ key: SA.businessKey, value: opts.businessKey });
    upsertSearchAttributes(sa);
  }
  setStatus('preparing');
  const finish = (): CoordinatorState => {
    state.finishedAfterMs = Date.now() - started;
    setStatus(state.decision === 'commit' ? 'committed' : 'aborted');
    return snapshot();
  };
  const flagAnomaly = (a: string): void => {
    state.anomalies.push(a);
    // A heuristic outcome needs a person: SettleNeedsOperator = true puts it in the operators' list queries.
    if (useSA && patched(HEURISTICS_VISIBLE_PATCH))
      upsertSearchAttributes([{ key: SA.needsOperator, value: true }]);
  };
  return { state, setStatus, decide, presumed: () => presumedAbort, publish, snapshot, finish, flagAnomaly };
}

/**
 * Collect votes from every participant in parallel until all said yes, one said no or failed, the vote timeout,
 * or a presumed abort. Returns why the transaction must abort, or undefined when every participant voted yes.
 */
export async function collectVotes(
  c: Coordinator,
  participants: ParticipantSpec[],
  opts: CoordinatorOptions,
  prepare: (p: ParticipantSpec, view: ParticipantView) => Promise<Vote>,
): Promise<string | undefined> {
  const voteTimeout = opts.voteTimeout ?? DEFAULT_VOTE_TIMEOUT;
  // Prepares are never cancelled, only abandoned once the decision is made: their late results are ignored and
  // the rollback covers them (cancelling would not stop a prepare already inside PostgreSQL anyway).
  const scope = new CancellationScope({ cancellable: false });
  // The prepare activities' schedule-to-close timeout is the vote timeout too: whichever fires first.
  let voteTimedOut = false;
  participants.forEach((p, i) => {
    const view = c.state.participants[i]!;
    scope
      .run(() => prepare(p, view))
      .then(
        (v) => {
          if (view.vote !== 'pending') return;
          view.vote = v.vote;
          if (v.vote === 'no') view.voteDetail = `${v.type}: ${v.reason}`;
          else view.voteDetail = v.state === 'prepared' ? undefined : v.state;
          c.publish();
        },
        (err: unknown) => {
          if (view.vote !== 'pending') return;
          view.vote = 'unknown';
          if (isVoteTimeout(err)) {
            view.voteDetail = 'no vote within the vote timeout';
            voteTimedOut = true;
          } else {
            view.voteDetail = describeError(err);
          }
          c.publish();
        },
      );
  });
  const all = (): boolean => c.state.participants.every((p) => p.vote === 'yes');
  // A branch that already committed means the transaction was decided commit (by an earlier run): follow it.
  const committed = (): boolean =>
    c.state.participants.some((p) => p.vote === 'yes' && p.voteDetail === 'already-committed');
  const refused = (): ParticipantView | undefined =>
    c.state.participants.find((p) => p.vote === 'no' || p.vote === 'unknown');
  let timedOut = false;
  let cancelled = false;
  try {
    timedOut = !(await condition(
      () =>
        c.state.decision !== undefined ||
        c.presumed() !== undefined ||
        committed() ||
        all() ||
        refused() !== undefined,
      voteTimeout,
    ));
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true;
  }
  const no = c.state.participants.find((p) => p.vote === 'no');
  const failed = c.state.participants.find(
    (p) => p.vote === 'unknown' && p.voteDetail !== 'no vote within the vote timeout',
  );
  const late = c.state.participants.filter((p) => p.vote === 'pending' || p.vote === 'unknown');
  let refusal: string | undefined;
  if (c.state.decision === 'abort') refusal = c.state.decisionReason;
  else if (committed()) refusal = undefined;
  else if (c.presumed() !== undefined) refusal = `presumed abort: ${c.presumed()}`;
  else if (cancelled) refusal = 'the coordinator was cancelled before it decided';
  else if (all()) refusal = undefined;
  else if (no) refusal = `${no.name} voted no: ${no.voteDetail ?? ''}`;
  else if (failed) refusal = `${failed.name} failed to vote: ${failed.voteDetail ?? ''}`;
  else if (timedOut || voteTimedOut)
    refusal = `vote timeout (${voteTimeout}) waiting for ${late.map((p) => p.name).join(', ')}`;
  // Outstanding prepares are abandoned (their outcome is unknown; the rollback covers them).
  for (const p of c.state.participants) {
    if (p.vote === 'pending') {
      p.vote = 'unknown';
      p.voteDetail = 'no vote before the decision';
    }
  }
  return refusal;
}

/** Phase two for every participant, in parallel, until each is done. Not cancellable. */
export async function finishPhaseTwo(
  c: Coordinator,
  call: (view: ParticipantView, decision: Decision) => Promise<{ state: PhaseTwoState }>,
): Promise<void> {
  const decision = c.state.decision!;
  await CancellationScope.nonCancellable(() =>
    Promise.all(
      c.state.participants.map(async (view) => {
        for (;;) {
          try {
            const out = await call(view, decision);
            view.outcome = out.state;
            view.phaseTwo = 'done';
            if (out.state === 'heuristic-rollback' || out.state === 'heuristic-commit')
              c.flagAnomaly(`${view.name}: ${out.state} (decision was ${decision})`);
            c.publish();
            return;
          } catch (err) {
            view.attempts += 1;
            view.lastError = describeError(err);
            c.publish();
            await sleep(phaseTwoBackoff(view.attempts));
          }
        }
      }),
    ),
  );
}

/** The transaction's legs as the coordinator log digests them and every participant checks them. */
export const legsOf = (participants: ParticipantSpec[]): LoggedLeg[] =>
  participants.map((p) => ({ name: p.name, queue: p.queue, ops: p.ops }));

interface Proposal {
  decision: Decision;
  reason: string;
}

/**
 * Begin in the coordinator log: refuse an id used for another operation; return the transaction digest, and the
 * decision an earlier run of this id recorded (a reset, or the same transfer started again), if any.
 */
async function beginLogged(participants: ParticipantSpec[]): Promise<{ digest: string; earlier?: Proposal }> {
  const { workflowId, runId } = workflowInfo();
  const rec = await coordinatorLog.beginTransaction.executeWithOptions(
    { summary: 'coordinator log: begin' },
    [
      {
        txId: workflowId,
        runId,
        legs: participants.map((p) => ({ name: p.name, queue: p.queue, ops: p.ops })),
      },
    ],
  );
  if (rec.conflict)
    throw ApplicationFailure.nonRetryable(
      `${workflowId} was already used for another operation (first run ${rec.firstRunId}, other legs or amounts); nothing was prepared: start this one under a new id`,
      TRANSFER_ERR.idReused,
    );
  if (!rec.decision) return { digest: rec.digest };
  return {
    digest: rec.digest,
    earlier: {
      decision: rec.decision,
      reason: `decided by an earlier run of ${workflowId}: ${rec.reason ?? rec.decision}`,
    },
  };
}

/** Write the decision once; the decision that stands may be an earlier one (recorded first), which wins. */
async function recordDecision(digest: string, p: Proposal): Promise<Proposal> {
  const { workflowId } = workflowInfo();
  const won = await CancellationScope.nonCancellable(() =>
    coordinatorLog.decideTransaction.executeWithOptions({ summary: `coordinator log: ${p.decision}` }, [
      { txId: workflowId, digest, decision: p.decision, reason: p.reason },
    ]),
  );
  if (won.decision === p.decision) return p;
  return {
    decision: won.decision!,
    reason: `${won.reason ?? won.decision} (recorded first; this run would have decided ${p.decision})`,
  };
}

/** Run a two-phase commit over the participants; resolves with the final state once phase two is done. */
export async function runTwoPhase(
  participants: ParticipantSpec[],
  opts: CoordinatorOptions = {},
): Promise<CoordinatorState> {
  const logged = patched(COORDINATOR_LOG_PATCH);
  const c = createCoordinator('2pc', participants, opts, logged);
  const { workflowId } = workflowInfo();
  const begun = logged ? await beginLogged(participants) : undefined;
  const digest = begun?.digest;
  let proposal: Proposal;
  if (begun?.earlier) {
    // Phase one already happened in an earlier run; its recorded decision is finished here (idempotent).
    for (const v of c.state.participants) {
      v.vote = 'unknown';
      v.voteDetail = 'not asked: an earlier run of this transaction decided';
    }
    proposal = begun.earlier;
  } else {
    const refusal = await collectVotes(c, participants, opts, (p, view) =>
      participantsOf(p.queue, voteOptions(p.queue, opts)).prepareBranch.executeWithOptions(
        { summary: `prepare ${p.name}` },
        [
          {
            gid: view.gid,
            workflowId,
            participant: p.name,
            ops: p.ops,
            voteNo: p.voteNo,
            digest,
            legs: legsOf(participants),
          },
        ],
      ),
    );
    const forced =
      refusal === undefined && !c.state.participants.every((p) => p.vote === 'yes')
        ? 'a branch had already committed: the transaction was decided commit before'
        : undefined;
    proposal =
      refusal === undefined
        ? { decision: 'commit', reason: forced ?? 'every participant voted yes' }
        : { decision: 'abort', reason: refusal };
    if (digest !== undefined) proposal = await recordDecision(digest, proposal);
  }
  c.decide(proposal.decision, proposal.reason);
  await finishPhaseTwo(c, (view, decision) => {
    const acts = participantsOf(view.queue, phaseTwoOptions(view.queue, opts));
    const ref: BranchRef = { gid: view.gid, participant: view.name, ...(digest ? { digest } : {}) };
    return decision === 'commit'
      ? acts.commitBranch.executeWithOptions({ summary: `commit ${view.name}` }, [ref])
      : acts.rollbackBranch.executeWithOptions({ summary: `roll back ${view.name}` }, [ref]);
  });
  return c.finish();
}

/** The generic coordinator as a workflow: any 2..8 participants on any participant queues. */
export async function twoPhaseCommit(
  participants: ParticipantSpec[],
  opts: CoordinatorOptions = {},
): Promise<CoordinatorState> {
  return runTwoPhase(participants, opts);
}

export const toMs = (d: string): number => msToNumber(d as Parameters<typeof msToNumber>[0]);

// ---------------------------------------------------------------------------------------------- recovery
export const SWEEPER_WORKFLOW_ID = 'settle-in-doubt-sweeper';
export const DEFAULT_GRACE_MS = 60_000;

/** The participant databases that can hold Settle's prepared transactions. */
export const SWEPT_QUEUES = [TASK_QUEUES.bankA, TASK_QUEUES.bankB, TASK_QUEUES.outbox] as const;

export interface SweeperResult {
  byQueue: Record<string, SweepReport | { error: string }>;
  resolved: number;
  waiting: number;
}

/**
 * One in-doubt sweep over every participant database (run by a Temporal Schedule, or on demand): each database
 * lists its in-doubt 2PC branches on its own service's queue; each branch is then resolved on its own (one
 * failure never stops the others) by the decision the coordinator log holds for its exact operation.
 */
export async function inDoubtSweeper(input: { graceMs?: number } = {}): Promise<SweeperResult> {
  if (!patched(SWEEPER_LOG_PATCH)) return legacySweep(input);
  const graceMs = input.graceMs ?? DEFAULT_GRACE_MS;
  const result: SweeperResult = { byQueue: {}, resolved: 0, waiting: 0 };
  const log = proxyActivities<CoordinatorLogActivities>({
    taskQueue: TASK_QUEUES.outbox,
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', maximumAttempts: 3 },
  });
  await Promise.all(
    SWEPT_QUEUES.map(async (queue) => {
      const acts = proxyActivities<ParticipantActivities>({
        taskQueue: queue,
        startToCloseTimeout: '1m',
        heartbeatTimeout: '10s',
        retry: { initialInterval: '1s', maximumAttempts: 3 },
      });
      let listed;
      try {
        listed = await acts.listInDoubt.executeWithOptions({ summary: `list in-doubt ${queue}` }, []);
      } catch (err) {
        result.byQueue[queue] = { error: describeError(err) };
        return;
      }
      const report: SweepReport = { resolved: [], waiting: [], timeouts: listed.timeouts, errors: [] };
      result.byQueue[queue] = report;
      result.resolved += listed.timeouts.length;
      for (const b of listed.branches) {
        const entry: SweepEntry = { gid: b.gid, ageMs: b.ageMs, action: 'wait', basis: '' };
        try {
          const verdict = await log.resolveInDoubt.executeWithOptions({ summary: `decision for ${b.gid}` }, [
            { txId: b.workflowId, digest: b.digest, presumeAbort: b.ageMs >= graceMs },
          ]);
          entry.basis = verdict.basis;
          const ref: BranchRef = { gid: b.gid, participant: b.participant, digest: b.digest };
          if (verdict.decision === 'commit') {
            entry.action = 'commit';
            entry.result = (await acts.commitBranch(ref)).state;
          } else if (verdict.decision === 'abort') {
            entry.action = 'rollback';
            entry.result = (await acts.rollbackBranch(ref)).state;
          }
          (entry.action === 'wait' ? report.waiting : report.resolved).push(entry);
          if (entry.action === 'wait') result.waiting += 1;
          else result.resolved += 1;
        } catch (err) {
          report.errors!.push({ ...entry, error: describeError(err) });
        }
      }
    }),
  );
  return result;
}

/** The sweep as it ran before the coordinator log (kept so sweeps started by older code replay). */
async function legacySweep(input: { graceMs?: number }): Promise<SweeperResult> {
  const graceMs = input.graceMs ?? DEFAULT_GRACE_MS;
  const result: SweeperResult = { byQueue: {}, resolved: 0, waiting: 0 };
  await Promise.all(
    SWEPT_QUEUES.map(async (queue) => {
      const acts = proxyActivities<ParticipantActivities>({
        taskQueue: queue,
        startToCloseTimeout: '2m',
        scheduleToCloseTimeout: '5m',
        heartbeatTimeout: '30s',
        retry: { initialInterval: '1s', maximumAttempts: 3 },
      });
      try {
        const r = await acts.sweepInDoubt.executeWithOptions({ summary: `sweep ${queue}` }, [{ graceMs }]);
        result.byQueue[queue] = r;
        result.resolved += r.resolved.length + r.timeouts.length;
        result.waiting += r.waiting.length;
      } catch (err) {
        result.byQueue[queue] = { error: describeError(err) };
      }
    }),
  );
  return result;
}
