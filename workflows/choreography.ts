// The choreographed order saga, as the CLI starts it. There is no orchestrator deciding what happens to an
// order: the services react to each other's events, delivered by the outbox relays (workflows/relay.ts).
// choreographedOrder publishes the order (order row + OrderPlaced in one local transaction), waits until the
// services have settled it, and reports the trail of events. Its business deadline has a defined outcome: an
// order still pending when it passes is cancelled by the orders service (OrderExpired), and the inventory and
// payments services compensate whatever they had done (services/choreography.ts).
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChoreographyActivities } from '../activities/choreography';
import { SA, TASK_QUEUES } from '../shared';
import {
  DEFAULT_CHOREOGRAPHY_DEADLINE_MS,
  mergeTrails,
  SHOP_SERVICES,
  type ChoreographedOrderInput,
  type ChoreographedOrderResult,
  type ShopService,
} from '../shared/events';

const QUEUE: Record<ShopService, string> = {
  orders: TASK_QUEUES.orders,
  inventory: TASK_QUEUES.inventory,
  payments: TASK_QUEUES.payments,
};

const retry = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' };
const service = (s: ShopService) =>
  proxyActivities<ChoreographyActivities>({ taskQueue: QUEUE[s], startToCloseTimeout: '30s', retry });
const poller = () =>
  proxyActivities<ChoreographyActivities>({
    taskQueue: QUEUE.orders,
    startToCloseTimeout: '10m',
    heartbeatTimeout: '10s',
    retry,
  });

function deadlineOf(input: ChoreographedOrderInput): number {
  const ms = input.deadlineMs ?? DEFAULT_CHOREOGRAPHY_DEADLINE_MS;
  if (!Number.isFinite(ms) || ms <= 0)
    throw ApplicationFailure.nonRetryable(`deadlineMs must be a positive number, got ${ms}`, 'InvalidInput');
  return ms;
}

/** The services' outcome, or undefined when the deadline passed first (the wait is then cancelled). */
async function settledWithin(orderId: string, ms: number): Promise<string | undefined> {
  const wait = new CancellationScope();
  const timer = new CancellationScope();
  const settled = wait.run(() =>
    poller().awaitOrderSettled.executeWithOptions({ summary: `wait for the services to settle ${orderId}` }, [
      { orderId },
    ]),
  );
  const expired = timer
    .run(() => sleep(ms))
    .then(
      () => undefined,
      (err: unknown) => {
        if (!isCancellation(err)) throw err;
        return undefined;
      },
    );
  const first = await Promise.race([settled.then((status) => ({ status })), expired]);
  if (first) {
    timer.cancel();
    return first.status;
  }
  wait.cancel();
  await settled.catch((err: unknown) => {
    if (!isCancellation(err)) throw err;
  });
  return undefined;
}

export interface ChoreographedOrderOptions {
  /** Write Settle's search attributes (default true; the time-skipping test server has none registered). */
  searchAttributes?: boolean;
}

export async function choreographedOrder(
  input: ChoreographedOrderInput,
  options: ChoreographedOrderOptions = {},
): Promise<ChoreographedOrderResult> {
  const { workflowId, firstExecutionRunId } = workflowInfo();
  const { deadlineMs: _deadline, ...order } = input;
  const upsert: typeof upsertSearchAttributes = (attrs) =>
    options.searchAttributes === false ? undefined : upsertSearchAttributes(attrs);
  upsert([
    { key: SA.pattern, value: 'choreography' },
    { key: SA.businessKey, value: input.orderId },
    { key: SA.status, value: 'running' },
  ]);
  const withDeadline = patched('choreography-business-deadline');
  const ms = withDeadline ? deadlineOf(input) : 0;
  // A cancel (settle cancel) stops the order the way its deadline does, instead of leaving it unwatched.
  const cancelStopsOrder = patched('choreography-cancel-stops-order');
  const orders = service('orders');
  const placed = { ...order, workflowId, runId: firstExecutionRunId };
  let status: string | undefined;
  let expired = false;
  let cancelled = false;
  try {
    await orders.placeChoreographedOrder.executeWithOptions(
      { summary: `publish OrderPlaced ${input.orderId}` },
      [placed],
    );
    if (withDeadline) {
      status = await settledWithin(input.orderId, ms);
      if (status === undefined) {
        status = await orders.expireChoreographedOrder.executeWithOptions(
          { summary: `deadline passed: cancel ${input.orderId} and compensate` },
          [{ orderId: input.orderId, reason: `not settled within ${ms} ms` }],
        );
        expired = status === 'cancelled';
      }
    } else {
      status = await poller().awaitOrderSettled.executeWithOptions(
        { summary: `wait for the services to settle ${input.orderId}` },
        [{ orderId: input.orderId }],
      );
    }
  } catch (err) {
    if (!cancelStopsOrder || !isCancellation(err)) throw err;
    // Placing again is a no-op for this run's order (and makes a place attempt still in flight one too), so the
    // order exists in exactly one version before it is cancelled; one the services settled already keeps it.
    status = await CancellationScope.nonCancellable(async () => {
      await orders.placeChoreographedOrder.executeWithOptions(
        { summary: `cancelled: make sure ${input.orderId} is placed once` },
        [placed],
      );
      return orders.expireChoreographedOrder.executeWithOptions(
        { summary: `cancelled: cancel ${input.orderId} and compensate` },
        [{ orderId: input.orderId, reason: 'cancelled by request' }],
      );
    });
    cancelled = status === 'cancelled';
  }
  const readTrails = () => Promise.all(SHOP_SERVICES.map((s) => service(s).orderEventTrail(input.orderId)));
  const trails = await (cancelStopsOrder ? CancellationScope.nonCancellable(readTrails) : readTrails());
  upsert([{ key: SA.status, value: status ?? 'unknown' }]);
  return {
    workflowId,
    orderId: input.orderId,
    status: status ?? 'unknown',
    ...(expired ? { expired } : {}),
    ...(cancelled ? { cancelled } : {}),
    events: mergeTrails(trails),
  };
}
