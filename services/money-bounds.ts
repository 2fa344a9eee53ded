// Money is integer cents carried as JavaScript numbers above the database: exact only up to 2^53 - 1. The
// databases refuse any balance or amount beyond that, so no sequence of credits can produce a value the
// services would read back rounded (a mint through precision loss); reads go through centsFromDb.
import type { Migration } from './db';

const MAX = '9007199254740991';

const bounded = (table: string, column: string): string =>
  `ALTER TABLE ${table} ADD CONSTRAINT ${table}_${column}_exact CHECK (${column} BETWEEN -${MAX} AND ${MAX});`;

export const bankMoneyBoundsMigration: Migration = {
  id: 70,
  name: 'bank_money_bounds',
  sql: [
    bounded('accounts', 'balance_cents'),
    bounded('transfers', 'amount_cents'),
    bounded('reservations', 'amount_cents'),
  ].join('\n'),
};

export const walletMoneyBoundsMigration: Migration = {
  id: 70,
  name: 'wallet_money_bounds',
  sql: [bounded('wallets', 'balance_cents'), bounded('revenue', 'amount_cents')].join('\n'),
};
