// The trip saga on the real parts (Temporal dev server, PostgreSQL, the real trip activities): a booked trip,
// a hotel that is sold out (the parallel group compensated together), and a payment the traveller cannot afford
// (the pivot fails: every hold released, the uncertain-payment refund a recorded no-op). Rows checked each time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERR, SA, TASK_QUEUES, tripWorkflowId, type SagaResult, type TripInput } from '../../shared';
import { EXIT } from '../../client/cli-kit';
import { cliEnv, json, runCli } from '../e2e/run-cli';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';

interface Inventory {
  seats: number;
  rooms: number;
  cars: number;
  balance: number;
}

describe('trip saga on the real stack', () => {
  let t: TestStack;
  before(async () => {
    t = await startTestStack();
    await t.startWorkers();
  });
  after(async () => {
    await t?.teardown();
  });

  const inventory = async (i: TripInput): Promise<Inventory> => {
    const q = async (sql: string, arg: string): Promise<number> =>
      Number((await t.stack.pools.trip.query<{ n: string }>(sql, [arg])).rows[0]?.n ?? NaN);
    return {
      seats: await q('SELECT seats_available AS n FROM flights WHERE flight_id = $1', i.flightId),
      rooms: await q('SELECT rooms_available AS n FROM hotels WHERE hotel_id = $1', i.hotelId),
      cars: await q('SELECT cars_available AS n FROM car_classes WHERE car_class = $1', i.carClass),
      balance: await q('SELECT balance_cents AS n FROM trip_accounts WHERE customer_id = $1', i.customerId),
    };
  };
  const book = async (i: TripInput) => {
    const h = await t.client.workflow.start('tripSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: tripWorkflowId(i.tripId),
      args: [i],
    });
    return { h, result: (await h.result()) as SagaResult };
  };
  const trip = (over: Partial<TripInput> = {}): TripInput => ({
    tripId: uniqueId('trip'),
    customerId: 'alice',
    flightId: 'FL-100',
    hotelId: 'HT-1',
    carClass: 'compact',
    nights: 2,
    amountCents: 42_000,
    ...over,
  });
  const holds = async (tripId: string): Promise<string[]> =>
    (
      await t.stack.pools.trip.query<{ kind: string; status: string }>(
        'SELECT kind, status FROM holds WHERE trip_id = $1 ORDER BY kind',
        [tripId],
      )
    ).rows.map((r) => `${r.kind}:${r.status}`);

  it('books a trip: one unit of each held and confirmed, paid once, itinerary sent, points awarded', async () => {
    const input = trip();
    const before = await inventory(input);
    const { h, result } = await book(input);
    assert.equal(result.status, 'completed');
    assert.deepEqual(await inventory(input), {
      seats: before.seats - 1,
      rooms: before.rooms - 1,
      cars: before.cars - 1,
      balance: before.balance - input.amountCents,
    });
    assert.deepEqual(await holds(input.tripId), ['car:confirmed', 'flight:confirmed', 'hotel:confirmed']);
    const booked = await t.stack.pools.trip.query<{ payment_id: string }>(
      'SELECT payment_id FROM trips WHERE trip_id = $1',
      [input.tripId],
    );
    // The payment id is the branch key, bound to the run (issue 9 item 6).
    const payment = `${tripWorkflowId(input.tripId)}/${h.firstExecutionRunId}/pay`;
    assert.equal(booked.rows[0]?.payment_id, payment);
    const mail = await t.stack.pools.trip.query<{ body: string }>(
      'SELECT body FROM itineraries WHERE trip_id = $1',
      [input.tripId],
    );
    assert.equal(mail.rowCount, 1);
    assert.ok(mail.rows[0]!.body.includes(`payment ${payment}`), mail.rows[0]!.body);
    const points = await t.stack.pools.trip.query<{ points: number }>(
      'SELECT points FROM loyalty_points WHERE trip_id = $1',
      [input.tripId],
    );
    assert.equal(points.rows[0]?.points, input.amountCents / 100);
    const d = await h.describe();
    assert.equal(d.typedSearchAttributes.get(SA.status), 'completed');
    assert.equal(d.typedSearchAttributes.get(SA.businessKey), input.tripId);
    assert.equal(d.typedSearchAttributes.get(SA.pattern), 'saga');
  });

  it('a sold-out hotel: the car held beside it and the flight before it are released', async () => {
    const input = trip({ hotelId: 'HT-2' });
    const before = await inventory(input);
    const { result } = await book(input);
    assert.equal(result.status, 'compensated');
    assert.equal(result.failure?.step, 'hotel');
    assert.equal(result.failure?.type, ERR.outOfStock);
    assert.deepEqual([...result.compensations].sort(), ['releaseCar', 'releaseFlight', 'releaseHotel']);
    assert.equal(result.compensations.at(-1), 'releaseFlight', 'the stay group first, then the flight');
    assert.equal(
      result.ledger.find((e) => e.name === 'releaseHotel')?.noop,
      true,
      'the hotel hold never committed',
    );
    assert.deepEqual(await inventory(input), before);
    assert.deepEqual(await holds(input.tripId), ['car:released', 'flight:released']);
  });

  it('a payment the traveller cannot afford fails the pivot: every hold released, nothing charged', async () => {
    const input = trip({ customerId: 'carol' });
    const before = await inventory(input);
    const { result } = await book(input);
    assert.equal(result.status, 'compensated');
    assert.equal(result.failure?.step, 'pay');
    assert.equal(result.failure?.type, ERR.insufficientFunds);
    assert.equal(result.compensations[0], 'refundPayment');
    assert.equal(
      result.ledger.find((e) => e.name === 'refundPayment')?.noop,
      true,
      'the refund of an uncharged payment is a no-op',
    );
    assert.deepEqual(await inventory(input), before);
    assert.deepEqual(await holds(input.tripId), ['car:released', 'flight:released', 'hotel:released']);
    const paid = await t.stack.pools.trip.query('SELECT 1 FROM trip_payments WHERE trip_id = $1', [
      input.tripId,
    ]);
    assert.equal(paid.rowCount, 0);
  });

  it('`settle trip book --json` books through the CLI; bad input is refused before anything starts', async () => {
    const env = cliEnv(t.stack.temporal.address);
    const tripId = uniqueId('cli');
    const args = [
      'trip',
      'book',
      '--customer',
      'bob',
      '--flight',
      'FL-100',
      '--hotel',
      'HT-1',
      '--car',
      'compact',
    ];
    const ok = await runCli(
      [...args, '--nights', '2', '--amount', '150.50', '--trip-id', tripId, '--json'],
      env,
    );
    assert.equal(ok.code, EXIT.ok, ok.stderr);
    const doc = json<{ workflowId: string; tripId: string; status: string; compensations: string[] }>(ok);
    assert.deepEqual(
      [doc.workflowId, doc.tripId, doc.status, doc.compensations],
      [tripWorkflowId(tripId), tripId, 'completed', []],
    );
    const paid = await t.stack.pools.trip.query<{ a: string }>(
      'SELECT amount_cents AS a FROM trip_payments WHERE trip_id = $1',
      [tripId],
    );
    assert.equal(Number(paid.rows[0]?.a), 15050);
    const bad = await runCli([...args, '--nights', '0', '--amount', '10', '--json'], env);
    assert.equal(bad.code, EXIT.usage);
    assert.match(
      json<{ error: string }>(bad).error,
      /--nights must be a whole number from 1 to 60|--nights must be at least 1/,
    );
  });
});
