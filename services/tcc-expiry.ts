// The TCC participant enforces its reservations' expiry itself, on its own clock: a hold whose expires_at passed
// is cancelled through the same barrier key as the coordinator's cancel, so the money goes back even when the
// coordinator was terminated or reset, a try still on its way is refused afterwards (hanging prevention), the
// coordinator's own cancel is a recorded duplicate, and a confirm is refused (ReservationExpired, in
// confirmReservation). Single-flight per bank database. Knows nothing of Temporal.
import type { Pool } from 'pg';
import { barrierCompensation } from './barrier';
import { cancelReservation, tccTryKey } from './banks';
import { singleFlight } from './three-phase-timer';

const TCC_EXPIRY_LOCK = 7412017;
/** At most this many holds per pass (the next pass takes the rest). */
const BATCH = 200;

export interface ExpiryPass {
  expired: string[];
  /** Reservations that could not be expired this time (confirmed at the same moment, lock timeout, ...). */
  skipped: { reservationId: string; error: string }[];
}

/** One expiry pass over one bank database; `asOf` lets tests move the participant's clock forward. */
export async function expireReservations(pool: Pool, asOf?: Date): Promise<ExpiryPass> {
  const pass = await singleFlight(pool, TCC_EXPIRY_LOCK, async () => {
    const out: ExpiryPass = { expired: [], skipped: [] };
    const due = await pool.query<{ reservation_id: string; workflow_id: string; branch: string }>(
      `SELECT reservation_id, workflow_id, branch FROM reservations
        WHERE status = 'held' AND expires_at <= coalesce($1::timestamptz, now()) ORDER BY expires_at LIMIT ${BATCH}`,
      [asOf ?? null],
    );
    for (const r of due.rows) {
      try {
        await barrierCompensation(pool, tccTryKey(r.workflow_id, r.branch), (tx) =>
          cancelReservation(tx, r.reservation_id, { expiring: true, expiredAsOf: asOf }),
        );
        out.expired.push(r.reservation_id);
      } catch (err) {
        out.skipped.push({ reservationId: r.reservation_id, error: (err as Error).message });
      }
    }
    return out;
  });
  return pass ?? { expired: [], skipped: [] };
}
