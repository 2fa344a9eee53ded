// The shop's activities, one factory per participant service. Each service's worker registers only its own
// factory's activities on its own task queue; the order saga calls them through typed proxies.
import type { Pool } from 'pg';
import type { CompensationOutcome } from '../services/barrier';
import {
  chargeWallet,
  confirmPendingOrder,
  insertOrder,
  refundWallet,
  releaseStock,
  reserveStock,
  retractMessage,
  sendMessage,
  setOrderStatus,
} from '../services/shop';
import { formatCents, type OrderInput } from '../shared';
import {
  branchKey,
  runAction,
  runCompensation,
  type ActionResult,
  type FaultHooks,
  type StepRef,
} from './branch';

type Inject = { inject?: boolean };

export function createOrdersActivities(pool: Pool, hooks?: FaultHooks) {
  return {
    async createOrder(
      input: StepRef & Inject & { order: OrderInput; workflowId: string },
    ): Promise<ActionResult<{ orderId: string }>> {
      const o = input.order;
      return runAction(
        pool,
        input,
        hooks,
        (tx) => insertOrder(tx, { ...o, workflowId: input.workflowId }),
        input.inject,
      );
    },
    /** Cancels a pending order (a confirmed one is handled by the confirmation's own barrier compensation). */
    async cancelOrder(input: StepRef & { orderId: string }): Promise<CompensationOutcome> {
      return runCompensation(pool, input, async (tx) => {
        await setOrderStatus(tx, input.orderId, 'cancelled');
      });
    },
    /** The pivot: pending -> confirmed, through the barrier; refused once its barrier compensation ran. */
    async confirmOrder(input: StepRef & { orderId: string }): Promise<ActionResult<null>> {
      return runAction(pool, input, hooks, async (tx) => {
        await confirmPendingOrder(tx, input.orderId);
        return null;
      });
    },
    /**
     * The pivot's barrier compensation, run first when the confirmation failed or timed out: it writes the marker
     * that refuses a confirmation attempt still in flight, or, when one committed, takes it back (confirmed ->
     * cancelled) so the compensation that follows leaves no confirmed, unpaid order.
     */
    async revokeConfirmation(input: StepRef & { orderId: string }): Promise<CompensationOutcome> {
      return runCompensation(pool, input, async (tx) => {
        await setOrderStatus(tx, input.orderId, 'cancelled', 'confirmed');
      });
    },
  };
}

export function createInventoryActivities(pool: Pool, hooks?: FaultHooks) {
  return {
    async reserveStock(input: StepRef & Inject & { sku: string; qty: number }) {
      // The reservation id is the branch key itself: unique per saga run and step ('<workflow id>/<run>/reserve').
      const { gid } = branchKey(input);
      return runAction(
        pool,
        input,
        hooks,
        (tx) => reserveStock(tx, `${gid}/${input.step}`, input.sku, input.qty),
        input.inject,
      );
    },
    async releaseStock(input: StepRef & { sku: string }): Promise<CompensationOutcome> {
      return runCompensation<{ reservationId: string }>(pool, input, (tx, done) =>
        releaseStock(tx, done.reservationId),
      );
    },
  };
}

export function createPaymentsActivities(pool: Pool, hooks?: FaultHooks) {
  return {
    async chargePayment(
      input: StepRef & Inject & { customerId: string; amountCents: number; orderId: string },
    ) {
      return runAction(
        pool,
        input,
        hooks,
        (tx) => chargeWallet(tx, input.customerId, input.amountCents, `order ${input.orderId}`),
        input.inject,
      );
    },
    async refundPayment(input: StepRef & { orderId: string }): Promise<CompensationOutcome> {
      // Refund exactly what the committed charge took (from the barrier), not what the caller believes.
      return runCompensation<{ customerId: string; amountCents: number }>(pool, input, (tx, charged) =>
        refundWallet(tx, charged.customerId, charged.amountCents, `refund order ${input.orderId}`),
      );
    },
  };
}

export function createNotificationsActivities(pool: Pool, hooks?: FaultHooks) {
  return {
    async sendNotification(
      input: StepRef & Inject & { customerId: string; orderId: string; amountCents: number },
    ) {
      const body = `Your order ${input.orderId} is confirmed: ${formatCents(input.amountCents)} charged.`;
      return runAction(
        pool,
        input,
        hooks,
        (tx) => sendMessage(tx, `${input.orderId}/${input.step}`, input.customerId, body),
        input.inject,
      );
    },
    async retractNotification(input: StepRef): Promise<CompensationOutcome> {
      return runCompensation<{ messageId: string }>(pool, input, (tx, sent) =>
        retractMessage(tx, sent.messageId),
      );
    },
  };
}

export type OrdersActivities = ReturnType<typeof createOrdersActivities>;
export type InventoryActivities = ReturnType<typeof createInventoryActivities>;
export type PaymentsActivities = ReturnType<typeof createPaymentsActivities>;
export type NotificationsActivities = ReturnType<typeof createNotificationsActivities>;
