// The operator commands end to end: the real CLI (child processes) against a real dev server, real workers and
// PostgreSQL. list / status on a compensated order, watch following a live one, cancel compensating one,
// stuck finding a parked and a long-running one, and the error contract (exit codes, messages, --json errors).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPaymentsActivities } from '../../activities/shop';
import { EXIT } from '../../client/cli-kit';
import { freePort } from '../../services/processes';
import {
  orderSummary,
  orderWorkflowId,
  resolveCompensationUpdate,
  SA,
  sagaProgressQuery,
  TASK_QUEUES,
  type LedgerEntry,
  type OrderInput,
  type OrderStep,
  type SagaStatus,
} from '../../shared';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../../client/commands';
import { cliEnv, documentedJsonFields, json, jsonKeys, ROOT, runCli, SEEN_DOCS, startCli } from './run-cli';

/** A held step: its activity waits (before touching the database) until the test lets it go. */
class Gates {
  private readonly held = new Map<string, { step: string; open: Promise<void>; release(): void }>();
  hold(workflowId: string, step: string): () => void {
    let release!: () => void;
    const open = new Promise<void>((r) => (release = r));
    this.held.set(workflowId, { step, open, release });
    return release;
  }
  async wait(step: string): Promise<void> {
    const id = Context.current().info.workflowExecution?.workflowId;
    const gate = id ? this.held.get(id) : undefined;
    if (gate && gate.step === step) await gate.open;
  }
  releaseAll(): void {
    for (const g of this.held.values()) g.release();
  }
}

interface Row {
  workflowId: string;
  status: string;
  pattern?: string;
  businessKey?: string;
  needsOperator: boolean;
  reasons?: string[];
  why?: string;
}

describe('operator CLI (list, status, watch, cancel, stuck)', () => {
  let ts: TestStack;
  let env: NodeJS.ProcessEnv;
  const gates = new Gates();
  const parked = new Set<string>();
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    ts = await startTestStack();
    // The CLI reads the stack's databases too (unknown references refused up front, wallets, accounts).
    env = cliEnv(ts.stack.temporal.address, {
      DATABASE_URL: ts.stack.postgres.url,
      SETTLE_DB_PREFIX: ts.stack.dbPrefix,
    });
    const payments = createPaymentsActivities(ts.stack.pools.payments);
    await ts.startWorkers({
      hooks: { beforeAction: (step) => gates.wait(step) },
      extraActivities: {
        // A payment gateway outage for the orders in `parked`: their refunds fail, the saga parks for an operator.
        payments: {
          refundPayment: (input: Parameters<typeof payments.refundPayment>[0]) => {
            if (parked.has(Context.current().info.workflowExecution?.workflowId ?? ''))
              throw ApplicationFailure.nonRetryable('refund gateway offline', 'GatewayDown');
            return payments.refundPayment(input);
          },
        },
      },
    });
  });

  after(async () => {
    gates.releaseAll();
    for (const c of cleanups) await c().catch(() => undefined);
    await ts?.teardown();
  });

  const order = (prefix: string, failAt?: OrderStep): OrderInput => ({
    orderId: uniqueId(prefix),
    customerId: 'alice',
    sku: 'SKU-2',
    qty: 1,
    amountCents: 900,
    ...(failAt ? { failAt } : {}),
  });
  /** Start an order saga the way `order place --detach` does. */
  const start = (input: OrderInput): Promise<WorkflowHandle> =>
    ts.client.workflow.start('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: orderWorkflowId(input.orderId),
      args: [input],
      staticSummary: orderSummary(input),
      typedSearchAttributes: [
        { key: SA.pattern, value: 'saga' },
        { key: SA.businessKey, value: input.orderId },
        { key: SA.status, value: 'running' },
      ],
    });
  const untilStatus = async (h: WorkflowHandle, status: SagaStatus): Promise<void> => {
    while ((await h.query(sagaProgressQuery)).status !== status) await new Promise((r) => setTimeout(r, 50));
  };
  const untilStep = async (h: WorkflowHandle, step: string, status: LedgerEntry['status']): Promise<void> => {
    const at = async (): Promise<boolean> =>
      (await h.query(sagaProgressQuery)).ledger.some((e) => e.name === step && e.status === status);
    while (!(await at())) await new Promise((r) => setTimeout(r, 50));
  };
  /** Visibility is eventually consistent: wait until a list query sees what the workflow already recorded. */
  const untilVisible = async (query: string, count = 1): Promise<void> => {
    while ((await ts.client.workflow.count(query)).count < count)
      await new Promise((r) => setTimeout(r, 100));
  };

  it('rejects bad input before anything starts, and says when an id is unknown or the server unreachable', async () => {
    const badDuration = await runCli(['list', '--older-than', '5x'], env);
    assert.equal(badDuration.code, EXIT.usage);
    assert.match(badDuration.stderr, /--older-than must be a duration like 30s, 5m, 1h/);
    assert.equal((await runCli(['list', '--pattern', 'sgaa'], env)).code, EXIT.usage);
    assert.equal((await runCli(['stuck', '--limit', '0'], env)).code, EXIT.usage);
    assert.equal((await runCli(['watch'], env)).code, EXIT.usage);

    const unknown = await runCli(['status', 'order-does-not-exist', '--json'], env);
    assert.equal(unknown.code, EXIT.notFound);
    assert.deepEqual(json(unknown), {
      error: "no transaction with id or business key 'order-does-not-exist' (see: settle list)",
      exitCode: EXIT.notFound,
    });
    for (const cmd of ['watch', 'cancel']) {
      const r = await runCli([cmd, 'order-does-not-exist'], env);
      assert.equal(r.code, EXIT.notFound, cmd);
      assert.match(r.stderr, /no transaction with id 'order-does-not-exist'/);
    }

    const down = await runCli(['list'], cliEnv(`127.0.0.1:${await freePort()}`));
    assert.equal(down.code, EXIT.unreachable);
    assert.match(down.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+.*\n.*npm start/);

    const help = await runCli(['stuck', '--help'], env);
    assert.equal(help.code, EXIT.ok);
    assert.match(help.stdout, /Usage: settle stuck[\s\S]*--older-than[\s\S]*Examples:\n {2}settle stuck/);
  });

  it('list filters by pattern and status, and status shows the ledger of a compensated order', async () => {
    const input = order('cli', 'charge');
    const placed = await runCli(
      [
        'order',
        'place',
        '--customer',
        'alice',
        '--sku',
        'SKU-2',
        '--qty',
        '1',
        '--amount',
        '9',
        '--order-id',
        input.orderId,
        '--fail-at',
        'charge',
        '--json',
      ],
      env,
    );
    assert.equal(placed.code, EXIT.ok, placed.stderr);
    const workflowId = orderWorkflowId(input.orderId);
    await untilVisible(`SettleBusinessKey = '${input.orderId}' AND SettleStatus = 'compensated'`);

    const listed = json<{ query: string; count: number; transactions: Row[] }>(
      await runCli(['list', '--pattern', 'saga', '--status', 'compensated', '--json'], env),
    );
    assert.equal(
      listed.query,
      "SettlePattern IS NOT NULL AND SettlePattern = 'saga' AND SettleStatus = 'compensated' AND SettleStatus NOT IN ('relay')",
    );
    const row = listed.transactions.find((t) => t.workflowId === workflowId);
    assert.deepEqual(
      row && {
        status: row.status,
        pattern: row.pattern,
        businessKey: row.businessKey,
        needsOperator: row.needsOperator,
      },
      { status: 'compensated', pattern: 'saga', businessKey: input.orderId, needsOperator: false },
    );
    assert.ok(listed.transactions.every((t) => t.status === 'compensated'));
    const completed = json<{ transactions: Row[] }>(
      await runCli(['list', '--status', 'completed', '--older-than', '1ms', '--json'], env),
    );
    assert.ok(!completed.transactions.some((t) => t.workflowId === workflowId));

    const text = await runCli(['list', '--status', 'compensated'], env);
    assert.equal(text.code, EXIT.ok);
    assert.match(text.stdout, /^WORKFLOW ID +PATTERN +STATUS +BUSINESS KEY +STARTED +AGE\n/);
    assert.match(text.stdout, new RegExp(`^${workflowId} +saga +compensated +${input.orderId} `, 'm'));

    const status = await runCli(['status', workflowId], env);
    assert.equal(status.code, EXIT.ok, status.stderr);
    assert.match(status.stdout, new RegExp(`^${workflowId}  orderSaga  compensated`));
    assert.match(status.stdout, /^STEP +STATUS +FAILS +STARTED +ENDED +LAST ERROR$/m);
    assert.match(status.stdout, /^charge +compensated +1 .*InjectedFailure: injected failure at charge$/m);
    assert.match(status.stdout, /^↩ refundPayment +compensated \(nothing to undo\) +0 /m);
    assert.match(status.stdout, /^↩ releaseStock +compensated +0 /m);
    assert.match(status.stdout, /^↩ cancelOrder +compensated +0 /m);
    const view = json<{
      status: string;
      temporalStatus: string;
      summary: string;
      compensations: string[];
      ledger: LedgerEntry[];
    }>(await runCli(['status', workflowId, '--json'], env));
    assert.equal(view.temporalStatus, 'COMPLETED');
    assert.equal(view.summary, orderSummary({ ...input, amountCents: 900 }));
    assert.deepEqual(view.compensations, ['refundPayment', 'releaseStock', 'cancelOrder']);
    assert.deepEqual(
      view.ledger.map((e) => `${e.kind}:${e.name}:${e.status}`),
      [
        'step:create:compensated',
        'step:reserve:compensated',
        'step:charge:compensated',
        'compensation:refundPayment:compensated',
        'compensation:releaseStock:compensated',
        'compensation:cancelOrder:compensated',
      ],
    );
  });

  it('watch follows a live transaction step by step until it ends (one JSON line per change)', async () => {
    const input = order('watch');
    const workflowId = orderWorkflowId(input.orderId);
    const release = gates.hold(workflowId, 'reserve');
    const handle = await start(input);
    const child = startCli(['watch', workflowId, '--json', '--interval', '100ms'], env);
    const lines: { status: string; done: boolean; ledger: LedgerEntry[] }[] = [];
    let buffer = '';
    let released = false;
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as (typeof lines)[number];
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        // Let the held step go only once watch has shown it running: the rest must arrive live.
        if (!released && line.ledger.some((e) => e.name === 'reserve' && e.status === 'running')) {
          released = true;
          release();
        }
      }
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, EXIT.ok, stderr);
    assert.ok(released, 'watch showed the held step running');
    const running = lines.findIndex((l) =>
      l.ledger.some((e) => e.name === 'reserve' && e.status === 'running'),
    );
    const last = lines[lines.length - 1]!;
    assert.ok(
      running >= 0 && running < lines.length - 1,
      'changes after the release arrived as further lines',
    );
    assert.deepEqual({ done: last.done, status: last.status }, { done: true, status: 'completed' });
    const forward = last.ledger.filter((e) => e.kind === 'step');
    assert.deepEqual(
      forward.slice(0, 3).map((e) => e.name),
      ['create', 'reserve', 'charge'],
    );
    assert.ok(
      forward.some((e) => e.name === 'notify'),
      JSON.stringify(forward),
    );
    assert.ok(
      forward.every((e) => e.status === 'completed'),
      JSON.stringify(forward),
    );
    assert.ok(lines.slice(0, -1).every((l) => !l.done));
    assert.equal(((await handle.result()) as { status: string }).status, 'completed');
  });

  it('cancel compensates a running transaction', async () => {
    const input = order('cancel');
    const workflowId = orderWorkflowId(input.orderId);
    gates.hold(workflowId, 'reserve'); // never released before the cancel: the reservation is in flight
    const handle = await start(input);
    await untilStep(handle, 'reserve', 'running');
    const r = await runCli(['cancel', workflowId, '--wait', '--json'], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    const out = json<{
      requested: boolean;
      previousStatus: string;
      status: string;
      compensations: string[];
      ledger: LedgerEntry[];
    }>(r);
    assert.deepEqual(
      { requested: out.requested, previousStatus: out.previousStatus, status: out.status },
      { requested: true, previousStatus: 'running', status: 'compensated' },
    );
    // The in-flight reservation is compensated too (a recorded no-op: nothing had committed), then the order.
    assert.deepEqual(out.compensations, ['releaseStock', 'cancelOrder']);
    assert.equal(out.ledger.find((e) => e.name === 'releaseStock')?.noop, true);
    const again = await runCli(['cancel', workflowId], env);
    assert.equal(again.code, EXIT.usage);
    assert.match(again.stderr, /has already ended \(compensated\); there is nothing to cancel/);
  });

  it('stuck lists transactions needing an operator and those running too long, and why', async () => {
    const stuckInput = order('parked', 'notify');
    const parkedId = orderWorkflowId(stuckInput.orderId);
    parked.add(parkedId);
    const parkedHandle = await start(stuckInput);
    cleanups.push(() =>
      parkedHandle.executeUpdate(resolveCompensationUpdate, {
        args: [{ action: 'skip', reason: 'refunded by hand' }],
      }),
    );
    const slowInput = order('slow');
    const slowId = orderWorkflowId(slowInput.orderId);
    gates.hold(slowId, 'reserve');
    const slowHandle = await start(slowInput);
    await untilStatus(parkedHandle, 'needs-operator');
    await untilStep(slowHandle, 'reserve', 'running');
    await untilVisible(`WorkflowId = '${parkedId}' AND SettleNeedsOperator = true`);

    const r = await runCli(['stuck', '--older-than', '1ms', '--json'], env);
    assert.equal(r.code, EXIT.attention, r.stderr);
    const all = json<{ count: number; transactions: Row[] }>(r).transactions;
    const p = all.find((t) => t.workflowId === parkedId);
    const s = all.find((t) => t.workflowId === slowId);
    assert.deepEqual(p?.reasons, ['needs-operator', 'running-too-long']);
    assert.equal(p?.status, 'needs-operator');
    // notify runs after the pivot: its failure parks the saga for an operator (nothing to compensate).
    assert.equal(p?.why, 'notify needs an operator: InjectedFailure: injected failure at notify');
    assert.deepEqual(s?.reasons, ['running-too-long']);
    assert.match(s?.why ?? '', /^reserve running/);

    // A threshold longer than their age: only the parked one (needs an operator at any age).
    const hour = json<{ transactions: Row[] }>(
      await runCli(['stuck', '--older-than', '1h', '--json'], env),
    ).transactions;
    assert.ok(hour.some((t) => t.workflowId === parkedId));
    assert.ok(!hour.some((t) => t.workflowId === slowId));

    const text = await runCli(['stuck', '--older-than', '1ms'], env);
    assert.equal(text.code, EXIT.attention);
    assert.match(
      text.stdout,
      new RegExp(`^${parkedId} +saga +needs-operator .*notify needs an operator`, 'm'),
    );
    assert.match(text.stdout, /need(s)? an operator \(settle resolve <id> retry\|skip\|abort\)/);
  });

  it('cancel on a saga parked in needs-operator is not sent: exit 5 at once, naming settle resolve (also in bulk)', async () => {
    const input = order('cancel-parked', 'notify');
    const workflowId = orderWorkflowId(input.orderId);
    parked.add(workflowId);
    const handle = await start(input);
    await untilStatus(handle, 'needs-operator');
    await untilVisible(`WorkflowId = '${workflowId}' AND SettleNeedsOperator = true`);
    const r = await runCli(['cancel', workflowId, '--wait', '--json'], env);
    assert.equal(r.code, EXIT.attention, r.stderr);
    const doc = json<{ requested: boolean; status: string; parked: string[]; error: string }>(r);
    assert.deepEqual(
      { requested: doc.requested, status: doc.status, parked: doc.parked },
      { requested: false, status: 'needs-operator', parked: ['notify'] },
    );
    assert.match(doc.error, new RegExp(`settle resolve ${workflowId} retry\\|skip\\|abort`));
    // Still parked, and no cancel request in its history.
    assert.equal((await handle.query(sagaProgressQuery)).status, 'needs-operator');
    const history = await handle.fetchHistory();
    assert.ok(!history.events!.some((e) => e.workflowExecutionCancelRequestedEventAttributes));

    const dry = json<{ dryRun: boolean; transactions: { workflowId: string; outcome: string }[] }>(
      await runCli(['cancel', '--query', `WorkflowId = '${workflowId}'`, '--dry-run', '--json'], env),
    );
    assert.deepEqual(
      dry.transactions.map((t) => [t.workflowId, t.outcome]),
      [[workflowId, 'skipped']],
    );

    // Bulk resolve: the dry run lists it and changes nothing; then skip it for real.
    const preview = await runCli(
      [
        'resolve',
        '--query',
        `WorkflowId = '${workflowId}'`,
        'skip',
        '--reason',
        'refunded by hand',
        '--dry-run',
        '--json',
      ],
      env,
    );
    assert.equal(preview.code, EXIT.ok, preview.stderr);
    assert.deepEqual(
      json<{ transactions: { workflowId: string; outcome: string }[] }>(preview).transactions.map(
        (t) => t.outcome,
      ),
      ['would-skip'],
    );
    assert.equal((await handle.query(sagaProgressQuery)).status, 'needs-operator');
    const done = await runCli(
      [
        'resolve',
        '--query',
        `WorkflowId = '${workflowId}'`,
        'skip',
        '--reason',
        'refunded by hand',
        '--rate',
        '5/s',
        '--json',
      ],
      env,
    );
    assert.equal(done.code, EXIT.ok, done.stderr);
    assert.deepEqual(
      json<{ transactions: { outcome: string }[] }>(done).transactions.map((t) => t.outcome),
      ['accepted'],
    );
    assert.equal(((await handle.result()) as { status: string }).status, 'completed');
  });

  it('status answers by business id, and shows a 2PC transfer with its participants', async () => {
    const ref = uniqueId('t-status');
    const placed = await runCli(
      [
        'transfer',
        '--from',
        'bank-a:alice',
        '--to',
        'bank-b:bob',
        '--amount',
        '1.25',
        '--ref',
        ref,
        '--json',
      ],
      env,
    );
    assert.equal(placed.code, EXIT.ok, placed.stderr);
    const t = json<{ businessKey: string; ref: string; pattern: string; status: string }>(placed);
    assert.deepEqual([t.businessKey, t.ref, t.pattern, t.status], [ref, ref, '2pc', 'committed']);
    const view = json<{
      workflowId: string;
      pattern: string;
      status: string;
      participants: { name: string }[];
    }>(await runCli(['status', ref, '--json'], env));
    assert.equal(view.workflowId, `transfer-${ref}`);
    assert.equal(view.pattern, '2pc');
    assert.equal(view.status, 'committed');
    assert.ok(view.participants.length >= 2, JSON.stringify(view));
    const text = await runCli(['status', ref], env);
    assert.match(text.stdout, /^ {2}PARTICIPANT +VOTE +OUTCOME/m);
    json(await runCli(['transfer', 'status', ref, '--json'], env));
    json(await runCli(['accounts', '--json'], env));
    const prepared = json<{ count: number; prepared: unknown[] }>(await runCli(['prepared', '--json'], env));
    assert.equal(prepared.count, prepared.prepared.length);
  });

  it('one validation rule: bad input exit 2, unknown references exit 4, nothing started', async () => {
    const place = (extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      runCli(['order', 'place', '--sku', 'SKU-2', '--qty', '1', ...extra], env);
    const negative = await place(['--customer', 'alice', '--amount', '-5']);
    assert.equal(negative.code, EXIT.usage);
    assert.match(negative.stderr, /--amount must be a positive amount .*got '-5' \(it must be positive\)/);
    assert.doesNotMatch(negative.stderr, /ambiguous/);
    const zed = await place([
      '--customer',
      'zed',
      '--amount',
      '5',
      '--order-id',
      uniqueId('o-zed'),
      '--json',
    ]);
    assert.equal(zed.code, EXIT.notFound, zed.stderr);
    assert.match(json<{ error: string }>(zed).error, /no customer 'zed'.*nothing was started/);
    assert.equal(
      (await ts.client.workflow.count(`SettleBusinessKey LIKE 'o-zed%'`).catch(() => ({ count: 0 }))).count,
      0,
    );
    const bogus = await runCli(['list', '--status', 'bogus'], env);
    assert.equal(bogus.code, EXIT.usage);
    assert.match(bogus.stderr, /--status must be one of/);
    const version = await runCli(['wallet', 'show', 'alice', '--as-of-version', '9999', '--json'], env);
    assert.equal(version.code, EXIT.notFound, version.stderr);
    assert.match(json<{ error: string }>(version).error, /has no version 9999: its latest is \d+/);
    json(await runCli(['wallet', 'show', 'alice', '--json'], env));
    json(await runCli(['needs-operator', '--json'], env));
    json(await runCli(['list', '--json'], env));
  });

  it('every option in every --help says what it does', () => {
    for (const c of COMMANDS)
      for (const [name, o] of Object.entries(c.options))
        assert.ok((o.description ?? '').length > 0, `settle ${c.name} --${name} has no description`);
  });

  it('barrier prune keeps the rows of a closed transaction that can still be reset, deletes those Temporal no longer holds', async () => {
    const input = order('prune');
    const h = await start(input);
    await h.result();
    const orders = ts.stack.pools.orders;
    const gidOf = await orders.query<{ gid: string }>(`SELECT DISTINCT gid FROM barrier WHERE gid LIKE $1`, [
      `${h.workflowId}%`,
    ]);
    assert.equal(gidOf.rows.length, 1, 'the order wrote its barrier rows');
    const gid = gidOf.rows[0]!.gid;
    const gone = `order-${uniqueId('gone')}/run-long-past-retention`;
    await orders.query(
      `INSERT INTO barrier (gid, branch, op, origin) VALUES ($1, 'create', 'action', 'action')`,
      [gone],
    );
    await orders.query(`UPDATE barrier SET created_at = now() - interval '40 days' WHERE gid = ANY($1)`, [
      [gid, gone],
    ]);
    const rowsOf = async (g: string): Promise<number> =>
      Number(
        (await orders.query<{ n: string }>('SELECT count(*) AS n FROM barrier WHERE gid = $1', [g])).rows[0]!
          .n,
      );
    const before = await rowsOf(gid);

    const dry = json<{ dryRun: boolean; rows: number }>(
      await runCli(['barrier', 'prune', '--older-than', '30d', '--dry-run', '--json'], env),
    );
    assert.equal(dry.dryRun, true);
    assert.equal(await rowsOf(gone), 1, 'a dry run deletes nothing');

    const pruned = json<{ rows: number; services: { service: string; rows: number; kept: number }[] }>(
      await runCli(['barrier', 'prune', '--older-than', '30d', '--json'], env),
    );
    // The completed order's history still exists: a reset would replay it against these rows.
    assert.equal(await rowsOf(gid), before);
    assert.equal(await rowsOf(gone), 0);
    const o = pruned.services.find((s) => s.service === 'orders');
    assert.ok(o && o.rows >= 1 && o.kept >= 1, JSON.stringify(pruned));
  });

  it('every field any command printed under --json is documented in docs/operations.md', () => {
    const documented = documentedJsonFields(readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8'));
    const missing = new Map<string, Set<string>>();
    for (const { command, doc } of SEEN_DOCS)
      for (const k of jsonKeys(doc))
        if (!documented.has(k)) (missing.get(k) ?? missing.set(k, new Set()).get(k)!).add(command);
    assert.deepEqual(
      [...missing].map(([k, cmds]) => `${k} (${[...cmds].join(', ')})`),
      [],
      'undocumented --json fields',
    );
    const commands = new Set(SEEN_DOCS.map((d) => d.command));
    for (const c of [
      'order place',
      'list',
      'status',
      'cancel',
      'stuck',
      'resolve',
      'transfer',
      'transfer status',
      'accounts',
      'prepared',
      'wallet show',
      'needs-operator',
    ])
      assert.ok(commands.has(c), `no --json document of settle ${c} was checked`);
  });
});
