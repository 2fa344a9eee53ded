// Time bounds of the database layer (services/db.ts): business statements give up on a lock quickly, but a
// migration waits for another process migrating the same database (two workers starting at once) instead of
// failing after the pool's short lock_timeout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'pg';
import { isDbTimeout, migrate, serviceDatabaseUrl } from '../../services/db';
import { startTestDatabases, type TestDatabases } from '../helpers/db';

const LOCK_MS = 200;

describe('database time bounds (real PostgreSQL)', () => {
  let db: TestDatabases;
  let pool: Pool;

  before(async () => {
    db = await startTestDatabases();
    // The orders database with a short lock timeout, so the test outlives it quickly.
    pool = new Pool({
      connectionString: serviceDatabaseUrl(db.postgres.url, 'orders', `t${process.pid}`),
      max: 3,
      lock_timeout: LOCK_MS,
      statement_timeout: 5_000,
    });
  });

  after(async () => {
    await pool?.end();
    await db?.teardown();
  });

  it('a business statement waiting on a row lock fails with a timeout error, not forever', async () => {
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(99)`);
      const err = await pool.query('SELECT pg_advisory_xact_lock(99)').catch((e: unknown) => e);
      assert.ok(isDbTimeout(err), `expected a lock timeout, got ${String(err)}`);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  it(
    'a checked-out client whose server connection dies does not crash the process; the pool recovers',
    { timeout: 60_000 },
    async () => {
      const pools = db.pools; // createPools: what every service and worker uses
      const held = await pools.orders.connect();
      await held.query('BEGIN');
      const { pid } = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!;
      // Idle inside its transaction (an activity awaiting something), the server ends its session (a restart).
      const ended = new Promise<void>((res) => held.once('end', () => res()));
      await pools.inventory.query('SELECT pg_terminate_backend($1)', [pid]);
      await ended;
      await assert.rejects(held.query('SELECT 1'));
      held.release(new Error('connection lost'));
      const again = await pools.orders.query<{ one: number }>('SELECT 1 AS one');
      assert.equal(again.rows[0]?.one, 1);
    },
  );

  it('a migration waits past lock_timeout for another process holding the migration lock', async () => {
    const other = await pool.connect();
    await other.query('SELECT pg_advisory_lock(7412001)');
    let settled: 'ok' | Error | undefined;
    const migrating = migrate(pool, [
      { id: 9001, name: 'probe', sql: 'CREATE TABLE db_timeout_probe (x int)' },
    ]).then(
      () => (settled = 'ok'),
      (e: Error) => (settled = e),
    );
    try {
      // Poll the server until the waiting migration has outlived the lock timeout several times over.
      for (;;) {
        const r = await other.query<{ waited_ms: number }>(
          `SELECT extract(epoch FROM clock_timestamp() - query_start) * 1000 AS waited_ms FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_lock(7412001)%' AND pid <> pg_backend_pid()`,
        );
        assert.equal(
          settled,
          undefined,
          `the migration gave up while another held the lock: ${String(settled)}`,
        );
        if (Number(r.rows[0]?.waited_ms ?? 0) > LOCK_MS * 5) break;
        await new Promise((res) => setTimeout(res, 20)); // poll interval
      }
    } finally {
      await other.query('SELECT pg_advisory_unlock(7412001)');
      other.release();
    }
    await migrating;
    assert.equal(settled, 'ok');
    const t = await pool.query<{ t: string | null }>(`SELECT to_regclass('db_timeout_probe')::text AS t`);
    assert.equal(t.rows[0]?.t, 'db_timeout_probe');
  });
});
