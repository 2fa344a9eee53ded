// The outbox relays' routing, shared by the relay workflow, the workers and the CLI (imports nothing Node-only).
// A relay drains one outbox: each shop service's `event_outbox` (the choreography) and the 2PC transfer
// outbox's `outbox_events` (in the outbox database). Every event goes to each subscriber of its topic, on
// the subscriber's task queue, where the subscriber applies it at most once through its inbox.
import { SA, TASK_QUEUES } from './names';
import { SHOP_SERVICES, SUBSCRIPTIONS, type ShopService, type Topic } from './events';

/** One relay per outbox. */
export type RelayName = ShopService | 'transfers';
export const RELAY_NAMES: RelayName[] = [...SHOP_SERVICES, 'transfers'];

/** Who can receive events: the shop services (choreography) and notifications (the transfer notices). */
export type Subscriber = ShopService | 'notifications';

/** The transfer outbox's one topic (shared/transfer.ts transferParticipants writes it when 2PC/3PC commits). */
export const TRANSFER_COMMITTED = 'transfer.committed';

/** Where a relay's source activities (fetch, mark published, dead-letter) run: next to the outbox's database. */
export const RELAY_SOURCE_QUEUE: Record<RelayName, string> = {
  orders: TASK_QUEUES.orders,
  inventory: TASK_QUEUES.inventory,
  payments: TASK_QUEUES.payments,
  transfers: TASK_QUEUES.outbox,
};

export const SUBSCRIBER_QUEUE: Record<Subscriber, string> = {
  orders: TASK_QUEUES.orders,
  inventory: TASK_QUEUES.inventory,
  payments: TASK_QUEUES.payments,
  notifications: TASK_QUEUES.notifications,
};

/** The subscribers of a topic; an unknown topic has none (and is dead-lettered by the relay, never dropped). */
export function subscribersOf(relay: RelayName, topic: string): Subscriber[] | undefined {
  if (relay === 'transfers') return topic === TRANSFER_COMMITTED ? ['notifications'] : undefined;
  return Object.prototype.hasOwnProperty.call(SUBSCRIPTIONS, topic)
    ? SUBSCRIPTIONS[topic as Topic]
    : undefined;
}

/** An event as a relay carries it: payload opaque to the relay. */
export interface RelayedEvent {
  seq: number;
  eventId: string;
  topic: string;
  key: string;
  payload: unknown;
}

export const relayId = (relay: RelayName): string => `outbox-relay-${relay}`;
export const RELAY_SUPERVISOR_ID = 'settle-relay-supervisor';

/** Not a transaction: status 'relay' keeps relays out of `settle stuck` and the running-transactions gauge. */
export const relaySearchAttributes = (relay: RelayName) => [
  { key: SA.pattern, value: relay === 'transfers' ? '2pc' : 'choreography' },
  { key: SA.businessKey, value: `relay-${relay}` },
  { key: SA.status, value: 'relay' },
];
