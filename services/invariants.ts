// The consistency invariants every fault-injection run (and `settle check`) verifies, directly on the
// participants' databases: nothing created from nothing, nothing lost, nothing left half-done.
import type { Pool } from 'pg';
import { SERVICE_NAMES, type Pools } from './db';
import { verifyProjection } from './wallet-events';

export interface Violation {
  check: string;
  detail: string;
}

export interface InvariantCheck {
  name: string;
  description: string;
  run(pools: Pools): Promise<Violation[]>;
}

const v = (check: string, detail: string): Violation => ({ check, detail });

export const moneyConserved: InvariantCheck = {
  name: 'money-conserved',
  description: 'sum of wallets + merchant revenue equals the opening deposits; no wallet is negative',
  async run(pools) {
    const p = pools.payments;
    const wallets = await p.query<{ s: string | null; neg: string }>(
      'SELECT sum(balance_cents) AS s, count(*) FILTER (WHERE balance_cents < 0) AS neg FROM wallets',
    );
    const revenue = await p.query<{ s: string | null }>('SELECT sum(amount_cents) AS s FROM revenue');
    const deposits = await p.query<{ s: string | null }>(
      `SELECT sum((data->>'amountCents')::bigint) AS s FROM wallet_events
        WHERE type = 'BalanceUpdated' AND data->>'reason' = 'seed'`,
    );
    const total = Number(wallets.rows[0]?.s ?? 0) + Number(revenue.rows[0]?.s ?? 0);
    const expected = Number(deposits.rows[0]?.s ?? 0);
    const out: Violation[] = [];
    if (total !== expected)
      out.push(v(this.name, `wallets + revenue = ${total} cents, opening deposits = ${expected}`));
    if (Number(wallets.rows[0]?.neg ?? 0) > 0)
      out.push(v(this.name, `${wallets.rows[0]?.neg} wallets are negative`));
    return out;
  },
};

export const walletsReplay: InvariantCheck = {
  name: 'wallets-replay',
  description: 'every wallet read model equals the replay of its events',
  async run(pools) {
    const r = await verifyProjection(pools.payments);
    return r.mismatches.map((m) =>
      v(
        this.name,
        `${m.customerId}: projected ${JSON.stringify(m.projected)}, replayed ${JSON.stringify(m.replayed)}`,
      ),
    );
  },
};

export const stockConserved: InvariantCheck = {
  name: 'stock-conserved',
  description: 'per SKU: available + reserved = total, nothing negative, reserved = open reservations',
  async run(pools) {
    const rows = await pools.inventory.query<{
      sku: string;
      available: number;
      reserved: number;
      total: number;
      open: string | null;
    }>(
      `SELECT s.sku, s.available, s.reserved, s.total,
              (SELECT sum(qty) FROM reservations r WHERE r.sku = s.sku AND r.status = 'reserved') AS open
         FROM stock s ORDER BY s.sku`,
    );
    const out: Violation[] = [];
    for (const r of rows.rows) {
      if (r.available + r.reserved !== r.total)
        out.push(
          v(this.name, `${r.sku}: available ${r.available} + reserved ${r.reserved} != total ${r.total}`),
        );
      if (r.available < 0 || r.reserved < 0) out.push(v(this.name, `${r.sku}: negative stock`));
      if (r.reserved !== Number(r.open ?? 0))
        out.push(v(this.name, `${r.sku}: reserved ${r.reserved} != open reservations ${r.open ?? 0}`));
    }
    return out;
  },
};

/** Cross-service: a confirmed order was charged exactly once and holds its stock; a cancelled one kept nothing. */
export const ordersSettled: InvariantCheck = {
  name: 'orders-settled',
  description: 'confirmed orders: charged once, stock held; cancelled orders: no net charge, stock released',
  async run(pools) {
    const orders = await pools.orders.query<{
      order_id: string;
      status: string;
      amount_cents: string;
      workflow_id: string;
      qty: number;
    }>(
      `SELECT order_id, status, amount_cents, workflow_id, qty FROM orders WHERE status IN ('confirmed', 'cancelled')`,
    );
    const charged = await pools.payments.query<{ reason: string; s: string }>(
      `SELECT reason, sum(amount_cents) AS s FROM revenue GROUP BY reason`,
    );
    const net = new Map<string, number>();
    for (const r of charged.rows) {
      const id = r.reason.replace(/^refund order /, '').replace(/^order /, '');
      net.set(id, (net.get(id) ?? 0) + Number(r.s));
    }
    const held = await pools.inventory.query<{ reservation_id: string; qty: number }>(
      `SELECT reservation_id, qty FROM reservations WHERE status = 'reserved'`,
    );
    const holds = new Map(held.rows.map((r) => [r.reservation_id, r.qty]));
    const out: Violation[] = [];
    for (const o of orders.rows) {
      const paid = net.get(o.order_id) ?? 0;
      const stock = holds.get(`${o.workflow_id}/reserve`) ?? 0;
      if (o.status === 'confirmed') {
        if (paid !== Number(o.amount_cents))
          out.push(
            v(this.name, `${o.order_id} confirmed but net charge is ${paid} cents, not ${o.amount_cents}`),
          );
        if (stock !== o.qty)
          out.push(v(this.name, `${o.order_id} confirmed but holds ${stock} units, not ${o.qty}`));
      } else {
        if (paid !== 0) out.push(v(this.name, `${o.order_id} cancelled but net charge is ${paid} cents`));
        if (stock !== 0) out.push(v(this.name, `${o.order_id} cancelled but still holds ${stock} units`));
      }
    }
    return out;
  },
};

export const noPreparedTransactions: InvariantCheck = {
  name: 'no-prepared-transactions',
  description: 'no prepared (in-doubt) transaction is left in any service database',
  async run(pools) {
    const seen = new Set<string>();
    const out: Violation[] = [];
    for (const s of SERVICE_NAMES) {
      const pool: Pool = pools[s];
      // pg_prepared_xacts is cluster-wide: report each gid once.
      const rows = await pool.query<{ gid: string; database: string; prepared: Date }>(
        'SELECT gid, database, prepared FROM pg_prepared_xacts',
      );
      for (const r of rows.rows) {
        if (seen.has(r.gid)) continue;
        seen.add(r.gid);
        out.push(v(this.name, `${r.gid} in ${r.database} since ${r.prepared.toISOString()}`));
      }
    }
    return out;
  },
};

/** Every check; other patterns (banks, TCC) append theirs. */
export const INVARIANTS: InvariantCheck[] = [
  moneyConserved,
  walletsReplay,
  stockConserved,
  ordersSettled,
  noPreparedTransactions,
];

export interface InvariantReport {
  ok: boolean;
  checks: { name: string; description: string; ok: boolean; violations: string[] }[];
}

export async function checkInvariants(
  pools: Pools,
  checks: InvariantCheck[] = INVARIANTS,
): Promise<InvariantReport> {
  const results = [];
  for (const c of checks) {
    const violations = await c.run(pools);
    results.push({
      name: c.name,
      description: c.description,
      ok: violations.length === 0,
      violations: violations.map((x) => x.detail),
    });
  }
  return { ok: results.every((r) => r.ok), checks: results };
}
