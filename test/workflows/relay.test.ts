// The outbox relay workflow against a real dev server with stubbed outbox and subscribers: its history stays
// bounded under a sustained backlog (continue-as-new when the server suggests it, here lowered by dynamic
// config), and a poison event is dead-lettered while every other key keeps flowing.
import { ApplicationFailure } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../services/processes';
import { startDevServer, type DevServerHandle } from '../../services/temporal-server';
import { TASK_QUEUES } from '../../shared';
import type { outboxRelay } from '../../workflows';
import { quietRuntime, uniqueId } from '../helpers/env';
import { withWorkers } from '../helpers/workers';

const SUGGEST_AT = 150;

interface Ev {
  seq: number;
  eventId: string;
  topic: string;
  key: string;
  payload: unknown;
}

/** An in-memory outbox (orders' OrderPlaced events) and the inventory subscriber that records deliveries. */
function stubOutbox(events: Ev[], poison = new Set<string>()) {
  const published = new Set<string>();
  const dead = new Map<string, string>();
  const deliveries: string[] = [];
  const deliverable = (): Ev[] =>
    events.filter(
      (e) =>
        !published.has(e.eventId) &&
        !dead.has(e.eventId) &&
        !events.some(
          (d) => d.key === e.key && d.seq < e.seq && dead.has(d.eventId) && !published.has(d.eventId),
        ),
    );
  return {
    published,
    dead,
    deliveries,
    source: {
      fetchOutbox: (input: { limit: number }) => Promise.resolve(deliverable().slice(0, input.limit)),
      markOutboxPublished: (ids: string[]) => Promise.resolve(void ids.forEach((id) => published.add(id))),
      deadLetterOutboxEvent: (input: { eventId: string; error: string }) =>
        Promise.resolve(void dead.set(input.eventId, input.error)),
    },
    subscriber: {
      deliverEvent: (input: { subscriber: string; event: { eventId: string } }) => {
        if (poison.has(input.event.eventId))
          return Promise.reject(ApplicationFailure.retryable('cannot apply: malformed payload'));
        deliveries.push(input.event.eventId);
        return Promise.resolve('applied');
      },
    },
  };
}

const orderPlaced = (n: number, key = (i: number) => `order-${i}`): Ev[] =>
  Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    eventId: `OrderPlaced:${i}`,
    topic: 'OrderPlaced',
    key: key(i),
    payload: { orderId: key(i) },
  }));

describe('outbox relay workflow (dev server, stubbed outbox)', () => {
  let server: DevServerHandle;
  let dataDir: string;
  let client: Client;
  let connection: Connection;
  let native: NativeConnection;
  before(async () => {
    quietRuntime();
    dataDir = mkdtempSync(join(tmpdir(), 'settle-relay-'));
    server = await startDevServer({
      dataDir,
      port: await freePort(),
      persistent: false,
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_AT },
    });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: server.namespace });
    native = await NativeConnection.connect({ address: server.address });
  });
  after(async () => {
    await connection?.close();
    await native?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('continues-as-new when the server suggests it, so a sustained backlog never overflows the history', async () => {
    const stub = stubOutbox(orderPlaced(200));
    const workflowId = uniqueId('relay-can');
    await withWorkers(
      native,
      { [TASK_QUEUES.orders]: stub.source, [TASK_QUEUES.inventory]: stub.subscriber },
      async () => {
        const handle = await client.workflow.start<typeof outboxRelay>('outboxRelay', {
          taskQueue: TASK_QUEUES.orchestration,
          workflowId,
          args: ['orders', { batch: 5, waitMs: 200, stopWhenIdle: 1 }],
        });
        const first = client.workflow.getHandle(workflowId, handle.firstExecutionRunId);
        await client.workflow.getHandle(workflowId).result();
        const firstRun = await first.describe();
        assert.equal(firstRun.status.name, 'CONTINUED_AS_NEW', 'the first run handed over to a new run');
        // Cut within one batch (about 30 events) of the server's suggestion, not after a fixed number of fetches.
        assert.ok(
          firstRun.historyLength <= SUGGEST_AT + 40,
          `first run history ${firstRun.historyLength} events`,
        );
      },
    );
    assert.equal(stub.published.size, 200);
    assert.equal(new Set(stub.deliveries).size, 200, 'every event delivered');
  });

  /** Run the orders relay over the stub until its outbox is idle; fails if it does not get there (a stall). */
  async function drain(stub: ReturnType<typeof stubOutbox>, options: Record<string, number>): Promise<void> {
    await withWorkers(
      native,
      { [TASK_QUEUES.orders]: stub.source, [TASK_QUEUES.inventory]: stub.subscriber },
      async () => {
        const run = client.workflow.execute<typeof outboxRelay>('outboxRelay', {
          taskQueue: TASK_QUEUES.orchestration,
          workflowId: uniqueId('relay'),
          args: ['orders', { waitMs: 200, stopWhenIdle: 1, ...options }],
        });
        const bounded = new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the relay stalled')), 60_000).unref(),
        );
        await Promise.race([run, bounded]);
      },
    );
  }

  it('dead-letters a poison event after its attempts and holds back only its key', async () => {
    // Keys a, b, c; a's first event cannot be applied.
    const events = orderPlaced(9, (i) => ['a', 'b', 'c'][i % 3]!);
    const stub = stubOutbox(events, new Set(['OrderPlaced:0']));
    await drain(stub, { batch: 100, deliveryAttempts: 3, retryInitialMs: 10 });
    assert.deepEqual([...stub.dead.keys()], ['OrderPlaced:0']);
    assert.match(stub.dead.get('OrderPlaced:0')!, /malformed payload/);
    const keyOf = (id: string) => events.find((e) => e.eventId === id)!.key;
    assert.deepEqual(
      [...stub.published].map(keyOf).sort(),
      ['b', 'b', 'b', 'c', 'c', 'c'],
      'every other key delivered; key a held back behind its dead letter',
    );
  });

  it('dead-letters an event whose topic has no subscriber instead of failing the relay', async () => {
    const stub = stubOutbox([
      { seq: 1, eventId: 'Bogus:1', topic: 'Bogus', key: 'k', payload: {} },
      ...orderPlaced(1).map((e) => ({ ...e, seq: 2 })),
    ]);
    await drain(stub, {});
    assert.match(stub.dead.get('Bogus:1') ?? '', /no subscriber/);
    assert.deepEqual([...stub.published], ['OrderPlaced:0']);
  });
});
