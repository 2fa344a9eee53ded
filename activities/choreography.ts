// The choreography's activities, one factory per shop service (registered on that service's task queue, next
// to its database): publish the order, hand the relay its unpublished events, apply a delivered event.
import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import {
  deliver,
  markPublished,
  orderStatusOf,
  outboxTrail,
  placeOrder,
  unpublished,
} from '../services/choreography';
import type { OrderEventPayload, OutboxEvent, ShopService, TrailEntry } from '../shared/events';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createChoreographyActivities(service: ShopService, pool: Pool) {
  return {
    /** orders only: the order row and its OrderPlaced event in one local transaction. */
    async placeChoreographedOrder(p: OrderEventPayload): Promise<void> {
      if (service !== 'orders') throw new Error('only the orders service places orders');
      await placeOrder(pool, p);
    },

    /**
     * Long-poll this service's outbox: returns as soon as there are unpublished events, or empty after waitMs.
     * Polling inside one activity (with heartbeats) keeps an idle relay from filling its workflow history.
     */
    async fetchOutbox(input: { limit: number; waitMs: number; pollMs?: number }): Promise<OutboxEvent[]> {
      const ctx = Context.current();
      const deadline = Date.now() + input.waitMs;
      for (;;) {
        const events = await unpublished(pool, service, input.limit);
        if (events.length || Date.now() >= deadline || ctx.cancellationSignal.aborted) return events;
        ctx.heartbeat();
        await pause(input.pollMs ?? 100);
      }
    },

    async deliverEvent(input: {
      subscriber: ShopService;
      event: Pick<OutboxEvent, 'eventId' | 'topic' | 'payload'>;
    }): Promise<'applied' | 'duplicate'> {
      if (input.subscriber !== service)
        throw new Error(`event for ${input.subscriber} delivered to ${service}`);
      return deliver(pool, service, input.event);
    },

    async markOutboxPublished(eventIds: string[]): Promise<void> {
      await markPublished(pool, eventIds);
    },

    async orderEventTrail(orderId: string): Promise<TrailEntry[]> {
      return outboxTrail(pool, service, orderId);
    },

    /** orders only: waits (heartbeating) until the services have settled the order. */
    async awaitOrderSettled(input: { orderId: string; pollMs?: number }): Promise<string> {
      const ctx = Context.current();
      for (;;) {
        const status = await orderStatusOf(pool, input.orderId);
        if (status && status !== 'pending') return status;
        ctx.heartbeat(status);
        await pause(input.pollMs ?? 50);
      }
    },
  };
}

export type ChoreographyActivities = ReturnType<typeof createChoreographyActivities>;
