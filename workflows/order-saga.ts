// The seed's order saga: create order -> reserve stock -> charge payment -> confirm (the pivot) -> notify. Each
// step is an activity on its own service's task queue; each compensation is registered before its step runs.
// Built only from the saga library (workflows/saga/).
import { ApplicationFailure, continueAsNew, patched } from '@temporalio/workflow';
import type {
  InventoryActivities,
  NotificationsActivities,
  OrdersActivities,
  PaymentsActivities,
} from '../activities/shop';
import {
  ERR,
  TASK_QUEUES,
  validateOrderInput,
  type OrderInput,
  type OrderStep,
  type SagaResult,
} from '../shared';
import { defineSaga, runSaga, type Interval, type SagaCheckpoint, type StepContext } from './saga';
import { serviceProxies } from './service-proxies';

// Every participant's steps run as local activities when the worker hosts its service in-process (the all-in-one
// host); elsewhere they stay activities on the service's queue (workflows/saga/placement.ts).
const LOCAL = 'local-when-hosted';
const { forward: orders, undo: undoOrders } = serviceProxies<OrdersActivities>(TASK_QUEUES.orders, LOCAL);
const { forward: inventory, undo: undoInventory } = serviceProxies<InventoryActivities>(
  TASK_QUEUES.inventory,
  LOCAL,
);
const { forward: payments, undo: undoPayments } = serviceProxies<PaymentsActivities>(
  TASK_QUEUES.payments,
  LOCAL,
);
const { forward: notifications, undo: undoNotifications } = serviceProxies<NotificationsActivities>(
  TASK_QUEUES.notifications,
  LOCAL,
);

const inject = (i: OrderInput, step: OrderInput['failAt']): boolean => i.failAt === step;

/**
 * The customer is told "confirmed … charged" only once the order is confirmed (an e-mail cannot be taken back).
 * Orders started before this change notified before the pivot; without the marker they keep doing so on replay.
 */
const NOTIFY_AFTER_CONFIRM = 'order-notify-after-confirm';
/** The pivot's barrier fence for orders started before it existed, from their first live compensation on. */
const PIVOT_FENCE_LEGACY = 'order-pivot-fence-legacy';
/** Input validated in the workflow (issue 9 item 8); earlier executions with a bad input keep their recorded path. */
const VALIDATE_INPUT = 'order-validate-input';

const notify = ({ input, run }: StepContext<OrderInput, unknown>) =>
  notifications.sendNotification.executeWithOptions({ summary: `notify ${input.customerId}` }, [
    {
      step: 'notify',
      run,
      customerId: input.customerId,
      orderId: input.orderId,
      amountCents: input.amountCents,
      inject: inject(input, 'notify'),
    },
  ]);

export const orderSagaDefinition = defineSaga<OrderInput>('order')
  .step('create', {
    compensationName: 'cancelOrder',
    run: ({ input, workflowId, run }) =>
      orders.createOrder.executeWithOptions({ summary: `create order ${input.orderId}` }, [
        { step: 'create', run, order: input, workflowId, inject: inject(input, 'create') },
      ]),
    compensate: ({ input, run }) =>
      undoOrders.cancelOrder.executeWithOptions({ summary: `↩ compensate: cancel order ${input.orderId}` }, [
        { step: 'create', run, orderId: input.orderId },
      ]),
  })
  .step('reserve', {
    compensationName: 'releaseStock',
    run: ({ input, run }) =>
      inventory.reserveStock.executeWithOptions({ summary: `reserve ${input.qty} x ${input.sku}` }, [
        { step: 'reserve', run, sku: input.sku, qty: input.qty, inject: inject(input, 'reserve') },
      ]),
    compensate: ({ input, run }) =>
      undoInventory.releaseStock.executeWithOptions(
        { summary: `↩ compensate: release ${input.qty} x ${input.sku}` },
        [{ step: 'reserve', run, sku: input.sku }],
      ),
  })
  .step('charge', {
    compensationName: 'refundPayment',
    run: ({ input, run }) =>
      payments.chargePayment.executeWithOptions(
        { summary: `charge ${input.customerId} ${(input.amountCents / 100).toFixed(2)}` },
        [
          {
            step: 'charge',
            run,
            customerId: input.customerId,
            amountCents: input.amountCents,
            orderId: input.orderId,
            inject: inject(input, 'charge'),
          },
        ],
      ),
    compensate: ({ input, run }) =>
      undoPayments.refundPayment.executeWithOptions({ summary: `↩ compensate: refund ${input.customerId}` }, [
        { step: 'charge', run, orderId: input.orderId },
      ]),
  })
  // Before NOTIFY_AFTER_CONFIRM: the notification was a compensatable step before the pivot.
  .step('notifyBeforeConfirm', {
    when: () => !patched(NOTIFY_AFTER_CONFIRM),
    compensationName: 'retractNotification',
    run: notify,
    compensate: ({ run }) =>
      undoNotifications.retractNotification.executeWithOptions(
        { summary: `↩ compensate: retract notification` },
        [{ step: 'notify', run }],
      ),
  })
  // The point of no return: once the order is confirmed the saga only goes forward. If confirming fails (or
  // times out), revokeConfirmation runs first, through the orders barrier: a confirmation attempt still in
  // flight is refused, one that committed is taken back, and only then is everything before it compensated.
  .pivot('confirm', {
    compensationName: 'revokeConfirmation',
    run: ({ input, run }) =>
      orders.confirmOrder.executeWithOptions({ summary: `confirm order ${input.orderId}` }, [
        { step: 'confirm', run, orderId: input.orderId },
      ]),
    // Orders started before the pivot was fenced (legacy keys: no run) compensated without this step; for them
    // the fence is asked for only when it would run, so a recorded history without it still replays.
    compensate: ({ input, run }) =>
      run !== undefined || patched(PIVOT_FENCE_LEGACY)
        ? undoOrders.revokeConfirmation.executeWithOptions(
            { summary: `↩ compensate: fence the confirmation of ${input.orderId}` },
            [{ step: 'confirm', run, orderId: input.orderId }],
          )
        : Promise.resolve({ state: 'noop' as const }),
  })
  .forward('notify', { when: () => patched(NOTIFY_AFTER_CONFIRM), run: notify })
  .build();

export interface OrderSagaOptions {
  /** Set search attributes (default true; the time-skipping test server does not know custom ones). */
  searchAttributes?: boolean;
  /**
   * Saga-level deadlines per step (all activity attempts included); a step that misses its deadline is cancelled
   * and compensated like a failed one. Default: only the activities' own timeouts and retry budgets apply.
   */
  stepTimeouts?: Partial<Record<OrderStep | 'confirm', Interval>>;
  /** Continue-as-new once history has this many events (default: when the server suggests it). */
  continueAsNewAfterEvents?: number;
  /** Set by the saga itself when it continues as new. */
  resume?: SagaCheckpoint;
}

export async function orderSaga(input: OrderInput, options: OrderSagaOptions = {}): Promise<SagaResult> {
  // Started from the SDK or the Web UI, a bad input would otherwise fail as retryable database errors forever.
  const errors = validateOrderInput(input);
  // Asked only for a bad input: an execution started before validation existed replays its recorded steps.
  if (errors.length && patched(VALIDATE_INPUT))
    throw ApplicationFailure.create({
      type: ERR.invalidInput,
      message: `invalid order input: ${errors.join('; ')}`,
      nonRetryable: true,
    });
  return runSaga(orderSagaDefinition, input, {
    pattern: 'saga',
    businessKey: input.orderId,
    searchAttributes: options.searchAttributes,
    timeouts: options.stepTimeouts,
    continueAsNewAfterEvents: options.continueAsNewAfterEvents,
    resume: options.resume,
    continueAsNew: (resume) => continueAsNew<typeof orderSaga>(input, { ...options, resume }),
  });
}
