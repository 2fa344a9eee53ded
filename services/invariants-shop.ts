// Invariants of the shop (orders, inventory, payments): money and stock conserved, wallets equal to a replay of
// their events from empty (read through the upcasters), orders settled, choreography events delivered once.
import { SUBSCRIPTIONS, type Topic } from '../shared/events';
import {
  violation as v,
  type Dbs,
  type InvariantCheck,
  type Queryable,
  type Violation,
} from './invariants-kit';
import { apply, emptyWallet, upcast, type WalletEvent, type WalletState } from './wallet-events';

interface Replayed {
  /** Final state per stream (undefined when the stream is broken). */
  wallets: Map<string, WalletState>;
  /** State after each version, to check the snapshots against. */
  at: Map<string, WalletState[]>;
  /** Sum of the opening deposits (BalanceUpdated with reason 'seed'), read through the upcasters. */
  deposits: number;
  broken: Violation[];
}

/** Replay every wallet stream from empty; an event no upcaster knows, a gap or a negative balance is reported. */
async function replayAll(db: Queryable, check: string): Promise<Replayed> {
  const rows = await db.query<{
    stream_id: string;
    version: number;
    type: string;
    schema_version: number;
    data: Record<string, unknown>;
    recorded_at: Date;
  }>(
    'SELECT stream_id, version, type, schema_version, data, recorded_at FROM wallet_events ORDER BY stream_id, version',
  );
  const out: Replayed = { wallets: new Map(), at: new Map(), deposits: 0, broken: [] };
  const dead = new Set<string>();
  for (const r of rows.rows) {
    if (dead.has(r.stream_id)) continue;
    try {
      const e: WalletEvent = upcast(r);
      const prev = out.wallets.get(r.stream_id) ?? emptyWallet(r.stream_id);
      const next = apply(prev, e);
      out.wallets.set(r.stream_id, next);
      const states = out.at.get(r.stream_id) ?? [];
      states.push(next);
      out.at.set(r.stream_id, states);
      if (e.type === 'BalanceUpdated' && e.data.reason === 'seed') out.deposits += e.data.amountCents;
    } catch (err) {
      dead.add(r.stream_id);
      out.wallets.delete(r.stream_id);
      out.broken.push(v(check, `${r.stream_id}: stream cannot be replayed: ${(err as Error).message}`));
    }
  }
  return out;
}

export const moneyConserved: InvariantCheck = {
  name: 'money-conserved',
  description:
    'wallets + merchant revenue = opening deposits (events read through the upcasters); none negative',
  async run(dbs) {
    const p = dbs.payments;
    const wallets = await p.query<{ s: string | null; neg: string }>(
      'SELECT sum(balance_cents) AS s, count(*) FILTER (WHERE balance_cents < 0) AS neg FROM wallets',
    );
    const revenue = await p.query<{ s: string | null }>('SELECT sum(amount_cents) AS s FROM revenue');
    const { deposits } = await replayAll(p, this.name);
    const total = Number(wallets.rows[0]?.s ?? 0) + Number(revenue.rows[0]?.s ?? 0);
    const out: Violation[] = [];
    if (total !== deposits)
      out.push(v(this.name, `wallets + revenue = ${total} cents, opening deposits = ${deposits}`));
    if (Number(wallets.rows[0]?.neg ?? 0) > 0)
      out.push(v(this.name, `${wallets.rows[0]?.neg} wallets are negative`));
    return out;
  },
};

const brief = (s: WalletState | undefined): string =>
  s ? JSON.stringify({ balanceCents: s.balanceCents, version: s.version }) : 'null';

export const walletsReplay: InvariantCheck = {
  name: 'wallets-replay',
  description: 'every wallet and every snapshot equals the replay of its events from empty',
  async run(dbs) {
    const p = dbs.payments;
    const replayed = await replayAll(p, this.name);
    const out = [...replayed.broken];
    const rows = await p.query<{ customer_id: string; balance_cents: string; version: number }>(
      'SELECT customer_id, balance_cents, version FROM wallets ORDER BY customer_id',
    );
    for (const r of rows.rows) {
      const s = replayed.wallets.get(r.customer_id);
      if (!s || s.balanceCents !== Number(r.balance_cents) || s.version !== r.version)
        out.push(
          v(
            this.name,
            `${r.customer_id}: projected ${JSON.stringify({ balanceCents: Number(r.balance_cents), version: r.version })}, replayed ${brief(s)}`,
          ),
        );
    }
    const snaps = await p.query<{ stream_id: string; version: number; state: WalletState }>(
      'SELECT stream_id, version, state FROM wallet_snapshots ORDER BY stream_id, version',
    );
    for (const s of snaps.rows) {
      const at = replayed.at.get(s.stream_id)?.[s.version - 1];
      if (
        !at ||
        at.version !== s.version ||
        Number(s.state.balanceCents) !== at.balanceCents ||
        Number(s.state.version) !== at.version
      )
        out.push(
          v(
            this.name,
            `${s.stream_id}: snapshot at version ${s.version} is ${brief(s.state)}, the replay gives ${brief(at)}`,
          ),
        );
    }
    return out;
  },
};

export const stockConserved: InvariantCheck = {
  name: 'stock-conserved',
  description: 'per SKU: available + reserved = total, nothing negative, reserved = open reservations',
  async run(dbs) {
    const rows = await dbs.inventory.query<{
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

/**
 * Net charge per order id, from the merchant's revenue ledger ('order X' and 'refund order X'; a choreographed
 * order's expiry refund was booked as 'order X expired' before it used the common form).
 */
async function netCharges(db: Queryable): Promise<Map<string, number>> {
  const charged = await db.query<{ reason: string; s: string }>(
    `SELECT reason, sum(amount_cents) AS s FROM revenue GROUP BY reason`,
  );
  const net = new Map<string, number>();
  for (const r of charged.rows) {
    const id = r.reason
      .replace(/^refund order /, '')
      .replace(/^order /, '')
      .replace(/ expired$/, '');
    net.set(id, (net.get(id) ?? 0) + Number(r.s));
  }
  return net;
}

/** Cross-service: a confirmed order was charged exactly once and holds its stock; a cancelled one kept nothing. */
export const ordersSettled: InvariantCheck = {
  name: 'orders-settled',
  description:
    'confirmed orders: charged once, stock held; cancelled orders: no net charge, stock released; quiesced: no order left pending with money or stock',
  async run(dbs, opts) {
    const orders = await dbs.orders.query<{
      order_id: string;
      status: string;
      amount_cents: string;
      workflow_id: string;
      qty: number;
    }>(`SELECT order_id, status, amount_cents, workflow_id, qty FROM orders`);
    const net = await netCharges(dbs.payments);
    // A reservation is keyed '<workflowId>/reserve' or (bound to the run) '<workflowId>/<run>/reserve';
    // workflow ids never contain '/', so the first segment names the order's workflow.
    const held = await dbs.inventory.query<{ reservation_id: string; qty: number }>(
      `SELECT reservation_id, qty FROM reservations WHERE status = 'reserved' AND reservation_id LIKE '%/reserve'`,
    );
    const holds = new Map<string, number>();
    for (const r of held.rows) {
      const wf = r.reservation_id.split('/')[0]!;
      holds.set(wf, (holds.get(wf) ?? 0) + r.qty);
    }
    const out: Violation[] = [];
    for (const o of orders.rows) {
      const paid = net.get(o.order_id) ?? 0;
      const stock = holds.get(o.workflow_id) ?? 0;
      if (o.status === 'confirmed') {
        if (paid !== Number(o.amount_cents))
          out.push(
            v(this.name, `${o.order_id} confirmed but net charge is ${paid} cents, not ${o.amount_cents}`),
          );
        if (stock !== o.qty)
          out.push(v(this.name, `${o.order_id} confirmed but holds ${stock} units, not ${o.qty}`));
      } else if (o.status === 'cancelled' || opts?.quiesced) {
        if (paid !== 0) out.push(v(this.name, `${o.order_id} ${o.status} but net charge is ${paid} cents`));
        if (stock !== 0) out.push(v(this.name, `${o.order_id} ${o.status} but still holds ${stock} units`));
      }
    }
    return out;
  },
};

/** Quiesced: every choreography event was delivered to each of its subscribers, exactly once (the inbox key). */
export const choreographyDelivered: InvariantCheck = {
  name: 'events-delivered',
  description: 'quiesced: every choreography event reached each subscriber (once: the inbox key)',
  async run(dbs, opts) {
    if (!opts?.quiesced) return [];
    const inbox = new Set<string>();
    for (const s of ['orders', 'inventory', 'payments'] as const) {
      const r = await dbs[s].query<{ event_id: string }>('SELECT event_id FROM event_inbox');
      for (const row of r.rows) inbox.add(`${s}|${row.event_id}`);
    }
    const out: Violation[] = [];
    for (const s of ['orders', 'inventory', 'payments'] as const) {
      const r = await dbs[s].query<{ event_id: string; topic: Topic }>(
        'SELECT event_id, topic FROM event_outbox',
      );
      for (const e of r.rows)
        for (const sub of SUBSCRIPTIONS[e.topic] ?? [])
          if (!inbox.has(`${sub}|${e.event_id}`))
            out.push(v(this.name, `${e.event_id} (from ${s}) never reached ${sub}`));
    }
    return out;
  },
};

/**
 * Quiesced: the barrier row and the business change of a branch exist together or not at all (one local
 * transaction writes both). Checked where the branch's row is addressable: the saga's order and reservation.
 */
export const barrierConsistent: InvariantCheck = {
  name: 'barrier-consistent',
  description:
    'quiesced: no saga barrier row without its business row (order, reservation), and none without its barrier',
  async run(dbs: Dbs, opts) {
    if (!opts?.quiesced) return [];
    const out: Violation[] = [];
    // The barrier gid is the workflow id, or '<workflowId>/<run>' when the branch is bound to its run.
    const pairs: [Queryable, string, string, (gid: string) => string][] = [
      [
        dbs.orders,
        'create',
        `SELECT workflow_id AS id FROM orders WHERE workflow_id LIKE 'order-%'`,
        (g) => g.split('/')[0]!,
      ],
      [
        dbs.inventory,
        'reserve',
        `SELECT left(reservation_id, length(reservation_id) - length('/reserve')) AS id FROM reservations WHERE reservation_id LIKE 'order-%/reserve'`,
        (g) => g,
      ],
    ];
    for (const [db, branch, business, key] of pairs) {
      const rows = new Set((await db.query<{ id: string }>(business)).rows.map((r) => r.id));
      const barrier = new Set(
        (
          await db.query<{ gid: string }>(
            `SELECT gid FROM barrier WHERE branch = $1 AND op = 'action' AND origin = 'action' AND gid LIKE 'order-%'`,
            [branch],
          )
        ).rows.map((r) => key(r.gid)),
      );
      for (const g of barrier)
        if (!rows.has(g)) out.push(v(this.name, `${g}/${branch}: barrier says applied, no business row`));
      for (const g of rows)
        if (!barrier.has(g)) out.push(v(this.name, `${g}/${branch}: business row without its barrier row`));
    }
    return out;
  },
};

export const SHOP_INVARIANTS: InvariantCheck[] = [
  moneyConserved,
  walletsReplay,
  stockConserved,
  ordersSettled,
  choreographyDelivered,
  barrierConsistent,
];
