// The benchmark harness end to end on a tiny run: its own stack, real workers, the --json shape reviewer
// scripts read, a results file and a chart. Numbers are not asserted (a benchmark is not a test), only that
// every transaction ended as expected and the report is complete.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(__dirname, '..', '..');

test(
  'npm run bench --json runs the workloads on its own stack and reports every field',
  { timeout: 300_000 },
  () => {
    const run = spawnSync(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      [
        'bench/run.ts',
        '--workload',
        'engine,baseline',
        '--n',
        '6',
        '--concurrency',
        '3',
        '--rounds',
        '2',
        '--history-sample',
        '2',
        '--json',
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 280_000 },
    );
    assert.equal(run.status, 0, `bench exited ${run.status}\n${run.stderr.slice(-3000)}`);
    const rows = JSON.parse(run.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      rows.map((r) => r.workload),
      ['engine', 'baseline'],
    );
    for (const r of rows) {
      for (const k of [
        'workload',
        'n',
        'concurrency',
        'throughput_per_s',
        'p50_ms',
        'p95_ms',
        'p99_ms',
        'cpu_ms_per_tx',
        'config',
      ])
        assert.ok(k in r, `${k} in the JSON row`);
      assert.equal(r.n, 6);
      assert.equal(r.concurrency, 3);
      assert.equal(r.errors, 0, `no transaction ended unexpectedly (${String(r.first_error)})`);
      // Every tenth fails and compensates: transaction 9 is not among 0..5, so all six complete.
      assert.deepEqual(r.outcomes, { completed: 6 });
      assert.ok((r.throughput_per_s as number) > 0);
      assert.ok((r.p50_ms as number) <= (r.p95_ms as number) && (r.p95_ms as number) <= (r.p99_ms as number));
      const history = r.history as { events_per_tx: number; bytes_per_tx: number };
      // At least started, one workflow task (3 events) and completed: with local steps (the default) the whole
      // saga can be that one task plus its markers.
      assert.ok(history.events_per_tx >= 5 && history.bytes_per_tx > 1000, 'histories were sampled');
      const cpu = r.cpu_s as { temporal: number; postgres: number; worker: number };
      assert.ok(cpu.temporal > 0 && cpu.worker > 0, 'CPU of the Temporal server and the worker was measured');
    }
    // The library's own cost is reported against the baseline of the same run.
    assert.match(run.stderr, /results: bench\/results\/.+\.json/);
    const file = /results: (bench\/results\/\S+\.json)/.exec(run.stderr)![1]!;
    const doc = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { ratios: { name: string }[] };
    assert.deepEqual(
      doc.ratios.map((x) => x.name),
      ['engine/baseline'],
    );
    assert.ok(existsSync(join(ROOT, file.replace(/\.json$/, '.svg'))), 'the chart was drawn');
  },
);
