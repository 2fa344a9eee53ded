// Trip booking, the second saga on the saga library (workflows/saga.ts), different in shape from the order saga:
//
//   flight ──> [ hotel ‖ car ] ──> pay (pivot) ──> confirm ──> email ──> points
//   compensatable  parallel group    go/no-go      forward-only, retried until done
//
// The hotel and car holds run concurrently and are compensated as a group. Payment is the pivot: if it fails
// the holds are released (and a payment whose outcome is unknown is refunded through the barrier); once it
// succeeds the trip is only ever completed: the booking is confirmed and the itinerary sent, retried until they
// succeed or an operator resolves them. Later steps receive earlier steps' typed results (hold ids, payment id).
import { patched } from '@temporalio/workflow';
import type { TripActivities } from '../activities/trip';
import { TASK_QUEUES, tripSummary, type SagaResult, type TripInput, type TripStep } from '../shared';
import { defineSaga, runSaga, type Interval } from './saga';
import { serviceProxies } from './service-proxies';

const { forward: trip, undo } = serviceProxies<TripActivities>(TASK_QUEUES.trip);

const inject = (i: TripInput, step: TripStep): boolean => i.failAt === step;

export const tripSagaDefinition = defineSaga<TripInput>('trip')
  .step('flight', {
    compensationName: 'releaseFlight',
    run: ({ input, step }) =>
      trip.holdFlight.executeWithOptions({ summary: `hold a seat on ${input.flightId}` }, [
        { step, tripId: input.tripId, resource: input.flightId, inject: inject(input, 'flight') },
      ]),
    compensate: ({ step }, held) =>
      undo.releaseHold.executeWithOptions(
        { summary: `↩ compensate: release ${held?.result.holdId ?? 'the flight hold'}` },
        [{ step }],
      ),
  })
  .parallel('stay', (g) =>
    g
      .step('hotel', {
        compensationName: 'releaseHotel',
        run: ({ input, step }) =>
          trip.holdHotel.executeWithOptions(
            { summary: `hold a room at ${input.hotelId} for ${input.nights} night(s)` },
            [{ step, tripId: input.tripId, resource: input.hotelId, inject: inject(input, 'hotel') }],
          ),
        compensate: ({ step }) =>
          undo.releaseHold.executeWithOptions({ summary: '↩ compensate: release the room' }, [{ step }]),
      })
      .step('car', {
        compensationName: 'releaseCar',
        run: ({ input, step }) =>
          trip.holdCar.executeWithOptions({ summary: `hold a ${input.carClass} car` }, [
            { step, tripId: input.tripId, resource: input.carClass, inject: inject(input, 'car') },
          ]),
        compensate: ({ step }) =>
          undo.releaseHold.executeWithOptions({ summary: '↩ compensate: release the car' }, [{ step }]),
      }),
  )
  .pivot('pay', {
    compensationName: 'refundPayment',
    run: ({ input, step }) =>
      trip.chargeTrip.executeWithOptions({ summary: `charge ${input.customerId} for trip ${input.tripId}` }, [
        {
          step,
          tripId: input.tripId,
          customerId: input.customerId,
          amountCents: input.amountCents,
          inject: inject(input, 'pay'),
        },
      ]),
    // Runs only if the payment step itself failed after possibly committing: the barrier makes it a no-op otherwise.
    compensate: ({ step }) =>
      undo.refundTrip.executeWithOptions({ summary: '↩ compensate: refund an uncertain payment' }, [
        { step },
      ]),
  })
  .forward('confirm', {
    run: ({ input, step, results }) =>
      trip.confirmTrip.executeWithOptions({ summary: `book trip ${input.tripId}` }, [
        {
          step,
          tripId: input.tripId,
          customerId: input.customerId,
          paymentId: results.pay.result.paymentId,
          holdIds: [results.flight.result.holdId, results.hotel.result.holdId, results.car.result.holdId],
          inject: inject(input, 'confirm'),
        },
      ]),
  })
  .forward('email', {
    run: ({ input, step, results }) =>
      trip.sendItinerary.executeWithOptions({ summary: `e-mail the itinerary to ${input.customerId}` }, [
        {
          step,
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
    run: ({ input, step }) =>
      trip.awardLoyaltyPoints.executeWithOptions({ summary: `award loyalty points to ${input.customerId}` }, [
        { step, tripId: input.tripId, customerId: input.customerId, amountCents: input.amountCents },
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
}

export async function tripSaga(input: TripInput, options: TripSagaOptions = {}): Promise<SagaResult> {
  return runSaga(tripSagaDefinition, input, {
    pattern: 'saga',
    businessKey: input.tripId,
    searchAttributes: options.searchAttributes,
    timeouts: options.stepTimeouts,
    compensation: options.compensation,
  });
}
