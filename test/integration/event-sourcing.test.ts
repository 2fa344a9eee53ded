// The event-sourced wallet on a real PostgreSQL: replay equals the read model, state as of a version, upcasting
// of old event schemas, expected-version concurrency, snapshots, and detection of a read model that drifted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { withTransaction } from '../../services/db';
import { chargeWallet, refundWallet, SEED_CUSTOMERS } from '../../services/shop';
import {
  appendEvent,
  ConcurrencyError,
  InvariantViolation,
  loadWallet,
  readEvents,
  replay,
  snapshotWallet,
  verifyProjection,
} from '../../services/wallet-events';
import { startTestDatabases, type TestDatabases } from '../helpers/db';
import { deleteStream, StreamDeletedError } from '../../services/event-stream-lifecycle';
import { appendToStream } from '../../services/event-append';
import { truncateWalletBefore, WALLET_STATE_SCHEMA } from '../../services/wallet-events';

describe('event-sourced wallets (real PostgreSQL)', () => {
  let db: TestDatabases;
  before(async () => {
    db = await startTestDatabases();
  });
  after(async () => {
    await db?.teardown();
  });
  const pool = () => db.pools.payments;

  it('rebuilds every seeded wallet from its events', async () => {
    for (const c of SEED_CUSTOMERS) {
      const w = await loadWallet(pool(), c.id);
      assert.equal(w?.balanceCents, c.balanceCents);
      assert.equal(w?.name, c.name);
      assert.equal(w?.version, 2, 'UserCreated + the opening BalanceUpdated');
    }
    assert.deepEqual((await verifyProjection(pool())).mismatches, []);
  });

  it('charges and refunds append events whose replay equals the read model, and old states stay readable', async () => {
    await withTransaction(pool(), (tx) => chargeWallet(tx, 'bob', 1234, 'test charge'));
    await withTransaction(pool(), (tx) => refundWallet(tx, 'bob', 234, 'test refund'));
    const now = await loadWallet(pool(), 'bob');
    assert.equal(now?.balanceCents, 50_000 - 1234 + 234);
    assert.equal(now?.version, 4);
    assert.equal((await loadWallet(pool(), 'bob', { asOfVersion: 3 }))?.balanceCents, 50_000 - 1234);
    assert.equal(
      await loadWallet(pool(), 'bob', { asOf: new Date(0) }),
      undefined,
      'nothing existed at the epoch',
    );
    const events = await readEvents(pool(), 'bob');
    assert.deepEqual(
      events.map((e) => e.type),
      ['UserCreated', 'BalanceUpdated', 'BalanceUpdated', 'BalanceUpdated'],
    );
    assert.deepEqual((await verifyProjection(pool())).mismatches, []);
  });

  it('stamps events in version order (clock_timestamp after the lock), so an as-of read never includes a later version', async () => {
    // Writer A starts its transaction first (now() is fixed there) but appends after writer B committed.
    const a = await pool().connect();
    try {
      await a.query('BEGIN');
      await a.query('SELECT now()');
      await withTransaction(pool(), (tx) => chargeWallet(tx, 'carol', 10, 'writer B'));
      await chargeWallet(a, 'carol', 20, 'writer A');
      await a.query('COMMIT');
    } finally {
      a.release();
    }
    const events = await readEvents(pool(), 'carol');
    const [b, late] = events.slice(-2);
    assert.deepEqual(
      [b!.data, late!.data],
      [
        { amountCents: -10, reason: 'writer B' },
        { amountCents: -20, reason: 'writer A' },
      ],
    );
    assert.ok(
      late!.recordedAt >= b!.recordedAt,
      `v${late!.version} at ${late!.recordedAt} before v${b!.version} at ${b!.recordedAt}`,
    );
    await withTransaction(pool(), (tx) => refundWallet(tx, 'carol', 30, 'undo the test charges'));
  });

  it('reads a version-1 event through its upcaster', async () => {
    await pool().query(
      `INSERT INTO wallet_events (stream_id, version, type, schema_version, data) VALUES ('legacy', 1, 'UserCreated', 1, '{"name":"Old","email":"old@example.com"}'),
       ('legacy', 2, 'BalanceUpdated', 1, '{"amount": 700}'), ('legacy', 3, 'BalanceUpdated', 2, '{"amountCents": -200, "reason": "new"}')`,
    );
    const w = await loadWallet(pool(), 'legacy');
    assert.equal(w?.balanceCents, 500);
    assert.equal(w?.version, 3);
  });

  it('rejects a second writer at the same expected version (on the legacy stream, which has no read-model row)', async () => {
    const a = await pool().connect();
    const b = await pool().connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      await appendEvent(a, 'legacy', 3, { type: 'BalanceUpdated', data: { amountCents: 1, reason: 'a' } });
      const second = appendEvent(b, 'legacy', 3, {
        type: 'BalanceUpdated',
        data: { amountCents: 2, reason: 'b' },
      });
      second.catch(() => undefined); // b's refusal may arrive before the COMMIT's answer: never unhandled
      await a.query('COMMIT'); // b was blocked on a's row; a's commit makes b's insert a duplicate key
      await assert.rejects(second, ConcurrencyError);
      await b.query('ROLLBACK');
    } finally {
      a.release();
      b.release();
    }
    const events = await readEvents(pool(), 'legacy');
    assert.equal(events.at(-1)?.version, 4);
    assert.deepEqual(events.at(-1)?.data, { amountCents: 1, reason: 'a' });
  });

  it('a snapshot gives the same state as a full replay, and later events apply on top of it', async () => {
    const snap = await snapshotWallet(pool(), 'alice');
    await withTransaction(pool(), (tx) => chargeWallet(tx, 'alice', 500, 'after snapshot'));
    const fromSnapshot = await loadWallet(pool(), 'alice');
    const full = replay('alice', await readEvents(pool(), 'alice'));
    assert.deepEqual(fromSnapshot, full);
    assert.equal(fromSnapshot?.version, (snap?.version ?? 0) + 1);
  });

  it('detects a read model that no longer matches the events', async () => {
    await pool().query(`UPDATE wallets SET balance_cents = balance_cents + 1 WHERE customer_id = 'bob'`);
    const r = await verifyProjection(pool());
    assert.deepEqual(
      r.mismatches.map((m) => m.customerId),
      ['bob'],
    );
    await pool().query(`UPDATE wallets SET balance_cents = balance_cents - 1 WHERE customer_id = 'bob'`);
  });

  it('a replay refuses a history that would take a balance negative', () => {
    assert.throws(
      () =>
        replay('x', [
          { type: 'UserCreated', version: 1, recordedAt: '', data: { name: 'x', email: 'x' } },
          { type: 'BalanceUpdated', version: 2, recordedAt: '', data: { amountCents: -1, reason: 'bad' } },
        ]),
      InvariantViolation,
    );
  });

  it('a tombstoned stream refuses appends; truncate-before keeps the state loadable; snapshots of another state schema are ignored', async () => {
    const id = `life-${process.pid}`;
    const ev = (eventId: string, amountCents: number) => ({
      eventId,
      type: 'BalanceUpdated',
      schemaVersion: 2,
      data: { amountCents, reason: 'life' },
    });
    await withTransaction(pool(), (tx) =>
      appendToStream(tx, id, 'no-stream', {
        eventId: `${id}-0`,
        type: 'UserCreated',
        schemaVersion: 1,
        data: { name: 'L', email: 'l@example.com' },
      }),
    );
    for (let i = 1; i <= 4; i++)
      await withTransaction(pool(), (tx) => appendToStream(tx, id, 'any', ev(`${id}-${i}`, 100)));
    // A snapshot under another state schema (bogus balance) must not be used.
    await pool().query(
      'INSERT INTO wallet_snapshots (stream_id, version, state, state_schema) VALUES ($1, 5, $2, $3)',
      [
        id,
        JSON.stringify({ customerId: id, name: 'L', email: 'x', balanceCents: 999_999, version: 5 }),
        WALLET_STATE_SCHEMA + 1,
      ],
    );
    assert.equal(
      (await loadWallet(pool(), id))?.balanceCents,
      400,
      'replayed, not read from the stale snapshot',
    );
    assert.equal(
      await withTransaction(pool(), (tx) => truncateWalletBefore(tx, id, 4)),
      3,
      'versions 1-3 removed',
    );
    assert.equal((await loadWallet(pool(), id))?.balanceCents, 400, 'loads from the snapshot at version 3');
    await deleteStream(pool(), id);
    await assert.rejects(
      withTransaction(pool(), (tx) => appendToStream(tx, id, 'any', ev(`${id}-9`, 1))),
      StreamDeletedError,
    );
    const again = await withTransaction(pool(), (tx) => appendToStream(tx, id, 'any', ev(`${id}-4`, 100)));
    assert.equal(again.duplicate, true, 'a retried earlier append still answers its first result');
  });
});
