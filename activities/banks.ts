// The atomic-commit participants' activities: each bank (and the outbox) registers one set on its own task
// queue, with the same activity names, so a coordinator reaches any participant by choosing its queue.
//   2PC: prepareBranch, commitBranch, rollbackBranch
//   3PC: canCommit, preCommit, doCommit, abortBranch (+ the participant's own timeouts)
//   recovery: sweepInDoubt (resolves this database's in-doubt prepared transactions)
// All are idempotent, keyed by the branch's global transaction id (derived from the workflow id and participant).
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client as TemporalClient } from '@temporalio/client';
import type { Pool } from 'pg';
import { applyBankOps, applyOutboxOps } from '../services/banks';
import { BusinessRejection } from '../services/shop';
import {
  abortThreePhaseBranch,
  canCommitBranch,
  commitBranch,
  doCommitBranch,
  enforceThreePhaseTimeouts,
  listPreparedBranches,
  preCommitBranch,
  prepareBranch,
  rollbackBranch,
  type TimeoutAction,
} from '../services/xa';
import {
  decisionOf,
  ERR,
  GID_PREFIX,
  isValidGid,
  parseGid,
  presumeAbortUpdate,
  SA,
  TRANSFER_ERR,
  type BranchOp,
  type BranchRef,
  type CanCommitRequest,
  type Decision,
  type PhaseTwoOutcome,
  type PreCommitOutcome,
  type PrepareRequest,
  type Vote,
} from '../shared';
import type { FaultHooks } from './branch';

/** Test and demo hooks at the protocol's crash points (they may block or throw). */
export interface ParticipantHooks {
  /** Inside the local transaction, before PREPARE TRANSACTION. */
  beforePrepare?(gid: string): void | Promise<void>;
  /** After PREPARE TRANSACTION, before the yes vote is returned. */
  afterPrepare?(gid: string): void | Promise<void>;
  /** Before COMMIT PREPARED (phase two, after the decision). */
  beforeCommitPrepared?(gid: string): void | Promise<void>;
}

export type CoordinatorLookup = (
  workflowId: string,
  opts: { presumeAbort: boolean },
) => Promise<CoordinatorVerdict>;
export interface CoordinatorVerdict {
  decision?: Decision;
  /** How the verdict was reached, for the sweep report. */
  basis: string;
}

export interface ParticipantConfig {
  /** Bank participant (debit/credit) or the message-queue outbox (events). */
  kind: 'bank' | 'outbox';
  hooks?: FaultHooks & ParticipantHooks;
  /** How the sweeper learns a coordinator's decision; default: the Temporal client of the activity's worker. */
  lookup?: CoordinatorLookup;
}

function checkRef(ref: BranchRef): void {
  if (!isValidGid(ref.gid) || parseGid(ref.gid)?.participant !== ref.participant)
    throw ApplicationFailure.nonRetryable(`invalid global transaction id '${ref.gid}'`, ERR.invalidInput);
}

function toVoteError(err: unknown): never {
  if (err instanceof BusinessRejection) throw ApplicationFailure.nonRetryable(err.message, err.type);
  throw err;
}

const heartbeat = (): void => {
  try {
    Context.current().heartbeat();
  } catch {
    /* called outside an activity (tests of the service) */
  }
};

/**
 * The coordinator's decision, from Temporal: the SettleStatus search attribute (recorded before phase two) of
 * the workflow, whether running or closed. A closed coordinator without a decision never committed: presumed
 * abort. A running one without a decision is asked (presumeAbort update) only when `presumeAbort` is set, so
 * it decides itself, and the sweeper follows.
 */
export function temporalLookup(client: () => TemporalClient): CoordinatorLookup {
  return async (workflowId, { presumeAbort }) => {
    const handle = client().workflow.getHandle(workflowId);
    let d;
    try {
      d = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        return presumeAbort
          ? { decision: 'abort', basis: 'no such coordinator (presumed abort)' }
          : { basis: 'no such coordinator yet' };
      throw err;
    }
    const recorded = decisionOf(d.typedSearchAttributes.get(SA.status));
    if (recorded) return { decision: recorded, basis: `coordinator recorded ${recorded}` };
    if (d.status.name !== 'RUNNING')
      return {
        decision: 'abort',
        basis: `coordinator ${d.status.name.toLowerCase()} without a decision (presumed abort)`,
      };
    if (!presumeAbort) return { basis: 'coordinator running, undecided' };
    const state = await handle.executeUpdate(presumeAbortUpdate, {
      args: [{ reason: 'in-doubt sweeper: prepared past the grace period' }],
    });
    return state.decision
      ? { decision: state.decision, basis: `coordinator decided ${state.decision} when asked` }
      : { basis: 'coordinator undecided' };
  };
}

export interface SweepEntry {
  gid: string;
  ageMs: number;
  action: 'commit' | 'rollback' | 'wait';
  result?: string;
  basis: string;
}

export interface SweepReport {
  resolved: SweepEntry[];
  waiting: SweepEntry[];
  timeouts: TimeoutAction[];
}

export function createParticipantActivities(pool: Pool, config: ParticipantConfig) {
  const hooks = config.hooks ?? {};
  const work =
    (req: PrepareRequest, protocol: '2pc' | '3pc') => async (tx: Parameters<typeof applyBankOps>[0]) => {
      if (req.voteNo)
        throw new BusinessRejection(TRANSFER_ERR.votedNo, `${req.participant} was told to vote no`);
      if (config.kind === 'bank') await applyBankOps(tx, req.gid, req.workflowId, req.ops, protocol);
      else await applyOutboxOps(tx, req.ops);
    };
  const prepareHooks = {
    beforePrepare: hooks.beforePrepare && ((gid: string) => hooks.beforePrepare!(gid)),
    afterPrepare: hooks.afterPrepare && ((gid: string) => hooks.afterPrepare!(gid)),
  };
  const lookup = config.lookup ?? temporalLookup(() => Context.current().client);

  return {
    /** 2PC phase one: BEGIN; the checked work; PREPARE TRANSACTION. A business rejection is a no vote. */
    async prepareBranch(req: PrepareRequest): Promise<Vote> {
      checkRef(req);
      validateOps(req.ops);
      try {
        return await prepareBranch(pool, req.gid, work(req, '2pc'), prepareHooks);
      } catch (err) {
        toVoteError(err);
      }
    },
    /** Phase two, commit: idempotent (already committed counts as done). */
    async commitBranch(ref: BranchRef): Promise<PhaseTwoOutcome> {
      checkRef(ref);
      await hooks.beforeCommitPrepared?.(ref.gid);
      return { state: await commitBranch(pool, ref.gid) };
    },
    /** Phase two, abort: idempotent, and it also stops a prepare of this branch that is still on its way. */
    async rollbackBranch(ref: BranchRef): Promise<PhaseTwoOutcome> {
      checkRef(ref);
      return { state: await rollbackBranch(pool, ref.gid, { heartbeat }) };
    },

    /** 3PC can-commit: prepare, and start the participant's own wait timeout. */
    async canCommit(req: CanCommitRequest): Promise<Vote> {
      checkRef(req);
      validateOps(req.ops);
      try {
        return await canCommitBranch(pool, req.gid, req, work(req, '3pc'), prepareHooks);
      } catch (err) {
        toVoteError(err);
      }
    },
    async preCommit(ref: BranchRef): Promise<PreCommitOutcome> {
      checkRef(ref);
      return preCommitBranch(pool, ref.gid);
    },
    async doCommit(ref: BranchRef): Promise<PhaseTwoOutcome> {
      checkRef(ref);
      await hooks.beforeCommitPrepared?.(ref.gid);
      return { state: await doCommitBranch(pool, ref.gid) };
    },
    async abortBranch(ref: BranchRef): Promise<PhaseTwoOutcome> {
      checkRef(ref);
      return { state: await abortThreePhaseBranch(pool, ref.gid, { heartbeat }) };
    },

    /**
     * In-doubt recovery for this database: every Settle prepared transaction is resolved by its coordinator's
     * recorded decision; with none recorded, presumed abort once the coordinator is closed, or (asked through
     * the coordinator itself) once the branch has waited past the grace period. 3PC branches follow their own
     * participant-side timeouts instead.
     */
    async sweepInDoubt(input: { graceMs: number }): Promise<SweepReport> {
      const report: SweepReport = {
        resolved: [],
        waiting: [],
        timeouts: await enforceThreePhaseTimeouts(pool),
      };
      const threePc = new Set(
        (
          await pool.query<{ gid: string }>(
            `SELECT gid FROM threepc_branches WHERE phase NOT IN ('committed', 'aborted')`,
          )
        ).rows.map((r) => r.gid),
      );
      for (const b of await listPreparedBranches(pool, GID_PREFIX)) {
        heartbeat();
        const parsed = parseGid(b.gid);
        if (!parsed || threePc.has(b.gid)) continue;
        const verdict = await lookup(parsed.workflowId, { presumeAbort: b.ageMs >= input.graceMs });
        const entry: SweepEntry = { gid: b.gid, ageMs: b.ageMs, action: 'wait', basis: verdict.basis };
        if (verdict.decision === 'commit') {
          entry.action = 'commit';
          entry.result = await commitBranch(pool, b.gid);
        } else if (verdict.decision === 'abort') {
          entry.action = 'rollback';
          entry.result = await rollbackBranch(pool, b.gid, { heartbeat });
        }
        (entry.action === 'wait' ? report.waiting : report.resolved).push(entry);
      }
      return report;
    },
  };
}

function validateOps(ops: BranchOp[]): void {
  if (!Array.isArray(ops) || ops.length === 0)
    throw ApplicationFailure.nonRetryable('a branch needs at least one operation', ERR.invalidInput);
}

export function createBankActivities(pool: Pool, hooks?: FaultHooks & ParticipantHooks) {
  return createParticipantActivities(pool, { kind: 'bank', hooks });
}

export function createOutboxActivities(pool: Pool, hooks?: FaultHooks & ParticipantHooks) {
  return createParticipantActivities(pool, { kind: 'outbox', hooks });
}

export type ParticipantActivities = ReturnType<typeof createParticipantActivities>;
