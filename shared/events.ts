// The choreographed order saga's event contract, shared by the services (publish/handle), the relay workflow
// (routing) and the CLI. Imports nothing Node-only.
export type ShopService = 'orders' | 'inventory' | 'payments';
export const SHOP_SERVICES: ShopService[] = ['orders', 'inventory', 'payments'];

export type Topic =
  | 'OrderPlaced'
  | 'StockReserved'
  | 'StockRejected'
  | 'PaymentCompleted'
  | 'PaymentFailed'
  | 'StockReleased'
  /** The business deadline passed with the order still pending: the orders service cancelled it. */
  | 'OrderExpired'
  /** The compensation of a charge taken before the order expired. */
  | 'PaymentRefunded';

/** Events carry complete information, so a subscriber never has to call back the publisher. */
export interface OrderEventPayload {
  orderId: string;
  customerId: string;
  sku: string;
  qty: number;
  amountCents: number;
  /** The workflow that waits for the order to settle (for the trail, not for control). */
  workflowId: string;
  /** The run that placed the order: a retry of that run is a no-op, anyone else's reuse of the id is refused. */
  runId?: string;
  reason?: string;
}

/** What the choreographedOrder workflow takes (the CLI and SDK starts). */
export type ChoreographedOrderInput = Omit<OrderEventPayload, 'workflowId' | 'runId' | 'reason'> & {
  /** Business deadline: still pending after this long, the order is cancelled and compensated (default 15 min). */
  deadlineMs?: number;
};

export const DEFAULT_CHOREOGRAPHY_DEADLINE_MS = 15 * 60_000;

/** Which services react to which topic. */
export const SUBSCRIPTIONS: Record<Topic, ShopService[]> = {
  OrderPlaced: ['inventory'],
  StockReserved: ['payments'],
  StockRejected: ['orders'],
  PaymentCompleted: ['orders'],
  PaymentFailed: ['inventory'],
  StockReleased: ['orders'],
  OrderExpired: ['inventory', 'payments'],
  PaymentRefunded: [],
};

export interface TrailEntry {
  topic: Topic;
  service: ShopService;
  createdAt: string;
  publishedAt: string | null;
  reason?: string;
}

export interface ChoreographedOrderResult {
  workflowId: string;
  orderId: string;
  /** confirmed or cancelled: what the services settled on between themselves. */
  status: string;
  /** Set when the business deadline cancelled the order (the compensation follows through events). */
  expired?: boolean;
  /** Set when a cancel request cancelled the order (compensated through events, as an expiry is). */
  cancelled?: boolean;
  events: TrailEntry[];
}

export const relayWorkflowId = (service: ShopService): string => `outbox-relay-${service}`;
export const choreographyWorkflowId = (orderId: string): string => `choreography-${orderId}`;

/** Merge the services' outbox trails into causal order (a reaction's transaction starts after its cause committed). */
export function mergeTrails(trails: TrailEntry[][]): TrailEntry[] {
  return trails.flat().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}
