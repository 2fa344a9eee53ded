// `settle trip book`: the trip-booking saga (flight, hotel and car in parallel, payment as the pivot, then
// confirmation and itinerary e-mail), started and followed like `settle order place`.
import {
  formatCents,
  TASK_QUEUES,
  TRIP_STEPS,
  tripSummary,
  tripWorkflowId,
  validateTripInput,
  type TripInput,
  type TripStep,
  type SagaResult,
} from '../../shared';
import { EXIT, intFlag, str, usageError, type Command } from '../cli-kit';
import { amountFlag } from '../money';
import { withServiceDb } from '../db';
import { checkRefsExist } from '../refs';
import { reportSagaResult, requireFlags } from '../saga-command';
import { BUSINESS_ID_OPTION, START_OPTIONS, startAndAwait, type StartSpec } from '../start';

function newTripId(): string {
  return `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export const tripBook: Command = {
  name: 'trip book',
  summary:
    "Book a trip: runs the trip saga (flight -> hotel + car in parallel -> payment (pivot) -> confirm -> e-mail -> loyalty points) and waits for its outcome. Pays from the trip service's own traveller accounts (settle trip accounts), not the shop wallets.",
  usage: `trip book --customer ID --flight ID --hotel ID --car CLASS --nights N --amount N [--trip-id ID] [--fail-at STEP] [--detach] [--timeout DURATION] [--json]`,
  examples: [
    'settle trip book --customer alice --flight FL-100 --hotel HT-1 --car compact --nights 3 --amount 840',
    'settle trip book --customer alice --flight FL-100 --hotel HT-2 --car compact --nights 1 --amount 200 --json   # sold-out hotel: compensated',
    'settle trip book --customer bob --flight FL-100 --hotel HT-1 --car compact --nights 2 --amount 150 --detach',
    'settle trip book --customer carol --flight FL-100 --hotel HT-1 --car compact --nights 1 --amount 50   # carol has 1.00 for trips: payment refused, compensated',
  ],
  options: {
    customer: {
      type: 'string',
      placeholder: 'ID',
      description: 'the traveller (a trip account: settle trip accounts)',
    },
    flight: { type: 'string', placeholder: 'ID', description: 'flight to hold a seat on (e.g. FL-100)' },
    hotel: {
      type: 'string',
      placeholder: 'ID',
      description: 'hotel to hold a room at (e.g. HT-1; HT-2 is sold out)',
    },
    car: { type: 'string', placeholder: 'CLASS', description: 'car class to hold (e.g. compact)' },
    nights: { type: 'string', placeholder: 'N', description: 'nights at the hotel, 1-60' },
    amount: { type: 'string', placeholder: 'N', description: 'the price in money, e.g. 840 or 199.99' },
    'trip-id': BUSINESS_ID_OPTION,
    'fail-at': {
      type: 'string',
      placeholder: 'STEP',
      description: 'inject a failure at this step (demos and tests)',
      choices: TRIP_STEPS,
    },
    ...START_OPTIONS,
  },
  async run(ctx) {
    const v = ctx.values;
    requireFlags(v, ['customer', 'flight', 'hotel', 'car', 'nights', 'amount'], this.usage);
    const input: TripInput = {
      tripId: str(v['trip-id']) ?? newTripId(),
      customerId: str(v.customer)!,
      flightId: str(v.flight)!,
      hotelId: str(v.hotel)!,
      carClass: str(v.car)!,
      nights: intFlag('nights', v.nights, { min: 1, max: 60 })!,
      amountCents: amountFlag(v.amount),
    };
    const failAt = str(v['fail-at']);
    if (failAt !== undefined) input.failAt = failAt as TripStep;
    const errors = validateTripInput(input);
    if (errors.length) throw usageError(errors.join('\n'));
    const see = 'settle trip accounts';
    await checkRefsExist([
      {
        service: 'trip',
        table: 'trip_accounts',
        column: 'customer_id',
        value: input.customerId,
        what: 'traveller',
        seeWith: see,
      },
      {
        service: 'trip',
        table: 'flights',
        column: 'flight_id',
        value: input.flightId,
        what: 'flight',
        seeWith: see,
      },
      {
        service: 'trip',
        table: 'hotels',
        column: 'hotel_id',
        value: input.hotelId,
        what: 'hotel',
        seeWith: see,
      },
      {
        service: 'trip',
        table: 'car_classes',
        column: 'car_class',
        value: input.carClass,
        what: 'car class',
        seeWith: see,
      },
    ]);

    const workflowId = tripWorkflowId(input.tripId);
    const spec: StartSpec = {
      noun: 'trip',
      workflowType: 'tripSaga',
      workflowId,
      businessKey: input.tripId,
      pattern: 'saga',
      taskQueue: TASK_QUEUES.orchestration,
      args: [input],
      initialStatus: 'running',
      staticSummary: tripSummary(input),
      staticDetails: `Saga: flight -> hotel + car (parallel) -> payment (pivot) -> confirm -> itinerary e-mail -> loyalty points${input.failAt ? ` (fault injected at ${input.failAt})` : ''}`,
      customer: input.customerId,
      legacyKey: 'tripId',
      followWith: `settle watch ${workflowId}`,
      stopWhenParked: true,
    };
    const started = await startAndAwait<SagaResult>(ctx, spec);
    if (started.done) return started.exitCode;
    return reportSagaResult(ctx, spec, started.runId, started.result, { title: `Trip ${input.tripId}` });
  },
};

export const tripAccounts: Command = {
  name: 'trip accounts',
  summary:
    "Show the trip service's traveller accounts (what trip book pays from; separate from the shop wallets of wallet show).",
  usage: 'trip accounts [--json]',
  examples: [
    'settle trip accounts',
    'settle trip accounts --json   # {count, accounts: [{customerId, balanceCents, balance}]}',
  ],
  options: {},
  async run(ctx) {
    const rows = await withServiceDb(
      'trip',
      async (pool) =>
        (
          await pool.query<{ customer_id: string; balance_cents: string }>(
            'SELECT customer_id, balance_cents FROM trip_accounts ORDER BY customer_id',
          )
        ).rows,
    );
    const accounts = rows.map((r) => ({
      customerId: r.customer_id,
      balanceCents: Number(r.balance_cents),
      balance: formatCents(Number(r.balance_cents)),
    }));
    if (ctx.json) ctx.emit({ count: accounts.length, accounts });
    else for (const a of accounts) ctx.out(`${a.customerId.padEnd(12)} ${a.balance.padStart(12)}`);
    return EXIT.ok;
  },
};
