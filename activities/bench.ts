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

function forward<T>(input: BenchStepInput, result: T): Applied<T> {
  if (input.inject) throw ApplicationFailure.nonRetryable(`injected failure at ${input.step}`, ERR.injected);
  return { state: 'applied', result };
}

export function createBenchOrdersActivities() {
  return {
    async benchCreateOrder(input: BenchStepInput) {
      return forward(input, { orderId: input.id });
    },
    async benchCancelOrder(_input: BenchStepInput) {
      return { state: 'applied' as const };
    },
    async benchConfirmOrder(input: BenchStepInput) {
      return forward(input, null);
    },
  };
}

export function createBenchInventoryActivities() {
  return {
    async benchReserveStock(input: BenchStepInput) {
      return forward(input, { reservationId: `${input.id}/${input.step}` });
    },
    async benchReleaseStock(_input: BenchStepInput) {
      return { state: 'applied' as const };
    },
  };
}

export function createBenchPaymentsActivities() {
  return {
    async benchChargePayment(input: BenchStepInput) {
      return forward(input, { customerId: 'bench', amountCents: 100, balanceCents: 0 });
    },
    async benchRefundPayment(_input: BenchStepInput) {
      return { state: 'applied' as const };
    },
  };
}

export function createBenchNotificationsActivities() {
  return {
    async benchSendNotification(input: BenchStepInput) {
      return forward(input, { messageId: `${input.id}/${input.step}` });
    },
    async benchRetractNotification(_input: BenchStepInput) {
      return { state: 'applied' as const };
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
