// The worker's Prometheus endpoint: the SDK's runtime metrics (task latencies, slots, polls, activity and
// workflow outcomes), Settle's own counters emitted from workflow code (workflows/metrics.ts), and gauges the
// host computes from visibility (how many transactions need an operator or look stuck right now).
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type Logger, type RuntimeOptions } from '@temporalio/worker';
import { buildListQuery } from '../client/commands/list';
import { METRICS } from '../workflows/metrics';

export const WORKFLOW_METRICS_MODULE = require.resolve('../workflows/metrics');

/** Gauges the host sets from visibility counts. */
export const GAUGES = {
  needsOperator: 'settle_needs_operator_transactions',
  stuck: 'settle_stuck_transactions',
  /** Transactions running now (long-lived service workflows such as the outbox relays left out). */
  running: 'settle_running_transactions',
  /** Outbox events whose delivery attempts ran out, per outbox (workers/outbox-gauges.ts). */
  outboxDeadLetters: 'settle_outbox_dead_letters',
  /** Age in seconds of the oldest unpublished outbox event, per outbox. */
  outboxRelayLag: 'settle_outbox_relay_lag_seconds',
} as const;

/** Millisecond buckets for phase durations: from a fast local saga to an hour-long parked one. */
const PHASE_BUCKETS_MS = [
  10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
];

export function metricsTelemetry(bindAddress: string): NonNullable<RuntimeOptions['telemetryOptions']> {
  return {
    metrics: {
      prometheus: {
        bindAddress,
        histogramBucketOverrides: { [METRICS.phaseDuration]: PHASE_BUCKETS_MS },
      },
      globalTags: { service: 'settle' },
    },
  };
}

let installed: { url?: string; error?: string } | undefined;

/**
 * Install the process-wide Temporal runtime (once: the SDK allows one per process), serving Prometheus metrics on
 * host:port when a port is given. Returns the scrape URL; when the port is taken, the runtime is installed without
 * metrics and `error` says why (metrics must not keep the workers from starting).
 */
export function installRuntime(
  opts: {
    metricsPort?: number;
    metricsHost?: string;
    logger?: Logger;
    shutdownSignals?: NodeJS.Signals[];
  } = {},
): { url?: string; error?: string } {
  if (installed) return installed;
  const host = opts.metricsHost ?? '127.0.0.1';
  const base: RuntimeOptions = {
    logger: opts.logger ?? new DefaultLogger('ERROR'),
    ...(opts.shutdownSignals ? { shutdownSignals: opts.shutdownSignals } : {}),
  };
  if (!opts.metricsPort) {
    Runtime.install(base);
    return (installed = {});
  }
  try {
    Runtime.install({ ...base, telemetryOptions: metricsTelemetry(`${host}:${opts.metricsPort}`) });
    installed = { url: `http://${host}:${opts.metricsPort}/metrics` };
  } catch (err) {
    const msg = (err as Error).message;
    if (!/address already in use|address in use|bind/i.test(msg)) throw err;
    Runtime.install(base);
    installed = {
      error: `metrics disabled: ${host}:${opts.metricsPort} is in use (set SETTLE_METRICS_PORT to a free port)`,
    };
  }
  return installed;
}

export interface TransactionGaugeOptions {
  /** How often to count (default 15s: a scrape interval). */
  intervalMs?: number;
  /** A running transaction older than this counts as stuck (default 5m, as `settle stuck`). */
  stuckAfterMs?: number;
  log?: (msg: string) => void;
}

/**
 * Periodically count, through visibility, the transactions that need an operator, that run longer than
 * stuckAfterMs, and that run at all, and expose them as gauges. Returns a function that stops it.
 */
export function startTransactionGauges(
  client: Client,
  opts: TransactionGaugeOptions = {},
): { refresh(): Promise<void>; stop(): void } {
  const meter = Runtime.instance().metricMeter;
  const needsOperator = meter.createGauge(
    GAUGES.needsOperator,
    'int',
    '1',
    'Settle transactions parked in needs-operator now',
  );
  const stuck = meter.createGauge(
    GAUGES.stuck,
    'int',
    '1',
    'Settle transactions running longer than the stuck threshold',
  );
  const running = meter.createGauge(GAUGES.running, 'int', '1', 'Settle transactions running now');
  const stuckAfter = opts.stuckAfterMs ?? 5 * 60_000;
  let failing = false;
  const refresh = async (): Promise<void> => {
    try {
      const now = Date.now();
      const [parked, old, all] = await Promise.all([
        client.workflow.count(buildListQuery({ runningOnly: true, needsOperator: true })),
        client.workflow.count(
          buildListQuery({ runningOnly: true, transactionsOnly: true, olderThanMs: stuckAfter, now }),
        ),
        client.workflow.count(buildListQuery({ runningOnly: true, transactionsOnly: true })),
      ]);
      needsOperator.set(parked.count);
      stuck.set(old.count);
      running.set(all.count);
      failing = false;
    } catch (err) {
      // Keep the last values; say so once per outage rather than on every tick.
      if (!failing) opts.log?.(`transaction gauges: visibility count failed: ${(err as Error).message}`);
      failing = true;
    }
  };
  const timer = setInterval(() => void refresh(), opts.intervalMs ?? 15_000);
  timer.unref();
  void refresh();
  return { refresh, stop: () => clearInterval(timer) };
}
