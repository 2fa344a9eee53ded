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
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../client/config';
import {
  orderWorkflowId,
  resolveCompensationUpdate,
  sagaProgressQuery,
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
  /** Faults for this execution only (the workers consult them by workflow id). */
  faults?: Faults;
  /** Drives the execution while it runs (cancel it, resolve what it parks on). */
  drive?: (h: WorkflowHandle, f: Faults) => Promise<void>;
}

/** Per-execution faults the recording workers apply. */
interface Faults {
  /** A step whose first attempt waits until `release` (a slow participant). */
  holdStep?: string;
  held?: Promise<void>;
  release?: () => void;
  entered?: Promise<void>;
  enter?: () => void;
  /** A step whose first N attempts fail retryably (the engine's backoff timer runs between invocations). */
  failStep?: { step: string; times: number };
}

function holding(step: string): Faults {
  const f: Faults = { holdStep: step };
  f.held = new Promise<void>((r) => (f.release = r));
  f.entered = new Promise<void>((r) => (f.enter = r));
  return f;
}

async function waitFor(h: WorkflowHandle, ok: (status: string) => boolean): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    const p = await h.query(sagaProgressQuery);
    if (ok(p.status)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${h.workflowId}: timed out waiting for the saga`);
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
  // A saga-level step deadline: the charge is held past its 1 s deadline, the saga cancels it and compensates.
  'order-step-timeout': () => ({
    workflowType: 'orderSaga',
    workflowId: orderWorkflowId(order().orderId + '-timeout'),
    args: [{ ...order(), orderId: order().orderId + '-timeout' }, { stepTimeouts: { charge: '1s' } }],
    expect: 'compensated',
    faults: holding('charge'),
    drive: async (h, f) => {
      await h.result();
      f.release!();
    },
  }),
  // Cancelled while reserving: everything started is compensated.
  'order-cancelled': () => ({
    workflowType: 'orderSaga',
    workflowId: orderWorkflowId(order().orderId + '-cancel'),
    args: [{ ...order(), orderId: order().orderId + '-cancel' }],
    expect: 'compensated',
    faults: holding('reserve'),
    drive: async (h, f) => {
      await f.entered;
      await h.cancel();
      f.release!();
    },
  }),
  // The notification after the confirmation cannot be sent: the saga parks; an operator's update skips it.
  'order-operator-skip': () => ({
    workflowType: 'orderSaga',
    workflowId: orderWorkflowId(order().orderId + '-operator'),
    args: [{ ...order(), orderId: order().orderId + '-operator', failAt: 'notify' }],
    expect: 'completed',
    faults: {},
    drive: async (h) => {
      await waitFor(h, (s) => s === 'needs-operator');
      await h.executeUpdate(resolveCompensationUpdate, {
        args: [{ action: 'skip', reason: 'told the customer by phone', operator: 'recorder' }],
      });
    },
  }),
  // A forward step after the pivot that fails once its activity retries are spent: the engine's backoff timer,
  // then a second invocation that succeeds.
  'order-forward-backoff': () => ({
    workflowType: 'orderSaga',
    workflowId: orderWorkflowId(order().orderId + '-backoff'),
    args: [{ ...order(), orderId: order().orderId + '-backoff' }],
    expect: 'completed',
    faults: { failStep: { step: 'notify', times: 5 } },
  }),
};

/** Faults by workflow id, consulted by the recording workers. */
const FAULTS = new Map<string, Faults>();
const calls = new Map<string, number>();

async function startRecordingWorkers(t: TestStack): Promise<void> {
  const wf = (): string => Context.current().info.workflowExecution?.workflowId ?? '';
  await t.startWorkers({
    faults: true,
    hooks: {
      async beforeAction(step, attempt) {
        const f = FAULTS.get(wf());
        if (!f) return;
        if (f.holdStep === step && attempt === 1) {
          f.enter!();
          await f.held;
        }
        if (f.failStep?.step === step) {
          const key = `${wf()}/${step}`;
          const n = (calls.get(key) ?? 0) + 1;
          calls.set(key, n);
          if (n <= f.failStep.times)
            throw ApplicationFailure.retryable(`${step} is down (call ${n})`, 'Unavailable');
        }
      },
    },
  });
}

async function record(t: TestStack, name: string): Promise<void> {
  const s = SCENARIOS[name]!();
  if (s.faults) FAULTS.set(s.workflowId, s.faults);
  const handle = await t.client.workflow.start(s.workflowType, {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId: s.workflowId,
    args: s.args,
  });
  if (s.drive && s.faults) await s.drive(handle, s.faults);
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
    await startRecordingWorkers(t);
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
