// 2PC crash behaviour on the real parts: the worker process SIGKILLed between prepare and commit and started
// again; PostgreSQL restarted with prepared transactions pending; a prepare that completes after the coordinator
// aborted. Each test ends with the money invariant and nothing left in pg_prepared_xacts.
import type { WorkflowHandle } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createBankActivities, createOutboxActivities, type ParticipantHooks } from '../../activities/banks';
import { outboxEvent, totalMoney } from '../../services/banks';
import { startEmbeddedPostgres, type PostgresHandle } from '../../services/postgres';
import { prepareBranch } from '../../services/xa';
import {
  branchGid,
  coordinatorStateQuery,
  SA,
  TASK_QUEUES,
  transferWorkflowId,
  type TransferInput,
} from '../../shared';
import type { transfer2pc } from '../../workflows';
import { uniqueId, workflowBundle } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { assertSettled, balance, Gate, preparedGids, waitFor } from '../helpers/transfers';

const ROOT = resolve(__dirname, '../..');
const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

interface WorkerProcess {
  child: ChildProcess;
  /** Lines the child printed, in order. */
  lines: string[];
  exited: Promise<number | null>;
}

describe('two-phase commit under crashes (worker SIGKILL, PostgreSQL restart, late prepare)', () => {
  let t: TestStack;
  let total: number;
  let bundleDir: string;
  let bundlePath: string;
  let restartedPostgres: PostgresHandle | undefined;
  const children: WorkerProcess[] = [];

  before(async () => {
    t = await startTestStack();
    total = await totalMoney(t.stack.pools);
    bundleDir = mkdtempSync(join(tmpdir(), 'settle-bundle-'));
    bundlePath = join(bundleDir, 'workflows.js');
    writeFileSync(bundlePath, (await workflowBundle()).code);
  });
  after(async () => {
    for (const c of children)
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await restartedPostgres?.stop();
    await t?.teardown();
    rmSync(bundleDir, { recursive: true, force: true });
  });

  /** Start the worker process (workflows + bank and outbox participants), with an optional fault point. */
  async function spawnWorker(fault = ''): Promise<WorkerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/worker-process.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        SETTLE_TEST_TEMPORAL: t.stack.temporal.address,
        SETTLE_TEST_NAMESPACE: t.stack.temporal.namespace,
        SETTLE_TEST_PG_URL: t.stack.postgres.url,
        SETTLE_TEST_DB_PREFIX: t.stack.dbPrefix,
        SETTLE_TEST_BUNDLE: bundlePath,
        SETTLE_FAULT: fault,
      },
    });
    const wp: WorkerProcess = {
      child,
      lines: [],
      exited: new Promise((r) => child.once('exit', (code) => r(code))),
    };
    createInterface({ input: child.stdout }).on('line', (l) => wp.lines.push(l));
    children.push(wp);
    await waitFor(
      'the worker process to be ready',
      () => {
        if (child.exitCode !== null) throw new Error(`worker process exited with ${child.exitCode}`);
        return wp.lines.includes('READY');
      },
      60_000,
    );
    return wp;
  }

  async function kill(wp: WorkerProcess): Promise<void> {
    wp.child.kill('SIGKILL');
    await wp.exited;
  }

  function transferInput(amountCents: number, extra: Partial<TransferInput> = {}): TransferInput {
    // Short activity timeouts: after the kill, Temporal retries the lost attempts within seconds.
    return {
      ref: uniqueId('crash'),
      from: ALICE,
      to: BOB,
      amountCents,
      options: { activityTimeout: '3s' },
      ...extra,
    };
  }
  const start = (input: TransferInput): Promise<WorkflowHandle<typeof transfer2pc>> =>
    t.client.workflow.start<typeof transfer2pc>('transfer2pc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(input.ref),
      args: [input],
    });

  it('worker SIGKILLed after the branches prepared, before any decision: restarted, the commit completes', async () => {
    const { pools } = t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const doomed = await spawnWorker('after-prepare:bank-b');
    const input = transferInput(1700);
    const wf = transferWorkflowId(input.ref);
    const handle = await start(input);
    await waitFor('bank-b to block after PREPARE TRANSACTION', () =>
      doomed.lines.includes(`BLOCKED ${branchGid(wf, 'bank-b')}`),
    );
    await kill(doomed);

    // The prepared transactions outlived the process; nothing is decided and no money has moved yet.
    assert.ok((await preparedGids(pools, wf)).includes(branchGid(wf, 'bank-b')));
    assert.equal((await handle.describe()).typedSearchAttributes.get(SA.status), 'preparing');
    assert.equal(await balance(pools, BOB), b0);

    const healthy = await spawnWorker();
    const result = await handle.result();
    assert.equal(result.status, 'committed');
    const b = result.participants.find((p) => p.name === 'bank-b')!;
    assert.equal(
      b.voteDetail,
      'already-prepared',
      'the retried prepare found its branch prepared and voted yes again',
    );
    assert.equal(await balance(pools, ALICE), a0 - 1700);
    assert.equal(await balance(pools, BOB), b0 + 1700);
    assert.ok(await outboxEvent(pools.outbox, wf));
    await kill(healthy);
    await assertSettled(pools, total);
  });

  it('worker SIGKILLed after the commit decision, before COMMIT PREPARED: restarted, the commit completes', async () => {
    const { pools } = t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const doomed = await spawnWorker('before-commit:bank-a');
    const input = transferInput(900);
    const wf = transferWorkflowId(input.ref);
    const handle = await start(input);
    await waitFor('bank-a to block before COMMIT PREPARED', () =>
      doomed.lines.includes(`BLOCKED ${branchGid(wf, 'bank-a')}`),
    );
    assert.equal(
      (await handle.describe()).typedSearchAttributes.get(SA.status),
      'committing',
      'the decision was recorded first',
    );
    await kill(doomed);
    assert.ok((await preparedGids(pools, wf)).includes(branchGid(wf, 'bank-a')), 'bank-a is still in doubt');

    const healthy = await spawnWorker();
    const result = await handle.result();
    assert.equal(result.status, 'committed');
    assert.ok(
      result.participants.every((p) => p.outcome === 'committed' || p.outcome === 'already-committed'),
    );
    assert.equal(await balance(pools, ALICE), a0 - 900);
    assert.equal(await balance(pools, BOB), b0 + 900);
    await kill(healthy);
    await assertSettled(pools, total);
  });

  describe('with in-process workers', () => {
    let hooks: ParticipantHooks = {};
    const delegate: ParticipantHooks = {
      beforePrepare: (gid) => hooks.beforePrepare?.(gid),
      afterPrepare: (gid) => hooks.afterPrepare?.(gid),
      beforeCommitPrepared: (gid) => hooks.beforeCommitPrepared?.(gid),
    };
    let stopWorkers: (() => Promise<void>) | undefined;
    before(async () => {
      const { pools } = t.stack;
      const started = await t.startWorkers({
        queues: ['orchestration', 'bankA', 'bankB', 'outbox'],
        extraActivities: {
          bankA: createBankActivities(pools.bank_a, delegate),
          bankB: createBankActivities(pools.bank_b, delegate),
          outbox: createOutboxActivities(pools.outbox, delegate),
        },
      });
      stopWorkers = started.stop;
    });
    after(async () => {
      await stopWorkers?.();
    });
    beforeEach(() => {
      hooks = {};
    });

    it('PostgreSQL restarted with prepared transactions pending: they survive, and the commit completes', async () => {
      const { pools, postgres } = t.stack;
      assert.ok(
        postgres.embedded && postgres.dataDir && postgres.port,
        'this test restarts the embedded PostgreSQL',
      );
      const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
      const gate = new Gate();
      hooks.beforeCommitPrepared = (gid) => gate.wait(gid);
      const input = transferInput(650);
      const wf = transferWorkflowId(input.ref);
      const handle = await start(input);
      await waitFor('all three commits to be held', () => gate.arrived.length === 3);
      const before = await preparedGids(pools, wf);
      assert.equal(before.length, 3);

      await postgres.stop();
      restartedPostgres = await startEmbeddedPostgres({
        dataDir: postgres.dataDir,
        // The stack keeps the generated superuser password in its own data dir (the parent of postgres/).
        secretsDataDir: dirname(postgres.dataDir),
        port: postgres.port,
      });
      assert.deepEqual(
        await preparedGids(pools, wf),
        before,
        'the prepared transactions survived the restart',
      );
      assert.equal(await balance(pools, ALICE), a0, 'and are still invisible');

      gate.open();
      const result = await handle.result();
      assert.equal(result.status, 'committed');
      assert.equal(await balance(pools, ALICE), a0 - 650);
      assert.equal(await balance(pools, BOB), b0 + 650);
      assert.ok(await outboxEvent(pools.outbox, wf));
      await assertSettled(pools, total);
    });

    it('a prepare that completes after the coordinator aborted ends rolled back', async () => {
      const { pools } = t.stack;
      const alice0 = await balance(pools, ALICE);
      const input = transferInput(700, { options: { voteTimeout: '1s' } });
      const slow = branchGid(transferWorkflowId(input.ref), 'bank-a');
      const gate = new Gate();
      // bank-a holds its branch row and the account lock, not yet prepared, past the vote timeout.
      hooks.beforePrepare = (gid) => (gid === slow ? gate.wait(gid) : undefined);
      const handle = await start(input);
      await waitFor(
        'the coordinator to decide abort',
        async () => (await handle.query(coordinatorStateQuery)).decision === 'abort',
      );
      // The rollback of bank-a now waits on the in-flight prepare's row; let the prepare finish.
      gate.open();
      const result = await handle.result();
      assert.equal(result.status, 'aborted');
      assert.match(result.reason ?? '', /vote timeout \(1s\) waiting for bank-a/);
      const a = result.participants.find((p) => p.name === 'bank-a')!;
      assert.equal(a.vote, 'unknown');
      assert.equal(a.outcome, 'rolled-back', 'the late prepare was rolled back by the abort');
      assert.equal(await balance(pools, ALICE), alice0);
      // A retry of that prepare now is refused by the tombstone.
      const again = await prepareBranch(pools.bank_a, slow, () => Promise.reject(new Error('must not run')));
      assert.equal(again.vote, 'no');
      await assertSettled(pools, total);
    });
  });
});
