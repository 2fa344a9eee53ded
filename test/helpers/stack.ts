// Integration tests run on the real parts: an embedded PostgreSQL and a Temporal dev server of their own, on
// free ports and in a temporary directory, so they never touch (or collide with) a running `npm start`.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../services/processes';
import { startStack, type Stack } from '../../services/stack';
import { createWorkers, runWorkers, shutdownWorkers, type WorkerSetOptions } from '../../workers';
import { quietRuntime, workflowBundle } from './env';

export interface TestStack {
  stack: Stack;
  /** The stack's data directory (secrets, Temporal history): private to this process's user. */
  dataDir: string;
  client: Client;
  nativeConnection: NativeConnection;
  /** Start a set of workers; stop them with the returned function. */
  startWorkers(opts?: Partial<WorkerSetOptions>): Promise<{ workers: Worker[]; stop(): Promise<void> }>;
  teardown(): Promise<void>;
}

export async function startTestStack(
  opts: {
    persistent?: boolean;
    /** Serve the Temporal Web UI on this port (browser tests); headless otherwise. */
    uiPort?: number;
    /** The test installed the process's Temporal runtime itself (e.g. with a metrics endpoint). */
    ownRuntime?: boolean;
  } = {},
): Promise<TestStack> {
  if (!opts.ownRuntime) quietRuntime();
  const dataDir = mkdtempSync(join(tmpdir(), 'settle-test-'));
  const stack = await startStack({
    dataDir,
    databaseUrl: process.env.SETTLE_TEST_DATABASE_URL || undefined,
    dbPrefix: `t${process.pid}`,
    pgPort: await freePort(),
    temporalPort: await freePort(),
    ...(opts.uiPort ? { uiPort: opts.uiPort } : {}),
    persistent: opts.persistent ?? false,
  });
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection, namespace: stack.temporal.namespace });
  const nativeConnection = await NativeConnection.connect({ address: stack.temporal.address });
  const bundle = await workflowBundle();
  const running: (() => Promise<void>)[] = [];
  return {
    stack,
    dataDir,
    client,
    nativeConnection,
    async startWorkers(extra = {}) {
      const workers = await createWorkers({
        connection: nativeConnection,
        namespace: stack.temporal.namespace,
        pools: stack.pools,
        workflowBundle: bundle,
        ...extra,
      });
      const run = runWorkers(workers);
      const stop = async (): Promise<void> => {
        shutdownWorkers(workers);
        await run;
      };
      running.push(stop);
      return { workers, stop };
    },
    async teardown() {
      for (const stop of running) await stop().catch(() => undefined);
      await connection.close();
      await nativeConnection.close();
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
      // As root the cluster lives outside the data dir (services/postgres.ts clusterHome).
      if (stack.postgres.clusterDir) rmSync(stack.postgres.clusterDir, { recursive: true, force: true });
    },
  };
}
