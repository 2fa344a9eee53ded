// Hosts the whole local deployment in one process: the stack (PostgreSQL + Temporal dev server, or external
// ones) and every worker. `npm start`, the demo and the benchmark use it.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, type Worker } from '@temporalio/worker';
import { rmSync, writeFileSync } from 'node:fs';
import { DATA_DIR, localPorts, STACK_FILE, temporalConfig, type StackInfo } from '../client/config';
import {
  AesGcmCodec,
  EncryptionConfigError,
  encryptionDataConverter,
  startCodecServer,
} from '../services/codec';
import { startStack, type Stack } from '../services/stack';
import { createWorkers, runWorkers, shutdownWorkers, type WorkerSetOptions } from './index';
import { ensureRelays } from './relays';
import { ensureSweeperScheduleAt } from './in-doubt';
import { startTccServer } from '../services/tcc-server';
import { installRuntime, startTransactionGauges } from './metrics';

export interface HostedStack {
  stack: Stack;
  connection: NativeConnection;
  workers: Worker[];
  info: StackInfo;
  /** Resolves when the workers stop (after shutdown() or a fatal error). */
  running: Promise<void>;
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
function codecFromEnv(): AesGcmCodec | undefined {
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
  } = {},
): Promise<HostedStack> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[settle] ${m}\n`));
  const ports = localPorts();
  const codec = codecFromEnv();
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
  const workers = await createWorkers({
    connection,
    namespace,
    pools: stack.pools,
    ...(dataConverter ? { dataConverter } : {}),
    ...opts.workerOptions,
  });
  const running = runWorkers(workers);
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
  if (opts.writeStackFile !== false) writeFileSync(STACK_FILE, JSON.stringify(info, null, 2) + '\n');
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      shutdownWorkers(workers);
      await extras.stop();
      await running.catch((e: Error) => log(`worker stopped with error: ${e.message}`));
      await tcc?.close();
      await connection.close().catch(() => undefined);
      if (opts.writeStackFile !== false) rmSync(STACK_FILE, { force: true });
      await stack.stop();
    })());
  return { stack, connection, workers, info, running, shutdown };
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
    const origins = (process.env.SETTLE_CODEC_ORIGINS || `http://localhost:${ui},http://127.0.0.1:${ui}`)
      .split(',')
      .map((x) => x.trim());
    try {
      const server = await startCodecServer(o.codec, { port, allowedOrigins: origins, log: o.log });
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
