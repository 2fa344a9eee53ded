// Which stack the CLI talks to, and how long it waits: two Temporal dev servers side by side (each with its own
// SETTLE_DATA_DIR and stack file), the resolution order (flags, stack file, SETTLE_TEMPORAL_PORT, the standard
// Temporal environment), the unreachable message naming the target and where it came from, and the bounded waits
// of `order place` (--timeout -> exit 5, server gone -> exit 3, each with a last JSON document).
import { Client, Connection } from '@temporalio/client';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../client/cli-kit';
import { orderPlaceArgv } from '../../client/commands/order';
import { freePort } from '../../services/processes';
import { startDevServer, type DevServerHandle } from '../../services/temporal-server';
import { SA } from '../../shared';
import { uniqueId } from '../helpers/env';
import { json, runCli, startCli } from './run-cli';

interface Listed {
  transactions: { workflowId: string }[];
}

/** A bare environment: no Temporal settings, no stack ports or data dir of the developer's, only what the test gives. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env))
    if (k.startsWith('TEMPORAL_') || k.startsWith('SETTLE_') || k === 'DATABASE_URL') delete env[k];
  return { ...env, ...extra };
}

describe('the CLI talks to the stack it belongs to, and never waits forever', () => {
  const dirs: string[] = [];
  const servers: DevServerHandle[] = [];
  const stacks: { dataDir: string; server: DevServerHandle; client: Client; workflowId: string }[] = [];

  /** A dev server of its own under a new temporary root; the suite's `after` stops it and removes the root. */
  async function tempDevServer(prefix: string): Promise<{ root: string; server: DevServerHandle }> {
    const root = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(root);
    const server = await startDevServer({
      dataDir: join(root, 'temporal'),
      port: await freePort(),
      persistent: false,
    });
    servers.push(server);
    return { root, server };
  }

  before(async () => {
    for (const name of ['a', 'b']) {
      const { root, server } = await tempDevServer(`settle-cli-stack-${name}-`);
      const dataDir = join(root, 'data');
      mkdirSync(dataDir);
      // What `npm start` writes: this process stands in for the stack's host (its pid is alive).
      writeFileSync(
        join(dataDir, 'stack.json'),
        JSON.stringify({
          temporalAddress: server.address,
          namespace: server.namespace,
          databaseUrl: 'postgres://nobody@127.0.0.1:1/none',
          pid: process.pid,
        }),
      );
      const client = new Client({ connection: await Connection.connect({ address: server.address }) });
      // A transaction only this stack has (no worker: it stays running, which is all `list` needs).
      const workflowId = uniqueId(`order-stack-${name}`);
      await client.workflow.start('orderSaga', {
        taskQueue: uniqueId('nobody-polls'),
        workflowId,
        args: [],
        typedSearchAttributes: [
          { key: SA.pattern, value: 'saga' },
          { key: SA.businessKey, value: workflowId.slice('order-'.length) },
          { key: SA.status, value: 'running' },
        ],
      });
      stacks.push({ dataDir, server, client, workflowId });
    }
  });

  after(async () => {
    for (const s of stacks) await s.client.connection.close().catch(() => undefined);
    for (const s of servers) await s.stop().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const listIds = async (env: NodeJS.ProcessEnv, args: string[] = []): Promise<string[]> => {
    const r = await runCli(['list', '--json', ...args], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    return json<Listed>(r).transactions.map((t) => t.workflowId);
  };

  it('two stacks side by side: `list` against each (by its SETTLE_DATA_DIR) sees only its own', async () => {
    const [a, b] = stacks as [(typeof stacks)[0], (typeof stacks)[0]];
    assert.deepEqual(await listIds(bareEnv({ SETTLE_DATA_DIR: a.dataDir })), [a.workflowId]);
    assert.deepEqual(await listIds(bareEnv({ SETTLE_DATA_DIR: b.dataDir })), [b.workflowId]);
  });

  it('resolves SETTLE_TEMPORAL_PORT, TEMPORAL_ADDRESS and --address / --namespace when there is no stack file', async () => {
    const [a, b] = stacks as [(typeof stacks)[0], (typeof stacks)[0]];
    const empty = mkdtempSync(join(tmpdir(), 'settle-cli-nostack-'));
    dirs.push(empty);
    const portOf = (s: DevServerHandle): string => s.address.split(':').pop()!;
    assert.deepEqual(
      await listIds(bareEnv({ SETTLE_DATA_DIR: empty, SETTLE_TEMPORAL_PORT: portOf(a.server) })),
      [a.workflowId],
    );
    assert.deepEqual(await listIds(bareEnv({ SETTLE_DATA_DIR: empty, TEMPORAL_ADDRESS: b.server.address })), [
      b.workflowId,
    ]);
    // Flags win over everything, the stack file included.
    assert.deepEqual(
      await listIds(bareEnv({ SETTLE_DATA_DIR: a.dataDir }), [
        '--address',
        b.server.address,
        '--namespace',
        'default',
      ]),
      [b.workflowId],
    );
  });

  it('says which Temporal it tried, and where that came from, when it cannot reach it', async () => {
    const dead = mkdtempSync(join(tmpdir(), 'settle-cli-dead-'));
    dirs.push(dead);
    const port = await freePort();
    writeFileSync(
      join(dead, 'stack.json'),
      JSON.stringify({
        temporalAddress: `127.0.0.1:${port}`,
        namespace: 'default',
        databaseUrl: 'postgres://nobody@127.0.0.1:1/none',
        pid: process.pid,
      }),
    );
    const r = await runCli(['list', '--json'], bareEnv({ SETTLE_DATA_DIR: dead }));
    assert.equal(r.code, EXIT.unreachable);
    assert.match(r.stderr, new RegExp(`cannot reach Temporal at 127\\.0\\.0\\.1:${port}`));
    assert.match(r.stderr, new RegExp(`stack file ${join(dead, 'stack.json').replace(/[.\\/]/g, '\\$&')}`));
    assert.equal(json<{ exitCode: number }>(r).exitCode, EXIT.unreachable);

    const flag = await runCli(['list', '--address', `127.0.0.1:${port}`], bareEnv({ SETTLE_DATA_DIR: dead }));
    assert.equal(flag.code, EXIT.unreachable);
    assert.match(flag.stderr, /from --address/);
  });

  it('order place gives up after --timeout with exit 5 and a last JSON document saying what it waited for', async () => {
    const [a] = stacks as [(typeof stacks)[0]];
    const orderId = uniqueId('o-wait');
    const r = await runCli(
      orderPlaceArgv({ customer: 'alice', sku: 'SKU-1', qty: 1, amount: '5', orderId }, [
        '--timeout',
        '2s',
        '--json',
      ]),
      bareEnv({ SETTLE_DATA_DIR: a.dataDir }),
    );
    assert.equal(r.code, EXIT.attention, r.stderr);
    assert.match(r.stderr, new RegExp(`waiting for order-${orderId}`));
    const doc = json<Record<string, unknown>>(r);
    assert.deepEqual(
      {
        workflowId: doc.workflowId,
        businessKey: doc.businessKey,
        status: doc.status,
        timedOut: doc.timedOut,
        exitCode: doc.exitCode,
      },
      {
        workflowId: `order-${orderId}`,
        businessKey: orderId,
        status: 'running',
        timedOut: true,
        exitCode: EXIT.attention,
      },
    );
  });

  it('order place exits 3 with a JSON document when the Temporal server dies while it waits', async () => {
    const { root, server } = await tempDevServer('settle-cli-dying-');
    const orderId = uniqueId('o-gone');
    const child = startCli(
      orderPlaceArgv({ customer: 'alice', sku: 'SKU-1', qty: 1, amount: '5', orderId }, [
        '--address',
        server.address,
        '--json',
      ]),
      bareEnv({ SETTLE_DATA_DIR: root }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const waiting = new Promise<void>((resolve) =>
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/waiting for/.test(stderr)) resolve();
      }),
    );
    const closed = new Promise<number | null>((r) => child.on('close', r));
    await Promise.race([waiting, closed]);
    await server.stop();
    const code = await closed;
    assert.equal(code, EXIT.unreachable, `${stdout}\n${stderr}`);
    const last = JSON.parse(stdout) as { workflowId: string; exitCode: number; error: string };
    assert.equal(last.workflowId, `order-${orderId}`);
    assert.equal(last.exitCode, EXIT.unreachable);
    assert.match(last.error, /lost Temporal at/);
  });
});
