// 3PC stays atomic when the coordinator is reset in do-commit (the chaos cell `3pc reset do-commit:bank-a`):
// bank-b and the outbox committed, bank-a pre-committed with its do-commit lost and its worker down. The reset
// run starts over at can-commit; it must follow the earlier commit, not time out on bank-a's vote and abort
// (which rolled back bank-a's pre-committed debit while bank-b's credit stood: money created).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBankActivities } from '../../activities/banks';
import { credit, outboxEvent } from '../../services/banks';
import { canCommitBranch, doCommitBranch, preCommitBranch } from '../../services/xa';
import {
  branchGid,
  coordinatorStateQuery,
  TASK_QUEUES,
  transferWorkflowId,
  type TransferInput,
} from '../../shared';
import type { transfer3pc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { resetToFirstWorkflowTask } from '../helpers/reset';
import { assertSettled, balance, Gate, waitFor } from '../helpers/transfers';
import { twoPhaseSuite } from '../helpers/two-phase-suite';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

describe('three-phase commit: a reset after the commit decision', () => {
  // bank-a's worker runs apart, so that a test can take it down (the stack's teardown stops it).
  const s = twoPhaseSuite({ queues: ['orchestration', 'bankB', 'outbox'] });
  let stopBankA: (() => Promise<void>) | undefined;
  const startBankA = async (): Promise<void> => {
    const w = await s.t.startWorkers({
      queues: ['bankA'],
      extraActivities: { bankA: createBankActivities(s.t.stack.pools.bank_a, s.hooks.delegate) },
    });
    stopBankA = async () => {
      stopBankA = undefined;
      await w.stop();
    };
  };

  it('can-commit of a committed branch says already-committed (the transaction was decided commit)', async () => {
    const { pools } = s.t.stack;
    const gid = branchGid(transferWorkflowId(uniqueId('3pc-voted')), 'bank-b');
    const timeouts = { waitTimeoutMs: 20_000, commitTimeoutMs: 40_000 };
    const work = (tx: Parameters<typeof credit>[0]) => credit(tx, 'bob', 50).then(() => undefined);
    assert.equal((await canCommitBranch(pools.bank_b, gid, timeouts, work)).vote, 'yes');
    assert.equal((await preCommitBranch(pools.bank_b, gid)).state, 'pre-committed');
    assert.deepEqual(await canCommitBranch(pools.bank_b, gid, timeouts, work), {
      vote: 'yes',
      state: 'already-prepared',
    });
    assert.equal(await doCommitBranch(pools.bank_b, gid), 'committed');
    assert.deepEqual(await canCommitBranch(pools.bank_b, gid, timeouts, work), {
      vote: 'yes',
      state: 'already-committed',
    });
    await pools.bank_b.query(
      `UPDATE accounts SET balance_cents = balance_cents - 50 WHERE account_id = 'bob'`,
    );
    await assertSettled(pools, s.total);
  });

  it('reset in do-commit (bank-b and the outbox committed, bank-a down before its commit): commits everywhere', async () => {
    if (!stopBankA) await startBankA();
    const { pools } = s.t.stack;
    const [alice0, bob0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const i: TransferInput = {
      ref: uniqueId('3pc-reset'),
      from: ALICE,
      to: BOB,
      amountCents: 100,
      // The chaos cell's timeouts, with a vote timeout short enough that the old code aborts within seconds.
      options: { activityTimeout: '2s', voteTimeout: '4s', waitTimeout: '20s', commitTimeout: '40s' },
    };
    const wf = transferWorkflowId(i.ref);
    const gate = new Gate();
    s.hooks.current.beforeCommitPrepared = (gid) =>
      gid === branchGid(wf, 'bank-a') ? gate.wait(gid) : undefined;
    await s.t.client.workflow.start<typeof transfer3pc>('transfer3pc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: wf,
      args: [i],
    });
    await waitFor(
      'bank-b and the outbox committed, bank-a held before its do-commit',
      async () =>
        gate.arrived.length > 0 &&
        (await balance(pools, BOB)) === bob0 + 100 &&
        (await outboxEvent(pools.outbox, wf)) !== undefined,
    );
    gate.fail('bank-a worker lost');
    await stopBankA!();

    const runId = await resetToFirstWorkflowTask(s.t.client, wf);
    const handle = s.t.client.workflow.getHandle<typeof transfer3pc>(wf, runId);
    const state = await waitFor(
      'the reset run to decide',
      async () => {
        const s = await handle.query(coordinatorStateQuery);
        return s.decision && s;
      },
      60_000,
    );
    assert.equal(state.decision, 'commit', `a committed branch forces commit (${state.decisionReason})`);

    s.hooks.current = {};
    await startBankA();
    const result = await handle.result();
    assert.equal(result.status, 'committed');
    assert.deepEqual(result.anomalies, []);
    assert.equal(await balance(pools, ALICE), alice0 - 100);
    assert.equal(await balance(pools, BOB), bob0 + 100);
    await assertSettled(pools, s.total);
  });
});
