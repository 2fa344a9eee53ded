// 2PC and 3PC share one global-transaction-id space (settle:<participant>:<workflow id>) in every participant
// database. A workflow id reused across protocols, or by a second 3PC run with other legs after the first was
// terminated, must never adopt (or roll back) a branch of another operation: each protocol binds its branches to
// its own operation digest, and a gid already used by an operation without a binding votes no.
// Real dev server + PostgreSQL; started from code with the SDK's default id reuse policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dedicatedClient, enforceThreePhaseTimeouts } from '../../services/xa';
import { branchGid, TASK_QUEUES, transferWorkflowId, type TransferInput } from '../../shared';
import type { inDoubtSweeper, transfer2pc, transfer3pc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { twoPhaseSuite } from '../helpers/two-phase-suite';
import { assertSettled, balance, Gate, preparedGids, waitFor } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

describe('one gid space for 2PC and 3PC: a reused workflow id never adopts another operation\u2019s branch', () => {
  const s = twoPhaseSuite({ queues: ['orchestration', 'bankA', 'bankB', 'outbox'] });
  const { hooks } = s;

  const input = (amountCents: number): TransferInput => ({
    ref: uniqueId('xproto'),
    from: ALICE,
    to: BOB,
    amountCents,
    options: { activityTimeout: '2s', voteTimeout: '4s' },
  });
  const start = (type: 'transfer2pc' | 'transfer3pc', i: TransferInput) =>
    s.t.client.workflow.start<typeof transfer2pc | typeof transfer3pc>(type, {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(i.ref),
      args: [i],
    });
  /** Everything left in doubt is resolved: the 2PC sweeper now, every 3PC participant timer as if 10 min passed. */
  const resolveEverything = async () => {
    const { pools } = s.t.stack;
    await s.t.client.workflow.execute<typeof inDoubtSweeper>('inDoubtSweeper', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: uniqueId('sweep'),
      args: [{ graceMs: 0 }],
    });
    const asOf = new Date(Date.now() + 600_000);
    for (const p of [pools.bank_a, pools.bank_b, pools.outbox]) await enforceThreePhaseTimeouts(p, asOf);
  };

  it('a 2PC under the id of a committed 3PC does not take its committed branches for a commit of its own', async () => {
    const { pools } = s.t.stack;
    const first = input(100);
    assert.equal((await (await start('transfer3pc', first)).result()).status, 'committed');
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];

    // Another amount under the same id: every gid is the 3PC's committed one.
    const second = await (await start('transfer2pc', { ...first, amountCents: 5000 })).result();
    const moved = second.status === 'committed' ? 5000 : 0;
    assert.equal(await balance(pools, ALICE), alice0 - moved, 'alice lost exactly what the 2PC reports');
    assert.equal(await balance(pools, BOB), bob0 + moved, 'bob got exactly what the 2PC reports');
    assert.equal(second.status, 'aborted', 'the gids belong to another operation: they vote no');
    await assertSettled(pools, s.total);
  });

  it('phase two of a 2PC leaves alone a branch prepared under its gid by an operation without a binding', async () => {
    const { pools } = s.t.stack;
    const i = input(300);
    const wf = transferWorkflowId(i.ref);
    const gid = branchGid(wf, 'bank-a');
    // Someone else's branch in doubt under this gid, prepared before branches were bound (no binding row).
    const other = await dedicatedClient(pools.bank_a);
    await other.query('BEGIN');
    await other.query(`INSERT INTO xa_branches (gid, outcome) VALUES ($1, 'committed')`, [gid]);
    await other.query(`PREPARE TRANSACTION '${gid}'`);
    await other.end();

    const result = await (await start('transfer2pc', i)).result();
    assert.equal(result.status, 'aborted', 'bank-a\u2019s gid belongs to another operation: it votes no');
    assert.deepEqual(result.anomalies, []);
    assert.deepEqual(
      await preparedGids(pools, wf),
      [gid],
      'the other operation\u2019s branch is still in doubt',
    );
    await pools.bank_a.query(`ROLLBACK PREPARED '${gid}'`);
    await assertSettled(pools, s.total);
  });

  it('a 3PC under the id of a terminated 2PC does not adopt its prepared branches (other amounts)', async () => {
    const { pools } = s.t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const first = input(700);
    const wf = transferWorkflowId(first.ref);
    const gate = new Gate();
    hooks.current.beforePrepare = (gid) => (gid === branchGid(wf, 'bank-b') ? gate.wait(gid) : undefined);
    const run1 = await start('transfer2pc', first);
    await waitFor(
      'bank-a and the outbox prepared by the 2PC, bank-b held',
      async () => gate.arrived.length > 0 && (await preparedGids(pools, wf)).length === 2,
    );
    await run1.terminate('test: the 2PC coordinator is gone before it decided');
    gate.fail('worker lost');
    hooks.current = {};

    const second = await (await start('transfer3pc', { ...first, amountCents: 1 })).result();
    await resolveEverything();
    const moved = second.status === 'committed' ? 1 : 0;
    assert.equal(await balance(pools, ALICE), alice0 - moved, 'alice lost exactly what the 3PC moved');
    assert.equal(await balance(pools, BOB), bob0 + moved, 'bob got exactly what the 3PC moved');
    await assertSettled(pools, s.total);
  });

  it('a second 3PC run with other amounts after the first was terminated does not adopt its prepared branch', async () => {
    const { pools } = s.t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const first = input(900);
    const wf = transferWorkflowId(first.ref);
    const gate = new Gate();
    hooks.current.beforePrepare = (gid) => (gid === branchGid(wf, 'bank-b') ? gate.wait(gid) : undefined);
    const run1 = await start('transfer3pc', first);
    await waitFor(
      'bank-a and the outbox prepared by run 1, bank-b held',
      async () => gate.arrived.length > 0 && (await preparedGids(pools, wf)).length === 2,
    );
    await run1.terminate('test: the first run is gone before it decided');
    gate.fail('worker lost');
    hooks.current = {};

    const second = await (await start('transfer3pc', { ...first, amountCents: 2 })).result();
    await resolveEverything();
    const moved = second.status === 'committed' ? 2 : 0;
    assert.equal(await balance(pools, ALICE), alice0 - moved, 'alice lost exactly what run 2 moved');
    assert.equal(await balance(pools, BOB), bob0 + moved, 'bob got exactly what run 2 moved');
    await assertSettled(pools, s.total);
  });
});
