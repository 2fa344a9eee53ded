// The event store's global position on a real PostgreSQL: two concurrent appends that commit out of order.
// A reader following a bare bigserial (`position > last`) skips the one that commits late; readAllForward
// holds the later event back until the earlier transaction finishes, and then delivers both, in order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { withTransaction } from '../../services/db';
import { appendToStream, type ExpectedVersion } from '../../services/event-append';
import { ConcurrencyError } from '../../services/wallet-events';
import { projectOnce } from '../../services/projections';
import { readAllForward, START, type GlobalPosition } from '../../services/event-store';
import { chargeWallet, refundWallet } from '../../services/shop';
import { startTestDatabases, type TestDatabases } from '../helpers/db';
import { cliEnv, json, runCli } from '../e2e/run-cli';

describe('event store global position (real PostgreSQL)', () => {
  let db: TestDatabases;
  before(async () => {
    db = await startTestDatabases();
  });
  after(async () => {
    await db?.teardown();
  });
  const pool = () => db.pools.payments;

  async function readToEnd(from: GlobalPosition): Promise<{ at: GlobalPosition; reasons: string[] }> {
    let at = from;
    const reasons: string[] = [];
    for (;;) {
      const batch = await readAllForward(pool(), at, 2);
      if (batch.length === 0) return { at, reasons };
      for (const e of batch) reasons.push((e.data as { reason?: string }).reason ?? e.type);
      at = batch[batch.length - 1]!.at;
    }
  }
  const naiveAfter = async (position: number): Promise<{ position: number; reason: string }[]> =>
    (
      await pool().query<{ p: string; reason: string }>(
        `SELECT global_position AS p, data->>'reason' AS reason FROM wallet_events WHERE global_position > $1 ORDER BY global_position`,
        [position],
      )
    ).rows.map((r) => ({ position: Number(r.p), reason: r.reason }));

  it('reads every seeded event once, in order, from the start', async () => {
    const all = await readToEnd(START);
    const count = await pool().query<{ n: string }>('SELECT count(*) AS n FROM wallet_events');
    assert.equal(all.reasons.length, Number(count.rows[0]!.n));
  });

  it('never skips an append that commits after a later one (the gap problem)', async () => {
    const start = await readToEnd(START);
    const naiveStart = Math.max(0, ...(await naiveAfter(0)).map((e) => e.position));
    const early = await pool().connect();
    try {
      // The early writer takes the lower position but commits last.
      await early.query('BEGIN');
      await chargeWallet(early, 'alice', 1, 'early writer');
      await withTransaction(pool(), (tx) => chargeWallet(tx, 'bob', 1, 'late writer'));
      // While the early one is in flight: the naive reader sees only the late event and moves past it...
      const naive = await naiveAfter(naiveStart);
      assert.deepEqual(
        naive.map((e) => e.reason),
        ['late writer'],
      );
      // ...readAllForward holds it back (an earlier transaction may still commit before it).
      assert.deepEqual((await readToEnd(start.at)).reasons, []);
      await early.query('COMMIT');
      // The naive reader, past the late event, never sees the early one: skipped for good.
      assert.deepEqual(await naiveAfter(naive[0]!.position), []);
    } finally {
      early.release();
    }
    assert.deepEqual((await readToEnd(start.at)).reasons, ['early writer', 'late writer']);
    await withTransaction(pool(), (tx) => refundWallet(tx, 'alice', 1, 'undo'));
    await withTransaction(pool(), (tx) => refundWallet(tx, 'bob', 1, 'undo'));
  });

  it('settle events tail reads in global order and resumes from the position it printed', async () => {
    const env = cliEnv('127.0.0.1:1', { DATABASE_URL: db.postgres.url, SETTLE_DB_PREFIX: `t${process.pid}` });
    const first = await runCli(['events', 'tail', '--limit', '3', '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    const page = json<{ position: string; streamId: string; version: number }[]>(first);
    assert.equal(page.length, 3);
    const all = await readToEnd(START);
    const rest = await runCli(['events', 'tail', '--from', page[2]!.position, '--json'], env);
    assert.equal(
      json<unknown[]>(rest).length,
      all.reasons.length - 3,
      'resumed exactly after the third event',
    );
    assert.equal((await runCli(['events', 'tail', '--from', 'yesterday'], env)).code, 2);
  });

  it('an append is idempotent by event id and carries its metadata; expected-version modes', async () => {
    const ev = (eventId: string) => ({
      eventId,
      type: 'UserCreated',
      schemaVersion: 1,
      data: { name: 'Dora', email: 'dora@example.com' },
      metadata: { correlationId: 'wf-dora', causationId: 'signup' },
    });
    const stream = `dora-${process.pid}`;
    const first = await withTransaction(pool(), (tx) => appendToStream(tx, stream, 'no-stream', ev('e-1')));
    const again = await withTransaction(pool(), (tx) => appendToStream(tx, stream, 'no-stream', ev('e-1')));
    assert.deepEqual(again, { ...first, duplicate: true }, 'the same id again answers the first append');
    const rows = await pool().query<{ metadata: unknown }>(
      'SELECT metadata FROM wallet_events WHERE stream_id = $1',
      [stream],
    );
    assert.deepEqual(rows.rows, [
      { metadata: { correlationId: 'wf-dora', causationId: 'signup', schemaVersion: 1 } },
    ]);
    const refused = (expected: ExpectedVersion, id: string) =>
      assert.rejects(
        withTransaction(pool(), (tx) => appendToStream(tx, stream, expected, ev(id))),
        ConcurrencyError,
      );
    await refused('no-stream', 'e-2');
    await refused(0, 'e-2');
    await withTransaction(pool(), (tx) =>
      appendToStream(tx, `none-${process.pid}`, 'stream-exists', ev('e-3')),
    ).then(
      () => assert.fail('stream-exists on a missing stream'),
      (err: Error) => assert.ok(err instanceof ConcurrencyError),
    );
    assert.equal(
      (await withTransaction(pool(), (tx) => appendToStream(tx, stream, 1, ev('e-4')))).version,
      2,
    );
    assert.equal(
      (await withTransaction(pool(), (tx) => appendToStream(tx, stream, 'stream-exists', ev('e-5')))).version,
      3,
    );
    assert.equal(
      (await withTransaction(pool(), (tx) => appendToStream(tx, stream, 'any', ev('e-6')))).version,
      4,
    );
  });

  it('the customer_spending projector moves its checkpoint with its read model; projections status shows the lag', async () => {
    const env = cliEnv('127.0.0.1:1', { DATABASE_URL: db.postgres.url, SETTLE_DB_PREFIX: `t${process.pid}` });
    const status = async () =>
      json<
        {
          name: string;
          position: string;
          lag_events: number;
          lag_seconds: number;
          last_error: string | null;
        }[]
      >(await runCli(['projections', 'status', '--json'], env));
    const before = (await status()).find((s) => s.name === 'customer_spending')!;
    assert.ok(before.lag_events > 0, 'nothing projected yet');
    while ((await projectOnce(pool(), 'customer_spending', 7)) > 0);
    const caughtUp = (await status()).find((s) => s.name === 'customer_spending')!;
    assert.deepEqual([caughtUp.lag_events, caughtUp.last_error], [0, null]);
    const spent = async () =>
      (
        await pool().query<{ c: string }>(
          `SELECT charged_cents AS c FROM customer_spending WHERE customer_id = 'bob'`,
        )
      ).rows[0]?.c;
    const was = Number((await spent()) ?? 0);
    await withTransaction(pool(), (tx) => chargeWallet(tx, 'bob', 250, 'projected charge'));
    assert.equal((await status()).find((s) => s.name === 'customer_spending')!.lag_events, 1);
    assert.equal(await projectOnce(pool(), 'customer_spending'), 1);
    assert.equal(
      await projectOnce(pool(), 'customer_spending'),
      0,
      'applied once: the checkpoint moved with it',
    );
    assert.equal(Number(await spent()), was + 250);
    await withTransaction(pool(), (tx) => refundWallet(tx, 'bob', 250, 'undo'));
  });

  it('a rolled-back append leaves no gap a reader waits on', async () => {
    const start = await readToEnd(START);
    const tx = await pool().connect();
    try {
      await tx.query('BEGIN');
      await chargeWallet(tx, 'alice', 1, 'rolled back');
      await tx.query('ROLLBACK');
    } finally {
      tx.release();
    }
    await withTransaction(pool(), (t) => chargeWallet(t, 'carol', 1, 'after the rollback'));
    assert.deepEqual((await readToEnd(start.at)).reasons, ['after the rollback']);
    await withTransaction(pool(), (t) => refundWallet(t, 'carol', 1, 'undo'));
  });
});
