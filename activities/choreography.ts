// The choreography's activities, one factory per shop service (registered on that service's task queue, next
// to its database): publish (and expire) the order, apply a delivered event, and the relay's source
// activities over the service's own outbox (activities/outbox-relay.ts).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { deliver, expireOrder, orderStatusOf, outboxTrail, placeOrder } from '../services/choreography';
import { BusinessRejection } from '../services/shop';
import type { OrderEventPayload, ShopService, TrailEntry } from '../shared/events';
import { createRelaySourceActivities, type RelaySubscriberActivities } from './outbox-relay';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ordersOnly = (service: ShopService, what: string): void => {
  if (service !== 'orders')
    throw ApplicationFailure.nonRetryable(`only the orders service ${what}`, 'InvalidInput');
};

export function createChoreographyActivities(service: ShopService, pool: Pool) {
  const subscriber: RelaySubscriberActivities = {
    async deliverEvent(input) {
      if (input.subscriber !== service)
        throw new Error(`event for ${input.subscriber} delivered to ${service}`);
      return deliver(pool, service, input.event, Context.current().cancellationSignal);
    },
  };
  return {
    ...createRelaySourceActivities(pool, 'event_outbox'),
    ...subscriber,

    /** orders only: the order row and its OrderPlaced event in one local transaction. */
    async placeChoreographedOrder(p: OrderEventPayload): Promise<void> {
      ordersOnly(service, 'places orders');
      try {
        await placeOrder(pool, p, Context.current().cancellationSignal);
      } catch (err) {
        if (err instanceof BusinessRejection) throw ApplicationFailure.nonRetryable(err.message, err.type);
        throw err;
      }
    },

    /** orders only: the business deadline passed; cancel a pending order (compensated through OrderExpired). */
    async expireChoreographedOrder(input: { orderId: string; reason: string }): Promise<string | undefined> {
      ordersOnly(service, 'expires orders');
      return expireOrder(pool, input.orderId, input.reason, Context.current().cancellationSignal);
    },

    async orderEventTrail(orderId: string): Promise<TrailEntry[]> {
      return outboxTrail(pool, service, orderId);
    },

    /** orders only: waits (heartbeating) until the services have settled the order; honours cancellation. */
    async awaitOrderSettled(input: { orderId: string; pollMs?: number }): Promise<string> {
      const ctx = Context.current();
      for (;;) {
        const status = await orderStatusOf(pool, input.orderId);
        if (status && status !== 'pending') return status;
        ctx.heartbeat(status);
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        await pause(input.pollMs ?? 50);
      }
    },
  };
}

export type ChoreographyActivities = ReturnType<typeof createChoreographyActivities>;
