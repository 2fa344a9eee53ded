// Three-phase commit on the real parts (dev server, workers, prepared transactions in both banks and the
// outbox): the commit and abort paths, and the participant-side timeouts that resolve branches when the
// coordinator is gone (its crash is injected right after can-commit or pre-commit). The participants' clock is
// moved forward explicitly (enforceThreePhaseTimeouts(asOf)), never waited for.
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credit, debit, outboxEvent, totalMoney } from '../../services/banks';
import { singleFlightThreePhaseTimeouts } from '../../services/three-phase-timer';
import {
  abortThreePhaseBranch,
  canCommitBranch,
  enforceThreePhaseTimeouts,
  preCommitBranch,
} from '../../services/xa';
import { branchGid, TASK_QUEUES, transferWorkflowId, type TransferInput } from '../../shared';
import type { inDoubtSweeper, transfer3pc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { assertSettled, balance, preparedGids } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

describe('three-phase commit (dev server + PostgreSQL prepared transactions)', () => {
  let t: TestStack;
  let total: number;
  before(async () => {
    t = await startTestStack();
    await t.startWorkers();
    total = await totalMoney(t.stack.pools);
  });
  after(async () => {
    await t?.teardown();
  });

  const input = (amountCents: number, extra: Partial<TransferInput> = {}): TransferInput => ({
    ref: uniqueId('3pc'),
    from: ALICE,
    to: BOB,
    amountCents,
    ...extra,
  });
  const start = (i: TransferInput) =>
    t.client.workflow.start<typeof transfer3pc>('transfer3pc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(i.ref),
      args: [i],
    });
  const phases = async (wf: string): Promise<string[]> => {
    const { pools } = t.stack;
    const rows = await Promise.all(
      [pools.bank_a, pools.bank_b, pools.outbox].map((p) =>
        p.query<{ phase: string }>(`SELECT phase FROM threepc_branches WHERE gid LIKE '%:' || $1`, [wf]),
      ),
    );
    return rows.flatMap((r) => r.rows.map((x) => x.phase));
  };
  /** Every participant's own timer, run as if `ms` had passed. */
  const participantsTick = async (ms: number) => {
    const { pools } = t.stack;
    const asOf = new Date(Date.now() + ms);
    return (
      await Promise.all(
        [pools.bank_a, pools.bank_b, pools.outbox].map((p) => enforceThreePhaseTimeouts(p, asOf)),
      )
    ).flat();
  };

  it('commits through can-commit, pre-commit and do-commit', async () => {
    const { pools } = t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const i = input(1200);
    const h = await start(i);
    const result = await h.result();
    assert.equal(result.status, 'committed');
    assert.equal(result.protocol, '3pc');
    assert.ok(
      result.participants.every((p) => p.vote === 'yes' && p.preCommitted && p.outcome === 'committed'),
    );
    assert.deepEqual(await phases(h.workflowId), ['committed', 'committed', 'committed']);
    assert.equal(await balance(pools, ALICE), a0 - 1200);
    assert.equal(await balance(pools, BOB), b0 + 1200);
    assert.ok(await outboxEvent(pools.outbox, h.workflowId));
    await assertSettled(pools, total);
  });

  it('a no vote at can-commit aborts everywhere', async () => {
    const { pools } = t.stack;
    const a0 = await balance(pools, ALICE);
    const h = await start(input(500, { voteNo: 'outbox' }));
    const result = await h.result();
    assert.equal(result.status, 'aborted');
    assert.ok(result.participants.every((p) => !p.preCommitted));
    assert.deepEqual(await phases(h.workflowId), ['aborted', 'aborted', 'aborted']);
    assert.equal(await balance(pools, ALICE), a0);
    assert.equal(await outboxEvent(pools.outbox, h.workflowId), undefined);
    await assertSettled(pools, total);
  });

  it('coordinator gone after pre-commit: each participant commits on its own commit timeout', async () => {
    const { pools } = t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const h = await start(input(900, { options: { crashAfter: 'pre-commit', commitTimeout: '60s' } }));
    await assert.rejects(h.result(), WorkflowFailedError);
    assert.deepEqual(await phases(h.workflowId), ['pre-committed', 'pre-committed', 'pre-committed']);
    assert.equal(
      (await preparedGids(pools, h.workflowId)).length,
      3,
      'in doubt, but not blocked: they have a deadline',
    );

    assert.deepEqual(await participantsTick(30_000), [], 'nothing happens before the commit timeout');
    const actions = await participantsTick(61_000);
    assert.deepEqual(
      actions.map((a) => [a.action, a.result]),
      [
        ['commit', 'committed'],
        ['commit', 'committed'],
        ['commit', 'committed'],
      ],
    );
    assert.equal(await balance(pools, ALICE), a0 - 900);
    assert.equal(await balance(pools, BOB), b0 + 900);
    assert.ok(await outboxEvent(pools.outbox, h.workflowId));
    await assertSettled(pools, total);
  });

  it('coordinator gone after can-commit: each participant aborts on its own wait timeout', async () => {
    const { pools } = t.stack;
    const a0 = await balance(pools, ALICE);
    const h = await start(input(400, { options: { crashAfter: 'can-commit', waitTimeout: '30s' } }));
    await assert.rejects(h.result(), WorkflowFailedError);
    assert.deepEqual(await phases(h.workflowId), ['prepared', 'prepared', 'prepared']);
    assert.deepEqual(await participantsTick(10_000), []);
    const actions = await participantsTick(31_000);
    assert.deepEqual(
      actions.map((a) => [a.action, a.result]),
      [
        ['abort', 'rolled-back'],
        ['abort', 'rolled-back'],
        ['abort', 'rolled-back'],
      ],
    );
    assert.equal(await balance(pools, ALICE), a0);
    await assertSettled(pools, total);
  });

  it('a pre-commit after the participant gave up is refused, and the coordinator aborts', async () => {
    const { pools } = t.stack;
    const a0 = await balance(pools, ALICE);
    // A wait timeout so short that it has passed by the time pre-commit arrives.
    const h = await start(input(300, { options: { waitTimeout: '1ms' } }));
    const result = await h.result();
    assert.equal(result.status, 'aborted');
    assert.match(result.reason ?? '', /refused pre-commit: branch is prepared \(its wait timeout passed\)/);
    assert.deepEqual(result.anomalies, []);
    assert.equal(await balance(pools, ALICE), a0);
    await assertSettled(pools, total);
  });

  it('the in-doubt sweeper applies the participants own timeouts', async () => {
    const { pools } = t.stack;
    const a0 = await balance(pools, ALICE);
    const h = await start(input(250, { options: { crashAfter: 'can-commit', waitTimeout: '1ms' } }));
    await assert.rejects(h.result(), WorkflowFailedError);
    assert.equal((await preparedGids(pools, h.workflowId)).length, 3);
    const report = await t.client.workflow.execute<typeof inDoubtSweeper>('inDoubtSweeper', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: uniqueId('sweep'),
      args: [{ graceMs: 3_600_000 }],
    });
    assert.equal(report.resolved, 3);
    assert.equal(await balance(pools, ALICE), a0);
    await assertSettled(pools, total);
  });

  it('item 6: mere delay, no partition, splits a 3PC transaction (a slow pre-commit, a late abort)', async () => {
    const { pools } = t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const wf = transferWorkflowId(uniqueId('delay'));
    const [gidA, gidB] = [branchGid(wf, 'bank-a'), branchGid(wf, 'bank-b')];
    const timeouts = { waitTimeoutMs: 1000, commitTimeoutMs: 1000 };
    assert.equal(
      (
        await canCommitBranch(pools.bank_a, gidA, timeouts, (tx) =>
          debit(tx, 'alice', 300).then(() => undefined),
        )
      ).vote,
      'yes',
    );
    assert.equal(
      (
        await canCommitBranch(pools.bank_b, gidB, timeouts, (tx) =>
          credit(tx, 'bob', 300).then(() => undefined),
        )
      ).vote,
      'yes',
    );
    assert.equal((await preCommitBranch(pools.bank_a, gidA)).state, 'pre-committed');
    // Nothing is partitioned: bank-b's pre-commit and bank-a's next message are merely slower than the timeouts.
    // Each participant's own timer (its clock, 5 s later) follows the 3PC rules: bank-a commits, bank-b aborts.
    const later = new Date(Date.now() + 5000);
    const a = await singleFlightThreePhaseTimeouts(pools.bank_a, later);
    const b = await singleFlightThreePhaseTimeouts(pools.bank_b, later);
    assert.deepEqual(
      a.map((x) => [x.gid, x.action]),
      [[gidA, 'commit']],
    );
    assert.deepEqual(
      b.map((x) => [x.gid, x.action]),
      [[gidB, 'abort']],
    );
    // The delayed pre-commit finally arrives and is refused; the coordinator aborts; bank-a already committed.
    assert.equal((await preCommitBranch(pools.bank_b, gidB)).state, 'refused');
    assert.equal(await abortThreePhaseBranch(pools.bank_a, gidA), 'heuristic-commit');
    assert.equal(await balance(pools, ALICE), a0 - 300, 'the debit committed');
    assert.equal(await balance(pools, BOB), b0, 'the credit did not: atomicity lost without any partition');
    await pools.bank_a.query(
      `UPDATE accounts SET balance_cents = balance_cents + 300 WHERE account_id = 'alice'`,
    );
    await assertSettled(pools, total);
  });
});
