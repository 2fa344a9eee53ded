// Three-phase commit, for comparison with 2PC (see docs/3pc.md): can-commit (each participant prepares and
// starts its own wait timeout), pre-commit (each acknowledges the coming commit and starts its own commit
// timeout), do-commit. A participant left alone resolves itself: voted but never pre-committed -> abort;
// pre-committed but never told to commit -> commit. That is what 3PC buys (no participant blocks on a dead
// coordinator) at the price of an extra round trip, and what it cannot buy under a network partition.
import { ApplicationFailure, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import {
  ERR,
  transferParticipants,
  validateTransferInput,
  type CoordinatorOptions,
  type CoordinatorState,
  type ParticipantSpec,
  type TransferInput,
  type TransferResult,
} from '../shared';
import { rejectInvalid, transferResult } from './transfer-2pc';
import {
  collectVotes,
  createCoordinator,
  describeError,
  finishPhaseTwo,
  legsOf,
  participantsOf,
  phaseTwoOptions,
  toMs,
  voteOptions,
} from './two-phase';

export const DEFAULT_WAIT_TIMEOUT = '30s';
export const DEFAULT_COMMIT_TIMEOUT = '60s';
/** 3PC branches are bound to their operation (participants claim the gid at can-commit; phase two names it). */
export const THREE_PC_BOUND_PATCH = 'settle-3pc-bound-branches';
/**
 * A can-commit that finds its branch committed (an earlier run of this id decided commit: a reset) makes the
 * decision commit at once, without a pre-commit round a participant that is down would turn into an abort.
 */
export const THREE_PC_FOLLOW_COMMITTED_PATCH = 'settle-3pc-follow-committed';

function crash(after: string): never {
  throw ApplicationFailure.nonRetryable(`injected coordinator crash after ${after}`, ERR.injected);
}

export async function runThreePhase(
  participants: ParticipantSpec[],
  opts: CoordinatorOptions = {},
): Promise<CoordinatorState> {
  const c = createCoordinator('3pc', participants, opts);
  const { workflowId } = workflowInfo();
  const waitTimeoutMs = toMs(opts.waitTimeout ?? DEFAULT_WAIT_TIMEOUT);
  const commitTimeoutMs = toMs(opts.commitTimeout ?? DEFAULT_COMMIT_TIMEOUT);
  const legs = legsOf(participants);
  // From here on phase two/three name the operation (its legs): a run begun before can-commit bound its
  // branches sends none, so its own unbound branches are still committed or aborted.
  const refLegs = patched(THREE_PC_BOUND_PATCH) ? { legs } : {};

  // Phase 1: can-commit (the participants prepare).
  let refusal = await collectVotes(c, participants, opts, (p, view) =>
    participantsOf(p.queue, voteOptions(p.queue, opts)).canCommit.executeWithOptions(
      { summary: `can-commit ${p.name}` },
      [
        {
          gid: view.gid,
          workflowId,
          participant: p.name,
          ops: p.ops,
          voteNo: p.voteNo,
          legs,
          waitTimeoutMs,
          commitTimeoutMs,
        },
      ],
    ),
  );

  // Once any branch committed, commit is the only outcome left: an abort now would roll back a pre-committed
  // branch whose peer already committed (after a reset, the participant the earlier run was committing is
  // typically the one that is slow to answer).
  const followCommitted =
    refusal === undefined &&
    c.state.participants.some((p) => p.vote === 'yes' && p.voteDetail === 'already-committed') &&
    patched(THREE_PC_FOLLOW_COMMITTED_PATCH);

  // Phase 2: pre-commit. A refusal here means that participant already gave up waiting (and rolled back).
  if (refusal === undefined && !followCommitted) {
    if (opts.crashAfter === 'can-commit') crash('can-commit');
    c.setStatus('pre-committing');
    try {
      const acks = await Promise.all(
        c.state.participants.map(async (view) => {
          try {
            const ack = await participantsOf(
              view.queue,
              voteOptions(view.queue, opts),
            ).preCommit.executeWithOptions({ summary: `pre-commit ${view.name}` }, [
              { gid: view.gid, participant: view.name, ...refLegs },
            ]);
            view.preCommitted = ack.state !== 'refused';
            c.publish();
            return ack.state === 'refused' ? `${view.name} refused pre-commit: ${ack.reason}` : undefined;
          } catch (err) {
            if (isCancellation(err)) throw err;
            return `${view.name} did not acknowledge pre-commit: ${describeError(err)}`;
          }
        }),
      );
      refusal = acks.find((a) => a !== undefined);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      refusal = 'the coordinator was cancelled before it decided';
    }
    if (refusal === undefined && opts.crashAfter === 'pre-commit') crash('pre-commit');
  }
  c.decide(
    refusal === undefined ? 'commit' : 'abort',
    refusal ??
      (followCommitted
        ? 'a branch had already committed: an earlier run of this transaction decided commit'
        : 'every participant pre-committed'),
  );

  // Phase 3: do-commit (or abort), until done.
  await finishPhaseTwo(c, (view, decision) => {
    const acts = participantsOf(view.queue, phaseTwoOptions(view.queue, opts));
    // The legs name the operation: a participant leaves a branch of another operation under this gid alone.
    const ref = { gid: view.gid, participant: view.name, ...refLegs };
    return decision === 'commit'
      ? acts.doCommit.executeWithOptions({ summary: `do-commit ${view.name}` }, [ref])
      : acts.abortBranch.executeWithOptions({ summary: `abort ${view.name}` }, [ref]);
  });
  return c.finish();
}

export async function transfer3pc(input: TransferInput): Promise<TransferResult> {
  rejectInvalid(validateTransferInput(input, '3pc'));
  const participants = transferParticipants(workflowInfo().workflowId, input);
  const state = await runThreePhase(participants, {
    ...input.options,
    businessKey: input.options?.businessKey ?? input.ref,
  });
  return transferResult('3pc', input, state);
}
