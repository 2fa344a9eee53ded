// The background projector and the projection rebuild on a real PostgreSQL. A `settle projections run` process is
// SIGKILLed mid-projection: at that instant every read model equals a replay of the events up to its checkpoint
// (the batch in flight is rolled back with it), and after a restart it equals a from-zero replay of every event
// (nothing applied twice, nothing skipped).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { serviceDatabaseUrl } from '../../services/db';
import { startTestDatabases, type TestDatabases } from '../helpers/db';
import { cliEnv, json, runCli, startCli } from '../e2e/run-cli';

interface Rebuilt {
  name: string;
  events: number;
  seconds: number;
  position: string;
}

interface Status {
  name: string;
  position: string;
  lag_events: number;
  lag_seconds: number;
  last_error: string | null;
}

// Each projection's read model recomputed in SQL straight from the events (independent of the projector's
// code), over the events up to a checkpoint (or all); rows as JSON text, sorted, to compare with the table.
const CENTS = `coalesce((data->>'amountCents')::bigint, (data->>'amount')::bigint, 0)`;
const REPLAYS: Record<string, { key: string; table: string }> = {
  customer_spending: { key: 'stream_id', table: 'customer_spending' },
  daily_revenue: { key: `(recorded_at AT TIME ZONE 'UTC')::date`, table: 'daily_revenue' },
};

describe('background projector and rebuild (real PostgreSQL)', () => {
  let db: TestDatabases;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    db = await startTestDatabases();
    env = cliEnv('127.0.0.1:1', { DATABASE_URL: db.postgres.url, SETTLE_DB_PREFIX: `t${process.pid}` });
  });
  after(async () => {
    await db?.teardown();
  });
  const pool = () => db.pools.payments;

  /** Append `n` BalanceUpdated events over 40 synthetic streams, `per` events per transaction. */
  async function appendSynthetic(n: number, per: number, tag: string): Promise<void> {
    for (let from = 0; from < n; from += per)
      await pool().query(
        `INSERT INTO wallet_events (stream_id, version, type, schema_version, data, recorded_at)
         SELECT $1 || (g % 40), g / 40 + 1, 'BalanceUpdated', 2,
                jsonb_build_object('amountCents', CASE WHEN g % 5 = 0 THEN 300 ELSE -((g % 7) + 1) END, 'reason', 'synthetic'),
                clock_timestamp() - (g % 3) * interval '1 day'
           FROM generate_series($2::int, $3::int) AS g`,
        [`${tag}-`, from, Math.min(n, from + per) - 1],
      );
  }

  /** Does each read model equal the replay of the events up to its checkpoint? One query, one snapshot. */
  async function mismatches(): Promise<string[]> {
    const bad: string[] = [];
    for (const [name, r] of Object.entries(REPLAYS)) {
      const q = await pool().query<{ same: boolean; rows: string }>(
        `WITH cp AS (SELECT tx_id, position FROM projection_checkpoints WHERE name = $1),
         replayed AS (
           SELECT ${r.key}::text AS k, sum(CASE WHEN ${CENTS} < 0 THEN -${CENTS} ELSE 0 END)::bigint AS charged,
                  sum(CASE WHEN ${CENTS} > 0 THEN ${CENTS} ELSE 0 END)::bigint AS refunded,
                  count(*) FILTER (WHERE ${CENTS} < 0)::int AS charges
             FROM wallet_events, cp
            WHERE type = 'BalanceUpdated' AND ${CENTS} <> 0 AND (wallet_events.tx_id, global_position) <= (cp.tx_id, cp.position)
            GROUP BY 1),
         projected AS (SELECT ${r.table === 'daily_revenue' ? 'day' : 'customer_id'}::text AS k, charged_cents AS charged,
                  refunded_cents AS refunded, charges FROM ${r.table})
         SELECT NOT EXISTS ((SELECT * FROM replayed EXCEPT SELECT * FROM projected) UNION ALL
                            (SELECT * FROM projected EXCEPT SELECT * FROM replayed)) AS same,
                (SELECT count(*) FROM projected)::text AS rows`,
        [name],
      );
      if (!q.rows[0]!.same) bad.push(name);
    }
    return bad;
  }

  const status = async (): Promise<Status[]> =>
    json<Status[]>(await runCli(['projections', 'status', '--json'], env));
  const lag = async (): Promise<number> =>
    Number(
      (
        await pool().query<{ n: string }>(
          `SELECT count(*) AS n FROM wallet_events e LEFT JOIN projection_checkpoints c ON c.name = 'customer_spending'
            WHERE (e.tx_id, e.global_position) > (coalesce(c.tx_id, '0'), coalesce(c.position, 0))`,
        )
      ).rows[0]!.n,
    );
  /** The child's exit code (-1: killed by a signal); `gone` is set as soon as it exits (a dead projector fails the wait loops). */
  function watch(child: ChildProcess): {
    exit: Promise<number | null>;
    gone: () => boolean;
    stderr: () => string;
  } {
    let stderr = '';
    let gone = false;
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((r) =>
      child.once('exit', (code, sig) => {
        gone = true;
        r(code ?? (sig ? -1 : null));
      }),
    );
    return { exit, gone: () => gone, stderr: () => stderr };
  }

  it('survives a SIGKILL mid-projection: read models equal the replay at the checkpoint, then a from-zero replay', async (t) => {
    await appendSynthetic(30_000, 500, 'kill');
    const total = await lag();
    const first = startCli(['projections', 'run', '--batch', '25', '--every', '50'], env);
    const firstRun = watch(first);
    // Poll (not a fixed wait) until the projector is part-way: some events applied, most still to go.
    while ((await lag()) > total - 2_000) {
      assert.ok(!firstRun.gone(), `the projector exited: ${firstRun.stderr()}`);
      await delay(20);
    }
    first.kill('SIGKILL');
    assert.equal(await firstRun.exit, -1, 'killed by the signal');
    const killedAt = await status();
    t.diagnostic(`status after SIGKILL: ${JSON.stringify(killedAt)}`);
    const spending = killedAt.find((s) => s.name === 'customer_spending')!;
    assert.ok(spending.lag_events > 0 && spending.lag_events < total, 'killed mid-projection');
    assert.deepEqual(
      await mismatches(),
      [],
      'the read models hold exactly the events up to their checkpoints',
    );

    const second = startCli(['projections', 'run', '--batch', '500', '--every', '50'], env);
    const secondRun = watch(second);
    while ((await status()).some((s) => s.lag_events > 0)) {
      assert.ok(!secondRun.gone(), `the projector exited: ${secondRun.stderr()}`);
      await delay(100);
    }
    second.kill('SIGTERM');
    assert.equal(await secondRun.exit, 0, 'a SIGTERM stops the projector cleanly');
    const caughtUp = await status();
    t.diagnostic(`status after the restart: ${JSON.stringify(caughtUp)}`);
    assert.deepEqual(
      caughtUp.map((s) => [s.name, s.lag_events, s.last_error]),
      [
        ['customer_spending', 0, null],
        ['daily_revenue', 0, null],
      ],
    );
    assert.deepEqual(await mismatches(), [], 'equal to a from-zero replay: nothing applied twice or skipped');
  });

  /** How many events are at or before `position` (`TX:POS`) in global order, or in all. */
  async function eventsUpTo(position?: string): Promise<number> {
    const [tx, pos] = position ? position.split(':') : [undefined, undefined];
    const r = await pool().query<{ n: string }>(
      `SELECT count(*) AS n FROM wallet_events
        WHERE $1::xid8 IS NULL OR (tx_id, global_position) <= ($1::xid8, $2::bigint)`,
      [tx ?? null, pos ?? null],
    );
    return Number(r.rows[0]!.n);
  }

  /**
   * Burn transaction ids until the next one has more decimal digits than every event's: the global order must
   * be numeric over them (in text order '1000' sorts before '999', which made readers skip every older event).
   */
  async function pastADecimalBoundary(): Promise<void> {
    const newest = await pool().query<{ x: string }>(
      'SELECT tx_id::text AS x FROM wallet_events ORDER BY tx_id DESC LIMIT 1',
    );
    for (;;) {
      const next = await pool().query<{ x: string }>('SELECT pg_current_xact_id()::text AS x');
      if (next.rows[0]!.x.length > newest.rows[0]!.x.length) return;
    }
  }

  /** A connection of its own to the payments database, to hold a transaction open. */
  async function paymentsClient(): Promise<Client> {
    const c = new Client({
      connectionString: serviceDatabaseUrl(db.postgres.url, 'payments', `t${process.pid}`),
      statement_timeout: 10_000,
      idle_in_transaction_session_timeout: 120_000,
    });
    await c.connect();
    return c;
  }

  /** Poll until every projection has projected every event (the projector must stay alive). */
  async function caughtUp(projector: ReturnType<typeof watch>): Promise<Status[]> {
    for (;;) {
      const s = await status();
      if (s.every((x) => x.lag_events === 0)) return s;
      assert.ok(!projector.gone(), `the projector exited: ${projector.stderr()}`);
      await delay(100);
    }
  }

  /**
   * `settle projections rebuild <name> --json` as a child process; `during` runs once the rebuild has created its
   * shadow table (it is replaying), and is told whether the rebuild had printed its result yet.
   */
  async function rebuild(
    name: string,
    during?: (finished: () => boolean) => Promise<void>,
  ): Promise<{ result: Rebuilt; stderr: string }> {
    const child = startCli(['projections', 'rebuild', name, '--json'], env);
    const run = watch(child);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    if (during) {
      const shadow = `${REPLAYS[name]!.table}_rebuild`;
      while (
        (await pool().query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [shadow])).rows[0]!
          .t === null
      ) {
        assert.ok(!run.gone(), `the rebuild exited before it created ${shadow}: ${stdout}\n${run.stderr()}`);
        await delay(5);
      }
      await during(() => stdout.length > 0 || run.gone());
    }
    const code = await run.exit;
    assert.equal(code, 0, `rebuild ${name} failed:\n${stdout}\n${run.stderr()}`);
    return { result: json<Rebuilt>({ code: 0, stdout, stderr: run.stderr() }), stderr: run.stderr() };
  }

  /** The rebuild's report against the store: its count is exactly the events up to its position, at least `floor`. */
  async function assertSaneReport(r: Rebuilt, name: string, floor: number): Promise<void> {
    assert.equal(r.name, name);
    assert.equal(
      r.events,
      await eventsUpTo(r.position),
      'the count is the events up to the position it reports',
    );
    assert.ok(
      r.events >= floor,
      `every event committed before the rebuild started is in it (${r.events} < ${floor})`,
    );
  }

  it('rebuilds over 100,000 events while the projector runs and appends arrive: equal to a replay, twice', async (t) => {
    const seeded = await eventsUpTo(); // the SIGKILL test's 30,000 and the seed's few
    assert.ok(seeded >= 30_000 && seeded < 30_100, `${seeded} events before`);
    await pastADecimalBoundary();
    await appendSynthetic(40_000, 500, 'pre');
    const projector = startCli(['projections', 'run', '--batch', '500', '--every', '20'], env);
    const run = watch(projector);
    try {
      for (const [round, name] of [
        [1, 'customer_spending'],
        [1, 'daily_revenue'],
        [2, 'customer_spending'],
        [2, 'daily_revenue'],
      ] as const) {
        const floor = await eventsUpTo();
        let arrived = 0;
        const { result, stderr } = await rebuild(name, async (finished) => {
          // 15,000 more events per first-round rebuild (70,000 in all), committed while it replays and swaps.
          for (let i = 0; round === 1 && i < 15_000; i += 500) {
            await appendSynthetic(500, 500, `during-${name}-${i}`);
            if (!finished()) arrived += 500;
          }
        });
        t.diagnostic(
          `round ${round} ${name}: ${JSON.stringify(result)}; ${arrived} events appended while it ran; store ${await eventsUpTo()}`,
        );
        if (round === 1) assert.ok(arrived > 0, 'appends arrived during the rebuild');
        await assertSaneReport(result, name, floor);
        assert.match(stderr, /replayed \d+ events/, 'progress on stderr');
        assert.deepEqual(
          await mismatches(),
          [],
          `after rebuild ${round} of ${name}: checkpoint and table agree`,
        );
      }
      assert.equal(await eventsUpTo(), seeded + 70_000);
      const s = await caughtUp(run);
      assert.deepEqual(
        s.map((x) => [x.name, x.lag_events, x.last_error]),
        [
          ['customer_spending', 0, null],
          ['daily_revenue', 0, null],
        ],
      );
      assert.deepEqual(await mismatches(), [], 'equal to a from-zero replay of every event');
      const left = await pool().query<{ relname: string }>(
        `SELECT relname FROM pg_class WHERE relname ~ '_(rebuild|replaced)' AND relkind = 'r'`,
      );
      assert.deepEqual(left.rows, [], 'no shadow or replaced table left behind');
      const keys = await pool().query<{ indexname: string }>(
        `SELECT indexname FROM pg_indexes WHERE tablename IN ('customer_spending', 'daily_revenue') ORDER BY 1`,
      );
      assert.deepEqual(
        keys.rows.map((r) => r.indexname),
        ['customer_spending_pkey', 'daily_revenue_pkey'],
        'the live tables keep their index names across rebuilds',
      );
      t.diagnostic(`projector stderr: ${run.stderr()}`);
    } finally {
      projector.kill('SIGTERM');
      await run.exit;
    }
  });

  it('a rebuild while an appending transaction is still open stops at it; once it commits nothing is lost', async (t) => {
    const projector = startCli(['projections', 'run', '--batch', '500', '--every', '20'], env);
    const run = watch(projector);
    const holder = await paymentsClient();
    try {
      await holder.query('BEGIN');
      await holder.query(
        `INSERT INTO wallet_events (stream_id, version, type, schema_version, data)
         VALUES ('held-open', 1, 'BalanceUpdated', 2, '{"amountCents": -4242}')`,
      );
      const held = (await holder.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x;
      const before = await eventsUpTo();
      await appendSynthetic(5_000, 500, 'behind-held');
      for (const name of ['customer_spending', 'daily_revenue']) {
        const { result } = await rebuild(name);
        t.diagnostic(`${name} with transaction ${held} open: ${JSON.stringify(result)}`);
        assert.ok(
          BigInt(result.position.split(':')[0]!) < BigInt(held),
          'stopped before the open transaction',
        );
        await assertSaneReport(result, name, before);
        assert.equal(result.events, before, 'every event before the open transaction, none after it');
        assert.deepEqual(await mismatches(), [], `${name}: checkpoint and table agree`);
      }
      await holder.query('COMMIT');
      await caughtUp(run);
      assert.deepEqual(await mismatches(), [], 'equal to a from-zero replay once the transaction committed');
      const heldRow = await pool().query(
        'SELECT charged_cents FROM customer_spending WHERE customer_id = $1',
        ['held-open'],
      );
      assert.deepEqual(heldRow.rows, [{ charged_cents: '4242' }], 'the late event is projected once');
    } finally {
      await holder.end().catch(() => undefined);
      projector.kill('SIGTERM');
      await run.exit;
    }
  });

  it('a second rebuild of a projection while one is swapping is refused; the first then completes', async () => {
    const holder = await paymentsClient();
    try {
      // The checkpoint held by "a projector batch": the first rebuild replays, then waits at its swap.
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM projection_checkpoints WHERE name = 'customer_spending' FOR UPDATE`);
      const first = startCli(['projections', 'rebuild', 'customer_spending', '--json'], {
        ...env,
        SETTLE_DB_LOCK_TIMEOUT_MS: '8000',
      });
      const firstRun = watch(first);
      let stdout = '';
      first.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      const waiting = async (): Promise<boolean> =>
        (
          await pool().query(
            `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%projection_checkpoints%FOR UPDATE%'`,
          )
        ).rowCount === 1;
      while (!(await waiting())) {
        assert.ok(!firstRun.gone(), `the first rebuild exited: ${stdout}\n${firstRun.stderr()}`);
        await delay(10);
      }
      const second = await runCli(['projections', 'rebuild', 'customer_spending', '--json'], env);
      assert.equal(second.code, 1, second.stdout + second.stderr);
      assert.match(second.stdout + second.stderr, /a rebuild of 'customer_spending' is already running/);
      assert.ok(!firstRun.gone(), 'the first rebuild was still waiting when the second was refused');
      await holder.query('COMMIT');
      assert.equal(await firstRun.exit, 0, firstRun.stderr());
      await assertSaneReport(
        json<Rebuilt>({ code: 0, stdout, stderr: '' }),
        'customer_spending',
        await eventsUpTo(),
      );
      assert.deepEqual(await mismatches(), []);
    } finally {
      await holder.end().catch(() => undefined);
    }
  });
});
