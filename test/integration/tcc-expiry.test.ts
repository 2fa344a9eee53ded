// TCC rules the participant enforces itself (issue 16 items 4 and 5): reservation expiry on its own clock
// (stranded holds released, confirm after expiry refused, a late try refused), a final refusal in phase two parks
// the transfer for an operator instead of a retry loop, and a try that meets an account locked by an in-doubt 2PC
// branch gets a clear, retryable 503 within the lock timeout instead of holding a connection forever.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTccActivities } from '../../activities/tcc';
import { listReservations, strandedHolds, totalMoney } from '../../services/banks';
import { DB_TIMEOUTS } from '../../services/db';
import { startParticipantTimers } from '../../services/participant-timers';
import { startTccServer, type TccServer } from '../../services/tcc-server';
import { prepareBranch, rollbackBranch } from '../../services/xa';
import {
  branchGid,
  resolveCompensationUpdate,
  SA,
  TASK_QUEUES,
  tccDecideUpdate,
  tccStateQuery,
  transferWorkflowId,
  type TccInput,
} from '../../shared';
import type { transferTcc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { postTcc } from '../helpers/tcc';
import { assertSettled, balance, waitFor } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;
const past = (): string => new Date(Date.now() - 1000).toISOString();

describe('TCC: participant-side expiry, parked refusals, lock waits (dev server + PostgreSQL)', () => {
  let t: TestStack;
  let server: TccServer;
  let total: number;

  before(async () => {
    t = await startTestStack();
    server = await startTccServer({ pools: t.stack.pools, port: 0 });
    await t.startWorkers({ extraActivities: { tcc: createTccActivities({ baseUrl: server.url }) } });
    total = await totalMoney(t.stack.pools);
  });
  after(async () => {
    await server?.close();
    await t?.teardown();
  });
  const post = (op: string, body: object) => postTcc(server.url, op, body);
  const debitLeg = (wf: string, expiresAt?: string) => ({
    workflowId: wf,
    branch: 'debit',
    bank: 'bank-a',
    account: 'alice',
    amountCents: -400,
    ...(expiresAt ? { expiresAt } : {}),
  });

  it('item 4: a confirm after the reservation expired is refused (409 ReservationExpired), nothing moves', async () => {
    const { pools } = t.stack;
    const a0 = await balance(pools, ALICE);
    const wf = transferWorkflowId(uniqueId('late'));
    assert.equal((await post('try', debitLeg(wf, past()))).doc.state, 'applied');
    const confirm = await post('confirm', debitLeg(wf));
    assert.equal(confirm.status, 409);
    assert.equal(confirm.doc.error, 'ReservationExpired');
    assert.equal((await listReservations(pools.bank_a, wf))[0]?.status, 'held', 'the hold was not spent');
    assert.equal((await post('cancel', debitLeg(wf))).doc.state, 'applied');
    assert.equal(await balance(pools, ALICE), a0);
    await assertSettled(pools, total);
  });

  it('item 4: a hold whose coordinator is gone is released by the participant\u2019s own timer; a retried try holds nothing', async () => {
    const { pools } = t.stack;
    const a0 = await balance(pools, ALICE);
    const wf = transferWorkflowId(uniqueId('strand'));
    assert.equal((await post('try', debitLeg(wf, past()))).doc.state, 'applied');
    assert.equal(await balance(pools, ALICE), a0 - 400);
    assert.ok(
      (await strandedHolds(pools.bank_a)).some((h) => h.workflowId === wf),
      'settle check sees it',
    );

    const timers = startParticipantTimers(pools, { everyMs: 60_000 });
    try {
      const pass = await timers.tick();
      assert.ok(pass.expired.includes(`${wf}/debit`));
    } finally {
      await timers.stop();
    }
    assert.equal(await balance(pools, ALICE), a0, 'the money is back');
    assert.deepEqual(await strandedHolds(pools.bank_a), []);
    const retry = await post('try', debitLeg(wf, past()));
    assert.equal(
      retry.doc.state,
      'duplicate',
      'a retried try is the first one answered again: nothing held twice',
    );
    assert.equal(await balance(pools, ALICE), a0);
    const confirm = await post('confirm', debitLeg(wf));
    assert.equal(confirm.doc.error, 'ReservationExpired');
    assert.equal(
      (await post('cancel', debitLeg(wf))).doc.state,
      'duplicate',
      'the coordinator\u2019s cancel is a no-op',
    );
    assert.equal(await balance(pools, ALICE), a0);
    await assertSettled(pools, total);
  });

  it('item 4: a 409 in phase two parks the transfer for an operator (SettleNeedsOperator), resolved with settle resolve', async () => {
    const { pools } = t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const i: TccInput = { ref: uniqueId('park'), from: ALICE, to: BOB, amountCents: 250, confirm: 'manual' };
    const wf = transferWorkflowId(i.ref);
    const handle = await t.client.workflow.start<typeof transferTcc>('transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: wf,
      args: [i],
    });
    await waitFor('reserved', async () => (await handle.query(tccStateQuery)).status === 'reserved');
    // The reservation's expiry passes on the participant's clock (which runs ahead of the workflow's timer).
    await pools.bank_a.query(
      `UPDATE reservations SET expires_at = now() - interval '1 second' WHERE workflow_id = $1 AND branch = 'debit'`,
      [wf],
    );
    const timers = startParticipantTimers(pools, { everyMs: 60_000 });
    try {
      const pass = await timers.tick();
      assert.ok(pass.expired.includes(`${wf}/debit`));
    } finally {
      await timers.stop();
    }
    await handle.executeUpdate(tccDecideUpdate, { args: [{ action: 'confirm' }] });
    await waitFor(
      'the transfer to be parked for an operator',
      async () => (await handle.describe()).typedSearchAttributes.get(SA.needsOperator) === true,
    );
    assert.match(
      (await handle.query(tccStateQuery)).reason ?? '',
      /needs an operator: debit .*ReservationExpired/,
    );
    // The credit was confirmed, the debit released: the operator takes the money back by hand, then says so.
    await pools.bank_a.query(
      `UPDATE accounts SET balance_cents = balance_cents - 250 WHERE account_id = 'alice'`,
    );
    await handle.executeUpdate(resolveCompensationUpdate, {
      args: [{ action: 'skip', reason: 'debited alice by hand (ticket 42)', operator: 'olga' }],
    });
    const result = await handle.result();
    assert.equal(result.status, 'committed');
    assert.equal((await handle.describe()).typedSearchAttributes.get(SA.needsOperator), false);
    assert.equal(await balance(pools, ALICE), a0 - 250);
    assert.equal(await balance(pools, BOB), b0 + 250);
    await assertSettled(pools, total);
  });

  it('item 5: a try on an account locked by an in-doubt 2PC branch is a clear retryable 503 within the lock timeout', async () => {
    const { pools } = t.stack;
    const gid = branchGid(transferWorkflowId(uniqueId('indoubt')), 'bank-a');
    const vote = await prepareBranch(pools.bank_a, gid, async (tx) => {
      await tx.query(`UPDATE accounts SET balance_cents = balance_cents - 1 WHERE account_id = 'alice'`);
    });
    assert.equal(vote.vote, 'yes');
    try {
      const started = Date.now();
      // Ten at once: more than the pool would survive if each waited for the lock forever.
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => post('try', debitLeg(transferWorkflowId(uniqueId('busy'))))),
      );
      const took = Date.now() - started;
      for (const a of answers) {
        assert.equal(a.status, 503);
        assert.equal(a.doc.error, 'ParticipantBusy');
      }
      assert.ok(took < DB_TIMEOUTS.lockMs * 10, `answered in ${took}ms`);
      assert.equal(
        (await post('try', { ...debitLeg(transferWorkflowId(uniqueId('ok'))), account: 'carol' })).status,
        200,
      );
    } finally {
      await rollbackBranch(pools.bank_a, gid);
    }
    // The refused tries changed nothing; the carol hold is released by cancelling it.
    const held = await pools.bank_a.query<{ workflow_id: string }>(
      `SELECT workflow_id FROM reservations WHERE account_id = 'carol' AND status = 'held'`,
    );
    for (const r of held.rows) await post('cancel', { ...debitLeg(r.workflow_id), account: 'carol' });
    await assertSettled(pools, total);
  });
});
