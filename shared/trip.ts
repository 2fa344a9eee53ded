// Trip booking (the second saga built on the saga library): input, validation and ids, shared by the CLI and
// the workflow.
import { formatCents } from './money';

/** Every step, in order: flight, then hotel and car in parallel, payment (the pivot), then forward-only steps. */
export const TRIP_STEPS = ['flight', 'hotel', 'car', 'pay', 'confirm', 'email'] as const;
export type TripStep = (typeof TRIP_STEPS)[number];

export interface TripInput {
  tripId: string;
  customerId: string;
  flightId: string;
  hotelId: string;
  carClass: string;
  nights: number;
  amountCents: number;
  /** Fault injection for demos and tests: the named step fails with a non-retryable error. */
  failAt?: TripStep;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export function validateTripInput(i: TripInput): string[] {
  // Also called by the workflow on whatever a client sent: not necessarily an object of the right shape.
  if (typeof i !== 'object' || i === null) return ['the trip input must be an object'];
  const errors: string[] = [];
  const ids: [keyof TripInput, string][] = [
    ['tripId', 'trip id'],
    ['customerId', '--customer'],
    ['flightId', '--flight'],
    ['hotelId', '--hotel'],
    ['carClass', '--car'],
  ];
  for (const [k, flag] of ids)
    if (!ID_RE.test(String(i[k] ?? '')))
      errors.push(`${flag} must be 1-64 characters of letters, digits, . _ : -`);
  if (!Number.isSafeInteger(i.nights) || i.nights < 1 || i.nights > 60)
    errors.push('--nights must be a whole number from 1 to 60');
  if (!Number.isSafeInteger(i.amountCents) || i.amountCents <= 0)
    errors.push('--amount must be a positive amount with at most 2 decimals');
  if (i.failAt !== undefined && !(TRIP_STEPS as readonly string[]).includes(i.failAt))
    errors.push(`--fail-at must be one of ${TRIP_STEPS.join(', ')}`);
  return errors;
}

export const tripWorkflowId = (tripId: string): string => `trip-${tripId}`;

export function tripSummary(i: TripInput): string {
  return `Trip ${i.tripId} for ${i.customerId}: ${i.flightId}, ${i.nights} night(s) at ${i.hotelId}, ${i.carClass} car, ${formatCents(i.amountCents)}`;
}
