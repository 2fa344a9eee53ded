// `settle trip book`: the trip-booking saga (flight, hotel and car in parallel, payment as the pivot, then
// confirmation and itinerary e-mail), started and followed like `settle order place`.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  parseAmountToCents,
  SA,
  TASK_QUEUES,
  TRIP_STEPS,
  tripSummary,
  tripWorkflowId,
  validateTripInput,
  type SagaResult,
  type TripInput,
  type TripStep,
} from '../../shared';
import { EXIT, intFlag, str, usageError, type Command } from '../cli-kit';

function newTripId(): string {
  return `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export const tripBook: Command = {
  name: 'trip book',
  summary:
    'Book a trip: runs the trip saga (flight -> hotel + car in parallel -> payment (pivot) -> confirm -> e-mail) and waits for its outcome.',
  usage: `trip book --customer ID --flight ID --hotel ID --car CLASS --nights N --amount N [--trip-id ID] [--fail-at ${TRIP_STEPS.join('|')}] [--detach] [--json]`,
  examples: [
    'settle trip book --customer alice --flight FL-100 --hotel HT-1 --car compact --nights 3 --amount 840',
    'settle trip book --customer alice --flight FL-100 --hotel HT-2 --car compact --nights 1 --amount 200 --json   # sold-out hotel: compensated',
    'settle trip book --customer carol --flight FL-100 --hotel HT-1 --car compact --nights 2 --amount 500 --detach',
  ],
  options: {
    customer: { type: 'string' },
    flight: { type: 'string' },
    hotel: { type: 'string' },
    car: { type: 'string' },
    nights: { type: 'string' },
    amount: { type: 'string' },
    'trip-id': { type: 'string' },
    'fail-at': { type: 'string' },
    detach: { type: 'boolean', default: false },
  },
  async run(ctx) {
    const v = ctx.values;
    const missing = ['customer', 'flight', 'hotel', 'car', 'nights', 'amount'].filter(
      (k) => str(v[k]) === undefined,
    );
    if (missing.length)
      throw usageError(`missing ${missing.map((m) => `--${m}`).join(', ')}\nUsage: settle ${this.usage}`);
    const amountText = str(v.amount)!;
    const amountCents = parseAmountToCents(amountText);
    if (amountCents === undefined)
      throw usageError(`--amount must be a positive amount with at most 2 decimals, got '${amountText}'`);
    const input: TripInput = {
      tripId: str(v['trip-id']) ?? newTripId(),
      customerId: str(v.customer)!,
      flightId: str(v.flight)!,
      hotelId: str(v.hotel)!,
      carClass: str(v.car)!,
      nights: intFlag('nights', v.nights, { min: 1, max: 60 })!,
      amountCents,
    };
    const failAt = str(v['fail-at']);
    if (failAt !== undefined) input.failAt = failAt as TripStep;
    const errors = validateTripInput(input);
    if (errors.length) throw usageError(errors.join('\n'));

    const client = await ctx.client();
    const workflowId = tripWorkflowId(input.tripId);
    let handle;
    try {
      handle = await client.workflow.start('tripSaga', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId,
        args: [input],
        staticSummary: tripSummary(input),
        staticDetails: `Saga: flight -> hotel + car (parallel) -> payment (pivot) -> confirm -> itinerary e-mail${input.failAt ? ` (fault injected at ${input.failAt})` : ''}`,
        typedSearchAttributes: [
          { key: SA.pattern, value: 'saga' },
          { key: SA.businessKey, value: input.tripId },
          { key: SA.status, value: 'running' },
        ],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw usageError(`trip ${input.tripId} already exists (${workflowId})`);
      throw err;
    }
    if (v.detach) {
      if (ctx.json)
        ctx.emit({ workflowId, runId: handle.firstExecutionRunId, tripId: input.tripId, status: 'running' });
      else ctx.out(`started ${workflowId}; follow it with: settle watch ${workflowId}`);
      return EXIT.ok;
    }
    const result = (await handle.result()) as SagaResult;
    const doc = {
      workflowId,
      runId: handle.firstExecutionRunId,
      tripId: input.tripId,
      status: result.status,
      steps: result.steps,
      compensations: result.compensations,
      failure: result.failure,
      ledger: result.ledger,
    };
    if (ctx.json) ctx.emit(doc);
    else {
      ctx.out(`Trip ${input.tripId}: ${result.status}  (${workflowId})`);
      ctx.out(`  steps:         ${result.steps.join(', ') || 'none'}`);
      ctx.out(`  compensations: ${result.compensations.join(', ') || 'none'}`);
      if (result.failure)
        ctx.out(
          `  failed at:     ${result.failure.step}: ${result.failure.type ?? ''} ${result.failure.message}`,
        );
    }
    return result.status === 'completed' || result.status === 'compensated' ? EXIT.ok : EXIT.attention;
  },
};
