// Money beyond 2^53 - 1 cents cannot be represented exactly by the services (JavaScript numbers): the
// databases refuse it, and a read of such a value fails loudly instead of rounding.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { centsFromDb } from '../../shared';
import { startTestDatabases, type TestDatabases } from '../helpers/db';

const BEYOND = '9007199254740992'; // 2^53: the first integer a double cannot tell from its neighbour

describe('money stays exact (real PostgreSQL)', () => {
  let db: TestDatabases;
  before(async () => {
    db = await startTestDatabases();
  });
  after(async () => {
    await db?.teardown();
  });

  it('a bank balance or ledger amount beyond 2^53 - 1 cents is refused by the database', async () => {
    const account = await db.pools.bank_b.query<{ account_id: string }>(
      'SELECT account_id FROM accounts LIMIT 1',
    );
    const id = account.rows[0]!.account_id;
    const before = await db.pools.bank_b.query<{ b: string }>(
      'SELECT balance_cents::text AS b FROM accounts WHERE account_id = $1',
      [id],
    );
    const err = await db.pools.bank_b
      .query(`UPDATE accounts SET balance_cents = $2::bigint WHERE account_id = $1`, [id, BEYOND])
      .catch((e: { code?: string }) => e);
    assert.equal((err as { code?: string }).code, '23514', 'check_violation');
    const after = await db.pools.bank_b.query<{ b: string }>(
      'SELECT balance_cents::text AS b FROM accounts WHERE account_id = $1',
      [id],
    );
    assert.equal(after.rows[0]!.b, before.rows[0]!.b);
  });

  it('a wallet balance beyond 2^53 - 1 cents is refused by the database', async () => {
    const err = await db.pools.payments
      .query(`UPDATE wallets SET balance_cents = $1::bigint`, [BEYOND])
      .catch((e: { code?: string }) => e);
    assert.equal((err as { code?: string }).code, '23514', 'check_violation');
  });

  it('a read beyond the exact range fails instead of rounding', () => {
    assert.equal(centsFromDb('9007199254740991'), 9007199254740991);
    assert.throws(() => centsFromDb('9007199254740993'), RangeError);
  });
});
