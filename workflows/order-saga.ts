// The seed's order saga: create order -> reserve stock -> charge payment -> send notification -> confirm (the
// pivot). Each step is an activity on its own service's task queue; each compensation is registered before its
// step runs. Built only from the saga library (workflows/saga.ts).
import { proxyActivities } from '@temporalio/workflow';
import type {
  InventoryActivities,
  NotificationsActivities,
  OrdersActivities,
  PaymentsActivities,
} from '../activities/shop';
import { NON_RETRYABLE, TASK_QUEUES, type OrderInput, type OrderStep, type SagaResult } from '../shared';
import { defineSaga, runSaga, type Interval } from './saga';

// Forward steps: a few fast retries, then the saga compensates. Business rejections are not retried.
const forwardRetry = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '5s',
  maximumAttempts: 5,
  nonRetryableErrorTypes: NON_RETRYABLE,
};
// Compensations must not give up quickly: a longer budget before an operator is asked.
const compensationRetry = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 20,
};

const orders = proxyActivities<OrdersActivities>({
  taskQueue: TASK_QUEUES.orders,
  startToCloseTimeout: '10s',
  retry: forwardRetry,
});
const inventory = proxyActivities<InventoryActivities>({
  taskQueue: TASK_QUEUES.inventory,
  startToCloseTimeout: '10s',
  retry: forwardRetry,
});
const payments = proxyActivities<PaymentsActivities>({
  taskQueue: TASK_QUEUES.payments,
  startToCloseTimeout: '10s',
  retry: forwardRetry,
});
const notifications = proxyActivities<NotificationsActivities>({
  taskQueue: TASK_QUEUES.notifications,
  startToCloseTimeout: '10s',
  retry: forwardRetry,
});

const undoOrders = proxyActivities<OrdersActivities>({
  taskQueue: TASK_QUEUES.orders,
  startToCloseTimeout: '10s',
  retry: compensationRetry,
});
const undoInventory = proxyActivities<InventoryActivities>({
  taskQueue: TASK_QUEUES.inventory,
  startToCloseTimeout: '10s',
  retry: compensationRetry,
});
const undoPayments = proxyActivities<PaymentsActivities>({
  taskQueue: TASK_QUEUES.payments,
  startToCloseTimeout: '10s',
  retry: compensationRetry,
});
const undoNotifications = proxyActivities<NotificationsActivities>({
  taskQueue: TASK_QUEUES.notifications,
  startToCloseTimeout: '10s',
  retry: compensationRetry,
});

const inject = (i: OrderInput, step: OrderInput['failAt']): boolean => i.failAt === step;

export const orderSagaDefinition = defineSaga<OrderInput>('order')
  .step('create', {
    compensationName: 'cancelOrder',
    run: ({ input, workflowId }) =>
      orders.createOrder.executeWithOptions({ summary: `create order ${input.orderId}` }, [
        { step: 'create', order: input, workflowId, inject: inject(input, 'create') },
      ]),
    compensate: ({ input }) =>
      undoOrders.cancelOrder.executeWithOptions({ summary: `↩ compensate: cancel order ${input.orderId}` }, [
        { step: 'create', orderId: input.orderId },
      ]),
  })
  .step('reserve', {
    compensationName: 'releaseStock',
    run: ({ input }) =>
      inventory.reserveStock.executeWithOptions({ summary: `reserve ${input.qty} x ${input.sku}` }, [
        { step: 'reserve', sku: input.sku, qty: input.qty, inject: inject(input, 'reserve') },
      ]),
    compensate: ({ input }) =>
      undoInventory.releaseStock.executeWithOptions(
        { summary: `↩ compensate: release ${input.qty} x ${input.sku}` },
        [{ step: 'reserve', sku: input.sku }],
      ),
  })
  .step('charge', {
    compensationName: 'refundPayment',
    run: ({ input }) =>
      payments.chargePayment.executeWithOptions(
        { summary: `charge ${input.customerId} ${(input.amountCents / 100).toFixed(2)}` },
        [
          {
            step: 'charge',
            customerId: input.customerId,
            amountCents: input.amountCents,
            orderId: input.orderId,
            inject: inject(input, 'charge'),
          },
        ],
      ),
    compensate: ({ input }) =>
      undoPayments.refundPayment.executeWithOptions({ summary: `↩ compensate: refund ${input.customerId}` }, [
        { step: 'charge', orderId: input.orderId },
      ]),
  })
  .step('notify', {
    compensationName: 'retractNotification',
    run: ({ input }) =>
      notifications.sendNotification.executeWithOptions({ summary: `notify ${input.customerId}` }, [
        {
          step: 'notify',
          customerId: input.customerId,
          orderId: input.orderId,
          amountCents: input.amountCents,
          inject: inject(input, 'notify'),
        },
      ]),
    compensate: () =>
      undoNotifications.retractNotification.executeWithOptions(
        { summary: `↩ compensate: retract notification` },
        [{ step: 'notify' }],
      ),
  })
  // The point of no return: once the order is confirmed the saga is done; if confirming fails for good,
  // everything before it is compensated (cancelOrder then supersedes a confirmation that may have committed).
  .pivot('confirm', {
    run: ({ input }) =>
      orders.confirmOrder.executeWithOptions({ summary: `confirm order ${input.orderId}` }, [
        { step: 'confirm', orderId: input.orderId },
      ]),
  })
  .build();

export interface OrderSagaOptions {
  /** Set search attributes (default true; the time-skipping test server does not know custom ones). */
  searchAttributes?: boolean;
  /**
   * Saga-level deadlines per step (all activity attempts included); a step that misses its deadline is cancelled
   * and compensated like a failed one. Default: only the activities' own timeouts and retry budgets apply.
   */
  stepTimeouts?: Partial<Record<OrderStep, Interval>>;
}

export async function orderSaga(input: OrderInput, options: OrderSagaOptions = {}): Promise<SagaResult> {
  return runSaga(orderSagaDefinition, input, {
    pattern: 'saga',
    businessKey: input.orderId,
    searchAttributes: options.searchAttributes,
    timeouts: options.stepTimeouts,
  });
}
