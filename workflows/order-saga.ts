// The seed's order saga: create order -> reserve stock -> charge payment -> send notification -> confirm (the
// pivot). Each step is an activity on its own service's task queue; each compensation is registered before its
// step runs. Built only from the saga library (workflows/saga.ts).
import type {
  InventoryActivities,
  NotificationsActivities,
  OrdersActivities,
  PaymentsActivities,
} from '../activities/shop';
import { TASK_QUEUES, type OrderInput, type OrderStep, type SagaResult } from '../shared';
import { defineSaga, runSaga, type Interval } from './saga';
import { serviceProxies } from './service-proxies';

const { forward: orders, undo: undoOrders } = serviceProxies<OrdersActivities>(TASK_QUEUES.orders);
const { forward: inventory, undo: undoInventory } = serviceProxies<InventoryActivities>(
  TASK_QUEUES.inventory,
);
const { forward: payments, undo: undoPayments } = serviceProxies<PaymentsActivities>(TASK_QUEUES.payments);
const { forward: notifications, undo: undoNotifications } = serviceProxies<NotificationsActivities>(
  TASK_QUEUES.notifications,
);

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
