// Trip booking, the second saga on the saga library (workflows/saga/), different in shape from the order saga:
//
//   flight ──> [ hotel ‖ car ] ──> pay (pivot) ──> confirm ──> email ──> points
//   compensatable  parallel group    go/no-go      forward-only, retried until done
//
// The hotel and car holds run concurrently and are compensated as a group. Payment is the pivot: if it fails
// the holds are released (and a payment whose outcome is unknown is refunded through the barrier); once it
// succeeds the trip is only ever completed: the booking is confirmed and the itinerary sent, retried until they
// succeed or an operator resolves them. Later steps receive earlier steps' typed results (hold ids, payment id).
import { ApplicationFailure, continueAsNew, patched } from '@temporalio/workflow';
import type { TripActivities } from '../activities/trip';
import {
  ERR,
  TASK_QUEUES,
  tripSummary,
  validateTripInput,
  type SagaResult,
  type TripInput,
  type TripStep,
} from '../shared';
import { defineSaga, runSaga, type Interval, type SagaCheckpoint } from './saga';
import { serviceProxies } from './service-proxies';

const { forward: trip, undo } = serviceProxies<TripActivities>(TASK_QUEUES.trip);

const inject = (i: TripInput, step: TripStep): boolean => i.failAt === step;
/** Input validated in the workflow (issue 9 item 8); earlier executions with a bad input keep their recorded path. */
const VALIDATE_INPUT = 'trip-validate-input';

export const tripSagaDefinition = defineSaga<TripInput>('trip')
  .step('flight', {
    compensationName: 'releaseFlight',
    run: ({ input, step, run }) =>
      trip.holdFlight.executeWithOptions({ summary: `hold a seat on ${input.flightId}` }, [
        { step, run, tripId: input.tripId, resource: input.flightId, inject: inject(input, 'flight') },
      ]),
    compensate: ({ step, run }, held) =>
      undo.releaseHold.executeWithOptions(
        { summary: `↩ compensate: release ${held?.result.holdId ?? 'the flight hold'}` },
        [{ step, run }],
      ),
  })
  .parallel('stay', (g) =>
    g
      .step('hotel', {
        compensationName: 'releaseHotel',
        run: ({ input, step, run }) =>
          trip.holdHotel.executeWithOptions(
            { summary: `hold a room at ${input.hotelId} for ${input.nights} night(s)` },
            [{ step, run, tripId: input.tripId, resource: input.hotelId, inject: inject(input, 'hotel') }],
          ),
        compensate: ({ step, run }) =>
          undo.releaseHold.executeWithOptions({ summary: '↩ compensate: release the room' }, [{ step, run }]),
      })
      .step('car', {
        compensationName: 'releaseCar',
        run: ({ input, step, run }) =>
          trip.holdCar.executeWithOptions({ summary: `hold a ${input.carClass} car` }, [
            { step, run, tripId: input.tripId, resource: input.carClass, inject: inject(input, 'car') },
          ]),
        compensate: ({ step, run }) =>
          undo.releaseHold.executeWithOptions({ summary: '↩ compensate: release the car' }, [{ step, run }]),
      }),
  )
  .pivot('pay', {
    compensationName: 'refundPayment',
    run: ({ input, step, run }) =>
      trip.chargeTrip.executeWithOptions({ summary: `charge ${input.customerId} for trip ${input.tripId}` }, [
        {
          step,
          run,
          tripId: input.tripId,
          customerId: input.customerId,
          amountCents: input.amountCents,
          inject: inject(input, 'pay'),
        },
      ]),
    // Runs only if the payment step itself failed after possibly committing: the barrier makes it a no-op otherwise.
    compensate: ({ step, run }) =>
      undo.refundTrip.executeWithOptions({ summary: '↩ compensate: refund an uncertain payment' }, [
        { step, run },
      ]),
  })
  .forward('confirm', {
    run: ({ input, step, run, results }) =>
      trip.confirmTrip.executeWithOptions({ summary: `book trip ${input.tripId}` }, [
        {
          step,
          run,
          tripId: input.tripId,
          customerId: input.customerId,
          paymentId: results.pay.result.paymentId,
          holdIds: [results.flight.result.holdId, results.hotel.result.holdId, results.car.result.holdId],
          inject: inject(input, 'confirm'),
        },
      ]),
  })
  .forward('email', {
    run: ({ input, step, run, results }) =>
      trip.sendItinerary.executeWithOptions({ summary: `e-mail the itinerary to ${input.customerId}` }, [
        {
          step,
          run,
          tripId: input.tripId,
          customerId: input.customerId,
          paymentId: results.pay.result.paymentId,
          amountCents: input.amountCents,
          summary: tripSummary(input),
          inject: inject(input, 'email'),
        },
      ]),
  })
  // Added after trips were already running: `patched` makes executions that started before this change (their
  // histories have no marker) skip the step on replay, so they stay deterministic; new ones record the marker
  // and award the points. Once no pre-change trip can still be running, this becomes deprecatePatch(...).
  .forward('points', {
    when: () => patched('trip-loyalty-points'),
    run: ({ input, step, run }) =>
      trip.awardLoyaltyPoints.executeWithOptions({ summary: `award loyalty points to ${input.customerId}` }, [
        { step, run, tripId: input.tripId, customerId: input.customerId, amountCents: input.amountCents },
      ]),
  })
  .build();

export interface TripSagaOptions {
  /** Set search attributes (default true; the time-skipping test server does not know custom ones). */
  searchAttributes?: boolean;
  /** Saga-level deadlines per step (all activity attempts included). */
  stepTimeouts?: Partial<Record<TripStep, Interval>>;
  /** Compensate everything at once instead of in reverse order. */
  compensation?: 'reverse' | 'parallel';
  /** Continue-as-new once history has this many events (default: when the server suggests it). */
  continueAsNewAfterEvents?: number;
  /** Set by the saga itself when it continues as new. */
  resume?: SagaCheckpoint;
}

export async function tripSaga(input: TripInput, options: TripSagaOptions = {}): Promise<SagaResult> {
  // Started from the SDK or the Web UI, a bad input would otherwise fail as retryable database errors forever.
  const errors = validateTripInput(input);
  // Asked only for a bad input: an execution started before validation existed replays its recorded steps.
  if (errors.length && patched(VALIDATE_INPUT))
    throw ApplicationFailure.create({
      type: ERR.invalidInput,
      message: `invalid trip input: ${errors.join('; ')}`,
      nonRetryable: true,
    });
  return runSaga(tripSagaDefinition, input, {
    pattern: 'saga',
    businessKey: input.tripId,
    searchAttributes: options.searchAttributes,
    timeouts: options.stepTimeouts,
    compensation: options.compensation,
    continueAsNewAfterEvents: options.continueAsNewAfterEvents,
    resume: options.resume,
    continueAsNew: (resume) => continueAsNew<typeof tripSaga>(input, { ...options, resume }),
  });
}
