// The consistency invariants every fault-injection run (and `settle check`) verifies, directly on the
// participants' databases: nothing created from nothing, nothing lost, nothing left half-done.
//
// Every database is read in ONE `REPEATABLE READ READ ONLY` snapshot (all opened together before any check
// runs), so a charge committing between two queries of one check can never show up as a false violation.
// `quiesced` (the chaos harness after a cell has settled) also reports what is only legitimate while a
// transaction is still running: a TCC hold, a trip hold, a half-applied transfer, an undelivered event.
import type { PoolClient } from 'pg';
import { SERVICE_NAMES, type Pools, type ServiceName } from './db';
import { SHOP_INVARIANTS } from './invariants-shop';
import { TRANSFER_INVARIANTS } from './invariants-transfers';
import { TRIP_INVARIANTS } from './invariants-trip';

import type { CheckOptions, Dbs, InvariantCheck } from './invariants-kit';

export type { CheckOptions, Dbs, InvariantCheck, Queryable, Violation } from './invariants-kit';

export {
  moneyConserved,
  ordersSettled,
  stockConserved,
  walletsReplay,
  choreographyDelivered,
  barrierConsistent,
} from './invariants-shop';
export {
  banksConserved,
  noPreparedTransactions,
  noStrandedTccHold,
  outboxExactlyOnce,
} from './invariants-transfers';
export { tripConserved } from './invariants-trip';

/** Every check, in the order `settle check` prints them. */
export const INVARIANTS: InvariantCheck[] = [...SHOP_INVARIANTS, ...TRANSFER_INVARIANTS, ...TRIP_INVARIANTS];

export interface InvariantReport {
  ok: boolean;
  checks: { name: string; description: string; ok: boolean; violations: string[] }[];
}

/**
 * Open one read-only repeatable-read snapshot per database, all before the first check reads anything, run
 * fn on them, and close them. Distinct databases cannot share one snapshot; opening them together keeps the
 * window between them as small as PostgreSQL allows.
 */
export async function withSnapshots<T>(pools: Pools, fn: (dbs: Dbs) => Promise<T>): Promise<T> {
  const clients: Partial<Record<ServiceName, PoolClient>> = {};
  try {
    await Promise.all(
      SERVICE_NAMES.map(async (s) => {
        const c = await pools[s].connect();
        clients[s] = c;
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await c.query('SELECT 1'); // the snapshot is taken by the first statement
      }),
    );
    return await fn(clients as Dbs);
  } finally {
    await Promise.all(
      Object.values(clients).map(async (c) => {
        try {
          await c.query('COMMIT');
          c.release();
        } catch (err) {
          c.release(err as Error);
        }
      }),
    );
  }
}

export async function checkInvariants(
  pools: Pools,
  checks: InvariantCheck[] = INVARIANTS,
  opts: CheckOptions = {},
): Promise<InvariantReport> {
  return withSnapshots(pools, async (dbs) => {
    const results = [];
    for (const c of checks) {
      const violations = await c.run(dbs, opts);
      results.push({
        name: c.name,
        description: c.description,
        ok: violations.length === 0,
        violations: violations.map((x) => x.detail),
      });
    }
    return { ok: results.every((r) => r.ok), checks: results };
  });
}
