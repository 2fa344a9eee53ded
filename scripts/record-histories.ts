// Record one workflow history per saga family (and outcome) for the replay tests (test/workflows/replay.test.ts).
// Runs the sagas on a throw-away stack (embedded PostgreSQL + Temporal dev server on free ports, real workers
// and activities) and saves each `handle.fetchHistory()` as JSON under test/fixtures/histories/.
//
//   npx tsx scripts/record-histories.ts                 # every scenario
//   npx tsx scripts/record-histories.ts trip-completed  # only the named ones
//
// Re-record only when a workflow change is *meant* to be incompatible (and then version it); a compatible change
// must replay the old files unchanged. Files not produced by a scenario here (e.g. a history recorded before a
// `patched()` change) are never overwritten: they are what proves the patch keeps old executions replaying.
import { temporal } from '@temporalio/proto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../client/config';
import {
  orderWorkflowId,
  TASK_QUEUES,
  tripWorkflowId,
  type OrderInput,
  type SagaResult,
  type TripInput,
} from '../shared';
import { startTestStack, type TestStack } from '../test/helpers/stack';

export const HISTORIES_DIR = join(ROOT, 'test', 'fixtures', 'histories');

const stamp = Date.now().toString(36);
const order = (failAt?: OrderInput['failAt']): OrderInput => ({
  orderId: `rec-${stamp}-${failAt ?? 'ok'}`,
  customerId: 'alice',
  sku: 'SKU-1',
  qty: 1,
  amountCents: 1500,
  ...(failAt ? { failAt } : {}),
});
const trip = (failAt?: TripInput['failAt']): TripInput => ({
  tripId: `rec-${stamp}-${failAt ?? 'ok'}`,
  customerId: 'alice',
  flightId: 'FL-100',
  hotelId: 'HT-1',
  carClass: 'compact',
  nights: 2,
  amountCents: 60_000,
  ...(failAt ? { failAt } : {}),
});

/** One fixture file. */
export interface RecordedHistory {
  workflowId: string;
  workflowType: string;
  outcome: string;
  eventTypes: string[];
  historyProtoBase64: string;
}

interface Scenario {
  workflowType: 'orderSaga' | 'tripSaga';
  workflowId: string;
  args: unknown[];
  /** The outcome the recording must have (a recording of something else is a bug, not a fixture). */
  expect: SagaResult['status'];
}

export const SCENARIOS: Record<string, () => Scenario> = {
  'order-completed': () => ({
    workflowType: 'orderSaga',
    workflowId: orderWorkflowId(order().orderId),
    args: [order()],
    expect: 'completed',
  }),
  'order-compensated': () => ({
    workflowType: 'orderSaga',
    workflowId: orderWorkflowId(order('charge').orderId),
    args: [order('charge')],
    expect: 'compensated',
  }),
  'trip-completed': () => ({
    workflowType: 'tripSaga',
    workflowId: tripWorkflowId(trip().tripId),
    args: [trip()],
    expect: 'completed',
  }),
  'trip-compensated': () => ({
    workflowType: 'tripSaga',
    workflowId: tripWorkflowId(trip('pay').tripId),
    args: [trip('pay')],
    expect: 'compensated',
  }),
};

async function record(t: TestStack, name: string): Promise<void> {
  const s = SCENARIOS[name]!();
  const handle = await t.client.workflow.start(s.workflowType, {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId: s.workflowId,
    args: s.args,
  });
  const result = (await handle.result()) as SagaResult;
  if (result.status !== s.expect) throw new Error(`${name}: expected ${s.expect}, got ${result.status}`);
  const history = await handle.fetchHistory();
  const file = join(HISTORIES_DIR, `${name}.json`);
  // The history is stored as its protobuf encoding (what Temporal itself stores; base64), next to a readable
  // list of its event types so a reviewer sees what changed when a fixture is re-recorded.
  const encoded = temporal.api.history.v1.History.encode(history).finish();
  const eventTypes = (history.events ?? []).map((e) => {
    const t = e.eventType;
    return typeof t === 'number' ? (temporal.api.enums.v1.EventType[t] ?? String(t)) : String(t);
  });
  const doc: RecordedHistory = {
    workflowId: s.workflowId,
    workflowType: s.workflowType,
    outcome: result.status,
    eventTypes,
    historyProtoBase64: Buffer.from(encoded).toString('base64'),
  };
  writeFileSync(file, JSON.stringify(doc, null, 1) + '\n');
  process.stdout.write(`recorded ${name}: ${history.events?.length ?? 0} events -> ${file}\n`);
}

async function main(argv: string[]): Promise<void> {
  const names = argv.length ? argv : Object.keys(SCENARIOS);
  const unknown = names.filter((n) => !SCENARIOS[n]);
  if (unknown.length)
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const t = await startTestStack();
  try {
    await t.startWorkers();
    for (const n of names) await record(t, n);
  } finally {
    await t.teardown();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`record-histories: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
