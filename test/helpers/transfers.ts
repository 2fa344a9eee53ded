// Helpers for the transfer tests (2PC, 3PC, TCC): the money invariant, what is left in pg_prepared_xacts,
// polling on real state (never a fixed sleep), and gates that hold an activity at a protocol's crash point.
import assert from 'node:assert/strict';
import type { Pools } from '../../services/db';
import { accountBalance, BANK_SERVICES, listAllPrepared, totalMoney } from '../../services/banks';
import type { AccountRef } from '../../shared';

/** Poll `probe` until it returns something truthy; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Settle gids in pg_prepared_xacts of this test's databases. */
export async function preparedGids(pools: Pools, workflowId?: string): Promise<string[]> {
  const prefix = (
    await pools.bank_a.query<{ db: string }>('SELECT current_database() AS db')
  ).rows[0]!.db.replace(/_bank_a$/, '_');
  const all = await listAllPrepared(pools.bank_a);
  return all
    .filter((x) => x.database.startsWith(prefix))
    .map((x) => x.gid)
    .filter((g) => (workflowId ? g.endsWith(`:${workflowId}`) : true))
    .sort();
}

export async function balance(pools: Pools, ref: AccountRef): Promise<number> {
  const b = await accountBalance(pools[BANK_SERVICES[ref.bank]], ref.account);
  assert.ok(b !== undefined, `account ${ref.bank}:${ref.account} exists`);
  return b;
}

/** The invariants every test ends with: the money total is unchanged and nothing is left prepared. */
export async function assertSettled(pools: Pools, expectedTotal: number): Promise<void> {
  assert.equal(
    await totalMoney(pools),
    expectedTotal,
    'the sum of all balances (and TCC holds) is unchanged',
  );
  assert.deepEqual(await preparedGids(pools), [], 'nothing is left in pg_prepared_xacts');
}

/** A gate a hook awaits: the test opens it (or makes it fail) when it has checked the state it wanted. */
export class Gate {
  private waiters: { resolve(): void; reject(e: Error): void }[] = [];
  private outcome?: { error?: Error };
  /** gids that reached the gate, in order. */
  readonly arrived: string[] = [];

  async wait(gid: string): Promise<void> {
    this.arrived.push(gid);
    if (this.outcome) {
      if (this.outcome.error) throw this.outcome.error;
      return;
    }
    await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  open(): void {
    this.outcome = {};
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  fail(message: string): void {
    this.outcome = { error: new Error(message) };
    for (const w of this.waiters.splice(0)) w.reject(this.outcome.error!);
  }
}
