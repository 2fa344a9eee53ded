// Hosts the whole local deployment in one process: the stack (PostgreSQL + Temporal dev server, or external
// ones) and every worker (or none: `npm start -- --no-workers`, when `settle worker` processes serve the queues).
// `npm start`, the demo and the benchmark use it. It supervises the servers it started (workers/supervisor.ts) and
// stops in dependency order: workers drained first, then the TCC server, then Temporal, then PostgreSQL.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, type Worker } from '@temporalio/worker';
import { rmSync, writeFileSync } from 'node:fs';
import { DATA_DIR, localPorts, STACK_FILE, temporalConfig, type StackInfo } from '../client/config';
import {
  AesGcmCodec,
  codecAccessFromEnv,
  EncryptionConfigError,
  encryptionDataConverter,
  startCodecServer,
} from '../services/codec';
import { maskUrl } from '../services/secrets';
import { startStack, type Stack } from '../services/stack';
import { devServersInOwnProcessGroup } from '../services/temporal-server';
import { createWorkers, shutdownWorkers, type WorkerSetOptions } from './index';
import { ensureRelays } from './relays';
import { ensureSweeperScheduleAt } from './in-doubt';
import { startTccServer } from '../services/tcc-server';
import { startParticipantTimers } from '../services/participant-timers';
import { startProjector } from '../services/projector';
import { installRuntime, startTransactionGauges } from './metrics';
import { startOutboxGauges } from './outbox-gauges';
import { setupTracing } from '../services/tracing';
import { stackServers, superviseServers, type Supervisor } from './supervisor';

export interface HostedStack {
  stack: Stack;
  connection: NativeConnection;
  workers: Worker[];
  info: StackInfo;
  /**
   * Resolves when the workers stop (after shutdown()); rejects on a fatal error: a worker failed, or a server
   * died and could not be restarted.
   */
  running: Promise<void>;
  /** The crashed-server restarts (undefined when supervision is off). */
  supervisor?: Supervisor;
  shutdown(): Promise<void>;
}

/** The process runtime: quiet logs, no signal handling of its own, the Prometheus endpoint on the metrics port. */
function quietRuntime(metricsPort: number | undefined, log: (m: string) => void): string | undefined {
  const { url, error } = installRuntime({
    metricsPort,
    logger: new DefaultLogger('ERROR'),
    shutdownSignals: [],
  });
  if (error) log(error);
  return url;
}

/** Payload encryption when SETTLE_ENCRYPTION_KEY is set (services/codec.ts); a bad key fails start-up. */
export function codecFromEnv(): AesGcmCodec | undefined {
  try {
    return AesGcmCodec.fromEnv(process.env);
  } catch (err) {
    if (err instanceof EncryptionConfigError) throw new Error(`bad encryption settings: ${err.message}`);
    throw err;
  }
}

export async function hostStack(
  opts: {
    log?: (m: string) => void;
    workerOptions?: Partial<WorkerSetOptions>;
    writeStackFile?: boolean;
    /** Serve Prometheus metrics on SETTLE_METRICS_PORT (default true). */
    metrics?: boolean;
    /** Run the workers in this process (default true); false: the servers alone, for `settle worker` processes. */
    workers?: boolean;
    /** Restart a crashed server with backoff (default true). */
    supervise?: boolean;
    /** Backoff of the supervisor (tests shorten it). */
    supervisorBackoffMs?: number;
  } = {},
): Promise<HostedStack> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[settle] ${m}\n`));
  const ports = localPorts();
  const codec = codecFromEnv();
  const traced = setupTracing({ serviceName: 'settle-host' }); // on with OTEL_EXPORTER_OTLP_ENDPOINT
  // Ctrl-C reaches only this process, which drains the workers before it stops the servers.
  devServersInOwnProcessGroup(true);
  const metricsUrl = quietRuntime(opts.metrics === false ? undefined : ports.metrics, log);
  const external = process.env.TEMPORAL_ADDRESS ? temporalConfig() : undefined;
  const stack = await startStack({
    dataDir: DATA_DIR,
    databaseUrl: process.env.DATABASE_URL || undefined,
    pgPort: ports.postgres,
    temporalAddress: external?.address,
    temporalPort: ports.temporal,
    uiPort: ports.ui,
    log,
  });
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(
      external ? external.connectionOptions : { address: stack.temporal.address },
    );
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const namespace = external?.namespace ?? stack.temporal.namespace;
  const dataConverter = encryptionDataConverter(codec);
  if (codec) log(`payload encryption on (key id ${codec.keyId ?? 'none: decode only'})`);
  const workers =
    opts.workers === false
      ? []
      : await createWorkers({
          connection,
          namespace,
          pools: stack.pools,
          ...(dataConverter ? { dataConverter } : {}),
          // Every service runs in this process: the order saga's steps are local activities (SETTLE_LOCAL_STEPS=0: activities).
          localSteps: process.env.SETTLE_LOCAL_STEPS !== '0',
          ...opts.workerOptions,
        });
  let giveUp: (err: Error) => void = () => undefined;
  const fatal = new Promise<never>((_, reject) => (giveUp = reject));
  fatal.catch(() => undefined);
  const supervisor =
    opts.supervise === false
      ? undefined
      : superviseServers(stackServers(stack), {
          log,
          onGiveUp: (err) => giveUp(err),
          ...(opts.supervisorBackoffMs ? { initialBackoffMs: opts.supervisorBackoffMs } : {}),
        });
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (stopRequested = r));
  const drained = workers.length ? drainAll(workers) : stopped;
  const running = Promise.race([drained, fatal]);
  await ensureRelays(external ? external.connectionOptions : { address: stack.temporal.address }, namespace);
  // 2PC/3PC in-doubt recovery on a Temporal Schedule, and the TCC participant server (HTTP) the tcc activities call.
  await ensureSweeperScheduleAt(
    external ? external.connectionOptions : { address: stack.temporal.address },
    namespace,
  ).catch((err: Error) => log(`in-doubt sweeper schedule not created: ${err.message}`));
  const tcc = await startTccServer({ pools: stack.pools, port: ports.tcc, log }).catch((err: Error) => {
    log(`TCC participant server not started on port ${ports.tcc}: ${err.message}`);
    return undefined;
  });
  // The participants' own clocks: TCC reservation expiry and 3PC participant-side timeouts (no Temporal needed).
  const participantTimers = startParticipantTimers(stack.pools, { log });
  // The event-store projections' background loop (services/projector.ts), with the workers that would host it.
  const projector = workers.length ? startProjector(stack.pools.payments, { log }) : undefined;
  const info: StackInfo = {
    temporalAddress: external?.address ?? stack.temporal.address,
    namespace,
    uiUrl: stack.temporal.uiUrl,
    databaseUrl: stack.postgres.url,
    pid: process.pid,
    ...(metricsUrl ? { metricsUrl } : {}),
    ...(tcc ? { tccUrl: tcc.url } : {}),
  };
  const extras = await startOperability({
    address: info.temporalAddress,
    namespace,
    external,
    codec,
    metrics: metricsUrl !== undefined,
    log,
  });
  const outboxGauges = metricsUrl !== undefined ? startOutboxGauges(stack.pools, { log }) : undefined;
  // The file holds the database URL masked (the CLI reads the password from the 0600 secret file), and is 0600.
  if (opts.writeStackFile !== false)
    writeFileSync(
      STACK_FILE,
      JSON.stringify({ ...info, databaseUrl: maskUrl(info.databaseUrl) }, null, 2) + '\n',
      { mode: 0o600 },
    );
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      // Workers first, while Temporal and PostgreSQL are still up to take their last completions.
      if (workers.length) log(`stopping ${workers.length} workers (draining in-flight tasks)`);
      outboxGauges?.stop();
      shutdownWorkers(workers);
      stopRequested();
      await extras.stop();
      await drained.catch((e: Error) => log(`worker stopped with error: ${e.message}`));
      if (workers.length) log('workers stopped');
      await tcc?.close();
      await participantTimers.stop();
      await projector?.stop();
      await connection.close().catch(() => undefined);
      if (opts.writeStackFile !== false) rmSync(STACK_FILE, { force: true });
      log('stopping the servers');
      await supervisor?.stopAll();
      await stack.stop();
      await traced?.shutdown();
    })());
  return { stack, connection, workers, info, running, shutdown, ...(supervisor ? { supervisor } : {}) };
}

/** Every worker's run() settled (one failing does not cut the others' drain short); rejects with the first error. */
async function drainAll(workers: Worker[]): Promise<void> {
  const results = await Promise.allSettled(workers.map((w) => w.run()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * What the host adds for operators: visibility gauges on the metrics endpoint, and (with encryption on) the codec
 * endpoint the Web UI decodes through (SETTLE_CODEC_PORT, default 8234; origins SETTLE_CODEC_ORIGINS).
 */
async function startOperability(o: {
  address: string;
  namespace: string;
  external?: ReturnType<typeof temporalConfig>;
  codec?: AesGcmCodec;
  metrics: boolean;
  log: (m: string) => void;
}): Promise<{ stop(): Promise<void> }> {
  const stops: (() => Promise<void>)[] = [];
  if (o.metrics) {
    const connection = await Connection.connect(
      o.external ? o.external.connectionOptions : { address: o.address },
    );
    const client = new Client({ connection, namespace: o.namespace });
    const gauges = startTransactionGauges(client, { log: o.log });
    stops.push(async () => {
      gauges.stop();
      await connection.close();
    });
  }
  if (o.codec) {
    const port = Number(process.env.SETTLE_CODEC_PORT || 8234);
    const ui = localPorts().ui;
    try {
      // One origin, the token if configured, /encode off unless asked (services/codec.ts codecAccessFromEnv).
      const access = codecAccessFromEnv(process.env, ui);
      const server = await startCodecServer(o.codec, { port, ...access, log: o.log });
      o.log(`codec endpoint for the Web UI: ${server.url} (Web UI: Settings > Codec Server)`);
      stops.push(() => server.close());
    } catch (err) {
      o.log(
        `codec endpoint not started on port ${port}: ${(err as Error).message} (set SETTLE_CODEC_PORT, or run: npm run codec-server)`,
      );
    }
  }
  return { stop: async () => void (await Promise.all(stops.map((s) => s().catch(() => undefined)))) };
}
