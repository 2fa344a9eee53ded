// The barrier against real PostgreSQL, then through real workers on a real Temporal dev server: each anomaly it
// exists for reproduced deterministically (test-controlled hooks, never sleeps), with the database rows checked.
import { ApplicationFailure } from '@temporalio/activity';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Pool } from 'pg';
import { createPaymentsActivities } from '../../activities/shop';
import type { FaultHooks } from '../../activities/branch';
import { barrierAction, barrierCompensation, BarrierRejectedError } from '../../services/barrier';
import { checkInvariants } from '../../services/invariants';
import { placeHold, releaseHold } from '../../services/trip';
import { ERR, orderWorkflowId, TASK_QUEUES, type OrderInput, type SagaResult } from '../../shared';
import { STEP_TIMEOUT } from '../../workflows/saga';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';

/** A point in an activity that waits until the test opens it, and tells the test it got there. */
function gate() {
  let open!: () => void;
  let enter!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const entered = new Promise<void>((r) => (enter = r));
  return {
    open,
    entered,
    async pass(): Promise<void> {
      enter();
      await opened;
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const seats = async (pool: Pool, flight: string): Promise<number> =>
  (await pool.query<{ n: number }>('SELECT seats_available AS n FROM flights WHERE flight_id = $1', [flight]))
    .rows[0]!.n;
const barrierRows = async (pool: Pool, gid: string, branch: string): Promise<string[]> =>
  (
    await pool.query<{ op: string; origin: string }>(
      'SELECT op, origin FROM barrier WHERE gid = $1 AND branch = $2 ORDER BY op',
      [gid, branch],
    )
  ).rows.map((r) => `${r.op}/${r.origin}`);

describe('barrier (real PostgreSQL, real Temporal dev server)', () => {
  let t: TestStack;
  before(async () => {
    t = await startTestStack();
  });
  after(async () => {
    await t?.teardown();
  });

  // -------------------------------------------------------------------------------- the barrier functions
  describe('participant side, on the trip database', () => {
    const hold = (gid: string) => (tx: Parameters<Parameters<typeof barrierAction>[2]>[0]) =>
      placeHold(tx, `${gid}/flight`, gid, 'flight', 'FL-100');
    const release = (
      tx: Parameters<Parameters<typeof barrierCompensation>[2]>[0],
      held: { holdId: string },
    ) => releaseHold(tx, held.holdId);

    it('idempotent action: a retried action returns the first result and changes nothing twice', async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      const before = await seats(pool, 'FL-100');
      const first = await barrierAction(pool, key, hold(key.gid));
      const again = await barrierAction(pool, key, hold(key.gid));
      assert.equal(first.state, 'applied');
      assert.deepEqual(again, { state: 'duplicate', result: first.result });
      assert.equal(await seats(pool, 'FL-100'), before - 1);
      assert.deepEqual(await barrierRows(pool, key.gid, 'flight'), ['action/action']);
    });

    it('duplicate compensation: a retried compensation undoes once', async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      const before = await seats(pool, 'FL-100');
      await barrierAction(pool, key, hold(key.gid));
      assert.deepEqual(await barrierCompensation(pool, key, release), { state: 'applied' });
      assert.deepEqual(await barrierCompensation(pool, key, release), { state: 'duplicate' });
      assert.equal(await seats(pool, 'FL-100'), before);
      assert.deepEqual(await barrierRows(pool, key.gid, 'flight'), [
        'action/action',
        'compensate/compensate',
      ]);
    });

    it('null compensation: compensating an action that never committed is recorded and does nothing', async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      const before = await seats(pool, 'FL-100');
      let called = false;
      const outcome = await barrierCompensation(pool, key, async () => {
        called = true;
        return Promise.resolve();
      });
      assert.deepEqual(outcome, { state: 'noop' });
      assert.equal(called, false);
      assert.equal(await seats(pool, 'FL-100'), before);
      // The marker that will refuse the action if it ever arrives:
      assert.deepEqual(await barrierRows(pool, key.gid, 'flight'), [
        'action/compensate',
        'compensate/compensate',
      ]);
    });

    it('hanging prevention: an action arriving after its compensation is refused and changes nothing', async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      const before = await seats(pool, 'FL-100');
      await barrierCompensation(pool, key, release);
      await assert.rejects(barrierAction(pool, key, hold(key.gid)), BarrierRejectedError);
      assert.equal(await seats(pool, 'FL-100'), before);
      const holds = await pool.query('SELECT 1 FROM holds WHERE hold_id = $1', [`${key.gid}/flight`]);
      assert.equal(holds.rowCount, 0);
    });

    it('an action that committed and was compensated since is refused, not answered "duplicate" (a reset run)', async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      const before = await seats(pool, 'FL-100');
      assert.equal((await barrierAction(pool, key, hold(key.gid))).state, 'applied');
      assert.deepEqual(await barrierCompensation(pool, key, release), { state: 'applied' });
      await assert.rejects(
        barrierAction(pool, key, hold(key.gid), { afterCompensation: 'refuse' }),
        BarrierRejectedError,
      );
      assert.equal(await seats(pool, 'FL-100'), before, 'the seat stays given back');
      // The default (TCC's retried try after its participant-side expiry): the first answer, nothing held twice.
      assert.equal((await barrierAction(pool, key, hold(key.gid))).state, 'duplicate');
      assert.equal(await seats(pool, 'FL-100'), before);
    });

    it('a duplicate action arriving while its compensation is in flight waits for it, then is refused', async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      await barrierAction(pool, key, hold(key.gid));
      const g = gate();
      const compensation = barrierCompensation(pool, key, async (tx, held: { holdId: string }) => {
        await release(tx, held);
        await g.pass(); // uncommitted: the undo is not visible yet
      });
      await g.entered;
      const duplicate = barrierAction(pool, key, hold(key.gid), { afterCompensation: 'refuse' }).then(
        (r) => r,
        (e: unknown) => e,
      );
      // Either the duplicate already answered (the old behaviour) or it waits on the compensation's lock.
      const waiting = await Promise.race([
        duplicate.then(() => false),
        until('the duplicate to wait on the compensation', async () => {
          const r = await pool.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          return r.rowCount ? true : undefined;
        }),
      ]);
      g.open();
      assert.deepEqual(await compensation, { state: 'applied' });
      assert.ok(waiting, 'the duplicate waited for the compensation');
      assert.ok((await duplicate) instanceof BarrierRejectedError, 'then it was refused');
    });

    it('two runs holding for the same trip id at once: the second waits for the first, then is refused', async () => {
      const pool = t.stack.pools.trip;
      const tripId = uniqueId('trip');
      // Two sagas for one trip id (an SDK start under another workflow id): different run-bound keys.
      const [first, second] = ['run-1', 'run-2'].map((r) => ({ gid: `${tripId}/${r}`, branch: 'flight' }));
      const before = await seats(pool, 'FL-100');
      const g = gate();
      const a = barrierAction(pool, first!, async (tx) => {
        const h = await placeHold(tx, `${first!.gid}/flight`, tripId, 'flight', 'FL-100');
        await g.pass(); // uncommitted: the other run cannot see this hold yet
        return h;
      });
      await g.entered;
      const b = barrierAction(pool, second!, (tx) =>
        placeHold(tx, `${second!.gid}/flight`, tripId, 'flight', 'FL-100'),
      ).then(
        (r) => r,
        (e: unknown) => e,
      );
      await until('the second run to wait on the first', async () => {
        const r = await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return r.rowCount ? true : undefined;
      });
      g.open();
      assert.equal((await a).state, 'applied');
      const out = await b;
      assert.ok(out instanceof Error && /already exists/.test(out.message), `refused (got ${String(out)})`);
      assert.equal(await seats(pool, 'FL-100'), before - 1, 'one seat held for the trip, not two');
    });

    it("a compensation that times out on an in-flight action's lock leaves nothing behind; its retry undoes the action", async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      const before = await seats(pool, 'FL-100');
      const g = gate();
      const action = barrierAction(pool, key, async (tx) => {
        const h = await hold(key.gid)(tx);
        await g.pass(); // holds its barrier row past the compensation's lock_timeout
        return h;
      });
      await g.entered;
      // lock_timeout (55P03): retryable, and its own compensate row rolled back with it, so the retry is not a
      // "duplicate" that would never undo the action.
      await assert.rejects(
        barrierCompensation(pool, key, release),
        (e: { code?: string }) => e.code === '55P03',
      );
      assert.deepEqual(await barrierRows(pool, key.gid, 'flight'), []);
      g.open();
      assert.equal((await action).state, 'applied');
      assert.deepEqual(await barrierCompensation(pool, key, release), { state: 'applied' });
      assert.equal(await seats(pool, 'FL-100'), before);
    });

    it('a rolled-back action leaves no barrier row: its compensation is a null compensation', async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      const before = await seats(pool, 'FL-100');
      await assert.rejects(
        barrierAction(pool, key, async (tx) => {
          await hold(key.gid)(tx);
          throw new Error('crash inside the local transaction');
        }),
        /crash inside/,
      );
      assert.deepEqual(await barrierRows(pool, key.gid, 'flight'), []);
      assert.deepEqual(await barrierCompensation(pool, key, release), { state: 'noop' });
      assert.equal(await seats(pool, 'FL-100'), before);
    });

    it('an in-flight action and its compensation: the compensation waits for the commit, then undoes it', async () => {
      const pool = t.stack.pools.trip;
      const key = { gid: uniqueId('b'), branch: 'flight' };
      const before = await seats(pool, 'FL-100');
      const g = gate();
      const action = barrierAction(pool, key, async (tx) => {
        const h = await hold(key.gid)(tx);
        await g.pass(); // uncommitted: the barrier row and the seat are locked
        return h;
      });
      await g.entered;
      const compensation = barrierCompensation(pool, key, release);
      // The compensation is blocked on the action's uncommitted barrier row (a lock wait, not a race).
      await until('the compensation to wait on the action', async () => {
        const r = await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return r.rowCount ? true : undefined;
      });
      g.open();
      assert.equal((await action).state, 'applied');
      assert.deepEqual(await compensation, { state: 'applied' });
      assert.equal(await seats(pool, 'FL-100'), before);
      const status = await pool.query<{ status: string }>('SELECT status FROM holds WHERE hold_id = $1', [
        `${key.gid}/flight`,
      ]);
      assert.equal(status.rows[0]?.status, 'released');
    });
  });

  // -------------------------------------------------------------------------------- through the order saga
  describe('order saga: an attempt that outlives the workflow deadline', () => {
    const customer = 'bob';
    interface Snapshot {
      balance: number;
      events: number;
      available: number;
      reserved: number;
    }
    const snapshot = async (): Promise<Snapshot> => {
      const w = await t.stack.pools.payments.query<{ b: string }>(
        'SELECT balance_cents AS b FROM wallets WHERE customer_id = $1',
        [customer],
      );
      const e = await t.stack.pools.payments.query<{ n: string }>(
        'SELECT count(*) AS n FROM wallet_events WHERE stream_id = $1',
        [customer],
      );
      const s = await t.stack.pools.inventory.query<{ a: number; r: number }>(
        "SELECT available AS a, reserved AS r FROM stock WHERE sku = 'SKU-2'",
      );
      return {
        balance: Number(w.rows[0]!.b),
        events: Number(e.rows[0]!.n),
        available: s.rows[0]!.a,
        reserved: s.rows[0]!.r,
      };
    };

    /** Run one order with a 1 s deadline on `charge`, hooks in the payments worker, and every charge attempt's outcome recorded. */
    async function orderWith(hooks: FaultHooks, drive: (h: { workflowId: string }) => Promise<void>) {
      const outcomes: Promise<unknown>[] = [];
      const real = createPaymentsActivities(t.stack.pools.payments, hooks);
      const workers = await t.startWorkers({
        hooks,
        extraActivities: {
          payments: {
            chargePayment(input: Parameters<typeof real.chargePayment>[0]) {
              const p = real.chargePayment(input);
              outcomes.push(
                p.then(
                  (r) => r,
                  (e: unknown) => e,
                ),
              );
              return p;
            },
          },
        },
      });
      try {
        const input: OrderInput = {
          orderId: uniqueId('late'),
          customerId: customer,
          sku: 'SKU-2',
          qty: 1,
          amountCents: 1234,
        };
        const workflowId = orderWorkflowId(input.orderId);
        const h = await t.client.workflow.start('orderSaga', {
          taskQueue: TASK_QUEUES.orchestration,
          workflowId,
          args: [input, { stepTimeouts: { charge: '1s' } }],
        });
        await drive({ workflowId });
        const result = (await h.result()) as SagaResult;
        // The caller stops the workers once it has let the late attempt finish (a shutdown waits for it).
        // Barrier keys are bound to the run (issue 9 item 6).
        const gid = `${workflowId}/${h.firstExecutionRunId}`;
        return { result, outcomes, input, gid, stop: () => workers.stop() };
      } catch (err) {
        await workers.stop();
        throw err;
      }
    }

    it('an attempt that starts only after the workflow timed it out and compensated is refused (hanging prevention)', async () => {
      const before = await snapshot();
      const g = gate();
      const { result, outcomes, input, gid, stop } = await orderWith(
        { beforeAction: (step, attempt) => (step === 'charge' && attempt === 1 ? g.pass() : undefined) },
        async () => {
          await g.entered; // the charge attempt is running (nothing committed yet); the workflow's 1 s deadline is on
        },
      );
      // The workflow did not wait for the attempt: it timed the step out and compensated (a null compensation).
      assert.equal(result.status, 'compensated');
      assert.equal(result.failure?.step, 'charge');
      assert.equal(result.failure?.type, STEP_TIMEOUT);
      const refund = result.ledger.find((e) => e.name === 'refundPayment');
      assert.equal(refund?.status, 'compensated');
      assert.equal(refund?.noop, true, 'nothing had been charged when the refund ran');
      // Now the late attempt goes ahead, and the barrier refuses it.
      g.open();
      const late = await outcomes[0];
      await stop();
      // Refused: by its own cancellation (delivered through its heartbeat) or, if that never reached it, by the
      // barrier marker its compensation left.
      assert.ok(late instanceof Error, 'the late attempt failed');
      if (late instanceof ApplicationFailure && late.type !== 'CancelledFailure')
        assert.equal(late.type, ERR.barrierRejected);
      assert.deepEqual(await snapshot(), before, 'no charge, no wallet event, stock back where it was');
      assert.deepEqual(await barrierRows(t.stack.pools.payments, gid, 'charge'), [
        'action/compensate',
        'compensate/compensate',
      ]);
      const order = await t.stack.pools.orders.query<{ status: string }>(
        'SELECT status FROM orders WHERE order_id = $1',
        [input.orderId],
      );
      assert.equal(order.rows[0]?.status, 'cancelled');
    });

    it('an attempt still uncommitted when the workflow times it out is rolled back, never committed late (issue 9 item 2)', async () => {
      const before = await snapshot();
      const g = gate();
      const { result, outcomes, stop } = await orderWith(
        { beforeCommit: (step, attempt) => (step === 'charge' && attempt === 1 ? g.pass() : undefined) },
        async () => {
          await g.entered; // the charge is written but not committed; the workflow's 1 s deadline is on
        },
      );
      // The saga gave up on the charge and compensated; the attempt's cancellation reached it through its
      // heartbeat, which destroyed its connection: the server rolled the charge back.
      assert.equal(result.status, 'compensated');
      assert.equal(result.failure?.type, STEP_TIMEOUT);
      g.open(); // the abandoned attempt now tries to commit
      const late = await outcomes[0];
      await stop();
      assert.ok(late instanceof Error, `the late attempt did not commit (got ${JSON.stringify(late)})`);
      const refund = result.ledger.find((e) => e.name === 'refundPayment');
      assert.equal(refund?.status, 'compensated');
      assert.equal(refund?.noop, true, 'nothing had committed, so nothing was refunded');
      assert.deepEqual(await snapshot(), before, 'no charge, no wallet event, stock back where it was');
      const report = await checkInvariants(t.stack.pools);
      assert.deepEqual(
        report.checks.filter((c) => !c.ok),
        [],
      );
    });
  });
});
