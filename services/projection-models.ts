// The read models the event store's projections maintain. Each folds a batch of events into per-key deltas and
// writes them with one upsert, into the table it is given: the live table, or its shadow during a rebuild
// (services/projection-rebuild.ts). customer_spending: per customer, what was charged and refunded;
// daily_revenue: per UTC day, what the wallets were charged and refunded (both from BalanceUpdated events).
import type { PoolClient } from 'pg';
import type { Migration } from './db';
import type { GlobalEvent } from './event-store';

export const dailyRevenueMigration: Migration = {
  id: 43,
  name: 'projection_daily_revenue',
  sql: `
    CREATE TABLE IF NOT EXISTS daily_revenue (
      day            date PRIMARY KEY,
      charged_cents  bigint NOT NULL DEFAULT 0,
      refunded_cents bigint NOT NULL DEFAULT 0,
      charges        int NOT NULL DEFAULT 0
    );`,
};

export interface Projection {
  name: string;
  /** The live read model's table; its rebuild shadow is `<table>_rebuild`. */
  table: string;
  applyBatch(tx: PoolClient, table: string, events: GlobalEvent[]): Promise<void>;
}

interface Delta {
  charged: number;
  refunded: number;
  charges: number;
}

/** A BalanceUpdated event's amount in cents (v1 events stored `amount`); 0 for every other event. */
function balanceChange(e: GlobalEvent): number {
  if (e.type !== 'BalanceUpdated') return 0;
  const d = e.data as { amountCents?: number; amount?: number };
  return Number(d.amountCents ?? d.amount ?? 0);
}

/** Sum the batch's balance changes by key (a charge is a negative change, a refund or top-up a positive one). */
function foldByKey(events: GlobalEvent[], key: (e: GlobalEvent) => string): Map<string, Delta> {
  const out = new Map<string, Delta>();
  for (const e of events) {
    const cents = balanceChange(e);
    if (cents === 0) continue;
    const k = key(e);
    const d = out.get(k) ?? { charged: 0, refunded: 0, charges: 0 };
    if (cents < 0) {
      d.charged -= cents;
      d.charges += 1;
    } else d.refunded += cents;
    out.set(k, d);
  }
  return out;
}

const safeTable = (t: string): string => {
  if (!/^[a-z_]+$/.test(t)) throw new Error(`not a projection table name: ${t}`);
  return t;
};

/** One upsert adding the deltas to `table` keyed by `keyColumn` (of SQL type keyType). */
async function addDeltas(
  tx: PoolClient,
  table: string,
  keyColumn: string,
  keyType: string,
  deltas: Map<string, Delta>,
): Promise<void> {
  if (deltas.size === 0) return;
  const t = safeTable(table);
  const rows = [...deltas];
  await tx.query(
    `INSERT INTO ${t} (${keyColumn}, charged_cents, refunded_cents, charges)
     SELECT * FROM unnest($1::${keyType}[], $2::bigint[], $3::bigint[], $4::int[])
     ON CONFLICT (${keyColumn}) DO UPDATE SET charged_cents = ${t}.charged_cents + excluded.charged_cents,
       refunded_cents = ${t}.refunded_cents + excluded.refunded_cents, charges = ${t}.charges + excluded.charges`,
    [
      rows.map(([k]) => k),
      rows.map(([, d]) => d.charged),
      rows.map(([, d]) => d.refunded),
      rows.map(([, d]) => d.charges),
    ],
  );
}

const customerSpending: Projection = {
  name: 'customer_spending',
  table: 'customer_spending',
  applyBatch: (tx, table, events) =>
    addDeltas(
      tx,
      table,
      'customer_id',
      'text',
      foldByKey(events, (e) => e.streamId),
    ),
};

const dailyRevenue: Projection = {
  name: 'daily_revenue',
  table: 'daily_revenue',
  applyBatch: (tx, table, events) =>
    addDeltas(
      tx,
      table,
      'day',
      'date',
      foldByKey(events, (e) => e.recordedAt.slice(0, 10)),
    ),
};

export const PROJECTIONS: Projection[] = [customerSpending, dailyRevenue];

export function findProjection(name: string): Projection | undefined {
  return PROJECTIONS.find((p) => p.name === name);
}
