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
const transferOptions = (giveUpFast?: boolean) => ({
  activityTimeout: '2s',
  ...(giveUpFast ? { voteTimeout: '3s' } : {}),
  waitTimeout: '20s',
  commitTimeout: '40s',
});

const order: PatternSpec = {
  name: 'order',
  forward: ['create', 'reserve', 'charge', 'notify', 'confirm'],
  undo: ['undo:create', 'undo:reserve', 'undo:charge'],
  endings: ['completed', 'compensated'],
  workflowId: orderWorkflowId,
  start(client, id, o) {
    const steps = ['create', 'reserve', 'charge', 'notify', 'confirm'];
    return startWith(client, 'orderSaga', {
      workflowId: orderWorkflowId(id),
      allowDuplicate: o.allowDuplicate,
      args: [
        {
          orderId: id,
          customerId: 'alice',
          sku: 'SKU-1',
          qty: 1,
          amountCents: 100,
          ...(o.failing ? { failAt: 'charge' } : {}),
        },
        o.giveUpFast ? { stepTimeouts: Object.fromEntries(steps.map((s) => [s, SAGA_STEP_TIMEOUT])) } : {},
      ],
    });
  },
  lateMs: (at) => (at.startsWith('undo:') ? COMPENSATION_LATE_MS : SAGA_LATE_MS),
};

/** Trip resources the harness adds (not seeded) so a long matrix never runs out of cars or rooms. */
export const CHAOS_TRIP_RESOURCES = {
  flight: 'CHAOS-FL',
  hotel: 'CHAOS-HT',
  car: 'chaos-car',
  count: 10_000,
};

const trip: PatternSpec = {
  name: 'trip',
  forward: ['flight', 'hotel', 'car', 'pay', 'confirm', 'email'],
  undo: ['undo:flight', 'undo:hotel', 'undo:car', 'undo:pay'],
  endings: ['completed', 'compensated'],
  workflowId: tripWorkflowId,
  start(client, id, o) {
    const steps = ['flight', 'hotel', 'car', 'pay', 'confirm', 'email'];
    return startWith(client, 'tripSaga', {
      workflowId: tripWorkflowId(id),
      allowDuplicate: o.allowDuplicate,
      args: [
        {
          tripId: id,
          customerId: 'alice',
          flightId: CHAOS_TRIP_RESOURCES.flight,
          hotelId: CHAOS_TRIP_RESOURCES.hotel,
          carClass: CHAOS_TRIP_RESOURCES.car,
          nights: 1,
          amountCents: 1000,
          ...(o.failing ? { failAt: 'pay' } : {}),
        },
        o.giveUpFast ? { stepTimeouts: Object.fromEntries(steps.map((s) => [s, SAGA_STEP_TIMEOUT])) } : {},
      ],
    });
  },
  lateMs: (at) => (at.startsWith('undo:') ? COMPENSATION_LATE_MS : SAGA_LATE_MS),
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
  start(client, id, o) {
    return startWith(client, 'transfer2pc', {
      workflowId: transferWorkflowId(id),
      allowDuplicate: o.allowDuplicate,
      args: [
        {
          ref: id,
          from: { bank: 'bank-a', account: 'alice' },
          to: { bank: 'bank-b', account: 'bob' },
          amountCents: o.amountCents ?? 100,
          ...(o.failing ? { voteNo: 'outbox' } : {}),
          options: transferOptions(o.giveUpFast),
        },
      ],
    });
  },
  lateMs: () => 4_000,
};

const K4 = kParticipants({ ref: 'k4', k: 4, amountCents: 1 }).map((p) => p.name);
const twoPc4: PatternSpec = {
  name: '2pc-4',
  forward: [...K4.map((p) => `prepare:${p}`), ...K4.map((p) => `commit:${p}`)],
  undo: [],
  endings: ['committed', 'aborted'],
  workflowId: (id) => `chaosk-${id}`,
  start(client, id, o) {
    return startWith(client, 'transferK', {
      workflowId: `chaosk-${id}`,
      allowDuplicate: o.allowDuplicate,
      args: [{ ref: id, k: 4, amountCents: o.amountCents ?? 100, options: transferOptions(o.giveUpFast) }],
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
  start(client, id, o) {
    return startWith(client, 'transferTcc', {
      workflowId: transferWorkflowId(id),
      allowDuplicate: o.allowDuplicate,
      args: [
        {
          ref: id,
          from: { bank: 'bank-a', account: 'carol' },
          to: { bank: 'bank-b', account: 'dave' },
          amountCents: o.amountCents ?? 100,
          ...(o.failing ? { voteNo: 'bank-b' } : {}),
          options: transferOptions(o.giveUpFast),
        },
      ],
    });
  },
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
  start(client, id, o) {
    return startWith(client, 'transfer3pc', {
      workflowId: transferWorkflowId(id),
      allowDuplicate: o.allowDuplicate,
      args: [
        {
          ref: id,
          from: { bank: 'bank-a', account: 'erin' },
          to: { bank: 'bank-b', account: 'frank' },
          amountCents: o.amountCents ?? 100,
          ...(o.failing ? { voteNo: 'outbox' } : {}),
          options: transferOptions(o.giveUpFast),
        },
      ],
    });
  },
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
