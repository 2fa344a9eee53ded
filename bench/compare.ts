// `settle compare` / `npm run compare`: one business operation, "move N cents from account X at bank-a to account
// Y at bank-b", run under each consistency model on the same stack, measured the same way:
//   2pc           transfer2pc (prepared transactions in both banks): acknowledged when committed
//   tcc           transferTcc (try/confirm over the TCC participant server): acknowledged when confirmed
//   saga          compareSaga (debit, then credit, refund on failure): acknowledged once Temporal holds the start
//   choreography  bank-a commits the debit with a "credit due" outbox event: acknowledged then; a relay credits
//   weak          the client debits and fires the credit at the worker: acknowledged then; nothing retries it
// Each transfer has its own pair of accounts (no hot row: the models are compared, not the row locks). A reader
// samples the run's money across both databases while it goes; convergence is the bank-b commit time minus the
// acknowledgment time; a kill run SIGKILLs the worker process a third of the way in and starts it again, and
// after quiescing every pair is counted: debited and never credited (lost), credited twice (duplicated).
// Starts its own PostgreSQL, Temporal dev server, TCC server and worker process on free ports in a temp directory
// (never the user's stack). Progress on stderr; the table or --json (one array) on stdout.
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  applyOnce,
  COMPARE_MODELS,
  parseCompareOptions,
  type CompareModel,
  type CompareRunOptions,
  debitWithOutboxEvent,
  pairAccount,
  pairStates,
  pendingCredits,
  readPairSum,
  seedComparePairs,
  setupCompareTables,
} from '../services/compare';
import { startParticipantTimers, type ParticipantTimers } from '../services/participant-timers';
import { freePort } from '../services/processes';
import { startStack, type Stack } from '../services/stack';
import { startTccServer, type TccServer } from '../services/tcc-server';
import { TASK_QUEUES, type TccInput, type TransferInput } from '../shared';
import { WORKFLOW_METRICS_MODULE } from '../workers/metrics';
import type { CompareWorkerConfig } from './compare-worker';
import type { CompareSagaInput } from './compare-workflows';
import { Histogram } from './histogram';

type Model = CompareModel;
const MODELS = COMPARE_MODELS;
const EVENTUAL: ReadonlySet<Model> = new Set(['saga', 'choreography', 'weak']);

export interface CompareRow {
  model: Model;
  concurrency: number;
  /** Acknowledged transfers per second while the clients were submitting. */
  throughput_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** Reader samples whose bank-a + bank-b sum was not the run's money (money in neither or both accounts). */
  intermediate_reads: number;
  convergence_p50_ms: number | null;
  convergence_p99_ms: number | null;
  /** Debited, never credited and never refunded, after quiescing. */
  lost: number;
  /** Credits beyond one per transfer, and refunds of a transfer that was also credited. */
  duplicated: number;
  /** This row is the SIGKILL run (the worker was killed a third of the way in and started again). */
  killed: boolean;
  transfers: number;
  reads: number;
  /** The reader's sum equalled the run's money once everything quiesced. */
  consistent_after_quiesce: boolean;
  /** Transfers that did not move (aborted, compensated, or a failed client call). */
  not_moved: number;
}

export interface CompareOptions extends CompareRunOptions {
  amountCents?: number;
  log?: (m: string) => void;
}

const ROOT = resolve(__dirname, '..');
const AMOUNT = 100;
const QUIESCE_MS = 180_000;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(50);
  }
}

/** The compare stack: servers in this process, the workers in one child process the run can SIGKILL. */
class CompareStack {
  readonly dir = mkdtempSync(join(tmpdir(), 'settle-compare-'));
  stack!: Stack;
  client!: Client;
  weakUrl = '';
  private connection?: Connection;
  private tcc?: TccServer;
  private timers?: ParticipantTimers;
  private worker?: { child: ChildProcess; exited: Promise<void> };
  private bundlePath = '';

  constructor(private readonly log: (m: string) => void) {}

  async start(): Promise<void> {
    chmodSync(this.dir, 0o755); // the embedded server runs as 'postgres' when we are root
    this.stack = await startStack({
      dataDir: this.dir,
      dbPrefix: 'compare',
      pgPort: await freePort(),
      temporalPort: await freePort(),
      persistent: true,
      log: (m) => this.log(m),
    });
    await setupCompareTables(this.stack.pools);
    this.tcc = await startTccServer({ pools: this.stack.pools, port: 0, host: '127.0.0.1' });
    // As the host runs them beside the TCC server (a hold whose coordinator died expires on the participant).
    this.timers = startParticipantTimers(this.stack.pools);
    this.connection = await Connection.connect({ address: this.stack.temporal.address });
    this.client = new Client({ connection: this.connection, namespace: this.stack.temporal.namespace });
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('./compare-workflows'),
      workflowInterceptorModules: [WORKFLOW_METRICS_MODULE],
      logger: new DefaultLogger('ERROR'),
    });
    this.bundlePath = join(this.dir, 'workflows.js');
    writeFileSync(this.bundlePath, code);
    await this.spawnWorker();
  }

  async spawnWorker(): Promise<void> {
    const cfg: CompareWorkerConfig = {
      address: this.stack.temporal.address,
      namespace: this.stack.temporal.namespace,
      databaseUrl: this.stack.postgres.url,
      dbPrefix: this.stack.dbPrefix,
      bundlePath: this.bundlePath,
    };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'compare-worker.ts'), JSON.stringify(cfg)],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, SETTLE_TCC_URL: this.tcc!.url },
      },
    );
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.worker = { child, exited };
    const port = await new Promise<number>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('compare worker not ready in 120 s')), 120_000);
      child.once('exit', (code) => fail(new Error(`compare worker exited with ${code}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /^READY (\d+)$/.exec(line.trim());
        if (!m) return this.log(`worker: ${line}`);
        clearTimeout(timer);
        ok(Number(m[1]));
      });
    });
    this.weakUrl = `http://127.0.0.1:${port}`;
  }

  async killWorker(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    w.child.kill('SIGKILL');
    await w.exited;
  }

  async stop(): Promise<void> {
    await this.killWorker().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    await this.timers?.stop().catch(() => undefined);
    await this.tcc?.close().catch(() => undefined);
    await this.stack?.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** How one model submits transfer i: resolves at the client's acknowledgment, with what settles it after. */
type Submit = (i: number) => Promise<{ settled?: Promise<unknown> }>;

function submitter(model: Model, s: CompareStack, tag: string, amountCents: number): Submit {
  const from = (i: number) => pairAccount(tag, i, 'a');
  const to = (i: number) => pairAccount(tag, i, 'b');
  const transfer = (i: number): TransferInput => ({
    ref: `${tag}-${i}`,
    from: { bank: 'bank-a', account: from(i) },
    to: { bank: 'bank-b', account: to(i) },
    amountCents,
  });
  const start = (type: string, i: number, arg: unknown): Promise<WorkflowHandle> =>
    s.client.workflow.start(type, {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: `compare-${tag}-${i}`,
      args: [arg],
    });
  switch (model) {
    case '2pc':
      // Strong: the client hears back once both banks committed (or both aborted).
      return async (i) => {
        await (await start('transfer2pc', i, transfer(i))).result();
        return {};
      };
    case 'tcc':
      return async (i) => {
        await (
          await start('transferTcc', i, { ...transfer(i), confirm: 'auto' } satisfies TccInput)
        ).result();
        return {};
      };
    case 'saga':
      return async (i) => {
        const input: CompareSagaInput = { from: from(i), to: to(i), amountCents };
        const handle = await start('compareSaga', i, input);
        // Counted from the databases afterwards; an unobserved rejection would end the process first.
        return { settled: handle.result().catch(() => undefined) };
      };
    case 'choreography':
      return async (i) => {
        await debitWithOutboxEvent(s.stack.pools.bank_a, `${tag}-${i}`, from(i), {
          account: to(i),
          amountCents,
        });
        return {};
      };
    case 'weak':
      return async (i) => {
        await applyOnce(s.stack.pools.bank_a, {
          key: `${tag}-${i}:debit`,
          kind: 'debit',
          account: from(i),
          amountCents,
        });
        // Fire and forget: a refused or dropped request is not retried.
        await fetch(`${s.weakUrl}/credit`, {
          method: 'POST',
          body: JSON.stringify({ account: to(i), amountCents }),
          signal: AbortSignal.timeout(2000),
        }).catch(() => undefined);
        return {};
      };
  }
}

/** Wait until nothing of the run is still moving: workflows closed, outbox drained, the weak receiver idle. */
async function quiesce(
  model: Model,
  s: CompareStack,
  tag: string,
  settled: Promise<unknown>[],
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(settled),
    new Promise((_, fail) => {
      timer = setTimeout(
        () => fail(new Error(`${model}: transactions still running after ${QUIESCE_MS} ms`)),
        QUIESCE_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  if (model === 'choreography')
    await until(
      'the outbox to drain',
      async () => (await pendingCredits(s.stack.pools.bank_a, tag)) === 0,
      QUIESCE_MS,
    );
  if (model === 'weak')
    await until(
      'the weak receiver to be idle',
      async () => {
        const r = await fetch(`${s.weakUrl}/pending`, { signal: AbortSignal.timeout(2000) }).catch(
          () => undefined,
        );
        return r?.ok === true && ((await r.json()) as { pending: number }).pending === 0;
      },
      QUIESCE_MS,
    );
}

let runs = 0;

async function measure(
  s: CompareStack,
  model: Model,
  concurrency: number,
  n: number,
  kill: boolean,
  amountCents: number,
  log: (m: string) => void,
): Promise<CompareRow> {
  const tag = `cmp${++runs}`;
  await seedComparePairs(s.stack.pools, tag, n, amountCents);
  const money = n * amountCents;
  const submit = submitter(model, s, tag, amountCents);

  let reading = true;
  let reads = 0;
  let intermediate = 0;
  const reader = (async () => {
    while (reading) {
      const sum = await readPairSum(s.stack.pools, tag);
      reads += 1;
      if (sum !== money) intermediate += 1;
      await pause(2);
    }
  })();

  const latency = new Histogram();
  const ackAt = new Map<number, number>();
  const settled: Promise<unknown>[] = [];
  let failed = 0;
  let next = 0;
  let restart: Promise<void> | undefined;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      for (let i = next++; i < n; i = next++) {
        const started = Date.now();
        try {
          const { settled: after } = await submit(i);
          if (after) settled.push(after);
          latency.recordMs(Date.now() - started);
          ackAt.set(i, Date.now());
        } catch (err) {
          failed += 1;
          if (failed <= 3) log(`${model} transfer ${i}: ${(err as Error).message}`);
        }
        if (kill && !restart && ackAt.size >= Math.ceil(n / 3)) {
          log(`${model}: SIGKILL the worker after ${ackAt.size} acknowledged`);
          restart = s.killWorker().then(() => s.spawnWorker());
        }
      }
    }),
  );
  const submitMs = Date.now() - t0;
  await restart;
  await quiesce(model, s, tag, settled);
  reading = false;
  await reader;
  const consistent = (await readPairSum(s.stack.pools, tag)) === money;

  let lost = 0;
  let duplicated = 0;
  let notMoved = 0;
  const convergence = new Histogram();
  for (const p of await pairStates(s.stack.pools, tag)) {
    const credits = Math.round(p.to / amountCents);
    const debited = p.from === 0;
    if (debited && credits === 0) lost += 1;
    if (credits > 1) duplicated += credits - 1;
    if (!debited && credits > 0) duplicated += credits; // refunded and credited: the money exists twice
    if (!debited && credits === 0) notMoved += 1;
    const acked = ackAt.get(p.i);
    if (EVENTUAL.has(model) && p.creditedAtMs !== undefined && acked !== undefined)
      convergence.recordMs(Math.max(0, p.creditedAtMs - acked));
  }
  const pct = (h: Histogram, q: number): number | null => (h.count ? round(h.percentileMs(q)) : null);
  const row: CompareRow = {
    model,
    concurrency,
    throughput_per_s: round((ackAt.size / Math.max(1, submitMs)) * 1000),
    p50_ms: pct(latency, 50) ?? 0,
    p99_ms: pct(latency, 99) ?? 0,
    intermediate_reads: intermediate,
    convergence_p50_ms: EVENTUAL.has(model) ? pct(convergence, 50) : null,
    convergence_p99_ms: EVENTUAL.has(model) ? pct(convergence, 99) : null,
    lost,
    duplicated,
    killed: kill,
    transfers: n,
    reads,
    consistent_after_quiesce: consistent,
    not_moved: notMoved,
  };
  log(
    `${model} c=${concurrency}${kill ? ' (SIGKILL)' : ''}: ${row.throughput_per_s}/s p50 ${row.p50_ms} ms, ` +
      `${intermediate}/${reads} intermediate reads, lost ${lost}, duplicated ${duplicated}`,
  );
  return row;
}

const round = (x: number): number => Math.round(x * 10) / 10;

export async function runCompare(opts: CompareOptions): Promise<CompareRow[]> {
  const log = opts.log ?? ((m: string) => void process.stderr.write(`compare: ${m}\n`));
  const s = new CompareStack(log);
  const rows: CompareRow[] = [];
  try {
    await s.start();
    const amount = opts.amountCents ?? AMOUNT;
    for (const model of opts.models) {
      for (const c of opts.concurrency)
        rows.push(await measure(s, model, c, opts.transfers, false, amount, log));
      if (opts.kill)
        rows.push(await measure(s, model, Math.max(...opts.concurrency), opts.transfers, true, amount, log));
    }
    return rows;
  } finally {
    await s.stop();
  }
}

const cell = (v: number | null): string => (v === null ? '-' : String(v));

export function renderTable(rows: CompareRow[]): string {
  const head = [
    'model',
    'in flight',
    'tx/s',
    'p50 ms',
    'p99 ms',
    'intermediate reads',
    'conv p50 ms',
    'conv p99 ms',
    'lost',
    'dup',
  ];
  const body = rows.map((r) => [
    r.model + (r.killed ? ' (SIGKILL)' : ''),
    String(r.concurrency),
    String(r.throughput_per_s),
    String(r.p50_ms),
    String(r.p99_ms),
    `${r.intermediate_reads}/${r.reads}`,
    cell(r.convergence_p50_ms),
    cell(r.convergence_p99_ms),
    String(r.lost),
    String(r.duplicated),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
}

export const COMPARE_USAGE = `Usage: npm run compare -- [--transfers N] [--concurrency LIST] [--models LIST] [--no-kill] [--json]

  --transfers N        transfers per model and concurrency (default 200)
  --concurrency LIST   transfers in flight, comma list (default 1,50); the SIGKILL run uses the largest
  --models LIST        comma list of ${MODELS.join(', ')} (default all)
  --no-kill            skip the SIGKILL run per model
  --json               one JSON array on stdout`;

export function parseCompareArgs(argv: string[]): CompareOptions & { json: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      transfers: { type: 'string' },
      concurrency: { type: 'string' },
      models: { type: 'string' },
      'no-kill': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  return { ...parseCompareOptions({ ...values, noKill: values['no-kill'] }), json: values.json };
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${COMPARE_USAGE}\n`);
    return;
  }
  let opts;
  try {
    opts = parseCompareArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`compare: ${(err as Error).message}\n\n${COMPARE_USAGE}\n`);
    process.exit(2);
  }
  const rows = await runCompare(opts);
  process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${renderTable(rows)}\n`);
}

if (require.main === module)
  main().catch((err: Error) => {
    process.stderr.write(`compare: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
