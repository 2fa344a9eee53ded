// Durable plumbing for the choreographed order saga. There is no orchestrator deciding what happens to an
// order: the services react to each other's events. Temporal makes the delivery durable:
//  - outboxRelay(service): one long-lived relay per publishing service; it long-polls the service's outbox,
//    delivers each event to every subscriber at least once (subscribers dedupe through their inbox), then
//    marks it published. Events of one order are delivered in order; different orders in parallel. A crash
//    anywhere only means an event is delivered again, never lost.
//  - choreographedOrder(input): what the CLI starts: publishes the order (order row + OrderPlaced in one local
//    transaction), waits until the services have settled it, and reports the trail of events.
import { continueAsNew, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ChoreographyActivities } from '../activities/choreography';
import { SA, TASK_QUEUES } from '../shared';
import {
  mergeTrails,
  SHOP_SERVICES,
  SUBSCRIPTIONS,
  type ChoreographedOrderResult,
  type OrderEventPayload,
  type OutboxEvent,
  type ShopService,
} from '../shared/events';

const QUEUE: Record<ShopService, string> = {
  orders: TASK_QUEUES.orders,
  inventory: TASK_QUEUES.inventory,
  payments: TASK_QUEUES.payments,
};

const retry = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' }; // unlimited: never drop an event
const service = (s: ShopService) =>
  proxyActivities<ChoreographyActivities>({ taskQueue: QUEUE[s], startToCloseTimeout: '30s', retry });
const poller = (s: ShopService) =>
  proxyActivities<ChoreographyActivities>({
    taskQueue: QUEUE[s],
    startToCloseTimeout: '1m',
    heartbeatTimeout: '10s',
    retry,
  });

export interface RelayOptions {
  /** Long-poll window of one fetch (default 20 s). */
  waitMs?: number;
  batch?: number;
  /** Continue-as-new after this many fetches, keeping the history small (default 200). */
  fetchesPerRun?: number;
  /** Stop after the outbox was found empty this many times in a row (tests); default: run forever. */
  stopWhenIdle?: number;
}

export async function outboxRelay(publisher: ShopService, options: RelayOptions = {}): Promise<number> {
  const source = poller(publisher);
  let delivered = 0;
  let idle = 0;
  for (let i = 0; i < (options.fetchesPerRun ?? 200); i++) {
    const batch = await source.fetchOutbox({ limit: options.batch ?? 100, waitMs: options.waitMs ?? 20_000 });
    if (batch.length === 0) {
      idle += 1;
      if (options.stopWhenIdle && idle >= options.stopWhenIdle) return delivered;
      continue;
    }
    idle = 0;
    // Per key (order) in sequence, keys in parallel.
    const byKey = new Map<string, OutboxEvent[]>();
    for (const e of batch) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
    await Promise.all(
      [...byKey.values()].map(async (events) => {
        for (const e of events) {
          const event = { eventId: e.eventId, topic: e.topic, payload: e.payload };
          await Promise.all(
            SUBSCRIPTIONS[e.topic].map((sub) => service(sub).deliverEvent({ subscriber: sub, event })),
          );
        }
      }),
    );
    await source.markOutboxPublished(batch.map((e) => e.eventId));
    delivered += batch.length;
  }
  return continueAsNew<typeof outboxRelay>(publisher, options);
}

export async function choreographedOrder(
  input: Omit<OrderEventPayload, 'workflowId'>,
): Promise<ChoreographedOrderResult> {
  const workflowId = workflowInfo().workflowId;
  upsertSearchAttributes([
    { key: SA.pattern, value: 'choreography' },
    { key: SA.businessKey, value: input.orderId },
    { key: SA.status, value: 'running' },
  ]);
  const orders = service('orders');
  await orders.placeChoreographedOrder.executeWithOptions(
    { summary: `publish OrderPlaced ${input.orderId}` },
    [{ ...input, workflowId }],
  );
  const status = await poller('orders').awaitOrderSettled.executeWithOptions(
    { summary: `wait for the services to settle ${input.orderId}`, startToCloseTimeout: '10m' },
    [{ orderId: input.orderId }],
  );
  const trails = await Promise.all(SHOP_SERVICES.map((s) => service(s).orderEventTrail(input.orderId)));
  upsertSearchAttributes([{ key: SA.status, value: status }]);
  return { workflowId, orderId: input.orderId, status, events: mergeTrails(trails) };
}
