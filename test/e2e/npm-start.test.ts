// `npm start` as an operator runs it: the host supervises its servers (a SIGKILLed Temporal dev server or
// PostgreSQL postmaster is restarted with backoff and reported on the console, and the transactions it interrupted
// finish), and SIGTERM to `npm start` itself stops everything: workers drained first, then the servers, no process
// left behind.
import { Client, Connection } from '@temporalio/client';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkInvariants } from '../../services/invariants';
import { closePools, createPools } from '../../services/db';
import { isAlive } from '../../services/processes';
import { unmaskUrl } from '../../services/secrets';
import { quietRuntime } from '../helpers/env';
import { finalStatuses, startLoad } from '../helpers/load';
import { localStackEnv, type LocalStackEnv } from '../helpers/local-env';
import { alive, commandLine, descendants, Output } from '../helpers/processes';
import { ROOT } from './run-cli';

describe('npm start supervises its servers and stops on SIGTERM', () => {
  let local: LocalStackEnv;
  let npm: ChildProcess;
  let out: Output;
  let connection: Connection;
  let client: Client;
  /** Whether Temporal and PostgreSQL were up when the host said its workers had stopped. */
  let serversUpAtWorkersStopped: boolean | undefined;

  const temporalPid = (): number =>
    Number(readFileSync(join(local.dataDir, 'temporal', 'temporal.pid'), 'utf8').trim());
  const postmasterPid = (): number => {
    const pid = descendants(npm.pid!).find((p) => / -D \S*pgdata/.test(commandLine(p)));
    assert.ok(pid, 'no postmaster below npm start');
    return pid;
  };

  before(async () => {
    quietRuntime();
    local = await localStackEnv();
    npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: local.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    out = new Output(npm, (line) => {
      if (/workers stopped/.test(line))
        serversUpAtWorkersStopped = isAlive(temporalPid()) && isAlive(postmasterPid());
    });
    await out.waitFor(/Settle is running/, 180_000);
    connection = await Connection.connect({ address: local.temporalAddress });
    client = new Client({ connection });
  });

  after(async () => {
    await connection?.close();
    const left = npm?.pid ? [npm.pid, ...descendants(npm.pid)] : [];
    for (const pid of alive(left)) process.kill(pid, 'SIGKILL');
    if (local) rmSync(local.dataDir, { recursive: true, force: true });
  });

  for (const server of ['Temporal dev server', 'PostgreSQL'] as const) {
    it(`restarts a SIGKILLed ${server} with backoff, says so, and the transactions under load finish`, async () => {
      const load = await startLoad(client, 8);
      const victim = server === 'PostgreSQL' ? postmasterPid() : temporalPid();
      process.kill(victim, 'SIGKILL');
      const died = new RegExp(`${server} \\(pid ${victim}\\) died \\(signal SIGKILL\\): restarting in`);
      await out.waitFor(died, 30_000);
      await out.waitFor(new RegExp(`${server} restarted \\(pid \\d+\\)`), 120_000);
      const statuses = await finalStatuses(load, 240_000);
      for (const s of load) {
        const status = statuses.get(s.workflowId)!;
        // Temporal's crash loses nothing: every order ends as placed. PostgreSQL's may fail a step that was in
        // flight, which the order then undoes. A 2PC transfer whose branch could not prepare in time (its row
        // locked by a prepared neighbour while a server was down) aborts. All consistent ends: the invariants
        // test below checks the money and the stock.
        if (server === 'PostgreSQL' || s.kind === 'transfer')
          assert.ok(s.consistent.includes(status), `${s.workflowId}: ${status}`);
        else assert.equal(status, s.expected, s.workflowId);
      }
    });
  }

  it('keeps the invariants: money and stock conserved, no prepared transaction left', async () => {
    const info = JSON.parse(readFileSync(join(local.dataDir, 'stack.json'), 'utf8')) as {
      databaseUrl: string;
    };
    const pools = createPools(unmaskUrl(info.databaseUrl, local.dataDir), { max: 2 });
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

  it('stops everything on SIGTERM to npm start: workers first, then the servers, nothing left running', async () => {
    const tree = [npm.pid!, ...descendants(npm.pid!)];
    assert.ok(
      tree.length >= 4,
      `npm, node, Temporal and PostgreSQL expected: ${tree.map(commandLine).join(' | ')}`,
    );
    const exited = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
    process.kill(npm.pid!, 'SIGTERM');
    await exited;
    const deadline = Date.now() + 60_000;
    while (alive(tree).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      alive(tree).map((p) => `${p} ${commandLine(p)}`),
      [],
      `left running after SIGTERM; output:\n${out.lines.join('\n')}`,
    );
    assert.ok(
      out.index(/workers stopped/) >= 0 && out.index(/workers stopped/) < out.index(/stopping the servers/),
    );
    assert.equal(
      serversUpAtWorkersStopped,
      true,
      'Temporal or PostgreSQL was down before the workers stopped',
    );
  });
});
