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
  history: {
    sampled: number;
    events_per_tx: number;
    bytes_per_tx: number;
    events_success: number;
    events_compensated: number;
    /** Where a transaction's time goes, from history timestamps (ms per transaction, summed over its tasks). */
    time_ms: TimeSplit;
  };
  invariants: string[];
  first_error?: string;
  /** This row against the `baseline` workload at the same config and concurrency: >1 = slower. */
  vs_baseline?: { latency_p50: number; throughput: number };
}

export interface TimeSplit {
  /** Workflow task scheduled -> picked up by a worker (server queueing + dispatch). */
  wft_dispatch: number;
  /** Workflow task started -> completed (the worker running workflow code, local activities included). */
  wft_run: number;
  /** Activity scheduled -> started. */
  act_dispatch: number;
  /** Activity started -> completed (the activity body, e.g. a database transaction). */
  act_run: number;
  /** First to last history event. */
  server_total: number;
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

/**
 * One workload's measurement on one rig at one concurrency, in one or more phases: the bench interleaves the
 * phases of the workloads it compares (A B B A ...), so slow drift in the machine's background load falls on
 * all of them alike instead of on whichever ran last.
 */
export class Measurement {
  private readonly hist = new Histogram();
  private readonly outcomes: Record<string, number> = {};
  private readonly ids: { i: number; workflowId: string; outcome: string }[] = [];
  private errors = 0;
  private eager = 0;
  private firstError: string | undefined;
  private next = 0;
  private wall = 0;
  private readonly cpu = { worker: 0, extra_workers: 0, temporal: 0, postgres: 0 };

  constructor(
    private readonly rig: Rig,
    private readonly w: Workload,
    private readonly tag: string,
    private readonly o: MeasureOptions,
  ) {}

  /** Seed data, then warm up (JIT, connection pools, sticky caches) at the same concurrency, not recorded. */
  async setup(): Promise<void> {
    await this.w.prepare?.(this.rig, this.o.n + this.o.warmup, this.tag);
    if (this.o.warmup > 0) {
      await closedLoop(this.o.warmup, this.o.concurrency, async (i) => {
        await this.w.run(this.rig, `${this.tag}w`, i).catch(() => undefined);
      });
    }
  }

  /** Run `count` more measured transactions, closed-loop at the concurrency. */
  async phase(count: number): Promise<void> {
    const { rig, w, tag, o } = this;
    const first = this.next;
    this.next += count;
    const cpu0 = cpuNow(rig, o.pgdata);
    const t0 = performance.now();
    let lastTick = t0;
    await closedLoop(
      count,
      o.concurrency,
      async (k) => {
        const i = first + k;
        const s = performance.now();
        try {
          const r = await w.run(rig, tag, i);
          this.hist.recordMs(performance.now() - s);
          this.outcomes[r.outcome] = (this.outcomes[r.outcome] ?? 0) + 1;
          if (r.eager) this.eager += 1;
          if (r.outcome !== r.expected) {
            this.errors += 1;
            this.firstError ??= `${r.workflowId}: ${r.outcome}, expected ${r.expected}`;
          }
          this.ids.push({ i, workflowId: r.workflowId, outcome: r.outcome });
        } catch (err) {
          this.errors += 1;
          this.outcomes.error = (this.outcomes.error ?? 0) + 1;
          this.firstError ??= (err as Error).message;
        }
      },
      (done) => {
        const now = performance.now();
        if (now - lastTick > 1000 || done === count) {
          lastTick = now;
          o.progress(`${first + done}/${o.n} done, ${(done / ((now - t0) / 1000)).toFixed(1)} tx/s`);
        }
      },
    );
    this.wall += (performance.now() - t0) / 1000;
    const cpu1 = cpuNow(rig, o.pgdata);
    for (const k of Object.keys(this.cpu) as (keyof typeof this.cpu)[]) this.cpu[k] += cpu1[k] - cpu0[k];
  }

  get done(): number {
    return this.next;
  }

  async finish(): Promise<Row> {
    const { rig, w, tag, o, hist, outcomes, ids, errors, eager, firstError, wall, cpu } = this;
    const total = cpu.worker + cpu.extra_workers + cpu.temporal + cpu.postgres;
    const history = await sampleHistories(rig, ids, o.historySample);
    const invariants = (await w.verify?.(rig, tag)) ?? [];
    const ok = this.next - errors;
    const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
    return {
      config: rig.tuning.name,
      workload: w.name,
      n: this.next,
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
      cpu_s: {
        worker: round(cpu.worker, 3),
        extra_workers: round(cpu.extra_workers, 3),
        temporal: round(cpu.temporal, 3),
        postgres: round(cpu.postgres, 3),
        total: round(total, 3),
      },
      cpu_ms_per_tx: round((total * 1000) / Math.max(1, ok)),
      cpu_utilisation: round(total / (wall * o.cores), 3),
      history,
      invariants,
      ...(firstError ? { first_error: firstError } : {}),
    };
  }
}

/** Events and encoded bytes of a sample of the histories, successes and compensations weighted 9:1 as run. */
async function sampleHistories(
  rig: Rig,
  ids: { i: number; workflowId: string; outcome: string }[],
  sample: number,
): Promise<Row['history']> {
  const pick = (pred: (o: string) => boolean, k: number): typeof ids =>
    ids.filter((x) => pred(x.outcome)).slice(0, k);
  const failed = (o: string): boolean => o !== 'completed' && o !== 'committed' && o !== 'confirmed';
  const okIds = pick((o) => !failed(o), Math.max(1, Math.ceil(sample * 0.7)));
  const badIds = pick(failed, Math.max(1, Math.floor(sample * 0.3)));
  type Sample = { events: number; bytes: number; split: TimeSplit };
  const measureOne = async (id: string): Promise<Sample> => {
    const h = await rig.client.workflow.getHandle(id).fetchHistory();
    return {
      events: h.events?.length ?? 0,
      bytes: temporal.api.history.v1.History.encode(h).finish().length,
      split: timeSplit(h),
    };
  };
  const avg = async (list: typeof ids): Promise<Sample | undefined> => {
    if (!list.length) return undefined;
    const all = await Promise.all(list.map((x) => measureOne(x.workflowId)));
    const mean = (f: (x: Sample) => number): number => all.reduce((s, x) => s + f(x), 0) / all.length;
    const split = Object.fromEntries(
      (Object.keys(all[0]!.split) as (keyof TimeSplit)[]).map((k) => [k, mean((x) => x.split[k])]),
    ) as unknown as TimeSplit;
    return { events: mean((x) => x.events), bytes: mean((x) => x.bytes), split };
  };
  const good = await avg(okIds);
  const bad = await avg(badIds);
  const okShare = ids.length ? ids.filter((x) => !failed(x.outcome)).length / ids.length : 1;
  const mix = (f: (x: Sample) => number): number =>
    Math.round((good ? f(good) * (bad ? okShare : 1) : 0) + (bad ? f(bad) * (good ? 1 - okShare : 1) : 0));
  return {
    sampled: okIds.length + badIds.length,
    events_per_tx: mix((x) => x.events),
    bytes_per_tx: mix((x) => x.bytes),
    events_success: Math.round(good?.events ?? 0),
    events_compensated: Math.round(bad?.events ?? 0),
    time_ms: {
      wft_dispatch: mix((x) => x.split.wft_dispatch),
      wft_run: mix((x) => x.split.wft_run),
      act_dispatch: mix((x) => x.split.act_dispatch),
      act_run: mix((x) => x.split.act_run),
      server_total: mix((x) => x.split.server_total),
    },
  };
}

const EV = temporal.api.enums.v1.EventType;

/** Split one history's duration by where it was spent, from its event timestamps. */
export function timeSplit(h: temporal.api.history.v1.IHistory): TimeSplit {
  const ms = (e: temporal.api.history.v1.IHistoryEvent): number =>
    Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const at = new Map<number, number>();
  const split: TimeSplit = { wft_dispatch: 0, wft_run: 0, act_dispatch: 0, act_run: 0, server_total: 0 };
  const events = h.events ?? [];
  for (const e of events) {
    const t = ms(e);
    at.set(Number(e.eventId), t);
    switch (e.eventType) {
      case EV.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        split.wft_dispatch +=
          t - (at.get(Number(e.workflowTaskStartedEventAttributes?.scheduledEventId)) ?? t);
        break;
      case EV.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        split.wft_run += t - (at.get(Number(e.workflowTaskCompletedEventAttributes?.startedEventId)) ?? t);
        break;
      case EV.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        split.act_dispatch +=
          t - (at.get(Number(e.activityTaskStartedEventAttributes?.scheduledEventId)) ?? t);
        break;
      case EV.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        split.act_run += t - (at.get(Number(e.activityTaskCompletedEventAttributes?.startedEventId)) ?? t);
        break;
      case EV.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        split.act_run += t - (at.get(Number(e.activityTaskFailedEventAttributes?.startedEventId)) ?? t);
        break;
    }
  }
  if (events.length) split.server_total = ms(events[events.length - 1]!) - ms(events[0]!);
  return split;
}
