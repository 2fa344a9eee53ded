// The atomic-commit participants' activities: each bank (and the outbox) registers one set on its own task
// queue, with the same activity names, so a coordinator reaches any participant by choosing its queue.
//   2PC: prepareBranch, commitBranch, rollbackBranch
//   3PC: canCommit, preCommit, doCommit, abortBranch (+ the participant's own timeouts)
//   recovery: sweepInDoubt (resolves this database's in-doubt prepared transactions)
// All are idempotent, keyed by the branch's global transaction id (derived from the workflow id and participant).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { applyBankOps, applyOutboxOps } from '../services/banks';
import { sha256, transactionDigest } from '../services/coordinator-log';
import { singleFlightThreePhaseTimeouts } from '../services/three-phase-timer';
import { BusinessRejection } from '../services/shop';
import {
  abortThreePhaseBranch,
  bindingOf,
  canCommitBranch,
  commitBranch,
  doCommitBranch,
  listPreparedBranches,
  preCommitBranch,
  prepareBranch,
  rollbackBranch,
  type TimeoutAction,
} from '../services/xa';
import {
  canonicalJson,
  ERR,
  unbalancedLegs,
  GID_PREFIX,
  isValidGid,
  parseGid,
  TRANSFER_ERR,
  type BranchOp,
  type BranchRef,
  type CanCommitRequest,
  type LoggedLeg,
  type PhaseTwoOutcome,
  type PreCommitOutcome,
  type PrepareRequest,
  type Vote,
} from '../shared';
import type { FaultHooks } from './branch';
import { createCoordinatorLogActivities, temporalLookup, type CoordinatorLookup } from './coordinator-log';

/** Test and demo hooks at the protocol's crash points (they may block or throw). */
export interface ParticipantHooks {
  /** Inside the local transaction, before PREPARE TRANSACTION. */
  beforePrepare?(gid: string): void | Promise<void>;
  /** After PREPARE TRANSACTION, before the yes vote is returned. */
  afterPrepare?(gid: string): void | Promise<void>;
  /** Before COMMIT PREPARED (phase two, after the decision). */
  beforeCommitPrepared?(gid: string): void | Promise<void>;
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
  /** Branches whose resolution failed this time (each gid on its own: one error never stops the sweep). */
  errors?: (SweepEntry & { error: string })[];
}

/** A 2PC branch in doubt in one participant database, as the sweeper workflow resolves it. */
export interface InDoubtEntry {
  gid: string;
  participant: string;
  workflowId: string;
  ageMs: number;
  /** The transaction digest the branch is bound to; absent for branches prepared before bindings existed. */
  digest?: string;
}

/** Heartbeat every second while `fn` runs: a dead attempt (crashed worker) is detected by its heartbeat timeout. */
async function heartbeating<T>(fn: () => Promise<T>): Promise<T> {
  heartbeat();
  const timer = setInterval(heartbeat, 1000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
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
  // The branch is bound to the coordinator's transaction digest and to a digest of its own ops, computed here.
  const bindingFor = (req: PrepareRequest) =>
    req.digest === undefined
      ? undefined
      : {
          txDigest: req.digest,
          opsDigest: sha256(canonicalJson({ participant: req.participant, ops: req.ops })),
        };
  // 3PC has no coordinator log: its branches are bound to the digest of the legs every request carries, in a
  // namespace of its own, so a 2PC branch and a 3PC branch under the same gid are always different operations.
  const threePhaseBinding = (req: PrepareRequest) =>
    bindingFor({ ...req, digest: threePhaseDigest(req.legs!) });

  return {
    /** 2PC phase one: BEGIN; the checked work; PREPARE TRANSACTION. A business rejection is a no vote. */
    async prepareBranch(req: PrepareRequest): Promise<Vote> {
      checkRef(req);
      validateOps(req.ops);
      const refused = refuseLegs(req);
      if (refused) return refused;
      try {
        return await heartbeating(() =>
          prepareBranch(pool, req.gid, work(req, '2pc'), prepareHooks, bindingFor(req)),
        );
      } catch (err) {
        toVoteError(err);
      }
    },
    /** Phase two, commit: idempotent (already committed counts as done); never another operation's branch. */
    async commitBranch(ref: BranchRef): Promise<PhaseTwoOutcome> {
      checkRef(ref);
      await hooks.beforeCommitPrepared?.(ref.gid);
      try {
        return { state: await commitBranch(pool, ref.gid, ref.digest) };
      } catch (err) {
        toVoteError(err);
      }
    },
    /** Phase two, abort: idempotent, and it also stops a prepare of this branch that is still on its way. */
    async rollbackBranch(ref: BranchRef): Promise<PhaseTwoOutcome> {
      checkRef(ref);
      return { state: await rollbackBranch(pool, ref.gid, { heartbeat, txDigest: ref.digest }) };
    },

    /**
     * This database's in-doubt 2PC branches for the sweeper workflow, which resolves each from the coordinator
     * log. Every gid that ever was a 3PC branch is left out (its participant-side timers own it); the 3PC timers
     * run here too, single-flight per database.
     */
    async listInDoubt(): Promise<{ branches: InDoubtEntry[]; timeouts: TimeoutAction[] }> {
      const timeouts = await heartbeating(() => singleFlightThreePhaseTimeouts(pool));
      const prepared = await listPreparedBranches(pool, GID_PREFIX);
      const threePc = new Set(
        (
          await pool.query<{ gid: string }>('SELECT gid FROM threepc_branches WHERE gid = ANY($1)', [
            prepared.map((b) => b.gid),
          ])
        ).rows.map((r) => r.gid),
      );
      const branches: InDoubtEntry[] = [];
      for (const b of prepared) {
        const parsed = parseGid(b.gid);
        if (!parsed || threePc.has(b.gid)) continue;
        const binding = await bindingOf(pool, b.gid);
        branches.push({
          gid: b.gid,
          participant: parsed.participant,
          workflowId: parsed.workflowId,
          ageMs: b.ageMs,
          ...(binding ? { digest: binding.txDigest } : {}),
        });
      }
      return { branches, timeouts };
    },

    /** 3PC can-commit: prepare, and start the participant's own wait timeout. */
    async canCommit(req: CanCommitRequest): Promise<Vote> {
      checkRef(req);
      validateOps(req.ops);
      const refused = refuseLegs(req);
      if (refused) return refused;
      try {
        return await heartbeating(() =>
          canCommitBranch(pool, req.gid, req, work(req, '3pc'), prepareHooks, threePhaseBinding(req)),
        );
      } catch (err) {
        toVoteError(err);
      }
    },
    async preCommit(ref: BranchRef): Promise<PreCommitOutcome> {
      checkRef(ref);
      return preCommitBranch(pool, ref.gid, threePhaseRefDigest(ref));
    },
    async doCommit(ref: BranchRef): Promise<PhaseTwoOutcome> {
      checkRef(ref);
      await hooks.beforeCommitPrepared?.(ref.gid);
      try {
        return { state: await doCommitBranch(pool, ref.gid, threePhaseRefDigest(ref)) };
      } catch (err) {
        toVoteError(err);
      }
    },
    async abortBranch(ref: BranchRef): Promise<PhaseTwoOutcome> {
      checkRef(ref);
      const txDigest = threePhaseRefDigest(ref);
      return {
        state: await abortThreePhaseBranch(pool, ref.gid, { heartbeat, ...(txDigest ? { txDigest } : {}) }),
      };
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
        timeouts: await singleFlightThreePhaseTimeouts(pool),
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

/**
 * The participant's own check of the whole transaction (a coordinator started by anyone must not mint money):
 * the legs balance, this branch's ops are its leg, and they are the legs the coordinator logged (digest).
 */
function refuseLegs(req: PrepareRequest): Vote | undefined {
  const no = (reason: string): Vote => ({ vote: 'no', type: ERR.invalidInput, reason });
  if (!Array.isArray(req.legs) || req.legs.length === 0)
    return no('a prepare must carry every leg of its transaction (the participant checks they balance)');
  const unbalanced = unbalancedLegs(req.legs);
  if (unbalanced) return no(unbalanced);
  const mine = req.legs.find((l) => l.name === req.participant);
  if (!mine || canonicalJson(mine.ops) !== canonicalJson(req.ops))
    return no(`${req.participant}'s ops are not its leg of the transaction`);
  if (req.digest !== undefined && transactionDigest(req.legs) !== req.digest)
    return no('the legs are not the ones the coordinator logged');
  return undefined;
}

/** The digest a 3PC branch is bound to: its transaction's legs, marked 3PC (never equal to a 2PC digest). */
export const threePhaseDigest = (legs: LoggedLeg[]): string => `3pc:${transactionDigest(legs)}`;

/** A 3PC phase-two/three call names its operation by its legs; older coordinators send none (unchecked). */
const threePhaseRefDigest = (ref: BranchRef): string | undefined =>
  Array.isArray(ref.legs) && ref.legs.length > 0 ? threePhaseDigest(ref.legs) : undefined;

function validateOps(ops: BranchOp[]): void {
  if (!Array.isArray(ops) || ops.length === 0)
    throw ApplicationFailure.nonRetryable('a branch needs at least one operation', ERR.invalidInput);
}

export function createBankActivities(pool: Pool, hooks?: FaultHooks & ParticipantHooks) {
  return createParticipantActivities(pool, { kind: 'bank', hooks });
}

/** The outbox participant, and the coordinator log kept in the same database. */
export function createOutboxActivities(pool: Pool, hooks?: FaultHooks & ParticipantHooks) {
  return {
    ...createParticipantActivities(pool, { kind: 'outbox', hooks }),
    ...createCoordinatorLogActivities(pool),
  };
}

export type ParticipantActivities = ReturnType<typeof createParticipantActivities>;
