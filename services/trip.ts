// The trip-booking participant (the second saga on the saga library): flights, hotels and rental cars held per
// trip, a traveller account charged once everything is held, booked trips, and itinerary e-mails. One database
// of its own (`trip`). Each function runs inside the caller's transaction, so the barrier row and the business
// change commit or roll back together.
import type { Pool, PoolClient } from 'pg';
import { barrierMigration } from './barrier';
import type { Migration } from './db';
import { BusinessRejection } from './shop';
import { returnUnits, takeUnits, type UnitCounter } from './units';

// Business rejection types (shared/errors.ts ERR; spelled out here: services know nothing of the workflows).
const ERR = {
  unknownResource: 'UnknownResource',
  outOfStock: 'OutOfStock',
  unknownCustomer: 'UnknownCustomer',
  insufficientFunds: 'InsufficientFunds',
  invalidInput: 'InvalidInput',
} as const;

export const tripMigrations: Migration[] = [
  barrierMigration,
  {
    id: 2,
    name: 'trip',
    sql: `
      CREATE TABLE IF NOT EXISTS flights (
        flight_id       text PRIMARY KEY,
        seats_available int NOT NULL CHECK (seats_available >= 0)
      );
      CREATE TABLE IF NOT EXISTS hotels (
        hotel_id        text PRIMARY KEY,
        rooms_available int NOT NULL CHECK (rooms_available >= 0)
      );
      CREATE TABLE IF NOT EXISTS car_classes (
        car_class      text PRIMARY KEY,
        cars_available int NOT NULL CHECK (cars_available >= 0)
      );
      CREATE TABLE IF NOT EXISTS holds (
        hold_id    text PRIMARY KEY,
        trip_id    text NOT NULL,
        kind       text NOT NULL CHECK (kind IN ('flight', 'hotel', 'car')),
        resource   text NOT NULL,
        status     text NOT NULL CHECK (status IN ('held', 'released', 'confirmed')),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE IF NOT EXISTS trip_accounts (
        customer_id   text PRIMARY KEY,
        balance_cents bigint NOT NULL CHECK (balance_cents >= 0)
      );
      CREATE TABLE IF NOT EXISTS trip_payments (
        payment_id   text PRIMARY KEY,
        trip_id      text NOT NULL,
        customer_id  text NOT NULL,
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        status       text NOT NULL CHECK (status IN ('captured', 'refunded')),
        created_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE IF NOT EXISTS trips (
        trip_id     text PRIMARY KEY,
        customer_id text NOT NULL,
        payment_id  text NOT NULL,
        hold_ids    text[] NOT NULL,
        status      text NOT NULL CHECK (status IN ('booked')),
        booked_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE IF NOT EXISTS itineraries (
        message_id  text PRIMARY KEY,
        trip_id     text NOT NULL,
        customer_id text NOT NULL,
        body        text NOT NULL,
        sent_at     timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    id: 3,
    name: 'trip_loyalty',
    sql: `
      CREATE TABLE IF NOT EXISTS loyalty_points (
        trip_id     text PRIMARY KEY,
        customer_id text NOT NULL,
        points      int  NOT NULL CHECK (points > 0),
        awarded_at  timestamptz NOT NULL DEFAULT now()
      );`,
  },
];

export const SEED_FLIGHTS = [
  { id: 'FL-100', seats: 100 },
  { id: 'FL-200', seats: 0 },
] as const;
export const SEED_HOTELS = [
  { id: 'HT-1', rooms: 50 },
  { id: 'HT-2', rooms: 0 },
] as const;
export const SEED_CARS = [
  { id: 'compact', cars: 20 },
  { id: 'suv', cars: 0 },
] as const;
export const SEED_TRAVELLERS = [
  { id: 'alice', balanceCents: 500_000 },
  { id: 'bob', balanceCents: 20_000 },
  { id: 'carol', balanceCents: 100 },
] as const;

/** Insert the demo inventory and traveller accounts where missing; never resets existing rows. */
export async function seedTrip(pool: Pool): Promise<void> {
  for (const f of SEED_FLIGHTS)
    await pool.query(
      'INSERT INTO flights (flight_id, seats_available) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [f.id, f.seats],
    );
  for (const h of SEED_HOTELS)
    await pool.query(
      'INSERT INTO hotels (hotel_id, rooms_available) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [h.id, h.rooms],
    );
  for (const c of SEED_CARS)
    await pool.query(
      'INSERT INTO car_classes (car_class, cars_available) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [c.id, c.cars],
    );
  for (const t of SEED_TRAVELLERS)
    await pool.query(
      'INSERT INTO trip_accounts (customer_id, balance_cents) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [t.id, t.balanceCents],
    );
}

// ---------------------------------------------------------------------------------------------- holds
export type HoldKind = 'flight' | 'hotel' | 'car';
export interface Hold {
  holdId: string;
  kind: HoldKind;
  resource: string;
}

/** Advisory lock class for per-trip serialisation (the two-key form: a key space of its own). */
const TRIP_LOCK_CLASS = 7412;

const INVENTORY: Record<HoldKind, UnitCounter & { what: string }> = {
  flight: { table: 'flights', key: 'flight_id', available: 'seats_available', what: 'seats on flight' },
  hotel: { table: 'hotels', key: 'hotel_id', available: 'rooms_available', what: 'rooms at hotel' },
  car: { table: 'car_classes', key: 'car_class', available: 'cars_available', what: 'cars of class' },
};

/**
 * Take one unit of a flight, hotel or car class for a trip. The hold id is the caller's idempotency key; its
 * prefix up to the step names the saga run (`<gid>/`): holds of the same trip id placed by another run mean the
 * business id is being reused, which is refused (the earlier run's outcome stands).
 */
export async function placeHold(
  tx: PoolClient,
  holdId: string,
  tripId: string,
  kind: HoldKind,
  resource: string,
): Promise<Hold> {
  const runPrefix = holdId.slice(0, holdId.lastIndexOf('/') + 1);
  // Serialise the check per trip id until commit: two runs checking at once would each miss the other's
  // uncommitted hold, and both would hold, charge and try to book one trip.
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [TRIP_LOCK_CLASS, tripId]);
  const other = await tx.query(
    'SELECT 1 FROM holds WHERE trip_id = $1 AND left(hold_id, length($2)) <> $2 LIMIT 1',
    [tripId, runPrefix],
  );
  if (other.rowCount)
    throw new BusinessRejection(
      ERR.invalidInput,
      `trip ${tripId} already exists (booked or attempted by an earlier run): use a new trip id`,
    );
  const inv = INVENTORY[kind];
  const took = await takeUnits(tx, inv, resource, 1);
  if (!took.ok && took.available === undefined)
    throw new BusinessRejection(ERR.unknownResource, `unknown ${kind} ${resource}`);
  if (!took.ok) throw new BusinessRejection(ERR.outOfStock, `no ${inv.what} ${resource} left`);
  await tx.query(
    `INSERT INTO holds (hold_id, trip_id, kind, resource, status) VALUES ($1, $2, $3, $4, 'held')`,
    [holdId, tripId, kind, resource],
  );
  return { holdId, kind, resource };
}

/** Give a held unit back (a confirmed hold is past the pivot and never released). */
export async function releaseHold(tx: PoolClient, holdId: string): Promise<void> {
  const r = await tx.query<{ kind: HoldKind; resource: string }>(
    `UPDATE holds SET status = 'released' WHERE hold_id = $1 AND status = 'held' RETURNING kind, resource`,
    [holdId],
  );
  const h = r.rows[0];
  if (h) await returnUnits(tx, INVENTORY[h.kind], h.resource, 1);
}

// ---------------------------------------------------------------------------------------------- payment
export interface TripPayment {
  paymentId: string;
  customerId: string;
  amountCents: number;
}

export async function captureTripPayment(
  tx: PoolClient,
  paymentId: string,
  tripId: string,
  customerId: string,
  amountCents: number,
): Promise<TripPayment> {
  const acc = await tx.query<{ balance_cents: string }>(
    'SELECT balance_cents FROM trip_accounts WHERE customer_id = $1 FOR UPDATE',
    [customerId],
  );
  const balance = acc.rows[0]?.balance_cents;
  if (balance === undefined)
    throw new BusinessRejection(ERR.unknownCustomer, `unknown traveller ${customerId}`);
  if (Number(balance) < amountCents)
    throw new BusinessRejection(
      ERR.insufficientFunds,
      `insufficient balance: ${customerId} has ${balance} cents, needs ${amountCents}`,
    );
  await tx.query('UPDATE trip_accounts SET balance_cents = balance_cents - $2 WHERE customer_id = $1', [
    customerId,
    amountCents,
  ]);
  await tx.query(
    `INSERT INTO trip_payments (payment_id, trip_id, customer_id, amount_cents, status) VALUES ($1, $2, $3, $4, 'captured')`,
    [paymentId, tripId, customerId, amountCents],
  );
  return { paymentId, customerId, amountCents };
}

export async function refundTripPayment(tx: PoolClient, paymentId: string): Promise<void> {
  const r = await tx.query<{ customer_id: string; amount_cents: string }>(
    `UPDATE trip_payments SET status = 'refunded' WHERE payment_id = $1 AND status = 'captured' RETURNING customer_id, amount_cents`,
    [paymentId],
  );
  const p = r.rows[0];
  if (p)
    await tx.query('UPDATE trip_accounts SET balance_cents = balance_cents + $2 WHERE customer_id = $1', [
      p.customer_id,
      p.amount_cents,
    ]);
}

// ---------------------------------------------------------------------------------------------- after the pivot
export async function bookTrip(
  tx: PoolClient,
  tripId: string,
  customerId: string,
  paymentId: string,
  holdIds: string[],
): Promise<{ tripId: string }> {
  const held = await tx.query(
    `UPDATE holds SET status = 'confirmed' WHERE hold_id = ANY($1) AND status = 'held'`,
    [holdIds],
  );
  if (held.rowCount !== holdIds.length)
    throw new BusinessRejection(
      ERR.invalidInput,
      `trip ${tripId}: ${holdIds.length - (held.rowCount ?? 0)} of its holds are not held any more`,
    );
  await tx.query(
    `INSERT INTO trips (trip_id, customer_id, payment_id, hold_ids, status) VALUES ($1, $2, $3, $4, 'booked')`,
    [tripId, customerId, paymentId, holdIds],
  );
  return { tripId };
}

export async function recordItinerary(
  tx: PoolClient,
  messageId: string,
  tripId: string,
  customerId: string,
  body: string,
): Promise<{ messageId: string }> {
  await tx.query('INSERT INTO itineraries (message_id, trip_id, customer_id, body) VALUES ($1, $2, $3, $4)', [
    messageId,
    tripId,
    customerId,
    body,
  ]);
  return { messageId };
}

export async function awardPoints(
  tx: PoolClient,
  tripId: string,
  customerId: string,
  points: number,
): Promise<{ points: number }> {
  await tx.query('INSERT INTO loyalty_points (trip_id, customer_id, points) VALUES ($1, $2, $3)', [
    tripId,
    customerId,
    points,
  ]);
  return { points };
}
