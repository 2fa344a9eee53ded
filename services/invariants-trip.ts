// Invariants of the trip saga's service: seats, rooms and cars conserved (free + held + confirmed = seeded),
// traveller money conserved (balance + captured payments = opening), a booked trip paid and holding its
// resources, and (quiesced) no hold or payment left behind by a trip that was not booked.
import { violation as v, type InvariantCheck, type Violation } from './invariants-kit';
import { SEED_CARS, SEED_FLIGHTS, SEED_HOTELS, SEED_TRAVELLERS } from './trip';

const INVENTORY = [
  {
    kind: 'flight',
    table: 'flights',
    key: 'flight_id',
    count: 'seats_available',
    seed: SEED_FLIGHTS.map((f) => ({ id: f.id, n: f.seats })),
  },
  {
    kind: 'hotel',
    table: 'hotels',
    key: 'hotel_id',
    count: 'rooms_available',
    seed: SEED_HOTELS.map((h) => ({ id: h.id, n: h.rooms })),
  },
  {
    kind: 'car',
    table: 'car_classes',
    key: 'car_class',
    count: 'cars_available',
    seed: SEED_CARS.map((c) => ({ id: c.id, n: c.cars })),
  },
];

export const tripConserved: InvariantCheck = {
  name: 'trip-conserved',
  description:
    'trip inventory and traveller money conserved; booked trips paid and holding; quiesced: nothing held or captured for an unbooked trip',
  async run(dbs, opts) {
    const db = dbs.trip;
    const out: Violation[] = [];
    for (const inv of INVENTORY) {
      const rows = await db.query<{ id: string; free: number; used: string }>(
        `SELECT i.${inv.key} AS id, i.${inv.count} AS free,
                (SELECT count(*) FROM holds h WHERE h.kind = $1 AND h.resource = i.${inv.key} AND h.status <> 'released') AS used
           FROM ${inv.table} i`,
        [inv.kind],
      );
      for (const r of rows.rows) {
        const opening = inv.seed.find((s) => s.id === r.id)?.n;
        if (opening !== undefined && r.free + Number(r.used) !== opening)
          out.push(
            v(this.name, `${inv.kind} ${r.id}: ${r.free} free + ${r.used} held/confirmed != ${opening}`),
          );
      }
    }
    const money = await db.query<{ customer_id: string; balance: string; captured: string }>(
      `SELECT a.customer_id, a.balance_cents AS balance,
              coalesce((SELECT sum(amount_cents) FROM trip_payments p WHERE p.customer_id = a.customer_id AND p.status = 'captured'), 0) AS captured
         FROM trip_accounts a`,
    );
    for (const m of money.rows) {
      const seed = SEED_TRAVELLERS.find((t) => t.id === m.customer_id);
      if (seed && Number(m.balance) + Number(m.captured) !== seed.balanceCents)
        out.push(
          v(
            this.name,
            `${m.customer_id}: balance ${m.balance} + captured ${m.captured} != ${seed.balanceCents}`,
          ),
        );
    }
    const booked = await db.query<{ trip_id: string; paid: boolean; unconfirmed: string }>(
      `SELECT t.trip_id,
              EXISTS (SELECT 1 FROM trip_payments p WHERE p.payment_id = t.payment_id AND p.status = 'captured') AS paid,
              (SELECT count(*) FROM unnest(t.hold_ids) AS id LEFT JOIN holds h ON h.hold_id = id
                WHERE h.status IS DISTINCT FROM 'confirmed') AS unconfirmed
         FROM trips t`,
    );
    for (const b of booked.rows) {
      if (!b.paid) out.push(v(this.name, `trip ${b.trip_id} booked but its payment is not captured`));
      if (Number(b.unconfirmed) > 0)
        out.push(
          v(this.name, `trip ${b.trip_id} booked but ${b.unconfirmed} of its holds are not confirmed`),
        );
    }
    if (opts?.quiesced) {
      const loose = await db.query<{ what: string; id: string; trip_id: string }>(
        `SELECT 'hold' AS what, hold_id AS id, trip_id FROM holds WHERE status = 'held'
         UNION ALL
         SELECT 'payment', payment_id, trip_id FROM trip_payments p
          WHERE status = 'captured' AND NOT EXISTS (SELECT 1 FROM trips t WHERE t.payment_id = p.payment_id)`,
      );
      for (const l of loose.rows)
        out.push(
          v(this.name, `${l.what} ${l.id} of trip ${l.trip_id} left behind (the trip was not booked)`),
        );
    }
    return out;
  },
};

export const TRIP_INVARIANTS: InvariantCheck[] = [tripConserved];
