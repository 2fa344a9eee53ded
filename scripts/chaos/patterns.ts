// The patterns the matrix covers: each one's fault points (every step or branch, in the order they run), how a
// cell starts its workflow (distinct ids, short timeouts where the input allows), and how it must end.
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  kParticipants,
  orderWorkflowId,
  TASK_QUEUES,
  transferWorkflowId,
  tripWorkflowId,
} from '../../shared';
import { choreographyWorkflowId } from '../../shared/events';

export const PATTERNS = ['order', 'trip', '2pc-2', '2pc-4', 'tcc', '3pc', 'choreography'] as const;
export type PatternName = (typeof PATTERNS)[number];

export interface StartOptions {
  /** Make the run compensate / abort, so that the undo points are reached. */
  failing?: boolean;
  /** Saga step or coordinator timeouts short enough that a late attempt is given up on (late-commit). */
  giveUpFast?: boolean;
  /** Start with the SDK's default id reuse policy instead of rejecting a duplicate (same-id). */
  allowDuplicate?: boolean;
  /** Another amount than the default (same-id after a terminated run: the second run must not adopt the first's). */
  amountCents?: number;
}

export interface PatternSpec {
  name: PatternName;
  /** Points reached by a run that succeeds. */
  forward: string[];
  /** Points reached only by a failing run (compensations, rollbacks, cancels). */
  undo: string[];
  /** Statuses a run may end with; anything else (or still running) is a violation. */
  endings: string[];
  workflowId(id: string): string;
  start(client: Client, id: string, opts: StartOptions): Promise<WorkflowHandle>;
  /** How long a late attempt waits: past the activity's start-to-close timeout (or the saga's step timeout). */
  lateMs(at: string): number;
}

const orchestration = TASK_QUEUES.orchestration;
type StartArgs = { workflowId: string; args: unknown[]; allowDuplicate?: boolean };
const startWith = (client: Client, type: string, s: StartArgs): Promise<WorkflowHandle> =>
  client.workflow.start(type, {
    taskQueue: orchestration,
    workflowId: s.workflowId,
    args: s.args,
    workflowIdReusePolicy: s.allowDuplicate ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
  });

const SAGA_STEP_TIMEOUT = '3s';
/** Saga compensations run with the engine's fixed 10s start-to-close timeout. */
const SAGA_LATE_MS = 5_000;
const COMPENSATION_LATE_MS = 12_000;
/**
 * A saga run of `type`; a failing one fails at `failAt` (before the pivot completes, so every undo point is
 * reached); for late-commit every step gets a deadline short enough that a late attempt is given up on.
 */
const startSaga =
  (
    type: string,
    workflowId: (id: string) => string,
    steps: string[],
    failAt: string,
    input: (id: string) => Record<string, unknown>,
  ): PatternSpec['start'] =>
  (client, id, o) =>
    startWith(client, type, {
      workflowId: workflowId(id),
      allowDuplicate: o.allowDuplicate,
      args: [
        { ...input(id), ...(o.failing ? { failAt } : {}) },
        o.giveUpFast ? { stepTimeouts: Object.fromEntries(steps.map((s) => [s, SAGA_STEP_TIMEOUT])) } : {},
      ],
    });
const sagaLateMs = (at: string): number => (at.startsWith('undo:') ? COMPENSATION_LATE_MS : SAGA_LATE_MS);
const transferOptions = (giveUpFast?: boolean) => ({
  activityTimeout: '2s',
  ...(giveUpFast ? { voteTimeout: '3s' } : {}),
  waitTimeout: '20s',
  commitTimeout: '40s',
});

/** A two-bank transfer (2PC, TCC, 3PC), each protocol between its own accounts; a failing run has `voteNo` say no. */
const startTransfer =
  (type: string, from: string, to: string, voteNo: string): PatternSpec['start'] =>
  (client, id, o) =>
    startWith(client, type, {
      workflowId: transferWorkflowId(id),
      allowDuplicate: o.allowDuplicate,
      args: [
        {
          ref: id,
          from: { bank: 'bank-a', account: from },
          to: { bank: 'bank-b', account: to },
          amountCents: o.amountCents ?? 100,
          ...(o.failing ? { voteNo } : {}),
          options: transferOptions(o.giveUpFast),
        },
      ],
    });

const ORDER_STEPS = ['create', 'reserve', 'charge', 'confirm', 'notify'];
const order: PatternSpec = {
  name: 'order',
  forward: ORDER_STEPS,
  undo: ['undo:create', 'undo:reserve', 'undo:charge'],
  endings: ['completed', 'compensated'],
  workflowId: orderWorkflowId,
  start: startSaga('orderSaga', orderWorkflowId, ORDER_STEPS, 'charge', (orderId) => ({
    orderId,
    customerId: 'alice',
    sku: 'SKU-1',
    qty: 1,
    amountCents: 100,
  })),
  lateMs: sagaLateMs,
};

/** Trip resources the harness adds (not seeded) so a long matrix never runs out of cars or rooms. */
export const CHAOS_TRIP_RESOURCES = {
  flight: 'CHAOS-FL',
  hotel: 'CHAOS-HT',
  car: 'chaos-car',
  count: 10_000,
};

// `points` (the loyalty award) is the last forward step after the pivot, recorded behind its patch marker.
const TRIP_STEPS = ['flight', 'hotel', 'car', 'pay', 'confirm', 'email', 'points'];
const trip: PatternSpec = {
  name: 'trip',
  forward: TRIP_STEPS,
  undo: ['undo:flight', 'undo:hotel', 'undo:car', 'undo:pay'],
  endings: ['completed', 'compensated'],
  workflowId: tripWorkflowId,
  start: startSaga('tripSaga', tripWorkflowId, TRIP_STEPS, 'pay', (tripId) => ({
    tripId,
    customerId: 'alice',
    flightId: CHAOS_TRIP_RESOURCES.flight,
    hotelId: CHAOS_TRIP_RESOURCES.hotel,
    carClass: CHAOS_TRIP_RESOURCES.car,
    nights: 1,
    amountCents: 1000,
  })),
  lateMs: sagaLateMs,
};

const twoPc2: PatternSpec = {
  name: '2pc-2',
  forward: [
    'prepare:bank-a',
    'prepare:bank-b',
    'prepare:outbox',
    'commit:bank-a',
    'commit:bank-b',
    'commit:outbox',
  ],
  undo: ['rollback:bank-a', 'rollback:bank-b'],
  endings: ['committed', 'aborted'],
  workflowId: transferWorkflowId,
  start: startTransfer('transfer2pc', 'alice', 'bob', 'outbox'),
  lateMs: () => 4_000,
};

const K4 = kParticipants({ ref: 'k4', k: 4, amountCents: 1 }).map((p) => p.name);
/** transferK has no vote-no switch: a failing run credits so much that p0's debit (3 x this) exceeds its balance. */
const K4_REFUSED_AMOUNT = 1_000_000;
const twoPc4: PatternSpec = {
  name: '2pc-4',
  forward: [...K4.map((p) => `prepare:${p}`), ...K4.map((p) => `commit:${p}`)],
  // p0 votes no (insufficient funds); the others prepared and are rolled back.
  undo: K4.slice(1).map((p) => `rollback:${p}`),
  endings: ['committed', 'aborted'],
  workflowId: (id) => `chaosk-${id}`,
  start(client, id, o) {
    return startWith(client, 'transferK', {
      workflowId: `chaosk-${id}`,
      allowDuplicate: o.allowDuplicate,
      args: [
        {
          ref: id,
          k: 4,
          amountCents: o.failing ? K4_REFUSED_AMOUNT : (o.amountCents ?? 100),
          options: transferOptions(o.giveUpFast),
        },
      ],
    });
  },
  lateMs: () => 4_000,
};

const tcc: PatternSpec = {
  name: 'tcc',
  forward: ['try:debit', 'try:credit', 'confirm:debit', 'confirm:credit'],
  undo: ['cancel:debit', 'cancel:credit'],
  endings: ['committed', 'aborted'],
  workflowId: transferWorkflowId,
  start: startTransfer('transferTcc', 'carol', 'dave', 'bank-b'),
  lateMs: () => 12_000,
};

const threePc: PatternSpec = {
  name: '3pc',
  forward: ['bank-a', 'bank-b', 'outbox'].flatMap((p) => [
    `can-commit:${p}`,
    `pre-commit:${p}`,
    `do-commit:${p}`,
  ]),
  undo: ['abort:bank-a', 'abort:bank-b'],
  endings: ['committed', 'aborted'],
  workflowId: transferWorkflowId,
  start: startTransfer('transfer3pc', 'erin', 'frank', 'outbox'),
  lateMs: () => 4_000,
};

const choreography: PatternSpec = {
  name: 'choreography',
  forward: ['place', 'deliver:OrderPlaced', 'deliver:StockReserved', 'deliver:PaymentCompleted'],
  undo: ['deliver:PaymentFailed', 'deliver:StockReleased'],
  endings: ['confirmed', 'cancelled'],
  workflowId: choreographyWorkflowId,
  start(client, id, o) {
    // bob cannot pay 900.00: the payment fails and the inventory service releases the stock.
    return startWith(client, 'choreographedOrder', {
      workflowId: choreographyWorkflowId(id),
      allowDuplicate: o.allowDuplicate,
      args: [{ orderId: id, customerId: 'bob', sku: 'SKU-1', qty: 1, amountCents: o.failing ? 90_000 : 100 }],
    });
  },
  lateMs: () => 12_000,
};

export const SPECS: Record<PatternName, PatternSpec> = {
  order,
  trip,
  '2pc-2': twoPc2,
  '2pc-4': twoPc4,
  tcc,
  '3pc': threePc,
  choreography,
};

/** The status a closed run ended with, from its result (sagas, transfers, choreography, transferK). */
export function endingOf(result: unknown): string {
  const r = (result ?? {}) as { status?: string; outcome?: string; decision?: string };
  return r.status ?? r.outcome ?? r.decision ?? 'unknown';
}
