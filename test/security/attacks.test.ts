// The attacker's view (issue 14): a user with a shell on the same host, or a web page a developer opens, can
// reach every loopback port. Each attempt below runs against the real stack (embedded PostgreSQL, the Temporal
// dev server, real workers, the TCC participant server) configured as production runs it (fault switches off),
// is refused, and leaves the money total and every balance exactly as they were. Each attempt's answer is
// printed (`attempt ...`) for the issue note.
import { Client as PgClient } from 'pg';
import { WorkflowNotFoundError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, afterEach, describe, it } from 'node:test';
import { createTccActivities } from '../../activities/tcc';
import { startTccServer, type TccServer } from '../../services/tcc-server';
import { TASK_QUEUES, transferWorkflowId, type TccInput } from '../../shared';
import type { transferTcc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { rawTcc, signedTcc } from '../helpers/tcc';
import { waitFor } from '../helpers/transfers';

function note(what: string, answer: unknown): void {
  process.stdout.write(`attempt ${what}: ${JSON.stringify(answer)}\n`);
}

type Snapshot = Record<string, string>;

/** Every account's balance as an exact decimal string (bigint in PostgreSQL), and held reservations. */
async function snapshot(t: TestStack): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const [bank, pool] of [
    ['bank-a', t.stack.pools.bank_a],
    ['bank-b', t.stack.pools.bank_b],
  ] as const) {
    const r = await pool.query<{ account_id: string; balance: string }>(
      'SELECT account_id, balance_cents::text AS balance FROM accounts ORDER BY account_id',
    );
    for (const row of r.rows) out[`${bank}:${row.account_id}`] = row.balance;
    const h = await pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM reservations WHERE status = 'held'`,
    );
    out[`${bank}:held-reservations`] = h.rows[0]!.n;
  }
  return out;
}

describe('attacks from the same host are refused and change no money', () => {
  let t: TestStack;
  let tcc: TccServer;
  let before0: Snapshot;

  before(async () => {
    // Secrets the host process holds; none may reach a child process or a database user.
    process.env.SETTLE_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
    process.env.TEMPORAL_API_KEY = 'attack-suite-api-key';
    t = await startTestStack({ persistent: true });
    tcc = await startTccServer({ pools: t.stack.pools, port: 0, faults: false });
    await t.startWorkers({
      faults: false,
      extraActivities: { tcc: createTccActivities({ baseUrl: tcc.url }) },
    });
  });
  after(async () => {
    delete process.env.SETTLE_ENCRYPTION_KEY;
    delete process.env.TEMPORAL_API_KEY;
    await tcc?.close();
    await t?.teardown();
  });
  beforeEach(async () => {
    before0 = await snapshot(t);
  });
  afterEach(async () => {
    assert.deepEqual(await snapshot(t), before0, 'every balance and hold is unchanged');
  });

  const mintTry = {
    workflowId: 'evil-1',
    branch: 'credit',
    bank: 'bank-b',
    account: 'bob',
    amountCents: 9007199254740991,
  };

  it('TCC mint: an unsigned text/plain try + confirm of a huge credit is refused', async () => {
    const body = JSON.stringify(mintTry);
    const tried = await rawTcc(tcc.url, { path: '/v1/try', body, headers: { 'content-type': 'text/plain' } });
    note('TCC mint try (unsigned, text/plain)', tried);
    assert.ok([401, 403, 415].includes(tried.status), `refused, got ${tried.status}`);
    const confirmed = await rawTcc(tcc.url, {
      path: '/v1/confirm',
      body: JSON.stringify({ workflowId: 'evil-1', branch: 'credit', bank: 'bank-b' }),
      headers: { 'content-type': 'application/json' },
    });
    note('TCC mint confirm (unsigned)', confirmed);
    assert.equal(confirmed.status, 401);
  });

  it('TCC mint with a valid signature: an amount beyond the business maximum is refused', async () => {
    const tried = await rawTcc(tcc.url, signedTcc('try', { ...mintTry, workflowId: uniqueId('evil') }));
    note('TCC mint try (signed, 2^53-1 cents)', tried);
    assert.equal(tried.status, 400);
    const unsafe = await rawTcc(
      tcc.url,
      signedTcc('try', { ...mintTry, workflowId: uniqueId('evil'), amountCents: 2 ** 60 }),
    );
    assert.equal(unsafe.status, 400);
  });

  it('TCC drain: an unsigned negative try + confirm is refused', async () => {
    const drain = {
      workflowId: 'evil-2',
      branch: 'debit',
      bank: 'bank-a',
      account: 'alice',
      amountCents: -100_000,
    };
    const tried = await rawTcc(tcc.url, {
      path: '/v1/try',
      body: JSON.stringify(drain),
      headers: { 'content-type': 'application/json' },
    });
    note('TCC drain try (unsigned)', tried);
    assert.equal(tried.status, 401);
    const confirmed = await rawTcc(tcc.url, {
      path: '/v1/confirm',
      body: JSON.stringify({ workflowId: 'evil-2', branch: 'debit', bank: 'bank-a' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(confirmed.status, 401);
  });

  it("TCC interference: a stranger's cancel does not stop a legitimate transfer", async () => {
    const ref = uniqueId('victim');
    const workflowId = transferWorkflowId(ref);
    for (const [branch, bank] of [
      ['debit', 'bank-a'],
      ['credit', 'bank-b'],
    ] as const) {
      const cancelled = await rawTcc(tcc.url, {
        path: '/v1/cancel',
        body: JSON.stringify({ workflowId, branch, bank }),
        headers: { 'content-type': 'application/json' },
      });
      note(`TCC foreign cancel of ${branch}`, cancelled);
      assert.equal(cancelled.status, 401);
    }
    const result = await t.client.workflow.execute<typeof transferTcc>('transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [
        {
          ref,
          from: { bank: 'bank-a', account: 'alice' },
          to: { bank: 'bank-b', account: 'bob' },
          amountCents: 100,
        },
      ],
    });
    assert.equal(result.status, 'committed');
    // Put the 100 cents back so the balances compare equal.
    const back = uniqueId('victim-back');
    await t.client.workflow.execute<typeof transferTcc>('transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(back),
      args: [
        {
          ref: back,
          from: { bank: 'bank-b', account: 'bob' },
          to: { bank: 'bank-a', account: 'alice' },
          amountCents: 100,
        },
      ],
    });
  });

  it('TCC: a signed request with a text/plain body, a foreign Host, a replay, an old timestamp or another key is refused', async () => {
    const wf = uniqueId('evil');
    const base = { workflowId: wf, branch: 'credit', bank: 'bank-b', account: 'bob', amountCents: 100 };
    const plain = await rawTcc(tcc.url, signedTcc('try', base, { contentType: 'text/plain' }));
    note('TCC signed try as text/plain', plain);
    assert.equal(plain.status, 415);
    const rebind = signedTcc('try', base);
    const foreign = await rawTcc(tcc.url, {
      ...rebind,
      headers: { ...rebind.headers, host: 'evil.example:80' },
    });
    note('TCC signed try with Host: evil.example (DNS rebinding)', foreign);
    assert.equal(foreign.status, 403);
    const expired = await rawTcc(tcc.url, signedTcc('try', base, { now: Date.now() - 120_000 }));
    note('TCC try signed two minutes ago', expired);
    assert.equal(expired.status, 401);
    const otherKey = await rawTcc(tcc.url, signedTcc('try', base, { key: Buffer.alloc(32, 1) }));
    note('TCC try signed with another key', otherKey);
    assert.equal(otherKey.status, 401);
    // A legitimate signed try, then the same bytes again.
    const once = signedTcc('try', base);
    const first = await rawTcc(tcc.url, once);
    assert.equal(first.status, 200);
    const replayed = await rawTcc(tcc.url, once);
    note('TCC replay of a signed try', replayed);
    assert.equal(replayed.status, 401);
    const cancel = await rawTcc(
      tcc.url,
      signedTcc('cancel', { workflowId: wf, branch: 'credit', bank: 'bank-b' }),
    );
    assert.equal(cancel.status, 200, 'the test releases its own reservation');
    const read = await rawTcc(tcc.url, { method: 'GET', path: `/v1/reservations?workflowId=${wf}` });
    note('TCC unsigned read of reservations', read);
    assert.equal(read.status, 401);
  });

  it('generic-workflow mint: twoPhaseCommit and benchTwoPhase are not registered on the production worker', async () => {
    const credit = (account: string) => ({ kind: 'credit', account, amountCents: 100_000_000 });
    for (const type of ['twoPhaseCommit', 'benchTwoPhase']) {
      const workflowId = uniqueId(`evil-${type}`);
      const args =
        type === 'twoPhaseCommit'
          ? [
              [
                { name: 'bank-a', queue: TASK_QUEUES.bankA, ops: [credit('carol')] },
                { name: 'bank-b', queue: TASK_QUEUES.bankB, ops: [credit('bob')] },
              ],
            ]
          : [{ participants: [{ name: 'bank-a', queue: TASK_QUEUES.bankA, ops: [credit('carol')] }] }];
      const h = await t.client.workflow.start(type, {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId,
        args,
      });
      // The worker fails the first workflow task: the type is unknown to it.
      const failure = await waitFor(`${type} task failure`, async () => {
        const events = (await h.fetchHistory()).events ?? [];
        if (events.some((e) => e.workflowExecutionCompletedEventAttributes))
          return `completed: ${JSON.stringify(await h.result())}`;
        return events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes
          ?.failure?.message;
      });
      note(`start ${type} with two credits`, failure);
      assert.match(failure ?? '', /not (found|registered)|no such function|not a function/i);
      await h.terminate('attack suite').catch((e: unknown) => {
        if (!(e instanceof WorkflowNotFoundError)) throw e;
      });
    }
  });

  it('fault switches are ignored by a production worker: a vote-no request still commits', async () => {
    const ref = uniqueId('novote');
    const input: TccInput = {
      ref,
      from: { bank: 'bank-a', account: 'alice' },
      to: { bank: 'bank-b', account: 'bob' },
      amountCents: 100,
      voteNo: 'bank-b',
    };
    const result = await t.client.workflow.execute<typeof transferTcc>('transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(ref),
      args: [input],
    });
    note('TCC transfer with voteNo on a production worker', result.status);
    assert.equal(result.status, 'committed');
    const back = uniqueId('novote-back');
    await t.client.workflow.execute<typeof transferTcc>('transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(back),
      args: [
        {
          ref: back,
          from: { bank: 'bank-b', account: 'bob' },
          to: { bank: 'bank-a', account: 'alice' },
          amountCents: 100,
        },
      ],
    });
  });

  it("PostgreSQL: the old fixed superuser password 'settle' is refused", async () => {
    const port = t.stack.postgres.port!;
    const c = new PgClient({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password: 'settle',
      database: 'postgres',
    });
    const err = await c.connect().then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    await c.end().catch(() => undefined);
    note("superuser login with password 'settle'", err ? `${err.code}: ${err.message}` : 'connected');
    assert.ok(err, 'the login is refused');
    assert.equal(err.code, '28P01');
  });

  it("a service's database role cannot read another process's environment (pg_read_file)", async () => {
    const err = await t.stack.pools.bank_a
      .query<{ env: string }>(`SELECT pg_read_file('/proc/' || $1 || '/environ') AS env`, [
        String(process.pid),
      ])
      .then(
        (r) => (String(r.rows[0]?.env).includes('SETTLE_ENCRYPTION_KEY') ? 'read the key' : 'read'),
        (e: Error & { code?: string }) => e,
      );
    note(
      'pg_read_file(/proc/<host pid>/environ) as the bank-a service role',
      err instanceof Error ? `${err.code}: ${err.message}` : err,
    );
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: string }).code, '42501');
    const role = await t.stack.pools.bank_a.query<{ rolsuper: boolean }>(
      'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
    );
    assert.equal(role.rows[0]!.rolsuper, false, 'service roles are not superusers');
  });

  it('child processes (PostgreSQL, Temporal) do not inherit the host secrets', () => {
    const postmaster = Number(
      readFileSync(`${t.stack.postgres.pgdata}/postmaster.pid`, 'utf8').split('\n')[0],
    );
    const temporal = t.stack.temporal.server!.pid;
    for (const [name, pid] of [
      ['postgres', postmaster],
      ['temporal', temporal],
    ] as const) {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const leaked = env.filter((e) =>
        /^(SETTLE_ENCRYPTION_KEY|TEMPORAL_API_KEY|SETTLE_TCC_KEY|DATABASE_URL|PGPASSWORD)=/.test(e),
      );
      note(
        `${name} environment secrets`,
        leaked.map((e) => e.split('=')[0]),
      );
      assert.deepEqual(leaked, [], `${name} (pid ${pid}) has no secrets in its environment`);
    }
  });

  it('the data directory and its secrets are closed to other users', () => {
    const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);
    const secrets = join(t.dataDir, 'secrets');
    const files = existsSync(secrets) ? readdirSync(secrets).map((f) => join(secrets, f)) : [];
    const modes = Object.fromEntries(
      [t.dataDir, secrets, ...files, join(t.dataDir, 'temporal', 'temporal.db')]
        .filter((p) => existsSync(p))
        .map((p) => [p.slice(t.dataDir.length) || '/', mode(p)]),
    );
    note('modes under the data dir', modes);
    assert.equal(mode(t.dataDir), '700');
    assert.ok(files.length >= 1, 'the install has secret files');
    for (const f of files) assert.equal(mode(f), '600', f);
    assert.equal(mode(join(t.dataDir, 'temporal', 'temporal.db')), '600');
    // And as another user, for real.
    for (const target of [...files, join(t.dataDir, 'temporal', 'temporal.db')]) {
      const r = spawnSync('su', ['nobody', '-s', '/bin/sh', '-c', `cat '${target}'`], { encoding: 'utf8' });
      note(`cat ${target.slice(t.dataDir.length)} as nobody`, { status: r.status, stderr: r.stderr.trim() });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /Permission denied/);
    }
  });
});
