// Money transfers over two-phase commit: the debit bank, the credit bank and the outbox (the transfer's
// notification event) prepare in parallel and commit or abort together. transferK is the benchmark's
// k-participant variant (2..8 legs over the seeded accounts of both banks).
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import {
  ERR,
  formatAccountRef,
  formatCents,
  kParticipants,
  transferParticipants,
  validateTransferInput,
  validateTransferKInput,
  type CoordinatorState,
  type Protocol,
  type TransferInput,
  type TransferKInput,
  type TransferResult,
} from '../shared';
import { runTwoPhase } from './two-phase';

export function transferResult(
  protocol: Protocol,
  input: TransferInput,
  state: CoordinatorState,
): TransferResult {
  return {
    workflowId: workflowInfo().workflowId,
    ref: input.ref,
    protocol,
    status: state.decision === 'commit' ? 'committed' : 'aborted',
    from: formatAccountRef(input.from),
    to: formatAccountRef(input.to),
    amountCents: input.amountCents,
    amount: formatCents(input.amountCents),
    decision: state.decision ?? 'abort',
    reason: state.decisionReason,
    participants: state.participants,
    anomalies: state.anomalies,
    decidedAfterMs: state.decidedAfterMs,
    finishedAfterMs: state.finishedAfterMs,
  };
}

export function rejectInvalid(errors: string[]): void {
  if (errors.length) throw ApplicationFailure.nonRetryable(errors.join('; '), ERR.invalidInput);
}

export async function transfer2pc(input: TransferInput): Promise<TransferResult> {
  rejectInvalid(validateTransferInput(input, '2pc'));
  const participants = transferParticipants(workflowInfo().workflowId, input);
  const state = await runTwoPhase(participants, {
    ...input.options,
    businessKey: input.options?.businessKey ?? input.ref,
  });
  return transferResult('2pc', input, state);
}

/** k participants (2..8) in one 2PC: one debit of (k-1) x amount and k-1 credits of amount, alternating banks. */
export async function transferK(input: TransferKInput): Promise<CoordinatorState> {
  rejectInvalid(validateTransferKInput(input));
  return runTwoPhase(kParticipants(input), {
    ...input.options,
    businessKey: input.options?.businessKey ?? input.ref,
  });
}
