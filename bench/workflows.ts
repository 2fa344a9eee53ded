// Workflows that exist only for `npm run bench`. They mirror the order saga (four compensatable steps, then
// confirm; the same retry policies and compensation names) so each workload isolates one cost:
//  - benchEngineSaga: the saga library on activities that do no I/O (the library's own cost);
//  - benchBaseline:   the same activity calls hand-written, without the library (the server's limit);
//  - benchOrderSaga:  the real order saga with a chosen set of steps run as local activities (the tuning
//                     "local activities for short same-service database steps", measured both ways);
//  - benchParkedSaga: an engine saga that stops half-way until signalled (memory per cached workflow);
//  - benchTwoPhase:   the 2PC coordinator (runTwoPhase, as transferK) over accounts the bench seeds for each
//                     transaction, so concurrent transactions never wait on each other's row locks.
import {
  condition,
  defineSignal,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type {
  BenchInventoryActivities,
  BenchNotificationsActivities,
  BenchOrdersActivities,
  BenchPaymentsActivities,
  BenchStepInput,
} from './activities';
import type {
  InventoryActivities,
  NotificationsActivities,
  OrdersActivities,
  PaymentsActivities,
} from '../activities/shop';
import {
  BENCH_TASK_QUEUES,
  NON_RETRYABLE,
  TASK_QUEUES,
  type CoordinatorState,
  type OrderInput,
  type OrderStep,
  type ParticipantSpec,
  type SagaResult,
} from '../shared';
import { defineSaga, runSaga } from '../workflows/saga';
import { runTwoPhase } from '../workflows/two-phase';

/** The steps that can be moved to local activities ('confirm' is the orders service's last write). */
export type BenchStep = OrderStep | 'confirm';

export interface BenchInput {
  id: string;
  /** The step that fails with a non-retryable error (the bench fails every tenth saga at 'charge'). */
  failAt?: OrderStep;
  /** Steps run as local activities on the workflow worker instead of on their service's queue. */
  local?: BenchStep[];
  /** runSaga's searchAttributes option (default true): false isolates what the status upserts cost. */
  searchAttributes?: boolean;
}

// Exactly the order saga's policies (workflows/order-saga.ts), so only the activity bodies differ.
const forwardRetry = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '5s',
  maximumAttempts: 5,
  nonRetryableErrorTypes: NON_RETRYABLE,
};
const compensationRetry = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 20,
};
const fwd = { startToCloseTimeout: '10s', retry: forwardRetry } as const;
const undo = { startToCloseTimeout: '10s', retry: compensationRetry } as const;

// ------------------------------------------------------------------------------------ no-I/O activities
const bench = {
  orders: proxyActivities<BenchOrdersActivities>({ taskQueue: BENCH_TASK_QUEUES.orders, ...fwd }),
  inventory: proxyActivities<BenchInventoryActivities>({ taskQueue: BENCH_TASK_QUEUES.inventory, ...fwd }),
  payments: proxyActivities<BenchPaymentsActivities>({ taskQueue: BENCH_TASK_QUEUES.payments, ...fwd }),
  notifications: proxyActivities<BenchNotificationsActivities>({
    taskQueue: BENCH_TASK_QUEUES.notifications,
    ...fwd,
  }),
};
const benchUndo = {
  orders: proxyActivities<BenchOrdersActivities>({ taskQueue: BENCH_TASK_QUEUES.orders, ...undo }),
  inventory: proxyActivities<BenchInventoryActivities>({ taskQueue: BENCH_TASK_QUEUES.inventory, ...undo }),
  payments: proxyActivities<BenchPaymentsActivities>({ taskQueue: BENCH_TASK_QUEUES.payments, ...undo }),
  notifications: proxyActivities<BenchNotificationsActivities>({
    taskQueue: BENCH_TASK_QUEUES.notifications,
    ...undo,
  }),
};
const benchLocal = {
  orders: proxyLocalActivities<BenchOrdersActivities>(fwd),
  inventory: proxyLocalActivities<BenchInventoryActivities>(fwd),
  payments: proxyLocalActivities<BenchPaymentsActivities>(fwd),
  notifications: proxyLocalActivities<BenchNotificationsActivities>(fwd),
};
const benchLocalUndo = {
  orders: proxyLocalActivities<BenchOrdersActivities>(undo),
  inventory: proxyLocalActivities<BenchInventoryActivities>(undo),
  payments: proxyLocalActivities<BenchPaymentsActivities>(undo),
  notifications: proxyLocalActivities<BenchNotificationsActivities>(undo),
};

const isLocal = (input: { local?: BenchStep[] }, step: BenchStep): boolean =>
  input.local?.includes(step) ?? false;
const b = (input: BenchInput, step: BenchStep) => (isLocal(input, step) ? benchLocal : bench);
const bu = (input: BenchInput, step: BenchStep) => (isLocal(input, step) ? benchLocalUndo : benchUndo);
const ref = (input: BenchInput, step: OrderStep | 'confirm'): BenchStepInput => ({
  id: input.id,
  step,
  inject: input.failAt === step,
});

export const benchEngineDefinition = defineSaga<BenchInput>('bench-engine')
  .step('create', {
    compensationName: 'cancelOrder',
    run: ({ input }) => b(input, 'create').orders.benchCreateOrder(ref(input, 'create')),
    compensate: ({ input }) => bu(input, 'create').orders.benchCancelOrder({ id: input.id, step: 'create' }),
  })
  .step('reserve', {
    compensationName: 'releaseStock',
    run: ({ input }) => b(input, 'reserve').inventory.benchReserveStock(ref(input, 'reserve')),
    compensate: ({ input }) =>
      bu(input, 'reserve').inventory.benchReleaseStock({ id: input.id, step: 'reserve' }),
  })
  .step('charge', {
    compensationName: 'refundPayment',
    run: ({ input }) => b(input, 'charge').payments.benchChargePayment(ref(input, 'charge')),
    compensate: ({ input }) =>
      bu(input, 'charge').payments.benchRefundPayment({ id: input.id, step: 'charge' }),
  })
  .step('notify', {
    compensationName: 'retractNotification',
    run: ({ input }) => b(input, 'notify').notifications.benchSendNotification(ref(input, 'notify')),
    compensate: ({ input }) =>
      bu(input, 'notify').notifications.benchRetractNotification({ id: input.id, step: 'notify' }),
  })
  .build();

/** The order saga's shape through the saga library, on no-I/O activities. */
export async function benchEngineSaga(input: BenchInput): Promise<SagaResult> {
  const result = await runSaga(benchEngineDefinition, input, {
    pattern: 'saga',
    businessKey: input.id,
    searchAttributes: input.searchAttributes,
  });
  if (result.status === 'completed')
    await b(input, 'confirm').orders.benchConfirmOrder(ref(input, 'confirm'));
  return result;
}

/**
 * The same activity calls written by hand, as small as a correct saga gets: each compensation registered
 * before its step, run in reverse on failure. No ledger, query, search attributes or operator path.
 */
export async function benchBaseline(input: BenchInput): Promise<{ status: 'completed' | 'compensated' }> {
  const undos: (() => Promise<unknown>)[] = [];
  const steps: [BenchStep, () => Promise<unknown>, () => Promise<unknown>][] = [
    [
      'create',
      () => b(input, 'create').orders.benchCreateOrder(ref(input, 'create')),
      () => bu(input, 'create').orders.benchCancelOrder({ id: input.id, step: 'create' }),
    ],
    [
      'reserve',
      () => b(input, 'reserve').inventory.benchReserveStock(ref(input, 'reserve')),
      () => bu(input, 'reserve').inventory.benchReleaseStock({ id: input.id, step: 'reserve' }),
    ],
    [
      'charge',
      () => b(input, 'charge').payments.benchChargePayment(ref(input, 'charge')),
      () => bu(input, 'charge').payments.benchRefundPayment({ id: input.id, step: 'charge' }),
    ],
    [
      'notify',
      () => b(input, 'notify').notifications.benchSendNotification(ref(input, 'notify')),
      () => bu(input, 'notify').notifications.benchRetractNotification({ id: input.id, step: 'notify' }),
    ],
  ];
  try {
    for (const [, run, compensate] of steps) {
      undos.push(compensate);
      await run();
    }
  } catch {
    for (const compensate of undos.reverse()) await compensate();
    return { status: 'compensated' };
  }
  await b(input, 'confirm').orders.benchConfirmOrder(ref(input, 'confirm'));
  return { status: 'completed' };
}

// ------------------------------------------------------------------------------------ real services, local
const shop = {
  orders: proxyActivities<OrdersActivities>({ taskQueue: TASK_QUEUES.orders, ...fwd }),
  inventory: proxyActivities<InventoryActivities>({ taskQueue: TASK_QUEUES.inventory, ...fwd }),
  payments: proxyActivities<PaymentsActivities>({ taskQueue: TASK_QUEUES.payments, ...fwd }),
  notifications: proxyActivities<NotificationsActivities>({ taskQueue: TASK_QUEUES.notifications, ...fwd }),
};
const shopUndo = {
  orders: proxyActivities<OrdersActivities>({ taskQueue: TASK_QUEUES.orders, ...undo }),
  inventory: proxyActivities<InventoryActivities>({ taskQueue: TASK_QUEUES.inventory, ...undo }),
  payments: proxyActivities<PaymentsActivities>({ taskQueue: TASK_QUEUES.payments, ...undo }),
  notifications: proxyActivities<NotificationsActivities>({ taskQueue: TASK_QUEUES.notifications, ...undo }),
};
const shopLocal = {
  orders: proxyLocalActivities<OrdersActivities>(fwd),
  inventory: proxyLocalActivities<InventoryActivities>(fwd),
  payments: proxyLocalActivities<PaymentsActivities>(fwd),
  notifications: proxyLocalActivities<NotificationsActivities>(fwd),
};
const shopLocalUndo = {
  orders: proxyLocalActivities<OrdersActivities>(undo),
  inventory: proxyLocalActivities<InventoryActivities>(undo),
  payments: proxyLocalActivities<PaymentsActivities>(undo),
  notifications: proxyLocalActivities<NotificationsActivities>(undo),
};

export interface BenchOrderInput extends OrderInput {
  local?: BenchStep[];
}
const s = (input: BenchOrderInput, step: BenchStep) => (isLocal(input, step) ? shopLocal : shop);
const su = (input: BenchOrderInput, step: BenchStep) => (isLocal(input, step) ? shopLocalUndo : shopUndo);
const inject = (i: OrderInput, step: OrderStep): boolean => i.failAt === step;

export const benchOrderDefinition = defineSaga<BenchOrderInput>('order')
  .step('create', {
    compensationName: 'cancelOrder',
    run: ({ input, workflowId }) =>
      s(input, 'create').orders.createOrder({
        step: 'create',
        order: input,
        workflowId,
        inject: inject(input, 'create'),
      }),
    compensate: ({ input }) =>
      su(input, 'create').orders.cancelOrder({ step: 'create', orderId: input.orderId }),
  })
  .step('reserve', {
    compensationName: 'releaseStock',
    run: ({ input }) =>
      s(input, 'reserve').inventory.reserveStock({
        step: 'reserve',
        sku: input.sku,
        qty: input.qty,
        inject: inject(input, 'reserve'),
      }),
    compensate: ({ input }) =>
      su(input, 'reserve').inventory.releaseStock({ step: 'reserve', sku: input.sku }),
  })
  .step('charge', {
    compensationName: 'refundPayment',
    run: ({ input }) =>
      s(input, 'charge').payments.chargePayment({
        step: 'charge',
        customerId: input.customerId,
        amountCents: input.amountCents,
        orderId: input.orderId,
        inject: inject(input, 'charge'),
      }),
    compensate: ({ input }) =>
      su(input, 'charge').payments.refundPayment({ step: 'charge', orderId: input.orderId }),
  })
  .step('notify', {
    compensationName: 'retractNotification',
    run: ({ input }) =>
      s(input, 'notify').notifications.sendNotification({
        step: 'notify',
        customerId: input.customerId,
        orderId: input.orderId,
        amountCents: input.amountCents,
        inject: inject(input, 'notify'),
      }),
    compensate: ({ input }) => su(input, 'notify').notifications.retractNotification({ step: 'notify' }),
  })
  .build();

/** The order saga with `input.local` steps as local activities (the orchestration worker then needs the pools). */
export async function benchOrderSaga(input: BenchOrderInput): Promise<SagaResult> {
  const result = await runSaga(benchOrderDefinition, input, { pattern: 'saga', businessKey: input.orderId });
  if (result.status === 'completed')
    await s(input, 'confirm').orders.confirmOrder({ step: 'confirm', orderId: input.orderId });
  return result;
}

// ------------------------------------------------------------------------------------ memory per cached workflow
export const benchReleaseSignal = defineSignal('benchRelease');

/** An engine saga that runs two steps, then holds (cached on the worker) until released. */
export async function benchParkedSaga(input: BenchInput): Promise<SagaResult> {
  let released = false;
  setHandler(benchReleaseSignal, () => void (released = true));
  const parked = defineSaga<BenchInput>('bench-parked')
    .step('create', {
      run: ({ input: i }) => bench.orders.benchCreateOrder(ref(i, 'create')),
      compensate: ({ input: i }) => benchUndo.orders.benchCancelOrder({ id: i.id, step: 'create' }),
    })
    .step('reserve', {
      run: ({ input: i }) => bench.inventory.benchReserveStock(ref(i, 'reserve')),
      compensate: ({ input: i }) => benchUndo.inventory.benchReleaseStock({ id: i.id, step: 'reserve' }),
    })
    .step('hold', {
      run: () => condition(() => released),
      compensate: () => Promise.resolve({ state: 'noop' }),
    })
    .step('charge', {
      run: ({ input: i }) => bench.payments.benchChargePayment(ref(i, 'charge')),
      compensate: ({ input: i }) => benchUndo.payments.benchRefundPayment({ id: i.id, step: 'charge' }),
    })
    .build();
  return runSaga(parked, input, { pattern: 'saga', businessKey: input.id, searchAttributes: false });
}

// ------------------------------------------------------------------------------------ 2PC
export interface BenchTwoPhaseInput {
  ref: string;
  participants: ParticipantSpec[];
}

/** The 2PC coordinator exactly as transferK runs it, on participants the bench chose. */
export async function benchTwoPhase(input: BenchTwoPhaseInput): Promise<CoordinatorState> {
  return runTwoPhase(input.participants, { businessKey: input.ref });
}

// The bench bundle (BENCH_WORKFLOWS_PATH) runs the product's workflows as well; only the bench registers these.
export * from '../workflows';
export { twoPhaseCommit } from '../workflows/two-phase';
