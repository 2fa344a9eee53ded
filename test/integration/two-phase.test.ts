// Two-phase commit on the real parts: the Temporal dev server, real workers, PostgreSQL prepared transactions
// in two bank databases and the outbox database. Every test ends with the money invariant and an empty
// pg_prepared_xacts.
import type { WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outboxEvent } from '../../services/banks';
import { prepareBranch } from '../../services/xa';
import { ensureSweeperSchedule, SWEEPER_SCHEDULE_ID } from '../../workers/in-doubt';
import {
  branchGid,
  coordinatorStateQuery,
  SA,
  TASK_QUEUES,
  transferWorkflowId,
  type CoordinatorState,
  type TransferInput,
  type TransferResult,
} from '../../shared';
import type { inDoubtSweeper, transfer2pc, transferK } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { twoPhaseSuite } from '../helpers/two-phase-suite';
import { assertSettled, balance, Gate, preparedGids, waitFor } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

describe('two-phase commit (dev server + PostgreSQL prepared transactions)', () => {
  const s = twoPhaseSuite();
  const { hooks } = s;

  function transferInput(amountCents: number, extra: Partial<TransferInput> = {}): TransferInput {
    return { ref: uniqueId('t'), from: ALICE, to: BOB, amountCents, ...extra };
  }

  async function start(input: TransferInput): Promise<WorkflowHandle<typeof transfer2pc>> {
    return s.t.client.workflow.start<typeof transfer2pc>('transfer2pc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(input.ref),
      args: [input],
    });
  }

  async function sweep(graceMs: number): Promise<Awaited<ReturnType<typeof inDoubtSweeper>>> {
    return s.t.client.workflow.execute<typeof inDoubtSweeper>('inDoubtSweeper', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: uniqueId('sweep'),
      args: [{ graceMs }],
    });
  }

  it('commits: both banks and the outbox event, with the decision recorded before phase two', async () => {
    const { pools } = s.t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const input = transferInput(2500);
    const handle = await start(input);
    const result: TransferResult = await handle.result();

    assert.equal(result.status, 'committed');
    assert.equal(result.decision, 'commit');
    assert.deepEqual(
      result.participants.map((p) => [p.name, p.vote, p.outcome]),
      [
        ['bank-a', 'yes', 'committed'],
        ['bank-b', 'yes', 'committed'],
        ['outbox', 'yes', 'committed'],
      ],
    );
    assert.equal(await balance(pools, ALICE), alice0 - 2500);
    assert.equal(await balance(pools, BOB), bob0 + 2500);
    const event = await outboxEvent(pools.outbox, handle.workflowId);
    assert.equal(event?.topic, 'transfer.committed');
    assert.equal(event?.payload.amountCents, 2500);

    const d = await handle.describe();
    assert.equal(d.typedSearchAttributes.get(SA.status), 'committed');
    assert.equal(d.typedSearchAttributes.get(SA.pattern), '2pc');
    assert.equal(d.typedSearchAttributes.get(SA.businessKey), input.ref);

    // History: every prepare scheduled before any vote came back (parallel), and SettleStatus=committing
    // recorded before the first commit was scheduled.
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = (name: string): number[] =>
      events.flatMap((e, i) =>
        e.activityTaskScheduledEventAttributes?.activityType?.name === name ? [i] : [],
      );
    const prepares = scheduled('prepareBranch');
    // The first activity to complete after phase one began (the coordinator log's begin completes before it).
    const firstCompleted = events.findIndex(
      (e, i) => i > prepares[0]! && e.activityTaskCompletedEventAttributes,
    );
    assert.equal(prepares.length, 3);
    assert.ok(
      prepares.every((i) => i < firstCompleted),
      'all prepares were scheduled before the first vote arrived',
    );
    const committing = events.findIndex((e) => {
      const f =
        e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.SettleStatus;
      return f?.data ? Buffer.from(f.data).toString().includes('committing') : false;
    });
    const commits = scheduled('commitBranch');
    assert.equal(commits.length, 3);
    assert.ok(
      committing >= 0 && committing < Math.min(...commits),
      'the decision is in history before phase two',
    );
    await assertSettled(pools, s.total);
  });

  for (const voter of ['bank-a', 'bank-b', 'outbox'] as const) {
    it(`aborts everywhere when ${voter} votes no: no money moves, no message exists`, async () => {
      const { pools } = s.t.stack;
      const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
      const handle = await start(transferInput(1000, { voteNo: voter }));
      const result = await handle.result();
      assert.equal(result.status, 'aborted');
      assert.match(result.reason ?? '', new RegExp(`${voter} voted no`));
      const byName = Object.fromEntries(result.participants.map((p) => [p.name, p]));
      assert.equal(byName[voter]?.vote, 'no');
      // Every participant got a rollback: the no voter had nothing prepared; the others were rolled back
      // (or, if the abort overtook their prepare, had nothing prepared either).
      for (const p of result.participants) {
        assert.equal(p.phaseTwo, 'done');
        assert.ok(
          p.name === voter
            ? p.outcome === 'nothing-prepared'
            : ['rolled-back', 'nothing-prepared'].includes(p.outcome!),
        );
      }
      assert.equal(await balance(pools, ALICE), alice0);
      assert.equal(await balance(pools, BOB), bob0);
      assert.equal(
        await outboxEvent(pools.outbox, handle.workflowId),
        undefined,
        'the message does not exist',
      );
      assert.equal((await handle.describe()).typedSearchAttributes.get(SA.status), 'aborted');
      await assertSettled(pools, s.total);
    });
  }

  it('aborts on insufficient funds (the checked debit votes no)', async () => {
    const { pools } = s.t.stack;
    const alice0 = await balance(pools, ALICE);
    const result = await (await start(transferInput(alice0 + 1))).result();
    assert.equal(result.status, 'aborted');
    assert.match(result.reason ?? '', /bank-a voted no: InsufficientFunds/);
    assert.equal(await balance(pools, ALICE), alice0);
    await assertSettled(pools, s.total);
  });

  it('runs k = 2..8 participants with parallel prepare (transferK)', async () => {
    const { pools } = s.t.stack;
    for (const k of [2, 5, 8]) {
      const handle = await s.t.client.workflow.start<typeof transferK>('transferK', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: uniqueId(`k${k}`),
        args: [{ ref: uniqueId('k'), k, amountCents: 10 }],
      });
      const state: CoordinatorState = await handle.result();
      assert.equal(state.status, 'committed', `k=${k}`);
      assert.equal(state.participants.length, k);
      assert.ok(state.participants.every((p) => p.outcome === 'committed'));
      const events = (await handle.fetchHistory()).events ?? [];
      const firstPrepare = events.findIndex(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareBranch',
      );
      const firstCompleted = events.findIndex(
        (e, i) => i > firstPrepare && e.activityTaskCompletedEventAttributes,
      );
      const prepares = events.filter(
        (e, i) =>
          i < firstCompleted &&
          e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareBranch',
      );
      assert.equal(prepares.length, k, `k=${k}: every prepare scheduled before any vote arrived`);
    }
    await assertSettled(pools, s.total);
  });

  it('sweeper: a coordinator that closed without a decision -> presumed abort', async () => {
    const { pools } = s.t.stack;
    const alice0 = await balance(pools, ALICE);
    const input = transferInput(300);
    const wf = transferWorkflowId(input.ref);
    const gate = new Gate();
    hooks.current.afterPrepare = (gid) => (gid === branchGid(wf, 'bank-b') ? gate.wait(gid) : undefined);
    const handle = await start(input);
    await waitFor('bank-b prepared', async () =>
      (await preparedGids(pools, wf)).includes(branchGid(wf, 'bank-b')),
    );
    await handle.terminate('test: the coordinator is gone before it decided');
    gate.fail('worker lost');
    const prepared = await preparedGids(pools, wf);
    assert.ok(prepared.length >= 1, 'branches are left in doubt');

    const report = await sweep(3_600_000); // grace irrelevant: the coordinator is closed
    assert.ok(report.resolved >= prepared.length);
    assert.deepEqual(await preparedGids(pools, wf), []);
    assert.equal(await balance(pools, ALICE), alice0);
    assert.equal(await outboxEvent(pools.outbox, wf), undefined);
    await assertSettled(pools, s.total);
  });

  it('sweeper: a recorded commit decision is carried out after the coordinator died in phase two', async () => {
    const { pools } = s.t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const input = transferInput(450);
    const wf = transferWorkflowId(input.ref);
    const gate = new Gate();
    hooks.current.beforeCommitPrepared = (gid) => gate.wait(gid);
    const handle = await start(input);
    await waitFor('all three commits blocked', () => gate.arrived.length === 3);
    assert.equal((await handle.describe()).typedSearchAttributes.get(SA.status), 'committing');
    await handle.terminate('test: the coordinator is gone after it decided commit');
    gate.fail('worker lost');
    hooks.current = {}; // the sweep's commits run on a healthy worker (they go through the participant's activities)
    assert.equal((await preparedGids(pools, wf)).length, 3);

    const report = await sweep(3_600_000);
    assert.equal(report.resolved, 3);
    assert.equal(await balance(pools, ALICE), alice0 - 450);
    assert.equal(await balance(pools, BOB), bob0 + 450);
    assert.ok(await outboxEvent(pools.outbox, wf), 'the message exists: the transfer committed');
    await assertSettled(pools, s.total);
  });

  it('sweeper: a running, undecided coordinator past the grace period is asked and decides abort', async () => {
    const { pools } = s.t.stack;
    const alice0 = await balance(pools, ALICE);
    const input = transferInput(200);
    const wf = transferWorkflowId(input.ref);
    const gate = new Gate();
    hooks.current.afterPrepare = (gid) => (gid === branchGid(wf, 'outbox') ? gate.wait(gid) : undefined);
    const handle = await start(input);
    await waitFor('three branches prepared', async () => (await preparedGids(pools, wf)).length === 3);

    const patient = await sweep(3_600_000);
    assert.equal(patient.resolved, 0, 'within the grace period nothing is touched');
    assert.ok(patient.waiting >= 3);
    assert.equal((await handle.query(coordinatorStateQuery)).decision, undefined);

    await sweep(0);
    gate.open(); // the outbox's yes vote arrives after the decision: ignored
    const result = await handle.result();
    assert.equal(result.status, 'aborted');
    assert.match(result.reason ?? '', /presumed abort/);
    assert.equal(await balance(pools, ALICE), alice0);
    await assertSettled(pools, s.total);
  });

  it('the sweeper runs on a Temporal Schedule (created once, triggered here instead of waiting a minute)', async () => {
    const { pools } = s.t.stack;
    const gid = branchGid(transferWorkflowId(uniqueId('ghost')), 'outbox');
    assert.equal((await prepareBranch(pools.outbox, gid, () => Promise.resolve())).vote, 'yes');
    assert.equal(await ensureSweeperSchedule(s.t.client, { every: '1h', graceMs: 0 }), 'created');
    const schedule = s.t.client.schedule.getHandle(SWEEPER_SCHEDULE_ID);
    try {
      assert.equal(await ensureSweeperSchedule(s.t.client, { every: '1h', graceMs: 0 }), 'exists');
      await schedule.trigger();
      await waitFor(
        'the scheduled sweep to roll the orphan back',
        async () => (await preparedGids(pools)).length === 0,
      );
      const runs = (await schedule.describe()).info.recentActions;
      assert.ok(runs.length >= 1, 'the schedule started the sweeper');
    } finally {
      await schedule.delete();
    }
    await assertSettled(pools, s.total);
  });

  it('sweeper: a prepared branch whose coordinator never existed is rolled back after the grace period', async () => {
    const { pools } = s.t.stack;
    const gid = branchGid(transferWorkflowId(uniqueId('ghost')), 'bank-a');
    const vote = await prepareBranch(pools.bank_a, gid, async (tx) => {
      await tx.query(`UPDATE accounts SET balance_cents = balance_cents - 1 WHERE account_id = 'alice'`);
    });
    assert.equal(vote.vote, 'yes');
    assert.equal((await sweep(3_600_000)).resolved, 0);
    assert.deepEqual(await preparedGids(pools), [gid]);
    assert.ok((await sweep(0)).resolved >= 1);
    await assertSettled(pools, s.total);
  });
});
