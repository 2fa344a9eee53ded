// `settle worker` / `npm run worker --`: one process serving the named task queues against any Temporal cluster
// (the standard client environment through envconfig) and each service's own database. Run as many replicas as
// needed; SIGTERM (or Ctrl-C) drains: polling stops, in-flight tasks finish (up to --drain-timeout), then it exits 0.
import { NativeConnection, DefaultLogger } from '@temporalio/worker';
import { temporalConfig } from '../client/config';
import { closePools } from '../services/db';
import { encryptionDataConverter } from '../services/codec';
import { setupTracing } from '../services/tracing';
import { TASK_QUEUES } from '../shared';
import { codecFromEnv } from './host';
import { createWorkers, shutdownWorkers } from './index';
import { installRuntime } from './metrics';
import { startProjector } from '../services/projector';
import { ensureRelays } from './relays';
import { parseWorkerArgs, poolsForQueues, WORKER_USAGE, WorkerUsageError } from './worker-options';

const say = (m: string): void => void process.stderr.write(`[settle worker] ${m}\n`);

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseWorkerArgs(argv);
  } catch (err) {
    if (!(err instanceof WorkerUsageError)) throw err;
    process.stderr.write(`settle worker: ${err.message}\n\n${WORKER_USAGE}`);
    return 2;
  }
  if (opts.help) return (process.stdout.write(WORKER_USAGE), 0);
  const pools = poolsForQueues(opts.queues);
  // OTLP tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set (createWorkers adds the interceptors and the sink).
  const traced = setupTracing({ serviceName: `settle-worker-${opts.queues.join('-')}` });
  const codec = codecFromEnv();
  const metrics = installRuntime({
    metricsPort: opts.metricsPort,
    metricsHost: opts.metricsHost,
    logger: new DefaultLogger('WARN'),
    shutdownSignals: [],
  });
  if (metrics.error) say(metrics.error);
  const temporal = temporalConfig();
  const connection = await NativeConnection.connect(temporal.connectionOptions);
  const dataConverter = encryptionDataConverter(codec);
  const slots = opts.concurrency;
  const workers = await createWorkers({
    connection,
    namespace: temporal.namespace,
    pools,
    queues: opts.queues,
    ...(dataConverter ? { dataConverter } : {}),
    tuning: {
      shutdownGraceTime: `${opts.drainTimeoutSec}s`,
      ...(slots
        ? { maxConcurrentActivityTaskExecutions: slots, maxConcurrentWorkflowTaskExecutions: slots }
        : {}),
    },
  });
  const running = Promise.allSettled(workers.map((w) => w.run()));
  let why: string | undefined;
  const drain = (reason: string): void => {
    if (why) return;
    why = reason;
    say(`${reason}: draining (in-flight tasks finish, up to ${opts.drainTimeoutSec}s)`);
    shutdownWorkers(workers);
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => drain(sig));
  // The outbox relays run on the orchestration queue: whoever serves it makes sure they exist (a no-op when they
  // run), as npm start does; `settle setup` does the rest of the cluster-side setup.
  if (opts.queues.includes('orchestration'))
    await ensureRelays(temporal.connectionOptions, temporal.namespace).catch((err: Error) =>
      say(`outbox relays not started: ${err.message}`),
    );
  say(
    `serving ${opts.queues.map((q) => TASK_QUEUES[q]).join(', ')} on ${temporal.address} (namespace ${temporal.namespace})` +
      (metrics.url ? `, metrics ${metrics.url}` : '') +
      ` (pid ${process.pid})`,
  );
  // The event-store projector runs with the orchestration queue, like the relays (several replicas are safe).
  const projectorPool = opts.queues.includes('orchestration')
    ? ((pools as Partial<typeof pools>).payments ?? poolsForQueues(['payments']).payments)
    : undefined;
  const projector = projectorPool ? startProjector(projectorPool, { log: say }) : undefined;
  process.stdout.write('READY\n');
  const results = await running;
  await projector?.stop();
  if (projectorPool && projectorPool !== (pools as Partial<typeof pools>).payments) await projectorPool.end();
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  for (const f of failed) say(`a worker failed: ${(f.reason as Error).message}`);
  await connection.close().catch(() => undefined);
  await closePools(pools);
  await traced?.shutdown();
  say(failed.length ? 'stopped after a worker failure' : 'stopped cleanly');
  return failed.length || !why ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`settle worker: ${err.message}\n`);
    process.exit(1);
  },
);
