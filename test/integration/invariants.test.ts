// The invariant checks themselves, on a real PostgreSQL: they pass on consistent data and each one catches
// the corruption it exists for (a check that can never fail proves nothing).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { withTransaction } from '../../services/db';
import {
  checkInvariants,
  moneyConserved,
  noPreparedTransactions,
  ordersSettled,
  stockConserved,
} from '../../services/invariants';
import {
  chargeWallet,
  insertOrder,
  refundWallet,
  releaseStock,
  reserveStock,
  setOrderStatus,
} from '../../services/shop';
import { startTestDatabases, type TestDatabases } from '../helpers/db';

describe('invariant checks (real PostgreSQL)', () => {
  let db: TestDatabases;
  before(async () => {
    db = await startTestDatabases();
  });
  after(async () => {
    await db?.teardown();
  });

  async function order(id: string, outcome: 'confirmed' | 'cancelled'): Promise<void> {
    const wf = `order-${id}`;
    await withTransaction(db.pools.orders, (tx) =>
      insertOrder(tx, {
        orderId: id,
        customerId: 'alice',
        sku: 'SKU-1',
        qty: 2,
        amountCents: 700,
        workflowId: wf,
      }),
    );
    await withTransaction(db.pools.inventory, (tx) => reserveStock(tx, `${wf}/reserve`, 'SKU-1', 2));
    await withTransaction(db.pools.payments, (tx) => chargeWallet(tx, 'alice', 700, `order ${id}`));
    if (outcome === 'cancelled') {
      await withTransaction(db.pools.payments, (tx) => refundWallet(tx, 'alice', 700, `refund order ${id}`));
      await withTransaction(db.pools.inventory, (tx) => releaseStock(tx, `${wf}/reserve`));
    }
    await withTransaction(db.pools.orders, (tx) => setOrderStatus(tx, id, outcome));
  }

  it('hold on consistent data: a confirmed and a cancelled order', async () => {
    await order('inv-1', 'confirmed');
    await order('inv-2', 'cancelled');
    const report = await checkInvariants(db.pools);
    assert.deepEqual(
      report.checks.filter((c) => !c.ok),
      [],
    );
    assert.equal(report.ok, true);
  });

  it('money created from nothing is caught', async () => {
    await db.pools.payments.query(
      `UPDATE wallets SET balance_cents = balance_cents + 1 WHERE customer_id = 'bob'`,
    );
    assert.equal((await moneyConserved.run(db.pools)).length, 1);
    await db.pools.payments.query(
      `UPDATE wallets SET balance_cents = balance_cents - 1 WHERE customer_id = 'bob'`,
    );
    assert.equal((await moneyConserved.run(db.pools)).length, 0);
  });

  it('lost stock is caught', async () => {
    await db.pools.inventory.query(`UPDATE stock SET available = available - 1 WHERE sku = 'SKU-2'`);
    assert.match((await stockConserved.run(db.pools))[0]?.detail ?? '', /SKU-2/);
    await db.pools.inventory.query(`UPDATE stock SET available = available + 1 WHERE sku = 'SKU-2'`);
  });

  it('a cancelled order that kept its money is caught', async () => {
    await withTransaction(db.pools.orders, (tx) =>
      insertOrder(tx, {
        orderId: 'inv-3',
        customerId: 'alice',
        sku: 'SKU-1',
        qty: 1,
        amountCents: 100,
        workflowId: 'order-inv-3',
      }),
    );
    await withTransaction(db.pools.payments, (tx) => chargeWallet(tx, 'alice', 100, 'order inv-3'));
    await withTransaction(db.pools.orders, (tx) => setOrderStatus(tx, 'inv-3', 'cancelled'));
    const found = await ordersSettled.run(db.pools);
    assert.deepEqual(
      found.map((f) => f.detail),
      ['inv-3 cancelled but net charge is 100 cents'],
    );
    await withTransaction(db.pools.payments, (tx) => refundWallet(tx, 'alice', 100, 'refund order inv-3'));
    assert.deepEqual(await ordersSettled.run(db.pools), []);
  });

  it('a prepared transaction left behind is caught', async () => {
    const c = await db.pools.notifications.connect();
    try {
      await c.query('BEGIN');
      await c.query(
        `INSERT INTO messages (message_id, customer_id, body, status) VALUES ('m-prep', 'alice', 'x', 'sent')`,
      );
      await c.query(`PREPARE TRANSACTION 'settle-test-leftover'`);
    } finally {
      c.release();
    }
    assert.match((await noPreparedTransactions.run(db.pools))[0]?.detail ?? '', /settle-test-leftover/);
    await db.pools.notifications.query(`ROLLBACK PREPARED 'settle-test-leftover'`);
    assert.deepEqual(await noPreparedTransactions.run(db.pools), []);
  });
});
