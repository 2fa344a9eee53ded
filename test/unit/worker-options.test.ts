// What `settle worker` serves and where it connects: queue names (full or short), --all, bad input refused before
// anything starts, and one pool per needed service on SETTLE_DB_<SERVICE>_URL or DATABASE_URL.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closePools, type Pools } from '../../services/db';
import { ALL_QUEUES } from '../../workers';
import { parseWorkerArgs, poolsForQueues, WorkerUsageError } from '../../workers/worker-options';

describe('settle worker options', () => {
  it('takes task queue names or short names, de-duplicated, or --all', () => {
    assert.deepEqual(parseWorkerArgs(['--queues', 'settle-payments,bankA,settle-payments']).queues, [
      'payments',
      'bankA',
    ]);
    assert.deepEqual(parseWorkerArgs(['--all']).queues, ALL_QUEUES);
    const o = parseWorkerArgs(['--all', '--concurrency', '8', '--drain-timeout', '5', '--metrics-port', '0']);
    assert.equal(o.concurrency, 8);
    assert.equal(o.drainTimeoutSec, 5);
    assert.equal(o.metricsPort, undefined, '--metrics-port 0 turns metrics off');
  });

  it('refuses what it cannot serve, before connecting to anything', () => {
    for (const bad of [
      [],
      ['--queues', 'settle-nope'],
      ['--queues', 'settle-payments', '--all'],
      ['--all', '--concurrency', '0'],
      ['--all', '--bogus'],
    ])
      assert.throws(() => parseWorkerArgs(bad), WorkerUsageError, bad.join(' '));
  });

  it('opens a pool only for the services of its queues, on their own URL or DATABASE_URL', async () => {
    const pools = poolsForQueues(['payments', 'bankA', 'orchestration', 'tcc'], {
      DATABASE_URL: 'postgres://u:p@db:5432/postgres',
      SETTLE_DB_BANK_A_URL: 'postgres://bank:pw@bank-a-db:5432/ledger',
    });
    try {
      assert.deepEqual(Object.keys(pools).sort(), ['bank_a', 'payments']);
      const opts = (p: Pools[keyof Pools]) =>
        (p as unknown as { options: { connectionString: string } }).options;
      assert.equal(opts(pools.payments).connectionString, 'postgres://u:p@db:5432/settle_payments');
      assert.equal(opts(pools.bank_a).connectionString, 'postgres://bank:pw@bank-a-db:5432/ledger');
    } finally {
      await closePools(pools);
    }
    assert.throws(() => poolsForQueues(['orders'], {}), /SETTLE_DB_ORDERS_URL or DATABASE_URL/);
  });
});
