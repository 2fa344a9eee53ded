// `npm run bench`: throughput and latency of every transaction pattern on this machine, with the library's
// overhead measured against a hand-written baseline in the same run. Starts its own PostgreSQL and, per
// tuning, its own Temporal dev server and workers on free ports under .data/bench/ (never the user's stack).
//
//   npm run bench                                   # every workload, n=200, 50 in flight
//   npm run bench -- --workload order,engine,baseline --n 500 --concurrency 50 --json
//   npm run bench -- --tuning default,wal+sync-normal,eager --workload engine,baseline
//
// Progress goes to stderr; the table (or --json) to stdout; results to bench/results/<timestamp>.json and .svg.
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres } from '../services/postgres';
import { freePort } from '../services/processes';
import { BENCH_WORKFLOWS_PATH } from './workers';
import { IN_PROCESS_SERVICES_MODULE } from '../workers';
import { WORKFLOW_METRICS_MODULE } from '../workers/metrics';
import { renderChart } from './chart';
import { Measurement, type Row } from './measure';
import { measureMemory, type MemoryResult } from './memory';
import { startRig, type Rig } from './rig';
import { parseTuning, TUNING_HELP, type Tuning } from './tuning';
import { WORKLOADS, type Workload } from './workloads';

const ROOT = resolve(__dirname, '..');

const USAGE = `Usage: npm run bench -- [--workload LIST] [--n N] [--concurrency LIST] [--tuning LIST] [--json]
                        [--warmup N] [--rounds R] [--history-sample N] [--memory M] [--markdown] [--keep]

  --workload LIST      comma list of: ${WORKLOADS.map((w) => w.name).join(', ')}
                       (default: all that exist in this tree, except engine-nosa)
  --n N                measured transactions per workload and concurrency (default 200)
  --concurrency LIST   transactions in flight, comma list (default 50; add 1 for one-at-a-time latency)
  --tuning LIST        configurations to compare, comma list; atoms combine with '+' (default: default)
  --warmup N           unrecorded transactions before each measurement (default min(n, max(10, concurrency / 2)))
  --rounds R           interleave the measurements in R rounds, A B B A ... (default 2)
  --history-sample N   histories fetched per workload for events/bytes per transaction (default 6)
  --memory M           also measure memory per cached workflow with M parked sagas (default 0: off)
  --markdown           print the results as markdown tables (for docs/benchmark.md)
  --json               print one JSON object per (workload, concurrency, tuning), as a JSON array
  --keep               keep the data directory under .data/bench/

Workloads:
${WORKLOADS.map((w) => `  ${w.name.padEnd(12)} ${w.description}`).join('\n')}

${TUNING_HELP}

Examples:
  npm run bench -- --n 200
  npm run bench -- --workload engine,baseline --n 1000 --concurrency 50
  npm run bench -- --workload order --tuning default,la-all,la-create.confirm --concurrency 1,50`;

interface Args {
  workloads: Workload[];
  skipped: { name: string; reason: string }[];
  n: number;
  concurrency: number[];
  tunings: Tuning[];
  warmup?: number;
  rounds: number;
  historySample: number;
  memory: number;
  json: boolean;
  markdown: boolean;
  keep: boolean;
}

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

function positiveInt(name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number >= ${min}, got '${v}'`);
  return n;
}

function parse(): Args {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        workload: { type: 'string' },
        n: { type: 'string' },
        concurrency: { type: 'string' },
        tuning: { type: 'string' },
        warmup: { type: 'string' },
        rounds: { type: 'string' },
        'history-sample': { type: 'string' },
        memory: { type: 'string' },
        json: { type: 'boolean', default: false },
        markdown: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const names = values.workload
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const skipped: Args['skipped'] = [];
  let workloads: Workload[];
  if (names) {
    workloads = names.map((n) => WORKLOADS.find((w) => w.name === n) ?? fail(`unknown workload '${n}'`));
    for (const w of workloads) {
      const why = w.unavailable?.();
      if (why) fail(`workload ${w.name} cannot run: ${why}`);
    }
  } else {
    workloads = WORKLOADS.filter((w) => {
      if (w.optional) return false;
      const why = w.unavailable?.();
      if (why) skipped.push({ name: w.name, reason: why });
      return !why;
    });
  }
  let tunings: Tuning[];
  try {
    tunings = (values.tuning ?? 'default').split(',').map((s) => parseTuning(s.trim()));
  } catch (err) {
    fail((err as Error).message);
  }
  const concurrency = (values.concurrency ?? '50')
    .split(',')
    .map((c) => positiveInt('concurrency', c.trim(), 1));
  return {
    workloads,
    skipped,
    n: positiveInt('n', values.n, 200),
    concurrency,
    tunings,
    warmup: values.warmup === undefined ? undefined : positiveInt('warmup', values.warmup, 0, 0),
    rounds: positiveInt('rounds', values.rounds, 2),
    historySample: positiveInt('history-sample', values['history-sample'], 6, 0),
    memory: positiveInt('memory', values.memory, 0, 0),
    json: values.json,
    markdown: values.markdown,
    keep: values.keep,
  };
}

// ---------------------------------------------------------------------------------------------- ratios
interface Ratio {
  config: string;
  concurrency: number;
  name: string;
  /** p50 and p95 of the first over the second: > 1 = slower. */
  latency_p50: number;
  latency_p95: number;
  /** Throughput of the second over the first: > 1 = slower. */
  throughput: number;
  /** CPU seconds per transaction (worker + Temporal + PostgreSQL) of the first over the second: > 1 = costlier.
   *  The steadiest of the three on a shared machine: other processes' load barely changes our own CPU time. */
  cpu_per_tx: number;
}

const r2 = (x: number): number => Math.round(x * 1000) / 1000;

function ratios(rows: Row[]): Ratio[] {
  const out: Ratio[] = [];
  const find = (cfg: string, c: number, w: string): Row | undefined =>
    rows.find((r) => r.config === cfg && r.concurrency === c && r.workload === w);
  for (const r of rows) {
    const against =
      r.workload === 'order' ? 'engine' : r.workload.startsWith('engine') ? 'baseline' : undefined;
    if (!against) continue;
    const other = find(r.config, r.concurrency, against);
    if (!other) continue;
    out.push({
      config: r.config,
      concurrency: r.concurrency,
      name: `${r.workload}/${other.workload}`,
      latency_p50: r2(r.p50_ms / other.p50_ms),
      latency_p95: r2(r.p95_ms / other.p95_ms),
      throughput: r2(other.throughput_per_s / r.throughput_per_s),
      cpu_per_tx: r2(r.cpu_ms_per_tx / other.cpu_ms_per_tx),
    });
  }
  for (const r of rows) {
    const base = find(r.config, r.concurrency, 'baseline');
    if (base && r !== base)
      r.vs_baseline = {
        latency_p50: r2(r.p50_ms / base.p50_ms),
        throughput: r2(base.throughput_per_s / r.throughput_per_s),
      };
  }
  return out;
}

interface TuningDelta {
  change: string;
  before: string;
  workload: string;
  concurrency: number;
  before_tps: number;
  after_tps: number;
  tps_ratio: number;
  before_p50_ms: number;
  after_p50_ms: number;
  p50_ratio: number;
  before_cpu_ms_per_tx: number;
  after_cpu_ms_per_tx: number;
  cpu_ratio: number;
}

function tuningDeltas(rows: Row[], tunings: Tuning[]): TuningDelta[] {
  const first = tunings[0]!.name;
  const out: TuningDelta[] = [];
  for (const t of tunings.slice(1)) {
    for (const a of rows.filter((r) => r.config === t.name)) {
      const b = rows.find(
        (r) => r.config === first && r.workload === a.workload && r.concurrency === a.concurrency,
      );
      if (!b) continue;
      out.push({
        change: t.name,
        before: first,
        workload: a.workload,
        concurrency: a.concurrency,
        before_tps: b.throughput_per_s,
        after_tps: a.throughput_per_s,
        tps_ratio: r2(a.throughput_per_s / b.throughput_per_s),
        before_p50_ms: b.p50_ms,
        after_p50_ms: a.p50_ms,
        p50_ratio: r2(a.p50_ms / b.p50_ms),
        before_cpu_ms_per_tx: b.cpu_ms_per_tx,
        after_cpu_ms_per_tx: a.cpu_ms_per_tx,
        cpu_ratio: r2(a.cpu_ms_per_tx / b.cpu_ms_per_tx),
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- output
function table(rows: Row[]): string {
  const head = [
    'config',
    'workload',
    'c',
    'n',
    'tx/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'err',
    'cpu s wrk/tmp/pg',
    'cpu ms/tx',
    'ev/tx',
    'B/tx',
    'vs base lat/tput',
  ];
  const body = rows.map((r) => [
    r.config,
    r.workload,
    String(r.concurrency),
    String(r.n),
    r.throughput_per_s.toFixed(1),
    r.p50_ms.toFixed(1),
    r.p95_ms.toFixed(1),
    r.p99_ms.toFixed(1),
    String(r.errors),
    `${(r.cpu_s.worker + r.cpu_s.extra_workers).toFixed(1)}/${r.cpu_s.temporal.toFixed(1)}/${r.cpu_s.postgres.toFixed(1)}`,
    r.cpu_ms_per_tx.toFixed(1),
    String(r.history.events_per_tx),
    String(r.history.bytes_per_tx),
    r.vs_baseline ? `${r.vs_baseline.latency_p50.toFixed(2)}x/${r.vs_baseline.throughput.toFixed(2)}x` : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Where each transaction's time went, from the sampled histories (ms per transaction). */
function splitTable(rows: Row[]): string {
  const head = [
    'config',
    'workload',
    'c',
    'p50 ms',
    'in server',
    'wft wait',
    'wft run',
    'act wait',
    'act run',
    'client+rest',
  ];
  const body = rows.map((r) => {
    const t = r.history.time_ms;
    return [
      r.config,
      r.workload,
      String(r.concurrency),
      r.p50_ms.toFixed(1),
      t.server_total.toFixed(1),
      t.wft_dispatch.toFixed(1),
      t.wft_run.toFixed(1),
      t.act_dispatch.toFixed(1),
      t.act_run.toFixed(1),
      Math.max(0, r.mean_ms - t.server_total).toFixed(1),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The same results as markdown tables, for docs/benchmark.md. */
function markdown(rows: Row[], rat: Ratio[], deltas: TuningDelta[], memory: MemoryResult[]): string {
  const out: string[] = [];
  out.push(
    '| config | workload | c | n | tx/s | p50 ms | p95 ms | p99 ms | errors | CPU s worker/Temporal/PG | CPU ms/tx | events/tx | bytes/tx |',
  );
  out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|');
  for (const r of rows)
    out.push(
      `| ${r.config} | ${r.workload} | ${r.concurrency} | ${r.n} | ${r.throughput_per_s.toFixed(1)} | ${r.p50_ms.toFixed(1)} | ${r.p95_ms.toFixed(1)} | ${r.p99_ms.toFixed(1)} | ${r.errors} | ` +
        `${(r.cpu_s.worker + r.cpu_s.extra_workers).toFixed(1)} / ${r.cpu_s.temporal.toFixed(1)} / ${r.cpu_s.postgres.toFixed(1)} | ${r.cpu_ms_per_tx.toFixed(1)} | ${r.history.events_per_tx} | ${r.history.bytes_per_tx} |`,
    );
  if (rat.length) {
    out.push(
      '',
      '| ratio | config | c | latency p50 | latency p95 | throughput | CPU/tx |',
      '|---|---|--:|--:|--:|--:|--:|',
    );
    for (const r of rat)
      out.push(
        `| ${r.name} | ${r.config} | ${r.concurrency} | ${r.latency_p50.toFixed(2)}x | ${r.latency_p95.toFixed(2)}x | ${r.throughput.toFixed(2)}x | ${r.cpu_per_tx.toFixed(2)}x |`,
      );
  }
  if (deltas.length) {
    out.push(
      '',
      '| change | workload | c | tx/s before -> after | p50 ms before -> after | CPU ms/tx before -> after |',
      '|---|---|--:|---|---|---|',
    );
    for (const d of deltas)
      out.push(
        `| ${d.change} (vs ${d.before}) | ${d.workload} | ${d.concurrency} | ${d.before_tps} -> ${d.after_tps} (${d.tps_ratio}x) | ${d.before_p50_ms} -> ${d.after_p50_ms} (${d.p50_ratio}x) | ${d.before_cpu_ms_per_tx} -> ${d.after_cpu_ms_per_tx} (${d.cpu_ratio}x) |`,
      );
  }
  for (const m of memory)
    out.push(
      '',
      `Memory per cached workflow (${m.config}, ${m.workflows} parked sagas): ${m.heap_bytes_per_workflow} B JS heap, ${m.rss_bytes_per_workflow} B RSS.`,
    );
  return out.join('\n');
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('Z', '');
}

// ---------------------------------------------------------------------------------------------- main
async function main(): Promise<void> {
  const args = parse();
  const say = (m: string): void => void process.stderr.write(`[bench] ${m}\n`);
  const progress = (m: string): void => {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K[bench] ${m}`);
    else say(m);
  };
  const endProgress = (): void => void (process.stderr.isTTY && process.stderr.write('\n'));
  for (const s of args.skipped) say(`skipping ${s.name}: ${s.reason}`);
  const load0 = loadavg();
  say(`load average ${load0.map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores`);

  // Core's own log lines go through the (stderr) logger too: stdout carries only the report (--json).
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  const ts = stamp();
  const dataRoot = join(ROOT, '.data', 'bench', ts);
  mkdirSync(dataRoot, { recursive: true });
  const started = Date.now();

  say('starting PostgreSQL (embedded, free port) and bundling the workflows');
  // One bundle per deployment in the run: the all-in-one one also declares the services hosted in-process.
  const deployments = [...new Set(args.tunings.map((t) => t.inProcess))];
  const [pg, ...built] = await Promise.all([
    (async () =>
      startEmbeddedPostgres({
        dataDir: join(dataRoot, 'postgres'),
        port: await freePort(),
        maxConnections: 600,
        maxPreparedTransactions: 1000,
      }))(),
    // As the production worker runs it (with Settle's workflow metrics interceptor, workers/index.ts), plus the
    // bench-only workflows (bench/workflows.ts), which production workers do not register.
    ...deployments.map((inProcess) =>
      bundleWorkflowCode({
        workflowsPath: BENCH_WORKFLOWS_PATH,
        workflowInterceptorModules: [
          WORKFLOW_METRICS_MODULE,
          ...(inProcess ? [IN_PROCESS_SERVICES_MODULE] : []),
        ],
        logger: new DefaultLogger('ERROR'),
      }),
    ),
  ]);
  const bundles = new Map(
    deployments.map((inProcess, i) => {
      const path = join(dataRoot, `workflow-bundle-${inProcess ? 'in-process' : 'remote'}.js`);
      writeFileSync(path, built[i]!.code);
      return [inProcess, { code: built[i]!.code, path }] as const;
    }),
  );
  const pgdata = pg.pgdata ?? join(dataRoot, 'postgres', 'pgdata');

  const rigs: Rig[] = [];
  let interrupted = false;
  const cleanup = async (): Promise<void> => {
    for (const r of rigs.splice(0)) await r.stop().catch((e: Error) => say(`stop: ${e.message}`));
    await pg.stop().catch(() => undefined);
    if (!args.keep) rmSync(dataRoot, { recursive: true, force: true });
    if (!args.keep && pg.clusterDir) rmSync(pg.clusterDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    interrupted = true;
    say('interrupted: stopping');
    void cleanup().finally(() => process.exit(130));
  });

  const rows: Row[] = [];
  const memory: MemoryResult[] = [];
  try {
    // Every configuration gets its own Temporal server and databases, all started up front: an idle dev
    // server and idle workers cost next to nothing, and it lets the phases of every (config, workload) pair
    // interleave, so background load on this shared machine falls on all of them alike.
    for (const [ti, tuning] of args.tunings.entries()) {
      say(`starting config ${ti + 1}/${args.tunings.length}: ${tuning.name}`);
      rigs.push(
        await startRig({
          tuning,
          index: ti,
          dataRoot,
          databaseUrl: pg.url,
          bundle: { code: bundles.get(tuning.inProcess)!.code },
          bundlePath: bundles.get(tuning.inProcess)!.path,
          log: say,
        }),
      );
    }
    for (const c of args.concurrency) {
      const runs = rigs.flatMap((rig, ti) =>
        args.workloads.map((w) => {
          const tag = `b${ts.slice(11, 19).replace(/-/g, '')}${ti}${w.name.replace(/[^a-z0-9]/g, '')}c${c}`;
          const label = `${rig.tuning.name} ${w.name} c=${c}`;
          const m = new Measurement(rig, w, tag, {
            n: args.n,
            concurrency: c,
            warmup: args.warmup ?? Math.min(args.n, Math.max(10, Math.ceil(c / 2))),
            historySample: args.historySample,
            pgdata,
            cores: cpus().length,
            progress: (msg) => progress(`${label}: ${msg}`),
          });
          return { m, label };
        }),
      );
      for (const r of runs) {
        if (interrupted) return;
        progress(`${r.label}: seeding and warming up`);
        await r.m.setup();
      }
      endProgress();
      // Rounds in A B C, C B A, ... order; each round runs its share of n for every pair.
      for (let round = 0; round < args.rounds; round++) {
        const share = Math.floor(args.n / args.rounds) + (round < args.n % args.rounds ? 1 : 0);
        for (const r of round % 2 === 0 ? runs : [...runs].reverse()) {
          if (interrupted) return;
          await r.m.phase(share);
          endProgress();
        }
      }
      for (const r of runs) {
        const row = await r.m.finish();
        say(
          `${r.label}: ${row.throughput_per_s} tx/s, p50 ${row.p50_ms} ms, p95 ${row.p95_ms} ms, p99 ${row.p99_ms} ms` +
            (row.errors ? `, ${row.errors} ERRORS (${row.first_error})` : '') +
            (row.invariants.length ? `, INVARIANTS: ${row.invariants.join('; ')}` : ''),
        );
        rows.push(row);
      }
    }
    if (args.memory > 0) {
      for (const rig of rigs) {
        const m = await measureMemory(
          rig,
          { code: bundles.get(rig.tuning.inProcess)!.code },
          args.memory,
          `${rig.tuning.name.replace(/[^a-z0-9]/gi, '')}`,
          progress,
        );
        endProgress();
        say(
          `memory (${rig.tuning.name}): ${m.heap_bytes_per_workflow} B heap, ${m.rss_bytes_per_workflow} B RSS per cached workflow (${m.cached} cached)`,
        );
        memory.push(m);
      }
    }
  } finally {
    await cleanup();
  }

  const rat = ratios(rows);
  const deltas = tuningDeltas(rows, args.tunings);
  const load1 = loadavg();
  const doc = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, load_before: load0, load_after: load1 },
    node: process.version,
    args: {
      workloads: args.workloads.map((w) => w.name),
      n: args.n,
      concurrency: args.concurrency,
      tunings: args.tunings.map((t) => t.name),
    },
    skipped: args.skipped,
    wall_s: Math.round((Date.now() - started) / 100) / 10,
    results: rows,
    ratios: rat,
    tuning: deltas,
    memory,
  };
  const outDir = join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, `${ts}.json`);
  const svgPath = join(outDir, `${ts}.svg`);
  writeFileSync(jsonPath, JSON.stringify(doc, null, 2) + '\n');
  const md = markdown(rows, rat, deltas, memory);
  writeFileSync(
    join(outDir, `${ts}.md`),
    `Bench ${doc.date}, load ${load0.map((l) => l.toFixed(2)).join(' ')} -> ${load1.map((l) => l.toFixed(2)).join(' ')}\n\n${md}\n`,
  );
  const notes = [
    ...rat.map(
      (r) =>
        `${r.name} (${r.config}, c=${r.concurrency}): latency p50 ${r.latency_p50}x, p95 ${r.latency_p95}x, throughput ${r.throughput}x, CPU/tx ${r.cpu_per_tx}x (1.00 = equal; higher = costlier)`,
    ),
    ...memory.map(
      (m) =>
        `memory per cached workflow (${m.config}): ${(m.heap_bytes_per_workflow / 1024).toFixed(1)} KiB heap, ${(m.rss_bytes_per_workflow / 1024).toFixed(1)} KiB RSS`,
    ),
    `load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}; ${cpus().length} cores; ${doc.wall_s}s wall`,
  ];
  writeFileSync(
    svgPath,
    renderChart(rows, `Settle bench ${doc.date.slice(0, 16).replace('T', ' ')} UTC, n=${args.n}`, notes),
  );

  if (args.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  } else if (args.markdown) {
    process.stdout.write(md + '\n');
  } else {
    process.stdout.write(`${table(rows)}\n\n`);
    process.stdout.write(
      `Where the time goes (ms per transaction, from ${args.historySample} sampled histories each):\n${splitTable(rows)}\n\n`,
    );
    for (const r of rat) {
      const target =
        r.name === 'engine/baseline'
          ? Math.max(r.latency_p50, r.throughput, r.cpu_per_tx) <= 1.05
            ? '  (target <= 1.05: met)'
            : '  (target <= 1.05: not met)'
          : '';
      process.stdout.write(
        `${r.name.padEnd(20)} ${r.config} c=${r.concurrency}: latency p50 ${r.latency_p50.toFixed(2)}x, p95 ${r.latency_p95.toFixed(2)}x, throughput ${r.throughput.toFixed(2)}x, CPU/tx ${r.cpu_per_tx.toFixed(2)}x${target}\n`,
      );
    }
    for (const d of deltas) {
      process.stdout.write(
        `tuning ${d.change} vs ${d.before}, ${d.workload} c=${d.concurrency}: ${d.before_tps} -> ${d.after_tps} tx/s (${d.tps_ratio}x), p50 ${d.before_p50_ms} -> ${d.after_p50_ms} ms (${d.p50_ratio}x), CPU/tx ${d.before_cpu_ms_per_tx} -> ${d.after_cpu_ms_per_tx} ms (${d.cpu_ratio}x)\n`,
      );
    }
    for (const m of memory) {
      process.stdout.write(
        `memory per cached workflow (${m.config}, ${m.workflows} parked): ${m.heap_bytes_per_workflow} B heap, ${m.rss_bytes_per_workflow} B RSS\n`,
      );
    }
    for (const s of args.skipped) process.stdout.write(`skipped ${s.name}: ${s.reason}\n`);
  }
  say(`results: ${relative(ROOT, jsonPath)} (+ .md), chart: ${relative(ROOT, svgPath)} (${doc.wall_s}s)`);
  const bad = rows.filter((r) => r.errors > 0 || r.invariants.length > 0);
  if (bad.length) {
    say(`${bad.length} measurement(s) had errors or invariant violations`);
    process.exitCode = 1;
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
