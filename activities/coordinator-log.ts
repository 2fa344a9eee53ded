// The coordinator log's activities (services/coordinator-log.ts), registered on the outbox queue next to the
// log's database: begin (before phase one), decide (before phase two, write-once), and the in-doubt sweeper's
// question "what was decided for this branch's transaction?", answered from the log and never from the absence
// of a search attribute.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client as TemporalClient } from '@temporalio/client';
import type { Pool } from 'pg';
import {
  beginTransaction,
  decideTransaction,
  transactionDigest,
  transactionRecord,
} from '../services/coordinator-log';
import {
  decisionOf,
  ERR,
  presumeAbortUpdate,
  SA,
  type Decision,
  type BeginTransactionRequest,
  type DecideTransactionRequest,
  type ResolveRequest,
  type ResolveVerdict,
  type TransactionRecord,
} from '../shared';

export type CoordinatorLookup = (
  workflowId: string,
  opts: { presumeAbort: boolean },
) => Promise<CoordinatorVerdict>;
export interface CoordinatorVerdict {
  decision?: Decision;
  /** How the verdict was reached, for the sweep report. */
  basis: string;
}

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

/** Digest recorded for a transaction the sweeper resolves without ever having seen its coordinator. */
export const UNKNOWN_DIGEST = 'unknown';

export function createCoordinatorLogActivities(pool: Pool, opts: { lookup?: CoordinatorLookup } = {}) {
  const lookup = opts.lookup ?? temporalLookup(() => Context.current().client);
  /** Whether the id's latest run is still open; any doubt (Temporal unreachable) counts as running. */
  const coordinatorRunning = async (txId: string): Promise<boolean> => {
    try {
      const d = await Context.current().client.workflow.getHandle(txId).describe();
      return d.status.name === 'RUNNING';
    } catch (err) {
      return !(err instanceof WorkflowNotFoundError);
    }
  };
  return {
    async beginTransaction(req: BeginTransactionRequest): Promise<TransactionRecord> {
      if (!req?.txId || !Array.isArray(req.legs) || req.legs.length === 0)
        throw ApplicationFailure.nonRetryable('a transaction needs an id and legs', ERR.invalidInput);
      return beginTransaction(pool, req.txId, req.runId, transactionDigest(req.legs));
    },
    async decideTransaction(req: DecideTransactionRequest): Promise<TransactionRecord> {
      return decideTransaction(pool, req.txId, req.digest, req.decision, req.reason);
    },
    /**
     * The sweeper's verdict for one in-doubt branch. The log answers for every coordinator that has one (all of
     * them since the log exists): its recorded decision, or, past the grace period, a presumed abort recorded
     * write-once (a coordinator deciding at the same moment gets that abort back and follows it). Only a branch
     * the log knows nothing about (prepared before the log existed) falls back to asking Temporal; a coordinator
     * that cannot be found is then recorded aborted in the log first, so none can commit it later.
     */
    async resolveInDoubt(req: ResolveRequest): Promise<ResolveVerdict> {
      const rec = await transactionRecord(pool, req.txId);
      if (rec && (req.digest === undefined || rec.digest === req.digest)) {
        if (rec.decision) return { decision: rec.decision, basis: `coordinator log: ${rec.decision}` };
        // Presuming abort is always safe here (a coordinator deciding later reads this abort back); the grace
        // period only spares transactions whose coordinator is still at work.
        if (!req.presumeAbort && (await coordinatorRunning(req.txId)))
          return { basis: 'coordinator log: not decided yet, coordinator running (within the grace period)' };
        const won = await decideTransaction(
          pool,
          rec.txId,
          rec.digest,
          'abort',
          'presumed abort: the in-doubt sweeper found a branch prepared past the grace period',
        );
        return {
          decision: won.decision,
          basis: won.reason?.startsWith('presumed abort')
            ? 'presumed abort (no decision, coordinator closed or past the grace period), recorded in the coordinator log'
            : `coordinator log: ${won.decision}`,
        };
      }
      const verdict = await lookup(req.txId, { presumeAbort: req.presumeAbort });
      if (verdict.decision !== 'abort' || !verdict.basis.startsWith('no such coordinator')) return verdict;
      // Nobody ever coordinated this branch: make that abort the transaction's recorded decision.
      const won = await decideTransaction(
        pool,
        req.txId,
        req.digest ?? rec?.digest ?? UNKNOWN_DIGEST,
        'abort',
        `presumed abort: ${verdict.basis}`,
      ).catch(() => undefined);
      return won?.decision === 'commit'
        ? { decision: 'commit', basis: 'coordinator log: commit' }
        : { decision: 'abort', basis: verdict.basis };
    },
  };
}

export type CoordinatorLogActivities = ReturnType<typeof createCoordinatorLogActivities>;
