// Property-based tests (fast-check) of malformed input, on a real stack: every CLI command given a malformed
// flag, an unknown flag or a missing argument exits 2 with a clear error, and every workflow started from the
// SDK with a malformed input fails at once; either way nothing is started and nothing is written (every
// database's rows and the workflow list are compared before and after each run).
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../client/cli';
import { COMMANDS } from '../../client/commands';
import { freePort } from '../../services/processes';
import { startStack, type Stack } from '../../services/stack';
import { TASK_QUEUES } from '../../shared';
import { createWorkers, runWorkers, shutdownWorkers } from '../../workers';
import { quietRuntime, workflowBundle } from '../helpers/env';
import { fingerprint, workflowCount } from '../helpers/fingerprint';

const RUNS = Number(process.env.SETTLE_FUZZ_RUNS ?? 15);

/** Values no id flag accepts: empty, too long, a character outside [A-Za-z0-9._:-], a leading dash. */
const badId = fc.oneof(
  fc.constant(''),
  fc.stringMatching(/^[A-Za-z0-9]{65,80}$/),
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9]{0,8}$/),
      fc.constantFrom(' ', ';', '/', "'", '"', '$', 'é', '*', '\u0000', '\n', '%'),
      fc.stringMatching(/^[A-Za-z0-9]{0,8}$/),
    )
    .map(([a, b, c]) => `${a}${b}${c}`),
);
const badAmount = fc.constantFrom(
  '0',
  '-1',
  '1.234',
  'abc',
  '',
  ' ',
  'NaN',
  'Infinity',
  '0.00',
  '1,5',
  '--1',
  '1e400',
);
const badCount = fc.constantFrom('0', '-1', '1.5', 'x', '', '1000001', '9007199254740993', 'NaN');
const badAccount = fc.constantFrom(
  'bank-c:alice',
  'alice',
  'bank-a:',
  ':alice',
  'bank-a:ALICE!',
  'bank-a:a b',
  '',
);
const unknownFlag = fc.stringMatching(/^[a-z]{3,10}$/).map((s) => `--zz${s}`);

/** The commands that start something, each with a valid baseline and a malformed value per flag. */
const STARTERS: { label: string; argv: string[]; flags: Record<string, fc.Arbitrary<string>> }[] = [
  {
    label: 'order place',
    argv: ['order', 'place', '--customer', 'alice', '--sku', 'SKU-1', '--qty', '1', '--amount', '1'],
    flags: {
      '--customer': badId,
      '--sku': badId,
      '--qty': badCount,
      '--amount': badAmount,
      '--fail-at': fc.constantFrom('nowhere', '', 'CHARGE'),
    },
  },
  {
    label: 'trip book',
    argv: [
      'trip',
      'book',
      '--customer',
      'alice',
      '--flight',
      'FL-100',
      '--hotel',
      'HT-1',
      '--car',
      'compact',
      '--nights',
      '1',
      '--amount',
      '10',
    ],
    flags: {
      '--customer': badId,
      '--flight': badId,
      '--hotel': badId,
      '--car': badId,
      '--nights': fc.constantFrom('0', '61', '1.5', 'x', ''),
      '--amount': badAmount,
    },
  },
  ...['2pc', 'tcc', '3pc'].map((protocol) => ({
    label: `transfer --protocol ${protocol}`,
    argv: [
      'transfer',
      '--from',
      'bank-a:alice',
      '--to',
      'bank-b:bob',
      '--amount',
      '1',
      '--protocol',
      protocol,
    ],
    flags: {
      '--from': badAccount,
      '--to': badAccount,
      '--amount': badAmount,
      '--protocol': fc.constantFrom('4pc', '', 'TCC', '2PC '),
    },
  })),
];

function withFlag(argv: string[], flag: string, value: string): string[] {
  const i = argv.indexOf(flag);
  return i >= 0 ? [...argv.slice(0, i + 1), value, ...argv.slice(i + 2)] : [...argv, flag, value];
}

/** Run the CLI in this process with its output captured. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const [w1, w2] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  process.stdout.write = (s: string | Uint8Array) => ((out += String(s)), true);
  process.stderr.write = (s: string | Uint8Array) => ((err += String(s)), true);
  try {
    return { code: await main(argv), out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

describe('fuzzed malformed input (fast-check, real stack)', { timeout: 15 * 60_000 }, () => {
  let stack: Stack;
  let dataDir: string;
  let client: Client;
  let native: NativeConnection;
  let workers: Worker[];
  let running: Promise<void>;
  let connection: Connection;

  before(async () => {
    quietRuntime();
    dataDir = mkdtempSync(join(tmpdir(), 'settle-fuzz-'));
    chmodSync(dataDir, 0o755);
    // The CLI's own database names (prefix 'settle'), on a PostgreSQL of this test's own.
    stack = await startStack({
      dataDir,
      pgPort: await freePort(),
      temporalPort: await freePort(),
      persistent: false,
    });
    process.env.TEMPORAL_ADDRESS = stack.temporal.address;
    process.env.TEMPORAL_NAMESPACE = stack.temporal.namespace;
    process.env.DATABASE_URL = stack.postgres.url;
    connection = await Connection.connect({ address: stack.temporal.address });
    client = new Client({ connection, namespace: stack.temporal.namespace });
    native = await NativeConnection.connect({ address: stack.temporal.address });
    workers = await createWorkers({
      connection: native,
      namespace: stack.temporal.namespace,
      pools: stack.pools,
      workflowBundle: await workflowBundle(),
    });
    running = runWorkers(workers);
  });
  after(async () => {
    if (workers) shutdownWorkers(workers);
    await running;
    await connection?.close();
    await native?.close();
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function assertNothingChanged(run: () => Promise<void>): Promise<void> {
    const [db0, wf0] = [await fingerprint(stack.pools), await workflowCount(client)];
    await run();
    assert.deepEqual(await fingerprint(stack.pools), db0, 'no database row changed');
    assert.equal(await workflowCount(client), wf0, 'no workflow was started');
  }

  for (const s of STARTERS)
    it(`settle ${s.label}: a malformed flag exits 2, starting and writing nothing`, async () => {
      const arb = fc.oneof(
        ...Object.entries(s.flags).map(([flag, values]) => values.map((v) => withFlag(s.argv, flag, v))),
      );
      await fc.assert(
        fc.asyncProperty(arb, fc.boolean(), async (argv, json) => {
          await assertNothingChanged(async () => {
            const r = await cli(json ? [...argv, '--json'] : argv);
            assert.equal(r.code, 2, `exit code of settle ${JSON.stringify(argv)}: ${r.err}`);
            assert.ok(r.err.trim().length > 0, 'a clear error on stderr');
            if (json) assert.equal((JSON.parse(r.out) as { exitCode: number }).exitCode, 2);
          });
        }),
        { numRuns: RUNS },
      );
    });

  it('every command: an unknown flag or a missing required argument exits 2, starting and writing nothing', async () => {
    const cases = COMMANDS.map((c) => ({
      name: c.name.split(' '),
      required: (c.positionals ?? []).filter((p) => p.required).length,
    }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...cases), unknownFlag, fc.boolean(), async (c, flag, missing) => {
        const argv =
          missing && c.required > 0
            ? c.name
            : [...c.name, ...Array.from({ length: c.required }, () => 'x-1'), flag];
        await assertNothingChanged(async () => {
          const r = await cli(argv);
          assert.equal(r.code, 2, `exit code of settle ${argv.join(' ')}: ${r.err}`);
        });
      }),
      { numRuns: RUNS * 3 },
    );
  });

  const WORKFLOWS: { type: string; input: fc.Arbitrary<unknown> }[] = [
    {
      type: 'orderSaga',
      input: fc.record({
        orderId: badId,
        customerId: fc.constant('alice'),
        sku: fc.constant('SKU-1'),
        qty: fc.integer({ max: 0 }),
        amountCents: fc.integer({ max: 0 }),
      }),
    },
    {
      type: 'tripSaga',
      input: fc.record({
        tripId: badId,
        customerId: fc.constant('alice'),
        flightId: badId,
        hotelId: fc.constant('HT-1'),
        carClass: fc.constant('compact'),
        nights: fc.integer({ min: 61 }),
        amountCents: fc.integer({ max: 0 }),
      }),
    },
    ...['transfer2pc', 'transfer3pc', 'transferTcc'].map((type) => ({
      type,
      input: fc.record({
        ref: badId,
        from: fc.constant({ bank: 'bank-a', account: 'alice' }),
        to: fc.constantFrom({ bank: 'bank-a', account: 'carol' }, { bank: 'bank-x', account: 'bob' }),
        amountCents: fc.oneof(fc.integer({ max: 0 }), fc.double({ min: 0.1, max: 0.9, noNaN: true })),
      }),
    })),
    {
      type: 'transferK',
      input: fc.record({ ref: badId, k: fc.constantFrom(0, 1, 9, 2.5), amountCents: fc.integer({ max: 0 }) }),
    },
  ];

  for (const w of WORKFLOWS)
    it(`workflow ${w.type}: a malformed input fails the run at once, writing nothing`, async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(w.input, async (input) => {
          const [db0] = [await fingerprint(stack.pools)];
          n += 1;
          const handle = await client.workflow.start(w.type, {
            taskQueue: TASK_QUEUES.orchestration,
            workflowId: `fuzz-${w.type}-${process.pid}-${n}-${Date.now()}`,
            args: [input],
          });
          // It must fail by itself, at once: a run still open after 20 s is a failure of the test (terminated).
          const outcome = await Promise.race([
            handle.result().then(
              () => 'completed',
              (e: unknown) => (e instanceof WorkflowFailedError ? 'failed' : `error ${String(e)}`),
            ),
            new Promise<string>((r) => setTimeout(() => r('still running'), 20_000).unref()),
          ]);
          if (outcome === 'still running') await handle.terminate('fuzz: did not fail at once');
          assert.equal(outcome, 'failed', `${w.type}(${JSON.stringify(input)})`);
          assert.deepEqual(await fingerprint(stack.pools), db0, 'no database row changed');
        }),
        { numRuns: Math.max(3, Math.floor(RUNS / 3)) },
      );
    });
});
