// One chaos stack per pattern run: embedded PostgreSQL and a persistent Temporal dev server on free loopback
// ports in a temp directory, the TCC participant server, and a chaos worker process (scripts/chaos/worker.ts)
// the driver can SIGKILL and start again. PostgreSQL and Temporal can be restarted or killed with it.
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { closePools, createPools, type Pools } from '../../services/db';
import { startEmbeddedPostgres, type PostgresHandle } from '../../services/postgres';
import { freePort } from '../../services/processes';
import { startStack, type Stack } from '../../services/stack';
import { startParticipantTimers, type ParticipantTimers } from '../../services/participant-timers';
import { startTccServer, type TccServer } from '../../services/tcc-server';
import { startDevServer, type DevServerHandle } from '../../services/temporal-server';
import { WORKFLOWS_PATH } from '../../workers';
import { WORKFLOW_METRICS_MODULE } from '../../workers/metrics';
import { writeControl, type ArmedFault, type ControlFile } from './protocol';

const ROOT = resolve(__dirname, '../..');

export interface WorkerProc {
  child: ChildProcess;
  lines: string[];
  exited: Promise<void>;
}

let bundleCode: Promise<string> | undefined;
/** Bundle the workflows once per harness process; each stack writes the code into its own directory. */
async function workflowBundlePath(dir: string): Promise<string> {
  bundleCode ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: [WORKFLOW_METRICS_MODULE],
    logger: new DefaultLogger('ERROR'),
  }).then((b) => b.code);
  const path = join(dir, 'workflows.js');
  writeFileSync(path, await bundleCode);
  return path;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Poll until probe() is truthy; throws `what` after timeoutMs. */
export async function until<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = 60_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class ChaosStack {
  client!: Client;
  private connection!: Connection;
  private stack!: Stack;
  private tcc!: TccServer;
  private participantTimers?: ParticipantTimers;
  private timerPools?: Pools;
  postgres!: PostgresHandle;
  temporal!: DevServerHandle;
  worker?: WorkerProc;
  readonly dir = mkdtempSync(join(tmpdir(), 'settle-chaos-'));
  readonly controlPath = join(this.dir, 'faults.json');
  private control: ControlFile = {};
  private bundle = '';
  /** Every worker output line since the start, across restarts. */
  readonly lines: string[] = [];

  get pools(): Stack['pools'] {
    return this.stack.pools;
  }

  async start(): Promise<void> {
    chmodSync(this.dir, 0o755); // the embedded server runs as 'postgres' when we are root
    this.stack = await startStack({
      dataDir: this.dir,
      dbPrefix: 'chaos',
      pgPort: await freePort(),
      temporalPort: await freePort(),
      persistent: true,
    });
    this.postgres = this.stack.postgres;
    this.temporal = this.stack.temporal.server!;
    this.tcc = await startTccServer({ pools: this.stack.pools, port: 0, host: '127.0.0.1' });
    // As the host runs them beside the TCC server: the participants' own expiry of TCC holds and 3PC timeouts
    // (without them a hold whose coordinator was terminated stays held past its expiry).
    // On pools like the worker's (its roles prepared the branches: only they may finish them).
    this.timerPools = createPools(this.postgres.url, { prefix: this.stack.dbPrefix, max: 4 });
    this.participantTimers = startParticipantTimers(this.timerPools);
    await this.connect();
    writeControl(this.controlPath, {});
    this.bundle = await workflowBundlePath(this.dir);
    await this.spawnWorker();
  }

  private async connect(): Promise<void> {
    this.connection = await Connection.connect({ address: this.stack.temporal.address });
    this.client = new Client({ connection: this.connection, namespace: this.stack.temporal.namespace });
  }

  arm(workflowId: string, fault: ArmedFault): void {
    this.control[workflowId] = fault;
    writeControl(this.controlPath, this.control);
  }

  release(workflowId: string): void {
    const f = this.control[workflowId];
    if (f) this.arm(workflowId, { ...f, released: true });
  }

  /** Wait for a worker line (across restarts) starting with `prefix`. */
  waitLine(prefix: string, timeoutMs = 60_000): Promise<string> {
    return until(`worker line '${prefix}'`, () => this.lines.find((l) => l.startsWith(prefix)), timeoutMs);
  }

  async spawnWorker(): Promise<WorkerProc> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/chaos/worker.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        SETTLE_CHAOS_TEMPORAL: this.stack.temporal.address,
        SETTLE_CHAOS_NAMESPACE: this.stack.temporal.namespace,
        SETTLE_CHAOS_PG_URL: this.postgres.url,
        SETTLE_CHAOS_DB_PREFIX: this.stack.dbPrefix,
        SETTLE_CHAOS_BUNDLE: this.bundle,
        SETTLE_CHAOS_CONTROL: this.controlPath,
        SETTLE_TCC_URL: this.tcc.url,
      },
    });
    const wp: WorkerProc = {
      child,
      lines: [],
      exited: new Promise((r) => child.once('exit', () => r())),
    };
    createInterface({ input: child.stdout }).on('line', (l) => {
      wp.lines.push(l);
      this.lines.push(l);
    });
    this.worker = wp;
    await until(
      'the chaos worker to be ready',
      () => {
        if (child.exitCode !== null) throw new Error(`chaos worker exited with ${child.exitCode}`);
        return wp.lines.includes('READY');
      },
      120_000,
    );
    return wp;
  }

  async killWorker(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    w.child.kill('SIGKILL');
    await w.exited;
  }

  async restartWorker(): Promise<void> {
    await this.killWorker();
    await this.spawnWorker();
  }

  /** The postmaster's pid: from the handle, or from its pid file (older handles do not carry it). */
  private postmasterPid(): number | undefined {
    if (this.postgres.pid) return this.postgres.pid;
    try {
      const text = readFileSync(join(this.postgres.dataDir ?? '', 'pgdata', 'postmaster.pid'), 'utf8');
      return Number(text.split('\n')[0]) || undefined;
    } catch {
      return undefined;
    }
  }

  async restartPostgres(opts: { kill?: boolean } = {}): Promise<void> {
    const { dataDir, port } = this.postgres;
    if (!dataDir || !port) throw new Error('pg-restart needs the embedded PostgreSQL');
    if (opts.kill) {
      const pid = this.postmasterPid();
      if (pid) process.kill(pid, 'SIGKILL');
      await until('the postmaster to die', () => !pid || !alive(pid), 30_000);
    } else await this.postgres.stop();
    // The superuser password lives in the stack directory's secrets (services/stack.ts passes the same).
    this.postgres = await startEmbeddedPostgres({ dataDir, port, secretsDataDir: this.dir });
  }

  async restartTemporal(opts: { kill?: boolean } = {}): Promise<void> {
    if (opts.kill) process.kill(this.temporal.pid, 'SIGKILL');
    else await this.temporal.stop();
    await this.temporal.exited;
    await this.startTemporalAgain();
  }

  /** The dev server again on the same port and SQLite file (its history survives). */
  private async startTemporalAgain(): Promise<void> {
    const port = Number(this.stack.temporal.address.split(':').pop());
    this.temporal = await startDevServer({ dataDir: join(this.dir, 'temporal'), port, persistent: true });
  }

  /** Workers, PostgreSQL and Temporal SIGKILLed together, then the stack started again. */
  async powerLoss(): Promise<void> {
    const pids = [this.worker?.child.pid, this.temporal.pid].filter((p): p is number => p !== undefined);
    for (const p of pids) process.kill(p, 'SIGKILL');
    await this.restartPostgres({ kill: true });
    await this.killWorker();
    await until('the dev server to die', () => !alive(this.temporal.pid), 30_000);
    await this.startTemporalAgain();
    await this.spawnWorker();
  }

  /** One pass of the participants' timers on a clock moved to `asOf` (their backstops, without the wait). */
  async runParticipantTimersAt(asOf: Date): Promise<void> {
    await this.participantTimers?.tick(asOf);
  }

  async stop(): Promise<void> {
    await this.killWorker().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    await this.participantTimers?.stop().catch(() => undefined);
    if (this.timerPools) await closePools(this.timerPools).catch(() => undefined);
    await this.tcc?.close().catch(() => undefined);
    await this.temporal?.stop().catch(() => undefined);
    await this.postgres?.stop().catch(() => undefined);
    await this.stack?.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
