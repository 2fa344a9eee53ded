// The seed's order saga: create order -> reserve stock -> charge payment -> send notification. Each step is an
// activity on its own service's task queue; each compensation is registered before its step runs.
import { proxyActivities } from '@temporalio/workflow';
import type {
  InventoryActivities,
  NotificationsActivities,
  OrdersActivities,
  PaymentsActivities,
} from '../activities/shop';
import { NON_RETRYABLE, TASK_QUEUES, type OrderInput, type SagaResult } from '../shared';
import { defineSaga, runSaga } from './saga';

// Forward steps: a few fast retries, then the saga compensates. Business rejections are not retried.
const forwardRetry = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE };
// Compensations must not give up quickly: a longer budget before an operator is asked.
const compensationRetry = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 20 };

const orders = proxyActivities<OrdersActivities>({ taskQueue: TASK_QUEUES.orders, startToCloseTimeout: '10s', retry: forwardRetry });
const inventory = proxyActivities<InventoryActivities>({ taskQueue: TASK_QUEUES.inventory, startToCloseTimeout: '10s', retry: forwardRetry });
const payments = proxyActivities<PaymentsActivities>({ taskQueue: TASK_QUEUES.payments, startToCloseTimeout: '10s', retry: forwardRetry });
const notifications = proxyActivities<NotificationsActivities>({ taskQueue: TASK_QUEUES.notifications, startToCloseTimeout: '10s', retry: forwardRetry });

const undoOrders = proxyActivities<OrdersActivities>({ taskQueue: TASK_QUEUES.orders, startToCloseTimeout: '10s', retry: compensationRetry });
const undoInventory = proxyActivities<InventoryActivities>({ taskQueue: TASK_QUEUES.inventory, startToCloseTimeout: '10s', retry: compensationRetry });
const undoPayments = proxyActivities<PaymentsActivities>({ taskQueue: TASK_QUEUES.payments, startToCloseTimeout: '10s', retry: compensationRetry });
const undoNotifications = proxyActivities<NotificationsActivities>({ taskQueue: TASK_QUEUES.notifications, startToCloseTimeout: '10s', retry: compensationRetry });

const inject = (i: OrderInput, step: OrderInput['failAt']): boolean => i.failAt === step;

export const orderSagaDefinition = defineSaga<OrderInput>('order')
  .step('create', {
    compensationName: 'cancelOrder',
    run: ({ input, workflowId }) =>
      orders.createOrder.executeWithOptions({ summary: `create order ${input.orderId}` }, [
        { step: 'create', order: input, workflowId, inject: inject(input, 'create') },
      ]),
    compensate: ({ input }) =>
      undoOrders.cancelOrder.executeWithOptions({ summary: `↩ compensate: cancel order ${input.orderId}` }, [{ step: 'create', orderId: input.orderId }]),
  })
  .step('reserve', {
    compensationName: 'releaseStock',
    run: ({ input }) =>
      inventory.reserveStock.executeWithOptions({ summary: `reserve ${input.qty} x ${input.sku}` }, [
        { step: 'reserve', sku: input.sku, qty: input.qty, inject: inject(input, 'reserve') },
      ]),
    compensate: ({ input }) =>
      undoInventory.releaseStock.executeWithOptions({ summary: `↩ compensate: release ${input.qty} x ${input.sku}` }, [{ step: 'reserve', sku: input.sku }]),
  })
  .step('charge', {
    compensationName: 'refundPayment',
    run: ({ input }) =>
      payments.chargePayment.executeWithOptions({ summary: `charge ${input.customerId} ${(input.amountCents / 100).toFixed(2)}` }, [
        { step: 'charge', customerId: input.customerId, amountCents: input.amountCents, orderId: input.orderId, inject: inject(input, 'charge') },
      ]),
    compensate: ({ input }) =>
      undoPayments.refundPayment.executeWithOptions({ summary: `↩ compensate: refund ${input.customerId}` }, [{ step: 'charge', orderId: input.orderId }]),
  })
  .step('notify', {
    compensationName: 'retractNotification',
    run: ({ input }) =>
      notifications.sendNotification.executeWithOptions({ summary: `notify ${input.customerId}` }, [
        { step: 'notify', customerId: input.customerId, orderId: input.orderId, amountCents: input.amountCents, inject: inject(input, 'notify') },
      ]),
    compensate: () =>
      undoNotifications.retractNotification.executeWithOptions({ summary: `↩ compensate: retract notification` }, [{ step: 'notify' }]),
  })
  .build();

export interface OrderSagaOptions {
  /** Set search attributes (default true; the time-skipping test server does not know custom ones). */
  searchAttributes?: boolean;
}

export async function orderSaga(input: OrderInput, options: OrderSagaOptions = {}): Promise<SagaResult> {
  const result = await runSaga(orderSagaDefinition, input, {
    pattern: 'saga',
    businessKey: input.orderId,
    searchAttributes: options.searchAttributes,
  });
  if (result.status === 'completed') {
    await orders.confirmOrder.executeWithOptions({ summary: `confirm order ${input.orderId}` }, [{ step: 'confirm', orderId: input.orderId }]);
  }
  return result;
}
