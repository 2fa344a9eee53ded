// Money transfers across the two banks, and the atomic-commit protocols that run them (2PC, 3PC, TCC): input
// types and their validation, participant and coordinator shapes, global transaction ids, queries and updates.
// Imported by the CLI, the workflows, the activities and the tests; imports nothing Node-only.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { formatCents } from './money';
import { TASK_QUEUES } from './names';

// ---------------------------------------------------------------------------------------------- banks, accounts
export const BANKS = ['bank-a', 'bank-b'] as const;
export type BankId = (typeof BANKS)[number];

/** Each bank's participant activities run on its own task queue, next to its database. */
export const BANK_QUEUES: Record<BankId, string> = {
  'bank-a': TASK_QUEUES.bankA,
  'bank-b': TASK_QUEUES.bankB,
};
/** The message-queue participant (the transfer's notification event in an outbox table). */
export const OUTBOX_PARTICIPANT = 'outbox';

export interface AccountRef {
  bank: BankId;
  account: string;
}

const ACCOUNT_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Parse `bank-a:alice`; returns an error message for anything else. */
export function parseAccountRef(text: string): AccountRef | string {
  const i = text.indexOf(':');
  const bank = i < 0 ? '' : text.slice(0, i);
  const account = i < 0 ? '' : text.slice(i + 1);
  if (!(BANKS as readonly string[]).includes(bank))
    return `'${text}' is not BANK:ACCOUNT with BANK one of ${BANKS.join(', ')} (e.g. bank-a:alice)`;
  if (!ACCOUNT_RE.test(account))
    return `account '${account}' must be 1-32 characters of a-z, 0-9, _ and -, starting with a letter or digit`;
  return { bank: bank as BankId, account };
}

export const formatAccountRef = (r: AccountRef): string => `${r.bank}:${r.account}`;

/** The accounts the local stack seeds (amounts in cents); `bank-a:alice` and `bank-b:bob` are the demo pair. */
export const SEED_ACCOUNTS: readonly {
  bank: BankId;
  account: string;
  owner: string;
  balanceCents: number;
}[] = [
  { bank: 'bank-a', account: 'alice', owner: 'Alice', balanceCents: 100_000 },
  { bank: 'bank-a', account: 'carol', owner: 'Carol', balanceCents: 50_000 },
  { bank: 'bank-a', account: 'erin', owner: 'Erin', balanceCents: 50_000 },
  { bank: 'bank-a', account: 'grace', owner: 'Grace', balanceCents: 50_000 },
  { bank: 'bank-b', account: 'bob', owner: 'Bob', balanceCents: 50_000 },
  { bank: 'bank-b', account: 'dave', owner: 'Dave', balanceCents: 50_000 },
  { bank: 'bank-b', account: 'frank', owner: 'Frank', balanceCents: 50_000 },
  { bank: 'bank-b', account: 'heidi', owner: 'Heidi', balanceCents: 50_000 },
];

// ---------------------------------------------------------------------------------------------- participants
/** What a participant does inside its local (prepared) transaction. */
export type BranchOp =
  | { kind: 'debit' | 'credit'; account: string; amountCents: number }
  | { kind: 'event'; eventId: string; topic: string; key: string; payload: Record<string, unknown> };

export interface ParticipantSpec {
  /** Unique within the transaction; part of the global transaction id. */
  name: string;
  /** The participant service's task queue (where its prepare/commit/rollback activities run). */
  queue: string;
  ops: BranchOp[];
  /** Fault injection for demos and tests: this participant votes no. */
  voteNo?: boolean;
}

export const PARTICIPANT_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** Characters allowed in a global transaction id: it is spliced into PREPARE TRANSACTION '<gid>' (no quotes). */
const GID_RE = /^[A-Za-z0-9._:/@+-]{1,200}$/;
export const GID_PREFIX = 'settle:';

/** Global transaction id of one participant's branch: `settle:<participant>:<workflowId>`. */
export function branchGid(workflowId: string, participant: string): string {
  return `${GID_PREFIX}${participant}:${workflowId}`;
}

export function isValidGid(gid: string): boolean {
  return GID_RE.test(gid);
}

/** The participant and coordinator workflow id of a Settle gid; undefined for anyone else's prepared transaction. */
export function parseGid(gid: string): { participant: string; workflowId: string } | undefined {
  if (!gid.startsWith(GID_PREFIX)) return undefined;
  const rest = gid.slice(GID_PREFIX.length);
  const i = rest.indexOf(':');
  if (i <= 0 || i === rest.length - 1) return undefined;
  return { participant: rest.slice(0, i), workflowId: rest.slice(i + 1) };
}

export interface PrepareRequest {
  gid: string;
  workflowId: string;
  participant: string;
  ops: BranchOp[];
  voteNo?: boolean;
  /**
   * The transaction's digest (coordinator log): the participant binds its branch to it and to its own ops, so
   * a prepare of another operation under the same gid votes no instead of adopting the prepared branch.
   */
  digest?: string;
  /**
   * Every leg of the transaction: the participant checks that they balance, that its own ops are its leg, and
   * (with a digest) that they are what the coordinator logged. A prepare without them votes no.
   */
  legs?: LoggedLeg[];
}

/** 3PC can-commit: a prepare plus the participant-side timeouts it enforces on its own. */
export interface CanCommitRequest extends PrepareRequest {
  /** Voted yes but no pre-commit within this long: the participant aborts by itself. */
  waitTimeoutMs: number;
  /** Pre-committed but no do-commit within this long: the participant commits by itself. */
  commitTimeoutMs: number;
}

export interface BranchRef {
  gid: string;
  participant: string;
  /** The transaction digest the branch was prepared for; phase two of another operation leaves it alone. */
  digest?: string;
  /** 3PC: the transaction's legs (the participant binds 3PC branches to their digest); absent for 2PC. */
  legs?: LoggedLeg[];
}

/**
 * Canonical JSON (object keys sorted, undefined members dropped): the input of every operation digest, so the
 * same operation always hashes the same whichever process (workflow, participant) computes it.
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x ?? null)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * Why a set of legs moves money unsafely, or undefined when debits equal credits (Settle has one currency:
 * cents) and every amount is a positive whole number. Checked by every coordinator and again by every participant.
 */
export function unbalancedLegs(legs: readonly { ops: readonly BranchOp[] }[]): string | undefined {
  let debits = 0;
  let credits = 0;
  for (const op of legs.flatMap((l) => l.ops)) {
    if (op.kind === 'event') continue;
    if (!Number.isSafeInteger(op.amountCents) || op.amountCents <= 0)
      return `every amount must be a positive whole number of cents, got ${op.amountCents}`;
    if (op.kind === 'debit') debits += op.amountCents;
    else credits += op.amountCents;
  }
  if (!Number.isSafeInteger(debits) || !Number.isSafeInteger(credits)) return 'the amounts are too large';
  if (debits !== credits)
    return `the legs do not balance: debits ${debits} cents, credits ${credits} cents (they must be equal)`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------- coordinator log
/** A leg as the coordinator log digests it: which participant, on which queue, doing what (no fault switches). */
export interface LoggedLeg {
  name: string;
  queue: string;
  ops: BranchOp[];
}

export interface BeginTransactionRequest {
  /** The coordinator's workflow id: the transaction's (business) id. */
  txId: string;
  runId: string;
  legs: LoggedLeg[];
}

/** The coordinator log's row for one transaction id (written before phase one, decided once before phase two). */
export interface TransactionRecord {
  txId: string;
  digest: string;
  firstRunId: string;
  decision?: Decision;
  reason?: string;
  /** begin only: the id was first used for another operation (another digest); nothing was written. */
  conflict?: boolean;
}

export interface DecideTransactionRequest {
  txId: string;
  digest: string;
  decision: Decision;
  reason: string;
}

/** The in-doubt sweeper's question about one prepared branch, answered from the coordinator log. */
export interface ResolveRequest {
  txId: string;
  /** The transaction digest the branch is bound to (absent for branches prepared before the log existed). */
  digest?: string;
  /** The branch waited past the grace period: record abort unless a decision exists. */
  presumeAbort: boolean;
}

export interface ResolveVerdict {
  decision?: Decision;
  /** How the verdict was reached, for the sweep report. */
  basis: string;
}

export type Vote =
  | { vote: 'yes'; state: 'prepared' | 'already-prepared' | 'already-committed' }
  | { vote: 'no'; type: string; reason: string };

export type PhaseTwoState =
  | 'committed'
  | 'already-committed'
  | 'rolled-back'
  | 'nothing-prepared'
  /** Commit asked, but the branch was rolled back by someone else (an operator, a participant-side timeout). */
  | 'heuristic-rollback'
  /** Rollback asked, but the branch had already committed (a 3PC participant's own commit timeout). */
  | 'heuristic-commit';
export interface PhaseTwoOutcome {
  state: PhaseTwoState;
}

export type PreCommitOutcome =
  { state: 'pre-committed' | 'already-pre-committed' } | { state: 'refused'; reason: string };

// ---------------------------------------------------------------------------------------------- coordinator
export type Decision = 'commit' | 'abort';
/** SettleStatus values of the 2PC/3PC coordinators: the decision is recorded (committing/aborting) before phase two. */
export type CoordinatorStatus =
  'preparing' | 'pre-committing' | 'committing' | 'aborting' | 'committed' | 'aborted';
export type Protocol = '2pc' | '3pc' | 'tcc';
export const PROTOCOLS: readonly Protocol[] = ['2pc', 'tcc', '3pc'];

/** The decision a status implies; undefined while the coordinator has not decided. */
export function decisionOf(status: string | undefined): Decision | undefined {
  if (status === 'committing' || status === 'committed') return 'commit';
  if (status === 'aborting' || status === 'aborted') return 'abort';
  return undefined;
}

export type VoteState = 'pending' | 'yes' | 'no' | 'unknown';

export interface ParticipantView {
  name: string;
  queue: string;
  gid: string;
  vote: VoteState;
  /** Why a participant voted no or its outcome is unknown. */
  voteDetail?: string;
  /** 3PC only: pre-commit acknowledged. */
  preCommitted?: boolean;
  phaseTwo: 'pending' | 'done';
  outcome?: PhaseTwoState;
  /** Failed phase-two calls seen by the workflow (activity retries inside one call are in history). */
  attempts: number;
  lastError?: string;
}

export interface CoordinatorState {
  protocol: '2pc' | '3pc';
  status: CoordinatorStatus;
  decision?: Decision;
  decisionReason?: string;
  participants: ParticipantView[];
  /** Heuristic outcomes: a branch that ended the other way than the decision. Empty in a healthy run. */
  anomalies: string[];
  /** Workflow time from start to the decision, and from start to the end of phase two. */
  decidedAfterMs?: number;
  finishedAfterMs?: number;
}

export const coordinatorStateQuery = defineQuery<CoordinatorState>('coordinatorState');

/**
 * Asked by the in-doubt sweeper when a prepared transaction has waited past the grace period: if the coordinator
 * has not decided yet, it decides abort (presumed abort); either way it answers with its decision. The coordinator
 * stays the only one that decides, so the sweeper can never roll back a branch the coordinator then commits.
 */
export const presumeAbortUpdate = defineUpdate<CoordinatorState, [{ reason: string }]>('presumeAbort');

export interface CoordinatorOptions {
  /**
   * How long the coordinator waits for every vote before it aborts (the workflow's own timer, and the prepare
   * activities' schedule-to-close). A worker restart after a prepare must finish inside this, minus
   * `prepareHeartbeatTimeout`, for the transfer to commit. Default 30s.
   */
  voteTimeout?: string;
  /** Start-to-close timeout of each participant activity call. Default 5s. */
  activityTimeout?: string;
  /**
   * A prepare attempt that stops heartbeating for this long is dead (its worker crashed) and is retried at once
   * on another worker instead of after its start-to-close timeout. Default 2s.
   */
  prepareHeartbeatTimeout?: string;
  /** 3PC: participant-side timeouts (defaults 30s and 60s). */
  waitTimeout?: string;
  commitTimeout?: string;
  /** 3PC fault injection: the coordinator fails right after this phase (it "crashes" and is gone). */
  crashAfter?: 'can-commit' | 'pre-commit';
  /** Set Settle's search attributes (default true; the time-skipping test server does not know them). */
  searchAttributes?: boolean;
  businessKey?: string;
}

// ---------------------------------------------------------------------------------------------- transfers
export interface TransferInput {
  /** Business reference; the workflow id is `transfer-<ref>`. */
  ref: string;
  from: AccountRef;
  to: AccountRef;
  amountCents: number;
  /** Fault injection: this participant (bank-a, bank-b or outbox) votes no / refuses its try. */
  voteNo?: string;
  options?: CoordinatorOptions;
}

export interface TransferResult {
  workflowId: string;
  ref: string;
  protocol: Protocol;
  /** committed: the money moved (and, for 2PC/3PC, the notification event exists); aborted: nothing changed. */
  status: 'committed' | 'aborted';
  from: string;
  to: string;
  amountCents: number;
  amount: string;
  decision: Decision;
  reason?: string;
  participants: ParticipantView[];
  anomalies: string[];
  /** TCC: how it ended (confirmed, cancelled, expired). */
  outcome?: string;
  decidedAfterMs?: number;
  finishedAfterMs?: number;
}

const REF_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const TRANSFER_WORKFLOW_PREFIX = 'transfer-';
export const transferWorkflowId = (ref: string): string => `${TRANSFER_WORKFLOW_PREFIX}${ref}`;

/** Participants that can be told to vote no, per protocol. */
export function voteNoChoices(protocol: Protocol): string[] {
  return protocol === 'tcc' ? [...BANKS] : [...BANKS, OUTBOX_PARTICIPANT];
}

/** Validation shared by the CLI (before anything starts) and the workflows (defence in depth). */
export function validateTransferInput(input: TransferInput, protocol: Protocol): string[] {
  const errors: string[] = [];
  if (!REF_RE.test(input.ref)) errors.push('transfer ref must be 1-64 characters of letters, digits, . _ -');
  for (const [flag, ref] of [
    ['--from', input.from],
    ['--to', input.to],
  ] as const) {
    if (!ref || !(BANKS as readonly string[]).includes(ref.bank) || !ACCOUNT_RE.test(ref.account))
      errors.push(`${flag} must be BANK:ACCOUNT with BANK one of ${BANKS.join(', ')}`);
  }
  if (input.from?.bank && input.from.bank === input.to?.bank)
    errors.push(
      `--from and --to are both at ${input.from.bank}: a transfer runs across the two banks (bank-a and bank-b)`,
    );
  if (!Number.isSafeInteger(input.amountCents) || input.amountCents <= 0)
    errors.push('--amount must be a positive amount with at most 2 decimals');
  if (input.voteNo !== undefined && !voteNoChoices(protocol).includes(input.voteNo))
    errors.push(`--vote-no must be one of ${voteNoChoices(protocol).join(', ')} for ${protocol}`);
  return errors;
}

/** The 2PC/3PC participants of a transfer: the debit bank, the credit bank, and the outbox (its notification event). */
export function transferParticipants(workflowId: string, input: TransferInput): ParticipantSpec[] {
  const amount = formatCents(input.amountCents);
  return [
    {
      name: input.from.bank,
      queue: BANK_QUEUES[input.from.bank],
      ops: [{ kind: 'debit', account: input.from.account, amountCents: input.amountCents }],
      voteNo: input.voteNo === input.from.bank,
    },
    {
      name: input.to.bank,
      queue: BANK_QUEUES[input.to.bank],
      ops: [{ kind: 'credit', account: input.to.account, amountCents: input.amountCents }],
      voteNo: input.voteNo === input.to.bank,
    },
    {
      name: OUTBOX_PARTICIPANT,
      queue: TASK_QUEUES.outbox,
      ops: [
        {
          kind: 'event',
          eventId: workflowId,
          topic: 'transfer.committed',
          key: input.ref,
          payload: {
            ref: input.ref,
            from: formatAccountRef(input.from),
            to: formatAccountRef(input.to),
            amountCents: input.amountCents,
            text: `${formatAccountRef(input.from)} sent ${amount} to ${formatAccountRef(input.to)}`,
          },
        },
      ],
      voteNo: input.voteNo === OUTBOX_PARTICIPANT,
    },
  ];
}

export function transferSummary(protocol: Protocol, input: TransferInput): string {
  return `Transfer ${input.ref} (${protocol}): ${formatAccountRef(input.from)} -> ${formatAccountRef(input.to)}, ${formatCents(input.amountCents)}`;
}

// ---------------------------------------------------------------------------------------------- k participants
export const MIN_PARTICIPANTS = 2;
export const MAX_PARTICIPANTS = 8;

/** Benchmark transaction over k participants (2..8): one debit and k-1 credits, each leg its own prepared branch. */
export interface TransferKInput {
  ref: string;
  k: number;
  /** Credited to each of the k-1 receiving accounts; the debited account pays (k-1) times this. */
  amountCents: number;
  /** Rotates which seeded account pays and which receive (spreads the load in a long benchmark). Default 0. */
  offset?: number;
  options?: CoordinatorOptions;
}

/** Legs of a k-participant transaction over the seeded accounts, alternating between the two banks. */
export function kParticipants(input: TransferKInput): ParticipantSpec[] {
  const n = SEED_ACCOUNTS.length;
  const offset = (((input.offset ?? 0) % n) + n) % n;
  return Array.from({ length: input.k }, (_, i) => {
    const acct = SEED_ACCOUNTS[(offset + i) % n]!;
    const debit = i === 0;
    return {
      name: `p${i}-${acct.bank}`,
      queue: BANK_QUEUES[acct.bank],
      ops: [
        {
          kind: debit ? 'debit' : 'credit',
          account: acct.account,
          amountCents: debit ? input.amountCents * (input.k - 1) : input.amountCents,
        },
      ],
    };
  });
}

export function validateTransferKInput(input: TransferKInput): string[] {
  const errors: string[] = [];
  if (!REF_RE.test(input.ref)) errors.push('ref must be 1-64 characters of letters, digits, . _ -');
  if (!Number.isInteger(input.k) || input.k < MIN_PARTICIPANTS || input.k > MAX_PARTICIPANTS)
    errors.push(`k must be a whole number from ${MIN_PARTICIPANTS} to ${MAX_PARTICIPANTS}`);
  if (!Number.isSafeInteger(input.amountCents) || input.amountCents <= 0)
    errors.push('amountCents must be a positive whole number');
  return errors;
}

// ---------------------------------------------------------------------------------------------- TCC
export type TccStatus =
  'trying' | 'reserved' | 'confirming' | 'cancelling' | 'confirmed' | 'cancelled' | 'expired';

export interface TccLeg {
  /** Branch name (debit or credit): with the workflow id it is the barrier key. */
  branch: 'debit' | 'credit';
  bank: BankId;
  account: string;
  /** Signed: negative takes money (held at try), positive gives it (credited at confirm). */
  amountCents: number;
  refuse?: boolean;
}

export interface TccInput extends TransferInput {
  /** auto: confirm as soon as every try succeeded; manual: wait for the confirm/cancel update. Default auto. */
  confirm?: 'auto' | 'manual';
  /** A reservation neither confirmed nor cancelled within this long is cancelled (durable timer). Default 15m. */
  expiresIn?: string;
}

export interface TccState {
  status: TccStatus;
  legs: (TccLeg & {
    tried: 'pending' | 'yes' | 'no' | 'unknown';
    detail?: string;
    settled?: 'confirmed' | 'cancelled';
  })[];
  reason?: string;
  expiresAt?: string;
}

export const tccStateQuery = defineQuery<TccState>('tccState');
/** Confirm or cancel a reserved TCC transfer (manual mode); rejected unless the transfer is reserved. */
export const tccDecideUpdate = defineUpdate<TccState, [{ action: 'confirm' | 'cancel'; reason?: string }]>(
  'tccDecide',
);

export function tccLegs(input: TransferInput): TccLeg[] {
  return [
    {
      branch: 'debit',
      bank: input.from.bank,
      account: input.from.account,
      amountCents: -input.amountCents,
      refuse: input.voteNo === input.from.bank,
    },
    {
      branch: 'credit',
      bank: input.to.bank,
      account: input.to.account,
      amountCents: input.amountCents,
      refuse: input.voteNo === input.to.bank,
    },
  ];
}

/** Error types of the transfer participants (ApplicationFailure.type); all are business outcomes, not retried. */
export const TRANSFER_ERR = {
  reservationCancelled: 'ReservationCancelled',
  reservationConfirmed: 'ReservationConfirmed',
  unknownReservation: 'UnknownReservation',
  /** Confirm refused: the reservation passed its expiry (the participant released it, or will). */
  reservationExpired: 'ReservationExpired',
  votedNo: 'VotedNo',
  /** A transaction id already used for another operation (another digest): refused, nothing prepared. */
  idReused: 'TransactionIdReused',
  /** A branch prepared for another operation under the same gid: votes no, phase two leaves it alone. */
  branchMismatch: 'BranchMismatch',
} as const;
