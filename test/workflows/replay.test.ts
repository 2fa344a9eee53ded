// Replay: every recorded history in test/fixtures/histories (one or more per saga family, recorded by
// scripts/record-histories.ts on the real stack) must replay against today's workflow code. A change that makes
// an old execution take a different path fails here, in CI, before it can wedge running workflows.
// The trip saga shows the compatible way to change a workflow: its loyalty-points step was added behind
// `patched('trip-loyalty-points')`, and the history recorded before that change still replays.
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RecordedHistory } from '../../scripts/record-histories';
import { HISTORIES_DIR } from '../../scripts/record-histories';
import { quietRuntime, workflowBundle } from '../helpers/env';

type History = temporal.api.history.v1.IHistory;
interface Fixture {
  file: string;
  doc: RecordedHistory;
  history: History;
}

const decode = (doc: RecordedHistory): History =>
  temporal.api.history.v1.History.decode(Buffer.from(doc.historyProtoBase64, 'base64'));

function fixtures(): Fixture[] {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const doc = JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')) as RecordedHistory;
      return { file, doc, history: decode(doc) };
    });
}

async function replay(
  items: { workflowId: string; history: History }[],
): Promise<{ workflowId: string; error?: Error }[]> {
  const out: { workflowId: string; error?: Error }[] = [];
  const results = Worker.runReplayHistories(
    { workflowBundle: await workflowBundle(), replayName: 'settle-replay-test' },
    items.map((i) => ({ workflowId: i.workflowId, history: i.history as never })),
  );
  for await (const r of results) out.push({ workflowId: r.workflowId, error: r.error });
  return out;
}

const markers = (h: History): string[] =>
  (h.events ?? [])
    .map((e) => e.markerRecordedEventAttributes)
    .filter((m) => m?.markerName === 'core_patch')
    .map((m) => JSON.stringify(m?.details ?? {}));
const activityTypes = (h: History): string[] =>
  (h.events ?? []).flatMap((e) => {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });

describe('replay of recorded histories against the current workflow code', () => {
  let all: Fixture[];
  before(() => {
    quietRuntime();
    all = fixtures();
  });

  it('has a recorded history for each saga family, and each one completed as recorded', () => {
    const types = new Set(all.map((f) => f.doc.workflowType));
    assert.ok(types.has('orderSaga') && types.has('tripSaga'), `families recorded: ${[...types].join(', ')}`);
    for (const f of all) {
      const last = f.history.events?.[f.history.events.length - 1];
      assert.ok(
        last?.workflowExecutionCompletedEventAttributes,
        `${f.file} ends with the workflow completing`,
      );
    }
  });

  it('every history replays without a determinism error', async () => {
    const results = await replay(all.map((f) => ({ workflowId: f.doc.workflowId, history: f.history })));
    assert.equal(results.length, all.length);
    const failed = results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error?.message}`);
    assert.deepEqual(failed, []);
  });

  it('patched(): the trip history recorded before the loyalty step was added has no marker and still replays', async () => {
    const beforePatch = all.find((f) => f.file === 'trip-completed-before-loyalty-patch.json');
    const current = all.find((f) => f.file === 'trip-completed.json');
    assert.ok(beforePatch && current);
    assert.deepEqual(markers(beforePatch.history), [], 'recorded before the patch existed');
    assert.ok(!activityTypes(beforePatch.history).includes('awardLoyaltyPoints'));
    assert.equal(markers(current.history).length, 1, 'a new execution records the patch marker');
    assert.ok(activityTypes(current.history).includes('awardLoyaltyPoints'), 'and runs the new step');
    // Both replay (the first through the old branch of patched(), the second through the new one).
    const results = await replay(
      [beforePatch, current].map((f) => ({ workflowId: f.doc.workflowId, history: f.history })),
    );
    assert.deepEqual(
      results.map((r) => r.error?.message),
      [undefined, undefined],
    );
  });

  it('a history that does not match the code fails the replay (the check can fail)', async () => {
    const order = all.find((f) => f.file === 'order-completed.json');
    assert.ok(order);
    // The same execution, as if the first step had once called a different activity.
    const altered = decode(order.doc);
    const first = altered.events?.find((e) => e.activityTaskScheduledEventAttributes);
    assert.equal(first?.activityTaskScheduledEventAttributes?.activityType?.name, 'createOrder');
    first.activityTaskScheduledEventAttributes.activityType.name = 'reserveStock';
    const [result] = await replay([{ workflowId: order.doc.workflowId, history: altered }]);
    assert.ok(result?.error, 'replay reported an error');
    assert.match(`${result.error.name}: ${result.error.message}`, /[Dd]eterminism|[Nn]ondeterminism/);
  });

  // issue 9 item 10: histories of the paths a completed run never takes, replayed in CI like the others.
  it('fixtures cover a step timeout, a cancellation, an operator update and an engine backoff timer', () => {
    const types = (f: Fixture): string[] => f.doc.eventTypes;
    const has = (file: string, ...want: string[]): void => {
      const f = all.find((x) => x.file === file);
      assert.ok(f, `${file} is recorded`);
      for (const w of want) assert.ok(types(f).includes(w), `${file} has ${w}`);
    };
    // The step deadline is a timer that fires, then the activity is cancelled and the saga compensates.
    has('order-step-timeout.json', 'EVENT_TYPE_TIMER_FIRED', 'EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED');
    has('order-cancelled.json', 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED');
    has('order-operator-skip.json', 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
    has('order-forward-backoff.json', 'EVENT_TYPE_TIMER_FIRED');
  });

  it('patched(): orders recorded before notify moved after the pivot notify first; new ones confirm first', () => {
    const before = all.find((f) => f.file === 'order-completed.json');
    const after = all.find((f) => f.file === 'order-forward-backoff.json');
    assert.ok(before && after);
    const order = (h: History): string[] =>
      activityTypes(h).filter((a) => a === 'sendNotification' || a === 'confirmOrder');
    assert.deepEqual(order(before.history), ['sendNotification', 'confirmOrder']);
    assert.deepEqual([...new Set(order(after.history))], ['confirmOrder', 'sendNotification']);
  });
});
