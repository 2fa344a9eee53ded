// The trip service's activities (task queue `trip`): every branch goes through the barrier, keyed by the
// workflow id and the saga step, so retries, late attempts and compensations of unknown outcomes are safe.
import type { Pool } from 'pg';
import type { CompensationOutcome } from '../services/barrier';
import {
  awardPoints,
  bookTrip,
  captureTripPayment,
  placeHold,
  recordItinerary,
  refundTripPayment,
  releaseHold,
  type Hold,
  type HoldKind,
  type TripPayment,
} from '../services/trip';
import { formatCents } from '../shared';
import {
  branchKey,
  runAction,
  runCompensation,
  type ActionResult,
  type FaultHooks,
  type StepRef,
} from './branch';

type Inject = { inject?: boolean };

export function createTripActivities(pool: Pool, hooks?: FaultHooks) {
  const hold =
    (kind: HoldKind) =>
    async (input: StepRef & Inject & { tripId: string; resource: string }): Promise<ActionResult<Hold>> => {
      // The hold id is the branch key itself: unique per saga and step, the same on every retry.
      const { gid } = branchKey(input);
      return runAction(
        pool,
        input,
        hooks,
        (tx) => placeHold(tx, `${gid}/${input.step}`, input.tripId, kind, input.resource),
        input.inject,
      );
    };
  return {
    holdFlight: hold('flight'),
    holdHotel: hold('hotel'),
    holdCar: hold('car'),
    /** Undo any hold: releases exactly the hold the committed action placed (read from the barrier). */
    async releaseHold(input: StepRef): Promise<CompensationOutcome> {
      return runCompensation<Hold>(pool, input, (tx, held) => releaseHold(tx, held.holdId));
    },
    async chargeTrip(
      input: StepRef & Inject & { tripId: string; customerId: string; amountCents: number },
    ): Promise<ActionResult<TripPayment>> {
      const { gid } = branchKey(input);
      return runAction(
        pool,
        input,
        hooks,
        (tx) =>
          captureTripPayment(tx, `${gid}/${input.step}`, input.tripId, input.customerId, input.amountCents),
        input.inject,
      );
    },
    /** Only for a payment whose outcome is unknown (the pivot failed after a possible commit). */
    async refundTrip(input: StepRef): Promise<CompensationOutcome> {
      return runCompensation<TripPayment>(pool, input, (tx, paid) => refundTripPayment(tx, paid.paymentId));
    },
    async confirmTrip(
      input: StepRef & Inject & { tripId: string; customerId: string; paymentId: string; holdIds: string[] },
    ): Promise<ActionResult<{ tripId: string }>> {
      return runAction(
        pool,
        input,
        hooks,
        (tx) => bookTrip(tx, input.tripId, input.customerId, input.paymentId, input.holdIds),
        input.inject,
      );
    },
    async sendItinerary(
      input: StepRef &
        Inject & {
          tripId: string;
          customerId: string;
          paymentId: string;
          amountCents: number;
          summary: string;
        },
    ): Promise<ActionResult<{ messageId: string }>> {
      const body = `Your trip ${input.tripId} is booked (${input.summary}); ${formatCents(input.amountCents)} charged, payment ${input.paymentId}.`;
      return runAction(
        pool,
        input,
        hooks,
        (tx) => recordItinerary(tx, `${input.tripId}/${input.step}`, input.tripId, input.customerId, body),
        input.inject,
      );
    },
    async awardLoyaltyPoints(
      input: StepRef & { tripId: string; customerId: string; amountCents: number },
    ): Promise<ActionResult<{ points: number }>> {
      // One point per whole currency unit spent.
      const points = Math.max(1, Math.floor(input.amountCents / 100));
      return runAction(pool, input, hooks, (tx) => awardPoints(tx, input.tripId, input.customerId, points));
    },
  };
}

export type TripActivities = ReturnType<typeof createTripActivities>;
