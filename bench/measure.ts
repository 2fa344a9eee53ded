// Drives one workload on one rig: a warm-up, then N transactions closed-loop at concurrency C, timing each
// from the start call to its outcome; CPU seconds of the worker(s), the Temporal server and PostgreSQL over
// the measured window; the history size of a sample of the transactions.
import { temporal } from '@temporalio/proto';
import { Histogram } from './histogram';
import { postmasterPid, treeCpuSeconds } from './procstat';
import type { Rig } from './rig';
import type { Workload } from './workloads';

export interface CpuSeconds {
  worker: number;
  /** Extra worker processes (tuning workers-N), summed. */
  extra_workers: number;
  temporal: number;
  postgres: number;
  total: number;
}

export interface Row {
  config: string;
  workload: string;
  n: number;
  concurrency: number;
  ok: number;
  errors: number;
  outcomes: Record<string, number>;
  eager_started: number;
  duration_s: number;
  throughput_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  mean_ms: number;
  max_ms: number;
  cpu_s: CpuSeconds;
  cpu_ms_per_tx: number;
  /** Share of the machine's cores used by the three parts together. */
  cpu_utilisation: number;
  history: { sampled: number; events_per_tx: number; bytes_per_tx: number; events_success: number; events_compensated: number };
  invariants: string[];
  first_error?: string;
  /** This row against the `baseline` workload at the same config and concurrency: >1 = slower. */
  vs_baseline?: { latency_p50: number; throughput: number };
}

export interface MeasureOptions {
  n: number;
  concurrency: number;
  warmup: number;
  historySample: number;
  pgdata: string;
  cores: number;
  progress: (line: string) => void;
}

function cpuNow(rig: Rig, pgdata: string): Omit<CpuSeconds, 'total'> {
  const u = process.cpuUsage();
  const pm = postmasterPid(pgdata);
  return {
    worker: (u.user + u.system) / 1e6,
    extra_workers: rig.extraWorkerPids.reduce((s, p) => s + treeCpuSeconds(p), 0),
    temporal: rig.stack.temporal.server ? treeCpuSeconds(rig.stack.temporal.server.pid) : NaN,
    postgres: pm ? treeCpuSeconds(pm) : NaN,
  };
}

async function closedLoop(
  count: number,
  concurrency: number,
  one: (i: number) => Promise<void>,
  onDone?: (done: number) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await one(i);
      done += 1;
      onDone?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

export async function measure(rig: Rig, w: Workload, tag: string, o: MeasureOptions): Promise<Row> {
  await w.prepare?.(rig, o.n + o.warmup, tag);
  // Warm-up: JIT, connection pools, sticky caches. Same concurrency, not recorded.
  if (o.warmup > 0) {
    await closedLoop(o.warmup, o.concurrency, async (i) => {
      await w.run(rig, `${tag}w`, i).catch(() => undefined);
    });
  }

  const hist = new Histogram();
  const outcomes: Record<string, number> = {};
  const ids: { i: number; workflowId: string; outcome: string }[] = [];
  let errors = 0;
  let eager = 0;
  let firstError: string | undefined;
  const cpu0 = cpuNow(rig, o.pgdata);
  const t0 = performance.now();
  let lastTick = t0;
  await closedLoop(
    o.n,
    o.concurrency,
    async (i) => {
      const s = performance.now();
      try {
        const r = await w.run(rig, tag, i);
        hist.recordMs(performance.now() - s);
        outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
        if (r.eager) eager += 1;
        if (r.outcome !== r.expected) {
          errors += 1;
          firstError ??= `${r.workflowId}: ${r.outcome}, expected ${r.expected}`;
        }
        ids.push({ i, workflowId: r.workflowId, outcome: r.outcome });
      } catch (err) {
        errors += 1;
        outcomes.error = (outcomes.error ?? 0) + 1;
        firstError ??= (err as Error).message;
      }
    },
    (done) => {
      const now = performance.now();
      if (now - lastTick > 1000 || done === o.n) {
        lastTick = now;
        o.progress(`${done}/${o.n} done, ${(done / ((now - t0) / 1000)).toFixed(1)} tx/s`);
      }
    },
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = cpuNow(rig, o.pgdata);
  const cpu = {
    worker: cpu1.worker - cpu0.worker,
    extra_workers: cpu1.extra_workers - cpu0.extra_workers,
    temporal: cpu1.temporal - cpu0.temporal,
    postgres: cpu1.postgres - cpu0.postgres,
  };
  const total = cpu.worker + cpu.extra_workers + cpu.temporal + cpu.postgres;

  const history = await sampleHistories(rig, ids, o.historySample);
  const invariants = (await w.verify?.(rig, tag)) ?? [];
  const ok = o.n - errors;
  const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
  return {
    config: rig.tuning.name,
    workload: w.name,
    n: o.n,
    concurrency: o.concurrency,
    ok,
    errors,
    outcomes,
    eager_started: eager,
    duration_s: round(wall, 3),
    throughput_per_s: round(ok / wall),
    p50_ms: round(hist.percentileMs(50)),
    p95_ms: round(hist.percentileMs(95)),
    p99_ms: round(hist.percentileMs(99)),
    mean_ms: round(hist.meanMs()),
    max_ms: round(hist.maxMs()),
    cpu_s: { worker: round(cpu.worker, 3), extra_workers: round(cpu.extra_workers, 3), temporal: round(cpu.temporal, 3), postgres: round(cpu.postgres, 3), total: round(total, 3) },
    cpu_ms_per_tx: round((total * 1000) / Math.max(1, ok)),
    cpu_utilisation: round(total / (wall * o.cores), 3),
    history,
    invariants,
    ...(firstError ? { first_error: firstError } : {}),
  };
}

/** Events and encoded bytes of a sample of the histories, successes and compensations weighted 9:1 as run. */
async function sampleHistories(rig: Rig, ids: { i: number; workflowId: string; outcome: string }[], sample: number): Promise<Row['history']> {
  const pick = (pred: (o: string) => boolean, k: number): typeof ids => ids.filter((x) => pred(x.outcome)).slice(0, k);
  const failed = (o: string): boolean => o !== 'completed' && o !== 'committed' && o !== 'confirmed';
  const okIds = pick((o) => !failed(o), Math.max(1, Math.ceil(sample * 0.7)));
  const badIds = pick(failed, Math.max(1, Math.floor(sample * 0.3)));
  const measureOne = async (id: string): Promise<{ events: number; bytes: number }> => {
    const h = await rig.client.workflow.getHandle(id).fetchHistory();
    return { events: h.events?.length ?? 0, bytes: temporal.api.history.v1.History.encode(h).finish().length };
  };
  const avg = async (list: typeof ids): Promise<{ events: number; bytes: number } | undefined> => {
    if (!list.length) return undefined;
    const all = await Promise.all(list.map((x) => measureOne(x.workflowId)));
    return { events: all.reduce((s, x) => s + x.events, 0) / all.length, bytes: all.reduce((s, x) => s + x.bytes, 0) / all.length };
  };
  const good = await avg(okIds);
  const bad = await avg(badIds);
  const okShare = ids.length ? ids.filter((x) => !failed(x.outcome)).length / ids.length : 1;
  const mix = (f: (x: { events: number; bytes: number }) => number): number =>
    Math.round((good ? f(good) * (bad ? okShare : 1) : 0) + (bad ? f(bad) * (good ? 1 - okShare : 1) : 0));
  return {
    sampled: okIds.length + badIds.length,
    events_per_tx: mix((x) => x.events),
    bytes_per_tx: mix((x) => x.bytes),
    events_success: Math.round(good?.events ?? 0),
    events_compensated: Math.round(bad?.events ?? 0),
  };
}
