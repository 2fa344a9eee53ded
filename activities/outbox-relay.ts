// A relay's source activities, registered on the queue next to the outbox's database (every shop service's
// queue, and the transfer outbox's queue): hand the relay its deliverable events (long-polling), mark them
// published, and dead-letter one whose delivery attempts ran out.
import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { deadLetter, fetchDeliverable, markPublished, type OutboxTable } from '../services/outbox-relay';
import type { RelayedEvent } from '../shared/relay';

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export function createRelaySourceActivities(pool: Pool, table: OutboxTable) {
  return {
    /**
     * Long-poll the outbox: returns as soon as there are deliverable events, or empty after waitMs. Polling
     * inside one activity (with heartbeats) keeps an idle relay from filling its workflow history.
     */
    async fetchOutbox(input: { limit: number; waitMs: number; pollMs?: number }): Promise<RelayedEvent[]> {
      const ctx = Context.current();
      const deadline = Date.now() + input.waitMs;
      for (;;) {
        const events = await fetchDeliverable(pool, table, input.limit);
        if (events.length || Date.now() >= deadline || ctx.cancellationSignal.aborted) return events;
        ctx.heartbeat();
        await pause(input.pollMs ?? 100, ctx.cancellationSignal);
      }
    },

    async markOutboxPublished(eventIds: string[]): Promise<void> {
      await markPublished(pool, table, eventIds);
    },

    async deadLetterOutboxEvent(input: { eventId: string; attempts: number; error: string }): Promise<void> {
      await deadLetter(pool, table, input);
    },
  };
}

export type RelaySourceActivities = ReturnType<typeof createRelaySourceActivities>;

/** What every subscriber registers on its queue: apply one delivered event (at most once, via its inbox). */
export interface RelaySubscriberActivities {
  deliverEvent(input: {
    subscriber: string;
    event: Pick<RelayedEvent, 'eventId' | 'topic' | 'payload'>;
  }): Promise<'applied' | 'duplicate'>;
}
