// Scale-out as production runs it: the servers from one process (`npm start -- --no-workers`), each service's
// worker as a process of its own (`settle worker --queues ...`), two replicas of the payments worker. Orders and
// transfers stream in; one payments replica is SIGKILLed mid-load; every transaction still ends as it must (its
// activities retried on the surviving replica, the barrier keeping each charge single) and the invariants hold.
import { Client, Connection } from '@temporalio/client';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closePools, createPools } from '../../services/db';
import { checkInvariants } from '../../services/invariants';
import { freePort } from '../../services/processes';
import { unmaskUrl } from '../../services/secrets';
import { quietRuntime } from '../helpers/env';
import { finalStatuses, startLoad } from '../helpers/load';
import { localStackEnv, type LocalStackEnv } from '../helpers/local-env';
import { alive, descendants, Output } from '../helpers/processes';
import { ROOT } from './run-cli';

/** One process per service; payments twice. */
const WORKERS: { name: string; queues: string }[] = [
  { name: 'orchestration', queues: 'settle-orchestration' },
  { name: 'orders', queues: 'settle-orders' },
  { name: 'inventory', queues: 'settle-inventory' },
  { name: 'notifications', queues: 'settle-notifications' },
  { name: 'banks', queues: 'settle-bank-a,settle-bank-b,settle-outbox' },
  { name: 'payments-1', queues: 'settle-payments' },
  { name: 'payments-2', queues: 'settle-payments' },
];

interface WorkerProc {
  name: string;
  child: ChildProcess;
  out: Output;
  metricsPort: number;
}

describe('servers in one process, each service a worker process of its own', () => {
  let local: LocalStackEnv;
  let servers: ChildProcess;
  let serversOut: Output;
  const workers: WorkerProc[] = [];
  let connection: Connection;
  let client: Client;
  let databaseUrl: string;

  before(async () => {
    quietRuntime();
    local = await localStackEnv();
    servers = spawn('npm', ['start', '--silent', '--', '--no-workers'], {
      cwd: ROOT,
      env: local.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    serversOut = new Output(servers);
    await serversOut.waitFor(/Settle is running/, 180_000);
    assert.ok(serversOut.index(/Workers:\s+none \(--no-workers\)/) >= 0, serversOut.lines.join('\n'));
    // stack.json holds the URL masked; the password is in the install's secret file.
    const info = JSON.parse(readFileSync(join(local.dataDir, 'stack.json'), 'utf8')) as {
      databaseUrl: string;
    };
    databaseUrl = unmaskUrl(info.databaseUrl, local.dataDir);
    for (const w of WORKERS) {
      const metricsPort = await freePort();
      const child = spawn(
        process.execPath,
        [
          join(ROOT, 'bin', 'settle.js'),
          'worker',
          '--queues',
          w.queues,
          '--metrics-port',
          String(metricsPort),
        ],
        {
          cwd: ROOT,
          env: { ...local.env, TEMPORAL_ADDRESS: local.temporalAddress, DATABASE_URL: databaseUrl },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      workers.push({ name: w.name, child, out: new Output(child), metricsPort });
    }
    await Promise.all(workers.map((w) => w.out.waitFor(/^READY$/, 240_000)));
    connection = await Connection.connect({ address: local.temporalAddress });
    client = new Client({ connection });
  });

  after(async () => {
    await connection?.close();
    const procs = [servers, ...workers.map((w) => w.child)].filter((c) => c?.pid);
    const tree = procs.flatMap((c) => [c.pid!, ...descendants(c.pid!)]);
    for (const w of workers) w.child.kill('SIGTERM');
    servers?.kill('SIGTERM');
    const deadline = Date.now() + 60_000;
    while (alive(tree).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    for (const pid of alive(tree)) process.kill(pid, 'SIGKILL');
    if (local) rmSync(local.dataDir, { recursive: true, force: true });
  });

  it('each worker process serves its queues on its own Prometheus port', async () => {
    const replica = workers.find((w) => w.name === 'payments-1')!;
    assert.match(
      replica.out.lines.join('\n'),
      /serving settle-payments on 127\.0\.0\.1:\d+ \(namespace default\)/,
    );
    const res = await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /temporal_/);
  });

  it('a payments replica SIGKILLed mid-load: every order and transfer ends as it must, invariants intact', async () => {
    const load = await startLoad(client, 10);
    // Mid-load: the first order has been charged (so payments are flowing) while the others are still in flight.
    const firstOrder = load.find((s) => s.kind === 'order' && s.expected === 'completed')!;
    await firstOrder.handle.result();
    const victim = workers.find((w) => w.name === 'payments-1')!;
    const killed = new Promise<NodeJS.Signals | null>((r) => victim.child.once('exit', (_c, sig) => r(sig)));
    // The bin forwards signals to the worker process; SIGKILL must hit the worker itself.
    for (const pid of [...descendants(victim.child.pid!), victim.child.pid!]) process.kill(pid, 'SIGKILL');
    assert.equal(await killed, 'SIGKILL');
    const more = await startLoad(client, 4);
    const all = [...load, ...more];
    const statuses = await finalStatuses(all, 300_000);
    for (const s of all) {
      const status = statuses.get(s.workflowId)!;
      // The orders go through payments: each ends exactly as placed (charged once, or compensated when it was
      // meant to fail) although a replica died under it. The 2PC transfers never touch payments; on a loaded
      // machine a branch may miss its prepare deadline and the coordinator aborts: consistent too (invariants below).
      if (s.kind === 'order') assert.equal(status, s.expected, s.workflowId);
      else assert.ok(s.consistent.includes(status), `${s.workflowId}: ${status}`);
    }
    const pools = createPools(databaseUrl, { max: 2 });
    try {
      const report = await checkInvariants(pools);
      assert.ok(
        report.ok,
        JSON.stringify(
          report.checks.filter((c) => !c.ok),
          null,
          2,
        ),
      );
    } finally {
      await closePools(pools);
    }
  });

  it('a worker drains and exits 0 on SIGTERM', async () => {
    const w = workers.find((x) => x.name === 'payments-2')!;
    const exited = new Promise<number | null>((r) => w.child.once('exit', (code) => r(code)));
    w.child.kill('SIGTERM');
    assert.equal(await exited, 0, w.out.lines.join('\n'));
    assert.ok(
      w.out.index(/SIGTERM: draining/) >= 0 && w.out.index(/stopped cleanly/) >= 0,
      w.out.lines.join('\n'),
    );
  });
});
