// `npm run compare` end to end on a tiny run: its own stack, a real worker process SIGKILLed mid-run per model,
// the --json shape `settle compare` prints. No timing is asserted; what can fail is: a strong model losing or
// duplicating money across a worker crash, a durable model not converging, and the counts disagreeing with
// the reader that summed both databases independently once everything quiesced.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(__dirname, '..', '..');
const KEYS = [
  'model',
  'concurrency',
  'throughput_per_s',
  'p50_ms',
  'p99_ms',
  'intermediate_reads',
  'convergence_p50_ms',
  'convergence_p99_ms',
  'lost',
  'duplicated',
];

test(
  'npm run compare --json measures every model, with a worker SIGKILL run each',
  { timeout: 600_000 },
  () => {
    const run = spawnSync(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['bench/compare.ts', '--transfers', '4', '--concurrency', '2', '--json'],
      { cwd: ROOT, encoding: 'utf8', timeout: 580_000 },
    );
    assert.equal(run.status, 0, `compare exited ${run.status}\n${run.stderr.slice(-3000)}`);
    const rows = JSON.parse(run.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      rows.map((r) => `${String(r.model)}${r.killed ? '/kill' : ''}`),
      [
        '2pc',
        '2pc/kill',
        'tcc',
        'tcc/kill',
        'saga',
        'saga/kill',
        'choreography',
        'choreography/kill',
        'weak',
        'weak/kill',
      ],
    );
    for (const r of rows) {
      const name = `${String(r.model)}${r.killed ? ' (SIGKILL)' : ''}`;
      for (const k of KEYS) assert.ok(k in r, `${name}: ${k} in the JSON row`);
      assert.equal(r.concurrency, 2);
      assert.ok((r.reads as number) > 0, `${name}: the reader sampled`);
      // The counts come from the per-pair balances; the reader's sum is a second, independent look at the same money.
      assert.equal(
        r.consistent_after_quiesce,
        r.lost === 0 && r.duplicated === 0,
        `${name}: the quiesced reader agrees with lost=${String(r.lost)} duplicated=${String(r.duplicated)}`,
      );
      const eventual = ['saga', 'choreography', 'weak'].includes(r.model as string);
      if (eventual) {
        // Weak may lose every credit of its kill run; otherwise some credit landed and its lag was measured.
        if ((r.lost as number) < 4)
          assert.equal(typeof r.convergence_p50_ms, 'number', `${name}: convergence`);
      } else {
        assert.equal(r.convergence_p50_ms, null, `${name}: no convergence lag for a strong model`);
      }
      if (r.model !== 'weak') {
        // Durable models: a crash delays them, never loses or repeats a transfer, and every transfer moved.
        assert.equal(r.lost, 0, `${name}: nothing lost`);
        assert.equal(r.duplicated, 0, `${name}: nothing duplicated`);
        assert.equal(r.not_moved, 0, `${name}: every transfer moved`);
        assert.equal(r.consistent_after_quiesce, true, `${name}: money conserved once quiesced`);
      } else {
        assert.equal(r.duplicated, 0, 'weak never retries, so never credits twice');
        assert.ok(Number.isInteger(r.lost) && (r.lost as number) >= 0 && (r.lost as number) <= 4);
      }
    }
  },
);
