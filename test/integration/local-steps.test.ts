// Step placement and search-attribute writes of the order saga on the real stack (Temporal dev server,
// PostgreSQL, the real activities):
//  - the all-in-one host (workers localSteps + the in-process bundle) runs every step as a local activity: no
//    activity task in the history, the same database outcome, the barrier unchanged; its history replays with
//    the in-process bundle and (by design) not on a worker that does not host the services;
//  - a separate-process deployment (no localSteps) keeps every step an activity;
//  - the saga writes search attributes only when an operator-filtered value changes: started as `settle order
//    place` starts it (pattern, business key, status set), it upserts once, at the end.
import { Worker, bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { orderWorkflowId, SA, TASK_QUEUES, type OrderInput, type SagaResult } from '../../shared';
import { IN_PROCESS_SERVICES_MODULE, WORKFLOWS_PATH } from '../../workers';
import { uniqueId, workflowBundle } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';

type History = temporal.api.history.v1.IHistory;
const EventType = {
  activityScheduled: 10, // EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
};
const count = (h: History, type: number): number =>
  (h.events ?? []).filter((e) => Number(e.eventType) === type).length;
/** Local activities ran: their markers (patch markers and the SDK's TemporalChangeVersion upserts aside). */
const localActivities = (h: History): number =>
  (h.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .length;
/** The saga's own upserts (the SDK upserts TemporalChangeVersion with every patch marker). */
const settleUpserts = (h: History): number =>
  (h.events ?? []).filter((e) =>
    Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}).some(
      (k) => k.startsWith('Settle'),
    ),
  ).length;
/** The event types, for assertion messages. */
const types = (h: History): string =>
  (h.events ?? [])
    .map((e) =>
      [
        Number(e.eventType),
        ...Object.keys(
          e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
        ),
        e.markerRecordedEventAttributes?.markerName ?? '',
      ].join(':'),
    )
    .join(' ');

describe('order saga step placement and search attributes', () => {
  let t: TestStack;
  let inProcessBundle: Awaited<ReturnType<typeof bundleWorkflowCode>>;

  before(async () => {
    t = await startTestStack();
    inProcessBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      workflowInterceptorModules: [IN_PROCESS_SERVICES_MODULE],
      logger: new DefaultLogger('ERROR'),
    });
  });
  after(async () => {
    await t?.teardown();
  });

  const place = async (
    input: OrderInput,
    startAttributes = true,
  ): Promise<{ result: SagaResult; history: History; id: string }> => {
    const id = orderWorkflowId(input.orderId);
    const handle = await t.client.workflow.start('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: id,
      args: [input],
      ...(startAttributes
        ? {
            typedSearchAttributes: [
              { key: SA.pattern, value: 'saga' },
              { key: SA.businessKey, value: input.orderId },
              { key: SA.status, value: 'running' },
            ],
          }
        : {}),
    });
    const result = (await handle.result()) as SagaResult;
    const { history } = await t.client.workflowService.getWorkflowExecutionHistory({
      namespace: t.stack.temporal.namespace,
      execution: { workflowId: id },
    });
    return { result, history: history ?? {}, id };
  };

  const order = (failAt?: OrderInput['failAt']): OrderInput => ({
    orderId: uniqueId('ls'),
    customerId: 'alice',
    sku: 'SKU-1',
    qty: 1,
    amountCents: 100,
    ...(failAt ? { failAt } : {}),
  });

  const orderStatus = async (orderId: string): Promise<string | undefined> =>
    (
      await t.stack.pools.orders.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [
        orderId,
      ])
    ).rows[0]?.status;

  it('all-in-one host: every step (and compensation) runs as a local activity, same outcome', async () => {
    const w = await t.startWorkers({ localSteps: true, workflowBundle: inProcessBundle });
    try {
      const ok = order();
      const done = await place(ok);
      assert.equal(done.result.status, 'completed');
      assert.equal(count(done.history, EventType.activityScheduled), 0, types(done.history));
      assert.equal(localActivities(done.history), 5, types(done.history));
      assert.equal(await orderStatus(ok.orderId), 'confirmed');

      const bad = order('charge');
      const comp = await place(bad);
      assert.equal(comp.result.status, 'compensated');
      assert.equal(count(comp.history, EventType.activityScheduled), 0);
      // create, reserve, charge (failed, its injected failure is non-retryable), then the compensations.
      assert.ok(localActivities(comp.history) >= 5, types(comp.history));
      assert.equal(await orderStatus(bad.orderId), 'cancelled');

      // Its history replays where the services are hosted, and not on a worker that would schedule activities.
      await Worker.runReplayHistory({ workflowBundle: inProcessBundle }, done.history, done.id);
      await assert.rejects(
        Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, done.history, done.id),
        /nondetermin|Nondetermin|DeterminismViolation/,
      );
    } finally {
      await w.stop();
    }
  });

  it('separate-process deployment: every step stays an activity on its service queue', async () => {
    const w = await t.startWorkers();
    try {
      const ok = order();
      const done = await place(ok);
      assert.equal(done.result.status, 'completed');
      assert.equal(count(done.history, EventType.activityScheduled), 5);
      assert.equal(await orderStatus(ok.orderId), 'confirmed');
    } finally {
      await w.stop();
    }
  });

  it('search attributes: one upsert (the final status) when the client set them at start; one at start otherwise', async () => {
    const w = await t.startWorkers();
    try {
      const asCli = await place(order());
      assert.equal(settleUpserts(asCli.history), 1, types(asCli.history));
      const d = await t.client.workflow.getHandle(asCli.id).describe();
      assert.equal(d.typedSearchAttributes.get(SA.status), 'completed');
      assert.equal(d.typedSearchAttributes.get(SA.needsOperator), false);
      assert.equal(d.typedSearchAttributes.get(SA.pattern), 'saga');

      const bare = order('charge');
      const started = await place(bare, false);
      // Start (pattern, key, status and needs-operator in one), then each status change: compensating, compensated.
      assert.equal(settleUpserts(started.history), 3, types(started.history));
      const e = await t.client.workflow.getHandle(started.id).describe();
      assert.equal(e.typedSearchAttributes.get(SA.pattern), 'saga');
      assert.equal(e.typedSearchAttributes.get(SA.businessKey), bare.orderId);
      assert.equal(e.typedSearchAttributes.get(SA.status), 'compensated');
      assert.equal(e.typedSearchAttributes.get(SA.needsOperator), false);
    } finally {
      await w.stop();
    }
  });
});
