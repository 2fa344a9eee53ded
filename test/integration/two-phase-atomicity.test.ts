// 2PC stays atomic when the coordinator is reset, when a business id is reused, and when the in-doubt sweeper
// has nothing but a terminated coordinator to go by (issue 16 items 1 and 2). Real dev server + PostgreSQL;
// bank-b's worker runs on its own so a test can take it down while its branch is prepared.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createBankActivities, createOutboxActivities, type ParticipantHooks } from '../../activities/banks';
import { outboxEvent, totalMoney } from '../../services/banks';
import {
  branchGid,
  coordinatorStateQuery,
  SA,
  TASK_QUEUES,
  transferWorkflowId,
  type TransferInput,
} from '../../shared';
import type { inDoubtSweeper, transfer2pc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { assertSettled, balance, Gate, preparedGids, waitFor } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

/** What an operator's `temporal workflow reset --type FirstWorkflowTask` does, through the client's reset API. */
async function resetToFirstWorkflowTask(client: Client, workflowId: string): Promise<string> {
  const handle = client.workflow.getHandle(workflowId);
  const { runId } = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  const first = events.find((e) => e.workflowTaskCompletedEventAttributes);
  assert.ok(first?.eventId, 'the history has a completed workflow task');
  const res = await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId, runId },
    reason: 'test: operator reset to the first workflow task',
    workflowTaskFinishEventId: first.eventId,
    requestId: randomUUID(),
  });
  assert.ok(res.runId);
  return res.runId;
}

describe('two-phase commit: resets, reused ids, sweeper decisions from a durable record', () => {
  let t: TestStack;
  let total: number;
  let hooks: ParticipantHooks = {};
  const delegate: ParticipantHooks = {
    beforePrepare: (gid) => hooks.beforePrepare?.(gid),
    afterPrepare: (gid) => hooks.afterPrepare?.(gid),
    beforeCommitPrepared: (gid) => hooks.beforeCommitPrepared?.(gid),
  };
  let stopBankB: (() => Promise<void>) | undefined;

  const startBankB = async (): Promise<void> => {
    const w = await t.startWorkers({
      queues: ['bankB'],
      extraActivities: { bankB: createBankActivities(t.stack.pools.bank_b, delegate) },
    });
    stopBankB = async () => {
      stopBankB = undefined;
      await w.stop();
    };
  };

  before(async () => {
    t = await startTestStack();
    const { pools } = t.stack;
    await t.startWorkers({
      queues: ['orchestration', 'bankA', 'outbox'],
      extraActivities: {
        bankA: createBankActivities(pools.bank_a, delegate),
        outbox: createOutboxActivities(pools.outbox, delegate),
      },
    });
    await startBankB();
    total = await totalMoney(pools);
  });
  after(async () => {
    await t?.teardown();
  });
  beforeEach(async () => {
    hooks = {};
    // A test that failed with bank-b's worker down must not take the next one with it.
    if (!stopBankB) await startBankB();
  });

  const input = (amountCents: number, extra: Partial<TransferInput> = {}): TransferInput => ({
    ref: uniqueId('atom'),
    from: ALICE,
    to: BOB,
    amountCents,
    options: { activityTimeout: '2s', voteTimeout: '4s' },
    ...extra,
  });
  const start = (i: TransferInput, workflowId = transferWorkflowId(i.ref)) =>
    // Started from code with the SDK's defaults (no id reuse policy): the workflow itself must be safe.
    t.client.workflow.start<typeof transfer2pc>('transfer2pc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [i],
    });
  const sweep = (graceMs: number) =>
    t.client.workflow.execute<typeof inDoubtSweeper>('inDoubtSweeper', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: uniqueId('sweep'),
      args: [{ graceMs }],
    });

  /** Run a transfer until bank-a and the outbox committed while bank-b's commit is held at its gate. */
  async function committedExceptBankB(i: TransferInput): Promise<{ handle: WorkflowHandle; gate: Gate }> {
    const { pools } = t.stack;
    const wf = transferWorkflowId(i.ref);
    const alice0 = await balance(pools, ALICE);
    const gate = new Gate();
    hooks.beforeCommitPrepared = (gid) => (gid === branchGid(wf, 'bank-b') ? gate.wait(gid) : undefined);
    const handle = await start(i);
    await waitFor(
      'bank-a and the outbox committed, bank-b held before COMMIT PREPARED',
      async () =>
        gate.arrived.length > 0 &&
        (await balance(pools, ALICE)) === alice0 - i.amountCents &&
        (await outboxEvent(pools.outbox, wf)) !== undefined,
    );
    return { handle, gate };
  }

  it('item 1: a reset in phase two (bank-a committed, bank-b prepared, its worker down) still commits everywhere', async () => {
    const { pools } = t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const i = input(1234);
    const wf = transferWorkflowId(i.ref);
    const { gate } = await committedExceptBankB(i);
    // bank-b's worker goes down with its branch prepared.
    gate.fail('bank-b worker lost');
    await stopBankB!();
    assert.ok((await preparedGids(pools, wf)).includes(branchGid(wf, 'bank-b')));

    const runId = await resetToFirstWorkflowTask(t.client, wf);
    const handle = t.client.workflow.getHandle<typeof transfer2pc>(wf, runId);
    const decided = await waitFor(
      'the reset run to decide',
      async () => (await handle.query(coordinatorStateQuery)).decision,
      60_000,
    );
    assert.equal(decided, 'commit', 'a committed branch forces the commit decision');
    hooks = {};
    await startBankB();
    const result = await handle.result();
    assert.equal(result.decision, 'commit');
    assert.deepEqual(result.anomalies, []);
    assert.equal(await balance(pools, ALICE), alice0 - 1234);
    assert.equal(await balance(pools, BOB), bob0 + 1234);
    await assertSettled(pools, total);
  });

  it('item 1: the same id started twice with other amounts after the first was terminated is refused', async () => {
    const { pools } = t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const first = input(700);
    const wf = transferWorkflowId(first.ref);
    const gate = new Gate();
    hooks.afterPrepare = (gid) => gate.wait(gid);
    const run1 = await start(first);
    await waitFor('all three branches prepared', async () => (await preparedGids(pools, wf)).length === 3);
    await run1.terminate('test: the first run is gone before it decided');
    gate.fail('worker lost');
    hooks = {};

    const second = await start({ ...first, amountCents: 99_000 });
    await assert.rejects(second.result(), (err: Error & { cause?: Error & { type?: string } }) => {
      assert.equal(err.cause?.type, 'TransactionIdReused');
      assert.match(err.cause?.message ?? '', /another operation/);
      return true;
    });
    assert.equal(await balance(pools, ALICE), alice0, 'the first run\u2019s branches were not adopted');
    assert.equal(await balance(pools, BOB), bob0);

    await sweep(0);
    assert.equal(await balance(pools, ALICE), alice0);
    await assertSettled(pools, total);
  });

  it('item 1: the same id and operation started again after it committed answers the first outcome', async () => {
    const { pools } = t.stack;
    const alice0 = await balance(pools, ALICE);
    const i = input(321);
    const r1 = await (await start(i)).result();
    assert.equal(r1.status, 'committed');
    const r2 = await (await start(i)).result();
    assert.equal(r2.status, 'committed');
    assert.equal(await balance(pools, ALICE), alice0 - 321, 'the money moved once');
    await assertSettled(pools, total);
  });

  it('item 2: a coordinator without search attributes terminated in phase two: the sweeper commits the rest', async () => {
    const { pools } = t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const i = input(555, { options: { activityTimeout: '2s', searchAttributes: false } });
    const wf = transferWorkflowId(i.ref);
    const { handle, gate } = await committedExceptBankB(i);
    await handle.terminate('test: the coordinator is gone in phase two');
    gate.fail('worker lost');
    hooks = {};
    assert.deepEqual(await preparedGids(pools, wf), [branchGid(wf, 'bank-b')]);

    await sweep(0);
    assert.deepEqual(await preparedGids(pools, wf), []);
    assert.equal(await balance(pools, ALICE), alice0 - 555);
    assert.equal(await balance(pools, BOB), bob0 + 555, 'bank-b committed: the decision was commit');
    await assertSettled(pools, total);
  });

  it('item 9: heuristic-rollback (an operator rolled a branch back by hand) is reported and flagged for an operator', async () => {
    const { pools } = t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const i = input(610);
    const wf = transferWorkflowId(i.ref);
    hooks.beforeCommitPrepared = async (gid) => {
      if (gid === branchGid(wf, 'bank-b')) await pools.bank_b.query(`ROLLBACK PREPARED '${gid}'`);
    };
    const handle = await start(i);
    const result = await handle.result();
    assert.equal(result.decision, 'commit');
    assert.deepEqual(result.anomalies, ['bank-b: heuristic-rollback (decision was commit)']);
    assert.equal(result.participants.find((p) => p.name === 'bank-b')?.outcome, 'heuristic-rollback');
    assert.equal((await handle.describe()).typedSearchAttributes.get(SA.needsOperator), true);
    assert.equal(await balance(pools, ALICE), alice0 - 610);
    assert.equal(await balance(pools, BOB), bob0, 'the credit was lost: exactly what the operator is told');
    // The operator's repair: credit bob by hand.
    await pools.bank_b.query(
      `UPDATE accounts SET balance_cents = balance_cents + 610 WHERE account_id = 'bob'`,
    );
    await assertSettled(pools, total);
  });

  it('item 9: heuristic-commit (an operator committed a branch by hand, then the coordinator aborted) is reported and flagged', async () => {
    const { pools } = t.stack;
    const alice0 = await balance(pools, ALICE);
    const i = input(620, { options: { voteTimeout: '3s', activityTimeout: '2s' } });
    const wf = transferWorkflowId(i.ref);
    const gate = new Gate();
    hooks.afterPrepare = async (gid) => {
      if (gid === branchGid(wf, 'bank-a')) await pools.bank_a.query(`COMMIT PREPARED '${gid}'`);
    };
    // bank-b never votes in time, so the coordinator aborts after bank-a was committed by hand.
    hooks.beforePrepare = (gid) => (gid === branchGid(wf, 'bank-b') ? gate.wait(gid) : undefined);
    const handle = await start(i);
    await waitFor(
      'the abort decision',
      async () => (await handle.query(coordinatorStateQuery)).decision === 'abort',
    );
    gate.open();
    const result = await handle.result();
    assert.equal(result.decision, 'abort');
    assert.deepEqual(result.anomalies, ['bank-a: heuristic-commit (decision was abort)']);
    assert.equal((await handle.describe()).typedSearchAttributes.get(SA.needsOperator), true);
    assert.equal(
      await balance(pools, ALICE),
      alice0 - 620,
      'the debit stayed: exactly what the operator is told',
    );
    await pools.bank_a.query(
      `UPDATE accounts SET balance_cents = balance_cents + 620 WHERE account_id = 'alice'`,
    );
    await assertSettled(pools, total);
  });
});
