// The bench's workloads. Each one starts one transaction, waits for its outcome and says which outcome was
// expected, so a run that "finishes fast" because it failed is counted as errors, not as throughput.
// The order workload also checks the money and stock invariants on its own databases afterwards.
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  BANK_QUEUES,
  orderSummary,
  orderWorkflowId,
  SA,
  TASK_QUEUES,
  type BankId,
  type CoordinatorState,
  type OrderInput,
  type ParticipantSpec,
  type SagaResult,
  type TccInput,
  type TransferResult,
} from '../shared';
import { withTransaction } from '../services/db';
import { checkInvariants } from '../services/invariants';
import { appendEvent } from '../services/wallet-events';
import type { BenchInput, BenchOrderInput, BenchTwoPhaseInput } from './workflows';
import { BANK_SERVICES } from '../services/banks';
import type { Rig } from './rig';
import { ALL_STEPS } from './tuning';

export interface Outcome {
  workflowId: string;
  outcome: string;
  expected: string;
  eager: boolean;
}

export interface Workload {
  name: string;
  description: string;
  /** Not part of the default set (run it by naming it in --workload). */
  optional?: boolean;
  /** Why it cannot run in this tree (a missing module), or undefined. */
  unavailable?(): string | undefined;
  /** Seed what `count` transactions need, in the rig's own databases. */
  prepare?(rig: Rig, count: number, tag: string): Promise<void>;
  run(rig: Rig, tag: string, i: number): Promise<Outcome>;
  /** Invariant violations after the run (empty = fine). */
  verify?(rig: Rig, tag: string): Promise<string[]>;
}

const ROOT = resolve(__dirname, '..');
/** Every tenth transaction fails (at payment, for the sagas) and must be compensated. */
export const fails = (i: number): boolean => i % 10 === 9;

async function startAndWait<R>(
  client: Client,
  rig: Rig,
  type: string,
  opts: Omit<WorkflowStartOptions, 'requestEagerStart'>,
): Promise<{ result: R; eager: boolean }> {
  const handle = await client.workflow.start(type, { ...opts, requestEagerStart: rig.tuning.eager });
  return { result: (await handle.result()) as R, eager: handle.eagerlyStarted };
}

// ---------------------------------------------------------------------------------------------- order
const CUSTOMERS = 64;
const SKUS = 64;
const START_BALANCE = 1_000_000_000_00; // a billion in cents: never the limit
const START_STOCK = 1_000_000_000;

const benchCustomer = (i: number): string => `bench-c-${i % CUSTOMERS}`;
const benchSku = (i: number): string => `BENCH-${i % SKUS}`;
const amountOf = (i: number): number => 1000 + (i % 7) * 125;

/** The order saga on the real services. Consecutive orders use different customers and SKUs (no hot row). */
export const orderWorkload: Workload = {
  name: 'order',
  description: 'the order saga on the real services (every tenth fails at charge and compensates)',
  async prepare(rig) {
    const { payments, inventory } = rig.stack.pools;
    // Bench customers are seeded like the demo's (UserCreated + a 'seed' deposit), so the project's own
    // money invariant (wallets + revenue = seed deposits) covers them.
    for (let c = 0; c < CUSTOMERS; c++) {
      const id = benchCustomer(c);
      await withTransaction(payments, async (tx) => {
        const created = await tx.query(
          `INSERT INTO wallets (customer_id, name, email, balance_cents, version) VALUES ($1, $1, $1 || '@bench.invalid', 0, 1)
           ON CONFLICT DO NOTHING`,
          [id],
        );
        if (created.rowCount !== 1) return;
        await appendEvent(tx, id, 0, {
          type: 'UserCreated',
          data: { name: id, email: `${id}@bench.invalid` },
        });
        const version = await appendEvent(tx, id, 1, {
          type: 'BalanceUpdated',
          data: { amountCents: START_BALANCE, reason: 'seed' },
        });
        await tx.query('UPDATE wallets SET balance_cents = $2, version = $3 WHERE customer_id = $1', [
          id,
          START_BALANCE,
          version,
        ]);
      });
    }
    for (let s = 0; s < SKUS; s++) {
      await inventory.query(
        'INSERT INTO stock (sku, available, total) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING',
        [benchSku(s), START_STOCK],
      );
    }
  },
  async run(rig, tag, i) {
    const input: OrderInput = {
      orderId: `${tag}-${i}`,
      customerId: benchCustomer(i),
      sku: benchSku(i),
      qty: 1,
      amountCents: amountOf(i),
      ...(fails(i) ? { failAt: 'charge' as const } : {}),
    };
    const workflowId = orderWorkflowId(input.orderId);
    const local = rig.tuning.local;
    // The real start path of `settle order place` (summary, details, search attributes, id policies).
    const { result, eager } = await startAndWait<SagaResult>(
      rig.client,
      rig,
      local ? 'benchOrderSaga' : 'orderSaga',
      {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId,
        args: [local ? ({ ...input, local } satisfies BenchOrderInput) : input],
        staticSummary: orderSummary(input),
        staticDetails: 'Saga: create order -> reserve stock -> charge payment -> send notification (bench)',
        typedSearchAttributes: [
          { key: SA.pattern, value: 'saga' },
          { key: SA.businessKey, value: input.orderId },
          { key: SA.status, value: 'running' },
        ],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      },
    );
    return { workflowId, outcome: result.status, expected: fails(i) ? 'compensated' : 'completed', eager };
  },
  async verify(rig, tag) {
    const left = await rig.stack.pools.orders.query<{ n: string }>(
      `SELECT count(*) AS n FROM orders WHERE order_id LIKE $1 AND status = 'pending'`,
      [`${tag}-%`],
    );
    const problems = Number(left.rows[0]?.n) > 0 ? [`${left.rows[0]?.n} orders left pending`] : [];
    return [...problems, ...(await invariantViolations(rig))];
  },
};

/** The project's own invariants (money, wallet replay, stock, orders settled, no prepared transaction). */
export async function invariantViolations(rig: Rig): Promise<string[]> {
  const report = await checkInvariants(rig.stack.pools);
  return report.checks.flatMap((c) => c.violations.slice(0, 3).map((v) => `${c.name}: ${v}`));
}

// ---------------------------------------------------------------------------------------------- engine, baseline
function benchSagaWorkload(
  name: string,
  type: string,
  description: string,
  extra: Partial<BenchInput> = {},
): Workload {
  return {
    name,
    description,
    optional: Object.keys(extra).length > 0,
    async run(rig, tag, i) {
      const input: BenchInput = {
        id: `${tag}-${i}`,
        ...extra,
        ...(fails(i) ? { failAt: 'charge' as const } : {}),
      };
      // Same step placement as the order saga in this deployment: local in the all-in-one one.
      const local = rig.tuning.local ?? (rig.tuning.inProcess ? ALL_STEPS : undefined);
      if (local) input.local = local;
      const workflowId = `bench-${input.id}`;
      const { result, eager } = await startAndWait<{ status: string }>(rig.client, rig, type, {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId,
        args: [input],
        // The library's sagas are started as `settle order place` starts them (what operators filter on, set at
        // start); the hand-written baseline has none.
        ...(type === 'benchEngineSaga' && input.searchAttributes !== false
          ? {
              typedSearchAttributes: [
                { key: SA.pattern, value: 'saga' },
                { key: SA.businessKey, value: input.id },
                { key: SA.status, value: 'running' },
              ],
            }
          : {}),
      });
      return { workflowId, outcome: result.status, expected: fails(i) ? 'compensated' : 'completed', eager };
    },
  };
}

export const engineWorkload = benchSagaWorkload(
  'engine',
  'benchEngineSaga',
  'the same saga shape through the saga library, activities without I/O',
);
export const baselineWorkload = benchSagaWorkload(
  'baseline',
  'benchBaseline',
  'the same activity calls hand-written, no library, no I/O',
);
export const engineNoSaWorkload = benchSagaWorkload(
  'engine-nosa',
  'benchEngineSaga',
  'engine without the search-attribute upserts (what they cost)',
  {
    searchAttributes: false,
  },
);

// ---------------------------------------------------------------------------------------------- 2PC, TCC
// The coordinators (workflows/two-phase.ts, workflows/tcc.ts) are built in another issue; these workloads
// plug in once those modules exist and say why they are skipped until then.
function needs(...files: string[]): () => string | undefined {
  return () => {
    const missing = files.filter((f) => !existsSync(join(ROOT, f)));
    return missing.length ? `needs ${missing.join(', ')} (not in this tree yet)` : undefined;
  };
}

const TWO_PC_AMOUNT = 100;
/** What the bench seeded into the accounts of one tag (and its warm-up tag): transfers only move it around. */
const seeded = new Map<string, number>();

/** Sum of the balances and TCC holds of the accounts a tag's transactions use, over both banks. */
async function tagMoney(rig: Rig, tag: string): Promise<number> {
  let total = 0;
  for (const bank of ['bank-a', 'bank-b'] as const) {
    const r = await rig.stack.pools[BANK_SERVICES[bank]].query<{ s: string | null }>(
      `SELECT coalesce(sum(a.balance_cents), 0) + coalesce((SELECT -sum(r.amount_cents) FROM reservations r
                WHERE r.status = 'held' AND r.amount_cents < 0 AND (r.account_id LIKE $1 OR r.account_id LIKE $2)), 0) AS s
         FROM accounts a WHERE a.account_id LIKE $1 OR a.account_id LIKE $2`,
      [`${tag}-%`, `${tag}w-%`],
    );
    total += Number(r.rows[0]?.s ?? 0);
  }
  return total;
}

async function seedAccounts(
  rig: Rig,
  tag: string,
  count: number,
  perTx: number,
  balance: (j: number) => number,
): Promise<void> {
  let sum = 0;
  for (const t of [tag, `${tag}w`]) {
    for (let j = 0; j < perTx; j++) {
      const bank: BankId = j % 2 === 0 ? 'bank-a' : 'bank-b';
      await rig.stack.pools[BANK_SERVICES[bank]].query(
        `INSERT INTO accounts (account_id, owner, balance_cents)
         SELECT $1 || '-' || i || '-' || $2::int, 'bench', $3::bigint FROM generate_series(0, $4::int - 1) i ON CONFLICT DO NOTHING`,
        [t, j, balance(j), count],
      );
      sum += balance(j) * count;
    }
  }
  seeded.set(tag, sum);
}

async function verifyMoney(rig: Rig, tag: string): Promise<string[]> {
  const total = await tagMoney(rig, tag);
  const expected = seeded.get(tag);
  const problems =
    expected !== undefined && total !== expected
      ? [`money: the run's accounts hold ${total}, seeded ${expected}`]
      : [];
  return [...problems, ...(await invariantViolations(rig))];
}

/**
 * The 2PC coordinator with k participants (one debit of (k-1) x amount, k-1 credits, alternating banks), every
 * tenth with a no vote (aborted). Each transaction gets accounts of its own, seeded here: with shared accounts,
 * concurrent transactions would queue behind each other's prepared row locks (or deadlock until the vote
 * timeout), which measures the data, not the coordinator.
 */
function twoPhaseWorkload(k: number): Workload {
  const account = (tag: string, i: number, j: number): string => `${tag}-${i}-${j}`;
  const bankOf = (j: number): BankId => (j % 2 === 0 ? 'bank-a' : 'bank-b');
  return {
    name: `2pc-${k}`,
    description: `2PC coordinator, ${k} PostgreSQL participants (prepared transactions); every tenth votes no`,
    unavailable: needs('workflows/two-phase.ts', 'services/banks.ts'),
    async prepare(rig, count, tag) {
      await seedAccounts(rig, tag, count, k, (j) => (j === 0 ? TWO_PC_AMOUNT * (k - 1) : 0));
    },
    async run(rig, tag, i) {
      const participants: ParticipantSpec[] = Array.from({ length: k }, (_, j) => ({
        name: `p${j}`,
        queue: BANK_QUEUES[bankOf(j)],
        ops: [
          {
            kind: j === 0 ? 'debit' : 'credit',
            account: account(tag, i, j),
            amountCents: j === 0 ? TWO_PC_AMOUNT * (k - 1) : TWO_PC_AMOUNT,
          },
        ],
        ...(fails(i) && j === k - 1 ? { voteNo: true } : {}),
      }));
      const workflowId = `bench-${tag}-${i}`;
      const { result, eager } = await startAndWait<CoordinatorState>(rig.client, rig, 'benchTwoPhase', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId,
        args: [{ ref: `${tag}-${i}`, participants } satisfies BenchTwoPhaseInput],
      });
      return { workflowId, outcome: result.status, expected: fails(i) ? 'aborted' : 'committed', eager };
    },
    verify: verifyMoney,
  };
}

const TCC_AMOUNT = 100;

/** A TCC transfer bank-a -> bank-b (auto confirm) on accounts of its own; every tenth the credit leg refuses. */
const tccWorkload: Workload = {
  name: 'tcc',
  description:
    'TCC transfer (try/confirm/cancel over HTTP to the TCC participant server); every tenth refused',
  unavailable: needs('workflows/tcc.ts', 'services/tcc-server.ts'),
  async prepare(rig, count, tag) {
    await seedAccounts(rig, tag, count, 2, (j) => (j === 0 ? TCC_AMOUNT : 0));
  },
  async run(rig, tag, i) {
    const input: TccInput = {
      ref: `${tag}-${i}`,
      from: { bank: 'bank-a', account: `${tag}-${i}-0` },
      to: { bank: 'bank-b', account: `${tag}-${i}-1` },
      amountCents: TCC_AMOUNT,
      confirm: 'auto',
      ...(fails(i) ? { voteNo: 'bank-b' } : {}),
    };
    const workflowId = `bench-${tag}-${i}`;
    const { result, eager } = await startAndWait<TransferResult>(rig.client, rig, 'transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [input],
    });
    return { workflowId, outcome: result.status, expected: fails(i) ? 'aborted' : 'committed', eager };
  },
  verify: verifyMoney,
};

export const WORKLOADS: Workload[] = [
  orderWorkload,
  engineWorkload,
  baselineWorkload,
  engineNoSaWorkload,
  twoPhaseWorkload(2),
  twoPhaseWorkload(4),
  twoPhaseWorkload(8),
  tccWorkload,
];
