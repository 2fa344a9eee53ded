// Hosts the whole local deployment in one process: the stack (PostgreSQL + Temporal dev server, or external
// ones) and every worker. `npm start`, the demo and the benchmark use it.
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { rmSync, writeFileSync } from 'node:fs';
import { DATA_DIR, localPorts, STACK_FILE, temporalConfig, type StackInfo } from '../client/config';
import { startStack, type Stack } from '../services/stack';
import { createWorkers, runWorkers, shutdownWorkers, type WorkerSetOptions } from './index';

export interface HostedStack {
  stack: Stack;
  connection: NativeConnection;
  workers: Worker[];
  info: StackInfo;
  /** Resolves when the workers stop (after shutdown() or a fatal error). */
  running: Promise<void>;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
}

export async function hostStack(
  opts: {
    log?: (m: string) => void;
    workerOptions?: Partial<WorkerSetOptions>;
    writeStackFile?: boolean;
  } = {},
): Promise<HostedStack> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[settle] ${m}\n`));
  quietRuntime();
  const ports = localPorts();
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
  const workers = await createWorkers({ connection, namespace, pools: stack.pools, ...opts.workerOptions });
  const running = runWorkers(workers);
  const info: StackInfo = {
    temporalAddress: external?.address ?? stack.temporal.address,
    namespace,
    uiUrl: stack.temporal.uiUrl,
    databaseUrl: stack.postgres.url,
    pid: process.pid,
  };
  if (opts.writeStackFile !== false) writeFileSync(STACK_FILE, JSON.stringify(info, null, 2) + '\n');
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      shutdownWorkers(workers);
      await running.catch((e: Error) => log(`worker stopped with error: ${e.message}`));
      await connection.close().catch(() => undefined);
      if (opts.writeStackFile !== false) rmSync(STACK_FILE, { force: true });
      await stack.stop();
    })());
  return { stack, connection, workers, info, running, shutdown };
}
