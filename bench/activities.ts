// The benchmark's activities: the order saga's nine activities with the same inputs and result shapes, doing
// no I/O at all. The `engine` and `baseline` workloads run on them, so what they measure is Temporal plus the
// workflow code, never a database. Each factory is registered on its mirrored service's bench queue.
import { ApplicationFailure } from '@temporalio/activity';
import { ERR } from '../shared';

export interface BenchStepInput {
  id: string;
  step: string;
  /** Fail this step with a non-retryable error (the bench's every-tenth compensation). */
  inject?: boolean;
}

type Applied<T> = { state: 'applied'; result: T };

function forward<T>(input: BenchStepInput, result: T): Promise<Applied<T>> {
  if (input.inject)
    return Promise.reject(ApplicationFailure.nonRetryable(`injected failure at ${input.step}`, ERR.injected));
  return Promise.resolve({ state: 'applied', result });
}

const undone = (): Promise<{ state: 'applied' }> => Promise.resolve({ state: 'applied' });

export function createBenchOrdersActivities() {
  return {
    benchCreateOrder(input: BenchStepInput) {
      return forward(input, { orderId: input.id });
    },
    benchCancelOrder(_input: BenchStepInput) {
      return undone();
    },
    benchConfirmOrder(input: BenchStepInput) {
      return forward(input, null);
    },
  };
}

export function createBenchInventoryActivities() {
  return {
    benchReserveStock(input: BenchStepInput) {
      return forward(input, { reservationId: `${input.id}/${input.step}` });
    },
    benchReleaseStock(_input: BenchStepInput) {
      return undone();
    },
  };
}

export function createBenchPaymentsActivities() {
  return {
    benchChargePayment(input: BenchStepInput) {
      return forward(input, { customerId: 'bench', amountCents: 100, balanceCents: 0 });
    },
    benchRefundPayment(_input: BenchStepInput) {
      return undone();
    },
  };
}

export function createBenchNotificationsActivities() {
  return {
    benchSendNotification(input: BenchStepInput) {
      return forward(input, { messageId: `${input.id}/${input.step}` });
    },
    benchRetractNotification(_input: BenchStepInput) {
      return undone();
    },
  };
}

export type BenchOrdersActivities = ReturnType<typeof createBenchOrdersActivities>;
export type BenchInventoryActivities = ReturnType<typeof createBenchInventoryActivities>;
export type BenchPaymentsActivities = ReturnType<typeof createBenchPaymentsActivities>;
export type BenchNotificationsActivities = ReturnType<typeof createBenchNotificationsActivities>;

/** Every bench activity by mirrored service (the keys of BENCH_TASK_QUEUES, less `memory`). */
export function createBenchActivities() {
  return {
    orders: createBenchOrdersActivities(),
    inventory: createBenchInventoryActivities(),
    payments: createBenchPaymentsActivities(),
    notifications: createBenchNotificationsActivities(),
  };
}
