// The outbox relays: one long-lived workflow per outbox (each shop service's, and the 2PC/3PC transfer outbox).
// A relay long-polls its outbox, delivers each event to every subscriber of its topic at least once
// (subscribers dedupe through their inbox), then marks it published. Events of one key are delivered in
// order, different keys in parallel. A crash anywhere only means an event is delivered again, never lost.
//  - A poison event cannot stall its outbox: each delivery has a bounded number of attempts; when they run out
//    the event is dead-lettered with its last error, and only the later events of its key wait behind it
//    (`settle outbox dead-letters`, `settle outbox redrive`).
//  - The history stays bounded: the relay continues-as-new when the server suggests it (history length/size),
//    however big the backlog.
//  - relaySupervisor (on a Temporal Schedule) re-creates any relay that is missing or was terminated.
import {
  ActivityFailure,
  continueAsNew,
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { RelaySourceActivities, RelaySubscriberActivities } from '../activities/outbox-relay';
import { TASK_QUEUES } from '../shared';
import {
  RELAY_NAMES,
  RELAY_SOURCE_QUEUE,
  relayId,
  relaySearchAttributes,
  SUBSCRIBER_QUEUE,
  subscribersOf,
  type RelayedEvent,
  type RelayName,
  type Subscriber,
} from '../shared/relay';

export interface RelayOptions {
  /** Long-poll window of one fetch (default 20 s). */
  waitMs?: number;
  batch?: number;
  /** Delivery attempts per event and subscriber before the event is dead-lettered (default 25, about 10 min). */
  deliveryAttempts?: number;
  /** First retry interval of a delivery (default 200 ms, doubling up to 30 s). */
  retryInitialMs?: number;
  /** Also continue-as-new at this history length (tests); the server's suggestion always applies. */
  maxHistoryLength?: number;
  /** Histories recorded before the continue-as-new-suggested patch only: continue-as-new after this many fetches. */
  fetchesPerRun?: number;
  /** Stop after the outbox was found empty this many times in a row (tests); default: run forever. */
  stopWhenIdle?: number;
}

const DEFAULT_ATTEMPTS = 25;

// The relay's own database calls retry without limit: they are the relay's own outbox, not a subscriber's.
const sourceOf = (relay: RelayName) =>
  proxyActivities<RelaySourceActivities>({
    taskQueue: RELAY_SOURCE_QUEUE[relay],
    startToCloseTimeout: '1m',
    heartbeatTimeout: '10s',
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
  });

const subscriber = (s: Subscriber, o: RelayOptions) =>
  proxyActivities<RelaySubscriberActivities>({
    taskQueue: SUBSCRIBER_QUEUE[s],
    startToCloseTimeout: '30s',
    retry: {
      initialInterval: o.retryInitialMs ?? 200,
      backoffCoefficient: 2,
      maximumInterval: '30s',
      maximumAttempts: o.deliveryAttempts ?? DEFAULT_ATTEMPTS,
    },
  });

const failureText = (err: unknown): string =>
  err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;

/** Deliver one event to each of its subscribers; undefined when it went everywhere, else why it could not. */
async function deliverOne(relay: RelayName, e: RelayedEvent, o: RelayOptions): Promise<string | undefined> {
  const subs = subscribersOf(relay, e.topic);
  if (!subs) return `no subscriber for topic '${e.topic}'`;
  const event = { eventId: e.eventId, topic: e.topic, payload: e.payload };
  const results = await Promise.allSettled(
    subs.map((sub) => subscriber(sub, o).deliverEvent({ subscriber: sub, event })),
  );
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${subs[i]}: ${failureText(r.reason)}`] : [],
  );
  return failed.length ? failed.join('; ') : undefined;
}

/** One batch: per key in sequence (stopping at a dead letter), keys in parallel. Returns the ids delivered. */
async function deliverBatch(relay: RelayName, batch: RelayedEvent[], o: RelayOptions): Promise<string[]> {
  const source = sourceOf(relay);
  const byKey = new Map<string, RelayedEvent[]>();
  for (const e of batch) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  const delivered: string[] = [];
  await Promise.all(
    [...byKey.values()].map(async (events) => {
      for (const e of events) {
        const error = await deliverOne(relay, e, o);
        if (error === undefined) {
          delivered.push(e.eventId);
          continue;
        }
        await source.deadLetterOutboxEvent({
          eventId: e.eventId,
          attempts: subscribersOf(relay, e.topic) ? (o.deliveryAttempts ?? DEFAULT_ATTEMPTS) : 0,
          error,
        });
        return; // the rest of this key waits behind its dead letter
      }
    }),
  );
  return delivered;
}

export async function outboxRelay(relay: RelayName, options: RelayOptions = {}): Promise<number> {
  // Runs recorded before this patch continue-as-new by fetch count; every run after by the server's suggestion.
  const bySuggestion = patched('relay-continue-as-new-suggested');
  const source = sourceOf(relay);
  const historyFull = (fetches: number): boolean => {
    if (!bySuggestion) return fetches >= (options.fetchesPerRun ?? 200);
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      (!!options.maxHistoryLength && info.historyLength >= options.maxHistoryLength)
    );
  };
  let delivered = 0;
  let idle = 0;
  for (let fetches = 0; !historyFull(fetches); fetches++) {
    const batch = await source.fetchOutbox({ limit: options.batch ?? 100, waitMs: options.waitMs ?? 20_000 });
    if (batch.length === 0) {
      idle += 1;
      if (options.stopWhenIdle && idle >= options.stopWhenIdle) return delivered;
      continue;
    }
    idle = 0;
    const published = await deliverBatch(relay, batch, options);
    if (published.length) await source.markOutboxPublished(published);
    delivered += published.length;
  }
  return continueAsNew<typeof outboxRelay>(relay, options);
}

export interface RelaySupervisorInput {
  relays?: RelayName[];
  options?: RelayOptions;
}

/**
 * Make sure every relay runs: start the ones that are missing (never started, terminated, failed). Run by the
 * relay supervisor schedule (workers/relays.ts). A relay that runs is left alone; a started one outlives this
 * workflow (parent-close policy ABANDON).
 */
export async function relaySupervisor(input: RelaySupervisorInput = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const relay of input.relays ?? RELAY_NAMES) {
    try {
      await startChild(outboxRelay, {
        workflowId: relayId(relay),
        args: [relay, input.options ?? {}],
        taskQueue: TASK_QUEUES.orchestration,
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: relaySearchAttributes(relay),
      });
      out[relay] = 'started';
    } catch (err) {
      // WorkflowExecutionAlreadyStartedError (@temporalio/common): the relay runs.
      if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw err;
      out[relay] = 'running';
    }
  }
  return out;
}
