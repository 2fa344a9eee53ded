// The shop's participant services (orders, inventory, payments, notifications): schema, demo seed data, and
// the local transactions each saga step performs. Each function runs inside the caller's transaction, so the
// barrier row and the business change commit or roll back together.
import type { Pool, PoolClient } from 'pg';
import { barrierMigration } from './barrier';
import type { Migration } from './db';
import { returnUnits, takeUnits, type UnitCounter } from './units';
import { appendEvent } from './wallet-events';

export const ordersMigrations: Migration[] = [
  barrierMigration,
  {
    id: 2,
    name: 'orders',
    sql: `
      CREATE TABLE IF NOT EXISTS orders (
        order_id     text PRIMARY KEY,
        customer_id  text NOT NULL,
        sku          text NOT NULL,
        qty          int  NOT NULL CHECK (qty > 0),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        status       text NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled')),
        workflow_id  text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );`,
  },
];

export const inventoryMigrations: Migration[] = [
  barrierMigration,
  {
    id: 2,
    name: 'stock',
    sql: `
      CREATE TABLE IF NOT EXISTS stock (
        sku       text PRIMARY KEY,
        available int NOT NULL CHECK (available >= 0),
        reserved  int NOT NULL DEFAULT 0 CHECK (reserved >= 0)
      );
      CREATE TABLE IF NOT EXISTS reservations (
        reservation_id text PRIMARY KEY,
        sku        text NOT NULL REFERENCES stock(sku),
        qty        int  NOT NULL CHECK (qty > 0),
        status     text NOT NULL CHECK (status IN ('reserved', 'released', 'committed')),
        created_at timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    id: 3,
    name: 'stock_total',
    // The stock invariant: available + reserved never changes except by a recorded restock (total).
    sql: `
      ALTER TABLE stock ADD COLUMN IF NOT EXISTS total int;
      UPDATE stock SET total = available + reserved WHERE total IS NULL;
      ALTER TABLE stock ALTER COLUMN total SET NOT NULL;`,
  },
];

export const paymentsMigrations: Migration[] = [
  barrierMigration,
  {
    id: 2,
    name: 'wallets',
    // A wallet is an event-sourced aggregate: wallet_events is the source of truth (per-stream versions,
    // optimistic concurrency through the primary key); wallets is its read model, updated in the same transaction.
    sql: `
      CREATE TABLE IF NOT EXISTS wallet_events (
        stream_id      text NOT NULL,
        version        int  NOT NULL CHECK (version > 0),
        type           text NOT NULL,
        schema_version int  NOT NULL DEFAULT 1,
        data           jsonb NOT NULL,
        recorded_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (stream_id, version)
      );
      CREATE TABLE IF NOT EXISTS wallets (
        customer_id   text PRIMARY KEY,
        name          text NOT NULL,
        email         text NOT NULL,
        balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
        version       int NOT NULL
      );`,
  },
  {
    id: 3,
    name: 'wallet_snapshots',
    sql: `
      CREATE TABLE IF NOT EXISTS wallet_snapshots (
        stream_id  text NOT NULL,
        version    int  NOT NULL,
        state      jsonb NOT NULL,
        taken_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (stream_id, version)
      );`,
  },
  {
    id: 4,
    name: 'revenue',
    // Where charged money goes (and refunds come from): insert-only, so no hot merchant row serialises
    // every charge. Money invariant: sum(wallets) + sum(revenue) = sum of the opening deposits.
    sql: `
      CREATE TABLE IF NOT EXISTS revenue (
        id           bigserial PRIMARY KEY,
        customer_id  text NOT NULL,
        amount_cents bigint NOT NULL,
        reason       text NOT NULL,
        recorded_at  timestamptz NOT NULL DEFAULT now()
      );`,
  },
];

export const notificationsMigrations: Migration[] = [
  barrierMigration,
  {
    id: 2,
    name: 'messages',
    sql: `
      CREATE TABLE IF NOT EXISTS messages (
        message_id   text PRIMARY KEY,
        customer_id  text NOT NULL,
        body         text NOT NULL,
        status       text NOT NULL CHECK (status IN ('sent', 'retracted')),
        sent_at      timestamptz NOT NULL DEFAULT now(),
        retracted_at timestamptz
      );`,
  },
];

// ---------------------------------------------------------------------------------------------- seed data
export const SEED_CUSTOMERS = [
  { id: 'alice', name: 'Alice', email: 'alice@example.com', balanceCents: 100_000 },
  { id: 'bob', name: 'Bob', email: 'bob@example.com', balanceCents: 50_000 },
  { id: 'carol', name: 'Carol', email: 'carol@example.com', balanceCents: 1_000 },
] as const;
export const SEED_STOCK = [
  { sku: 'SKU-1', available: 100 },
  { sku: 'SKU-2', available: 50 },
  { sku: 'SKU-3', available: 0 },
] as const;

/** Insert the demo data where it is missing; never resets existing rows. */
export async function seedShop(pools: { inventory: Pool; payments: Pool }): Promise<void> {
  for (const s of SEED_STOCK) {
    await pools.inventory.query(
      'INSERT INTO stock (sku, available, total) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING',
      [s.sku, s.available],
    );
  }
  for (const c of SEED_CUSTOMERS) {
    const client = await pools.payments.connect();
    try {
      await client.query('BEGIN');
      const created = await client.query(
        `INSERT INTO wallets (customer_id, name, email, balance_cents, version) VALUES ($1, $2, $3, 0, 1) ON CONFLICT DO NOTHING`,
        [c.id, c.name, c.email],
      );
      if (created.rowCount === 1) {
        await appendEvent(client, c.id, 0, { type: 'UserCreated', data: { name: c.name, email: c.email } });
        await appendBalanceUpdated(client, c.id, c.balanceCents, 'seed');
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }
}

// ---------------------------------------------------------------------------------------------- errors
/** A business rejection: the activity layer turns it into a non-retryable ApplicationFailure of this type. */
export class BusinessRejection extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

// ---------------------------------------------------------------------------------------------- orders
export interface NewOrder {
  orderId: string;
  customerId: string;
  sku: string;
  qty: number;
  amountCents: number;
  workflowId: string;
}

export async function insertOrder(tx: PoolClient, o: NewOrder): Promise<{ orderId: string }> {
  const res = await tx.query(
    `INSERT INTO orders (order_id, customer_id, sku, qty, amount_cents, status, workflow_id)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6) ON CONFLICT (order_id) DO NOTHING`,
    [o.orderId, o.customerId, o.sku, o.qty, o.amountCents, o.workflowId],
  );
  if (res.rowCount === 0) throw new BusinessRejection('InvalidInput', `order ${o.orderId} already exists`);
  return { orderId: o.orderId };
}

export type OrderStatus = 'pending' | 'confirmed' | 'cancelled';

/**
 * A guarded status transition: only from `from` (default `pending`). Returns false, changing nothing, when the
 * order is not in that state: a late confirmation can never turn a cancelled order into a confirmed one, and a
 * cancellation never silently un-confirms one.
 */
export async function setOrderStatus(
  tx: PoolClient,
  orderId: string,
  status: 'confirmed' | 'cancelled',
  from: OrderStatus = 'pending',
): Promise<boolean> {
  const res = await tx.query(
    'UPDATE orders SET status = $2, updated_at = now() WHERE order_id = $1 AND status = $3',
    [orderId, status, from],
  );
  return res.rowCount === 1;
}

/** Confirm a pending order; any other state is a business rejection (nothing to confirm). */
export async function confirmPendingOrder(tx: PoolClient, orderId: string): Promise<void> {
  if (await setOrderStatus(tx, orderId, 'confirmed')) return;
  const row = await tx.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [orderId]);
  throw new BusinessRejection(
    'InvalidInput',
    `order ${orderId} is ${row.rows[0]?.status ?? 'unknown'}, not pending: it cannot be confirmed`,
  );
}

// ---------------------------------------------------------------------------------------------- inventory
const STOCK: UnitCounter = { table: 'stock', key: 'sku', available: 'available', taken: 'reserved' };

export async function reserveStock(
  tx: PoolClient,
  reservationId: string,
  sku: string,
  qty: number,
): Promise<{ reservationId: string; sku: string; qty: number }> {
  const took = await takeUnits(tx, STOCK, sku, qty);
  if (!took.ok && took.available === undefined)
    throw new BusinessRejection('UnknownSku', `unknown SKU ${sku}`);
  if (!took.ok)
    throw new BusinessRejection('OutOfStock', `only ${took.available} of ${sku} available, ${qty} requested`);
  await tx.query(
    `INSERT INTO reservations (reservation_id, sku, qty, status) VALUES ($1, $2, $3, 'reserved')`,
    [reservationId, sku, qty],
  );
  return { reservationId, sku, qty };
}

export async function releaseStock(tx: PoolClient, reservationId: string): Promise<void> {
  const r = await tx.query<{ sku: string; qty: number }>(
    `UPDATE reservations SET status = 'released' WHERE reservation_id = $1 AND status = 'reserved' RETURNING sku, qty`,
    [reservationId],
  );
  const res = r.rows[0];
  if (res) await returnUnits(tx, STOCK, res.sku, res.qty);
}

// ---------------------------------------------------------------------------------------------- payments
async function appendBalanceUpdated(
  tx: PoolClient,
  customerId: string,
  deltaCents: number,
  reason: string,
): Promise<number> {
  const w = await tx.query<{ balance_cents: string; version: number }>(
    'SELECT balance_cents, version FROM wallets WHERE customer_id = $1 FOR UPDATE',
    [customerId],
  );
  const wallet = w.rows[0];
  if (!wallet) throw new BusinessRejection('UnknownCustomer', `unknown customer ${customerId}`);
  const balance = Number(wallet.balance_cents) + deltaCents;
  if (balance < 0)
    throw new BusinessRejection(
      'InsufficientFunds',
      `insufficient balance: ${customerId} has ${wallet.balance_cents} cents, needs ${-deltaCents}`,
    );
  // Expected-version append: a concurrent writer makes this fail rather than lose an update.
  const version = await appendEvent(tx, customerId, wallet.version, {
    type: 'BalanceUpdated',
    data: { amountCents: deltaCents, reason },
  });
  await tx.query('UPDATE wallets SET balance_cents = $2, version = $3 WHERE customer_id = $1', [
    customerId,
    balance,
    version,
  ]);
  return balance;
}

export async function chargeWallet(
  tx: PoolClient,
  customerId: string,
  amountCents: number,
  reason: string,
): Promise<{ customerId: string; amountCents: number; balanceCents: number }> {
  const balanceCents = await appendBalanceUpdated(tx, customerId, -amountCents, reason);
  await tx.query('INSERT INTO revenue (customer_id, amount_cents, reason) VALUES ($1, $2, $3)', [
    customerId,
    amountCents,
    reason,
  ]);
  return { customerId, amountCents, balanceCents };
}

export async function refundWallet(
  tx: PoolClient,
  customerId: string,
  amountCents: number,
  reason: string,
): Promise<void> {
  await appendBalanceUpdated(tx, customerId, amountCents, reason);
  await tx.query('INSERT INTO revenue (customer_id, amount_cents, reason) VALUES ($1, $2, $3)', [
    customerId,
    -amountCents,
    reason,
  ]);
}

// ---------------------------------------------------------------------------------------------- notifications
export async function sendMessage(
  tx: PoolClient,
  messageId: string,
  customerId: string,
  body: string,
): Promise<{ messageId: string }> {
  await tx.query(`INSERT INTO messages (message_id, customer_id, body, status) VALUES ($1, $2, $3, 'sent')`, [
    messageId,
    customerId,
    body,
  ]);
  return { messageId };
}

export async function retractMessage(tx: PoolClient, messageId: string): Promise<void> {
  await tx.query(
    `UPDATE messages SET status = 'retracted', retracted_at = now() WHERE message_id = $1 AND status = 'sent'`,
    [messageId],
  );
}
