// TCC (try / confirm / cancel) money transfer against the HTTP participant server. Try reserves on both banks
// in parallel (the debit's money is held, the credit is recorded); then confirm or cancel every leg. In manual
// mode the reservation waits for a confirm/cancel update on a durable timer: neither before it fires -> the
// reservation expires and is cancelled. The server's barrier makes each call idempotent and refuses a try that
// arrives after its cancel, so cancelling a leg whose try is still in flight (or never arrived) is safe.
import {
  CancellationScope,
  condition,
  ApplicationFailure,
  ActivityFailure,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { TccActivities } from '../activities/tcc';
import {
  formatAccountRef,
  formatCents,
  NON_RETRYABLE,
  resolveCompensationUpdate,
  SA,
  TASK_QUEUES,
  tccDecideUpdate,
  tccLegs,
  tccStateQuery,
  TRANSFER_ERR,
  validateTransferInput,
  type ParticipantView,
  type TccInput,
  type TccState,
  type OperatorDecision,
  type TccStatus,
  type TransferResult,
} from '../shared';
import { rejectInvalid } from './transfer-2pc';
import { describeError, toMs } from './two-phase';

export const DEFAULT_TCC_EXPIRY = '15m';
/** From here on a final refusal (409) in confirm/cancel parks the leg for an operator instead of retrying it. */
export const PARK_ON_REFUSAL_PATCH = 'settle-tcc-park-on-refusal';
/** From here on confirm is never decided within the confirm margin of the reservations' expiry. */
export const CONFIRM_MARGIN_PATCH = 'settle-tcc-confirm-margin';
/**
 * How long before the expiry the coordinator stops deciding confirm: room for every leg's confirm to reach its
 * participant, and for the difference between the workflow's clock and the participants' (a quarter of the
 * reservation's life, at most 30 s).
 */
export const confirmMarginMs = (expiresInMs: number): number => Math.min(30_000, Math.floor(expiresInMs / 4));

/** The participant refused this confirm/cancel for good (expired, already cancelled/confirmed, unknown). */
function finalRefusal(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.nonRetryable ? cause : undefined;
}

const tryActs = proxyActivities<TccActivities>({
  taskQueue: TASK_QUEUES.tcc,
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '30s',
  retry: {
    initialInterval: '200ms',
    backoffCoefficient: 2,
    maximumInterval: '2s',
    nonRetryableErrorTypes: [...NON_RETRYABLE, ...Object.values(TRANSFER_ERR)],
  },
});
// Confirm and cancel must finish: no attempt limit.
const settleActs = proxyActivities<TccActivities>({
  taskQueue: TASK_QUEUES.tcc,
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

export async function transferTcc(input: TccInput): Promise<TransferResult> {
  rejectInvalid(validateTransferInput(input, 'tcc'));
  const { workflowId } = workflowInfo();
  const started = Date.now();
  const useSA = input.options?.searchAttributes !== false;
  const expiresIn = input.expiresIn ?? DEFAULT_TCC_EXPIRY;
  const state: TccState = {
    status: 'trying',
    legs: tccLegs(input).map((l) => ({ ...l, tried: 'pending' })),
    expiresAt: new Date(started + toMs(expiresIn)).toISOString(),
  };
  let requested: { action: 'confirm' | 'cancel'; reason?: string } | undefined;
  // Legs parked for an operator (a final refusal in phase two), and the operator's answers to them.
  const parked = new Map<string, string>();
  const answers: OperatorDecision[] = [];

  const publish = (): void =>
    setCurrentDetails(
      [
        `**TCC ${state.status}**${state.reason ? ` — ${state.reason}` : ''}`,
        '',
        ...state.legs.map(
          (l) =>
            `- ${l.branch} ${l.bank}:${l.account} ${formatCents(l.amountCents)}: try ${l.tried}${l.settled ? `, ${l.settled}` : ''}`,
        ),
      ].join('\n'),
    );
  const setStatus = (s: TccStatus): void => {
    state.status = s;
    if (useSA) upsertSearchAttributes([{ key: SA.status, value: s }]);
    publish();
  };
  const snapshot = (): TccState => ({ ...state, legs: state.legs.map((l) => ({ ...l })) });
  setHandler(tccStateQuery, snapshot);
  // `settle resolve <workflowId> retry|skip|abort`: retry the parked call, or (skip/abort, with a reason) record
  // that the operator settled the leg by hand.
  setHandler(
    resolveCompensationUpdate,
    (d) => {
      answers.push(d);
      return { status: 'needs-operator', ledger: [] };
    },
    {
      validator: (d: OperatorDecision) => {
        if (parked.size === 0) throw new Error(`the transfer is ${state.status}: nothing is parked`);
        if (d?.action !== 'retry' && !d?.reason) throw new Error(`${d?.action} needs a reason`);
      },
    },
  );
  setHandler(
    tccDecideUpdate,
    (d) => {
      requested = d;
      return snapshot();
    },
    {
      validator: (d: { action: 'confirm' | 'cancel'; reason?: string }) => {
        if (d?.action !== 'confirm' && d?.action !== 'cancel')
          throw new Error('action must be confirm or cancel');
        if (state.status !== 'reserved' || requested)
          throw new Error(`the transfer is ${state.status}, not waiting for a decision`);
      },
    },
  );
  if (useSA) {
    upsertSearchAttributes([
      { key: SA.pattern, value: 'tcc' },
      { key: SA.businessKey, value: input.options?.businessKey ?? input.ref },
    ]);
  }
  setStatus('trying');

  // Try every leg in parallel.
  let cancelled = false;
  try {
    await Promise.all(
      state.legs.map(async (leg) => {
        try {
          await tryActs.tccTry.executeWithOptions(
            { summary: `try ${leg.branch} ${leg.bank}:${leg.account}` },
            [
              {
                workflowId,
                branch: leg.branch,
                bank: leg.bank,
                account: leg.account,
                amountCents: leg.amountCents,
                expiresAt: state.expiresAt,
                refuse: leg.refuse,
              },
            ],
          );
          leg.tried = 'yes';
        } catch (err) {
          if (isCancellation(err)) throw err;
          leg.tried = /Timeout|timeout/.test(describeError(err)) ? 'unknown' : 'no';
          leg.detail = describeError(err);
        }
        publish();
      }),
    );
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true;
  }

  let outcome: 'confirmed' | 'cancelled' | 'expired';
  const failed = state.legs.find((l) => l.tried !== 'yes');
  if (cancelled) {
    outcome = 'cancelled';
    state.reason = 'the transfer was cancelled while trying';
  } else if (failed) {
    outcome = 'cancelled';
    state.reason = `${failed.bank} ${failed.branch} try failed: ${failed.detail ?? failed.tried}`;
  } else {
    setStatus('reserved');
    // Confirm is decided only while every leg can still be confirmed before the participants' expiry (their
    // clock, not ours): within the margin, one leg could be confirmed and the other refused as expired.
    const margined = patched(CONFIRM_MARGIN_PATCH);
    const confirmBy = started + toMs(expiresIn) - (margined ? confirmMarginMs(toMs(expiresIn)) : 0);
    if (input.confirm === 'manual') {
      // The durable timer: it survives worker restarts, and the reservation expires when it fires.
      try {
        const left = confirmBy - Date.now();
        const decided =
          (!margined || left > 0) &&
          (await condition(() => requested !== undefined, margined ? left : expiresIn));
        if (!decided) requested = { action: 'cancel', reason: `reservation expired after ${expiresIn}` };
      } catch (err) {
        if (!isCancellation(err)) throw err;
        requested = { action: 'cancel', reason: 'the transfer was cancelled while reserved' };
      }
    } else if (margined && Date.now() >= confirmBy) {
      requested = {
        action: 'cancel',
        reason: `reservation expired for confirming: the tries finished less than ${confirmMarginMs(toMs(expiresIn))} ms before the expiry`,
      };
    } else {
      requested = { action: 'confirm', reason: 'every try succeeded (auto-confirm)' };
    }
    outcome =
      requested!.action === 'confirm'
        ? 'confirmed'
        : requested!.reason?.startsWith('reservation expired')
          ? 'expired'
          : 'cancelled';
    state.reason = requested!.reason ?? (outcome === 'confirmed' ? 'confirmed' : 'cancelled by request');
  }

  const parkOnRefusal = patched(PARK_ON_REFUSAL_PATCH);
  const parkForOperator = async (branch: string, why: string): Promise<OperatorDecision> => {
    parked.set(branch, why);
    state.reason = `needs an operator: ${branch} ${why}`;
    if (useSA) upsertSearchAttributes([{ key: SA.needsOperator, value: true }]);
    publish();
    await condition(() => answers.length > 0);
    parked.delete(branch);
    if (useSA && parked.size === 0) upsertSearchAttributes([{ key: SA.needsOperator, value: false }]);
    return answers.shift()!;
  };
  // Confirm or cancel every leg (cancel includes legs whose try failed or is unknown: a null compensation, and
  // the barrier refuses their try if it is still on its way). Not cancellable; retried until done.
  const confirm = outcome === 'confirmed';
  setStatus(confirm ? 'confirming' : 'cancelling');
  await CancellationScope.nonCancellable(() =>
    Promise.all(
      state.legs.map(async (leg) => {
        for (let attempt = 1; ; attempt++) {
          try {
            // The leg itself names the operation: a reservation of another run under this id is left alone.
            const call = {
              workflowId,
              branch: leg.branch,
              bank: leg.bank,
              account: leg.account,
              amountCents: leg.amountCents,
            };
            if (confirm)
              await settleActs.tccConfirm.executeWithOptions({ summary: `confirm ${leg.branch}` }, [call]);
            else await settleActs.tccCancel.executeWithOptions({ summary: `cancel ${leg.branch}` }, [call]);
            leg.settled = confirm ? 'confirmed' : 'cancelled';
            publish();
            return;
          } catch (err) {
            leg.detail = describeError(err);
            const refusal = finalRefusal(err);
            if (refusal && parkOnRefusal) {
              // Retrying a 409 cannot help: the participant decided (e.g. the reservation expired there).
              const answer = await parkForOperator(leg.branch, leg.detail);
              if (answer.action !== 'retry') {
                leg.detail = `settled by ${answer.operator ?? 'an operator'}: ${answer.reason ?? answer.action}`;
                publish();
                return;
              }
              continue;
            }
            publish();
            await sleep(Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6)));
          }
        }
      }),
    ),
  );
  setStatus(outcome);

  const participants: ParticipantView[] = state.legs.map((l) => ({
    name: l.bank,
    queue: TASK_QUEUES.tcc,
    gid: `${workflowId}/${l.branch}`,
    vote: l.tried,
    voteDetail: l.tried === 'yes' ? undefined : l.detail,
    phaseTwo: 'done',
    outcome: l.settled === 'confirmed' ? 'committed' : 'rolled-back',
    attempts: 0,
  }));
  return {
    workflowId,
    ref: input.ref,
    protocol: 'tcc',
    status: confirm ? 'committed' : 'aborted',
    from: formatAccountRef(input.from),
    to: formatAccountRef(input.to),
    amountCents: input.amountCents,
    amount: formatCents(input.amountCents),
    decision: confirm ? 'commit' : 'abort',
    reason: state.reason,
    participants,
    anomalies: [],
    outcome,
    finishedAfterMs: Date.now() - started,
  };
}
