// One configuration under test: a fresh Temporal dev server and fresh service databases (startStack, on free
// ports, in the bench's own data directory, on the bench's own PostgreSQL server), the workers, and the
// extra worker processes a tuning asks for. Never touches the user's running stack.
import { Client } from '@temporalio/client';
import { NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, stopProcess } from '../services/processes';
import { startStack, type Stack } from '../services/stack';
import { startTccServer, type TccServer } from '../services/tcc-server';
import type { Tuning } from './tuning';
import type { WorkerProcessConfig } from './worker-process';
import { startBenchWorkers, type BenchWorkers } from './workers';

export interface Rig {
  tuning: Tuning;
  stack: Stack;
  connection: NativeConnection;
  client: Client;
  workers: BenchWorkers;
  /** pids of the spawned extra worker processes. */
  extraWorkerPids: number[];
  /** This configuration's TCC participant server. */
  tccUrl: string;
  stop(): Promise<void>;
}

const ROOT = resolve(__dirname, '..');

async function spawnWorkerProcess(cfg: WorkerProcessConfig, log: (m: string) => void): Promise<ChildProcess> {
  const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, [join(__dirname, 'worker-process.ts'), JSON.stringify(cfg)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(
      () => fail(new Error('extra worker process did not become ready in 60 s')),
      60_000,
    );
    child.once('exit', (code) => fail(new Error(`extra worker process exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.trim() === 'ready') {
        clearTimeout(timer);
        ok();
      } else log(`worker ${child.pid}: ${line}`);
    });
  });
  return child;
}

export async function startRig(opts: {
  tuning: Tuning;
  index: number;
  dataRoot: string;
  databaseUrl: string;
  /** The workflow bundle for this tuning's deployment (run.ts: with or without the in-process module). */
  bundle: WorkerOptions['workflowBundle'];
  bundlePath: string;
  log: (m: string) => void;
}): Promise<Rig> {
  const t = opts.tuning;
  const dbPrefix = `bench${opts.index}`;
  const stack = await startStack({
    dataDir: join(opts.dataRoot, `config-${opts.index}`),
    databaseUrl: opts.databaseUrl,
    pgPort: 0,
    temporalPort: await freePort(),
    persistent: t.persistent,
    sqlitePragmas: t.sqlitePragmas,
    dynamicConfig: t.dynamicConfig,
    poolMax: t.poolMax,
    dbPrefix,
    log: (m) => opts.log(`[${t.name}] ${m}`),
  });
  const children: ChildProcess[] = [];
  let connection: NativeConnection | undefined;
  let workers: BenchWorkers | undefined;
  let tcc: TccServer | undefined;
  const stop = async (): Promise<void> => {
    for (const c of children) if (c.pid) await stopProcess(c.pid);
    await workers?.stop().catch((e: Error) => opts.log(`worker stop: ${e.message}`));
    await tcc?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await stack.stop();
  };
  try {
    tcc = await startTccServer({ pools: stack.pools, port: 0 });
    connection = await NativeConnection.connect({ address: stack.temporal.address });
    // The client shares the worker's NativeConnection: that is what eager workflow start needs.
    const client = new Client({ connection, namespace: stack.temporal.namespace });
    workers = await startBenchWorkers({
      connection,
      namespace: stack.temporal.namespace,
      pools: stack.pools,
      workflowBundle: opts.bundle,
      tuning: t,
      tccUrl: tcc.url,
    });
    for (let i = 1; i < t.workerProcesses; i++) {
      children.push(
        await spawnWorkerProcess(
          {
            address: stack.temporal.address,
            namespace: stack.temporal.namespace,
            databaseUrl: opts.databaseUrl,
            dbPrefix,
            poolMax: t.poolMax,
            bundlePath: opts.bundlePath,
            tccUrl: tcc.url,
            tuning: { worker: t.worker, local: t.local, inProcess: t.inProcess },
          },
          opts.log,
        ),
      );
    }
    return {
      tuning: t,
      stack,
      connection,
      client,
      workers,
      extraWorkerPids: children.map((c) => c.pid!),
      tccUrl: tcc.url,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
