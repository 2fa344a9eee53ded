// TCC on the real parts: the HTTP participant server on a free port, the banks' PostgreSQL databases, the
// Temporal dev server with real workers; the reservation's expiry on the time-skipping server with the same
// real participants. Every test ends with the money invariant (balances + holds) and no prepared transaction.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTccActivities } from '../../activities/tcc';
import { listReservations, totalMoney } from '../../services/banks';
import {
  TASK_QUEUES,
  tccDecideUpdate,
  tccStateQuery,
  transferWorkflowId,
  type TccInput,
  type TransferResult,
} from '../../shared';
import type { transferTcc } from '../../workflows';
import { timeSkippingEnv, uniqueId, workflowBundle } from '../helpers/env';
import { postTcc } from '../helpers/tcc';
import { tccSuite } from '../helpers/tcc-stack';
import { assertSettled, balance, waitFor } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

describe('TCC over HTTP (dev server + PostgreSQL + the participant server)', () => {
  const s = tccSuite();

  const input = (amountCents: number, extra: Partial<TccInput> = {}): TccInput => ({
    ref: uniqueId('tcc'),
    from: ALICE,
    to: BOB,
    amountCents,
    ...extra,
  });
  const start = (i: TccInput) =>
    s.t.client.workflow.start<typeof transferTcc>('transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(i.ref),
      args: [i],
    });
  // Signed as the TCC activities sign their calls (the server refuses unsigned requests).
  const post = (op: string, body: object) => postTcc(s.server.url, op, body);

  it('try + confirm moves the money; reservations end confirmed', async () => {
    const { pools } = s.t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const i = input(1500);
    const result: TransferResult = await (await start(i)).result();
    assert.equal(result.status, 'committed');
    assert.equal(result.outcome, 'confirmed');
    assert.equal(await balance(pools, ALICE), a0 - 1500);
    assert.equal(await balance(pools, BOB), b0 + 1500);
    const wf = transferWorkflowId(i.ref);
    const res = [
      ...(await listReservations(pools.bank_a, wf)),
      ...(await listReservations(pools.bank_b, wf)),
    ];
    assert.deepEqual(res.map((r) => [r.branch, r.amountCents, r.status]).sort(), [
      ['credit', 1500, 'confirmed'],
      ['debit', -1500, 'confirmed'],
    ]);
    await assertSettled(pools, s.total);
  });

  it('a refused try cancels the other leg: the hold goes back, nothing is credited', async () => {
    const { pools } = s.t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const i = input(800, { voteNo: 'bank-b' });
    const result = await (await start(i)).result();
    assert.equal(result.status, 'aborted');
    assert.equal(result.outcome, 'cancelled');
    assert.match(result.reason ?? '', /bank-b credit try failed: VotedNo/);
    assert.equal(await balance(pools, ALICE), a0);
    assert.equal(await balance(pools, BOB), b0);
    const wf = transferWorkflowId(i.ref);
    assert.deepEqual(
      (await listReservations(pools.bank_a, wf)).map((r) => r.status),
      ['cancelled'],
    );
    assert.deepEqual(await listReservations(pools.bank_b, wf), [], 'the refused try left nothing');
    // The cancel of the refused leg was a null compensation recorded by the barrier.
    const barrier = await pools.bank_b.query(`SELECT op, origin FROM barrier WHERE gid = $1 ORDER BY op`, [
      wf,
    ]);
    assert.deepEqual(barrier.rows, [
      { op: 'action', origin: 'compensate' },
      { op: 'compensate', origin: 'compensate' },
    ]);
    await assertSettled(pools, s.total);
  });

  it('insufficient funds: the debit try is refused, the transfer is cancelled', async () => {
    const { pools } = s.t.stack;
    const a0 = await balance(pools, ALICE);
    const result = await (await start(input(a0 + 1))).result();
    assert.equal(result.status, 'aborted');
    assert.match(result.reason ?? '', /InsufficientFunds/);
    assert.equal(await balance(pools, ALICE), a0);
    await assertSettled(pools, s.total);
  });

  it('manual mode: the money is held until the confirm update, and cancel releases it', async () => {
    const { pools } = s.t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const confirmMe = await start(input(300, { confirm: 'manual' }));
    await waitFor('reserved', async () => (await confirmMe.query(tccStateQuery)).status === 'reserved');
    assert.equal(await balance(pools, ALICE), a0 - 300, 'the debit is held');
    assert.equal(await balance(pools, BOB), b0, 'the credit waits for confirm');
    assert.equal(await totalMoney(pools), s.total, 'held money still counts');
    await confirmMe.executeUpdate(tccDecideUpdate, { args: [{ action: 'confirm' }] });
    assert.equal((await confirmMe.result()).status, 'committed');
    assert.equal(await balance(pools, BOB), b0 + 300);

    const cancelMe = await start(input(200, { confirm: 'manual' }));
    await waitFor('reserved', async () => (await cancelMe.query(tccStateQuery)).status === 'reserved');
    await cancelMe.executeUpdate(tccDecideUpdate, {
      args: [{ action: 'cancel', reason: 'customer changed their mind' }],
    });
    const r = await cancelMe.result();
    assert.equal(r.status, 'aborted');
    assert.equal(r.outcome, 'cancelled');
    assert.equal(await balance(pools, ALICE), a0 - 300);
    await assert.rejects(cancelMe.executeUpdate(tccDecideUpdate, { args: [{ action: 'confirm' }] }));
    await assertSettled(pools, s.total);
  });

  it('the barrier over HTTP: duplicates apply once, a cancel before its try blocks the late try, confirm and cancel exclude each other', async () => {
    const { pools } = s.t.stack;
    const a0 = await balance(pools, ALICE);
    const wf = transferWorkflowId(uniqueId('raw'));
    const leg = { workflowId: wf, branch: 'debit', bank: 'bank-a', account: 'alice', amountCents: -250 };
    assert.deepEqual((await post('try', leg)).doc.state, 'applied');
    assert.deepEqual((await post('try', leg)).doc.state, 'duplicate');
    assert.equal(await balance(pools, ALICE), a0 - 250, 'held once');
    assert.equal((await post('confirm', leg)).doc.state, 'applied');
    assert.equal((await post('confirm', leg)).doc.state, 'duplicate');
    const late = await post('cancel', leg);
    assert.equal(late.status, 409);
    assert.equal(late.doc.error, 'ReservationConfirmed');
    assert.equal(await balance(pools, ALICE), a0 - 250);
    // The matching credit leg, so the money lands somewhere.
    const credit = { workflowId: wf, branch: 'credit', bank: 'bank-b', account: 'bob', amountCents: 250 };
    assert.equal((await post('try', credit)).doc.state, 'applied');
    assert.equal((await post('confirm', credit)).doc.state, 'applied');

    // Cancel first (the try is "still on its way"): a recorded no-op, then the late try is refused.
    const wf2 = transferWorkflowId(uniqueId('raw'));
    const leg2 = { ...leg, workflowId: wf2 };
    assert.equal((await post('cancel', leg2)).doc.state, 'noop');
    const hanging = await post('try', leg2);
    assert.equal(hanging.status, 409);
    assert.equal(hanging.doc.error, 'BarrierRejected');
    const confirmAfterCancel = await post('confirm', leg2);
    assert.equal(confirmAfterCancel.status, 404, 'nothing to confirm');

    // Bad input is refused before anything is touched.
    const wf3 = transferWorkflowId(uniqueId('raw'));
    assert.equal((await post('try', { ...leg, workflowId: wf3, amountCents: 1.5 })).status, 400);
    assert.equal((await post('try', { ...leg, workflowId: wf3, account: 'nobody' })).status, 404);
    assert.equal((await post('try', { ...leg, workflowId: wf3, bank: 'bank-z' })).status, 400);
    const log = await pools.tcc.query(
      `SELECT op, outcome FROM tcc_requests WHERE workflow_id = ANY($1) ORDER BY request_id`,
      [[wf, wf3]],
    );
    assert.deepEqual(
      log.rows.map((r: { op: string; outcome: string }) => `${r.op}:${r.outcome}`),
      [
        'try:applied',
        'try:duplicate',
        'confirm:applied',
        'confirm:duplicate',
        'cancel:ReservationConfirmed',
        'try:applied',
        'confirm:applied',
        'try:InvalidInput',
        'try:UnknownAccount',
        'try:InvalidInput',
      ],
    );
    await assertSettled(pools, s.total);
  });

  describe('reservation expiry (time-skipping server, same real participants)', () => {
    let env: TestWorkflowEnvironment;
    before(async () => {
      env = await timeSkippingEnv();
    });
    after(async () => {
      await env?.teardown();
    });

    it('neither confirm nor cancel before the durable timer -> expired and cancelled', async () => {
      const { pools } = s.t.stack;
      const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
      const workers = await Promise.all([
        Worker.create({
          connection: env.nativeConnection,
          taskQueue: TASK_QUEUES.orchestration,
          workflowBundle: await workflowBundle(),
        }),
        Worker.create({
          connection: env.nativeConnection,
          taskQueue: TASK_QUEUES.tcc,
          activities: createTccActivities({ baseUrl: s.server.url }),
        }),
      ]);
      const runs = workers.map((w) => w.run());
      try {
        const i = input(600, { confirm: 'manual', expiresIn: '2h', options: { searchAttributes: false } });
        const started = Date.now();
        const handle = await env.client.workflow.start<typeof transferTcc>('transferTcc', {
          taskQueue: TASK_QUEUES.orchestration,
          workflowId: transferWorkflowId(i.ref),
          args: [i],
        });
        const result = await handle.result();
        assert.equal(result.status, 'aborted');
        assert.equal(result.outcome, 'expired');
        assert.match(result.reason ?? '', /reservation expired after 2h/);
        assert.ok(Date.now() - started < 20_000, 'two hours were skipped');
        const wf = transferWorkflowId(i.ref);
        assert.deepEqual(
          (await listReservations(pools.bank_a, wf)).map((r) => r.status),
          ['cancelled'],
        );
        assert.deepEqual(
          (await listReservations(pools.bank_b, wf)).map((r) => r.status),
          ['cancelled'],
        );
      } finally {
        for (const w of workers) w.shutdown();
        await Promise.all(runs);
      }
      assert.equal(await balance(pools, ALICE), a0);
      assert.equal(await balance(pools, BOB), b0);
      await assertSettled(pools, s.total);
    });
  });
});
