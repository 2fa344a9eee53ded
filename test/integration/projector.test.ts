// The background projector and the projection rebuild on a real PostgreSQL. A `settle projections run` process is
// SIGKILLed mid-projection: at that instant every read model equals a replay of the events up to its checkpoint
// (the batch in flight is rolled back with it), and after a restart it equals a from-zero replay of every event
// (nothing applied twice, nothing skipped).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startTestDatabases, type TestDatabases } from '../helpers/db';
import { cliEnv, json, runCli, startCli } from '../e2e/run-cli';

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
});
