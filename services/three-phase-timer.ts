// A 3PC participant's own timer: resolves branches whose participant-side deadline passed (pre-committed ->
// commit, voting/prepared -> abort; services/xa.ts enforceThreePhaseTimeouts) on the participant's clock,
// without Temporal. It runs in the participant's process on a short interval (startParticipantTimers) and from
// the in-doubt sweep; either way single-flight per database: a session-level advisory lock, so two sweeps, two
// replicas or a sweep and the timer never resolve the same branch at once. Knows nothing of Temporal.
import type { Pool } from 'pg';
import { enforceThreePhaseTimeouts, type TimeoutAction } from './xa';

/** Advisory lock key of "one 3PC timer pass at a time in this database". */
const THREE_PHASE_TIMER_LOCK = 7412016;

/**
 * Run `fn` holding this database's advisory lock `key`; undefined (nothing done) when someone else holds it.
 * The lock is a session lock on one pooled connection, released in finally (and by the server if we die).
 */
export async function singleFlight<T>(pool: Pool, key: number, fn: () => Promise<T>): Promise<T | undefined> {
  const client = await pool.connect();
  let broken = false;
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key]);
    if (!got.rows[0]?.ok) return undefined;
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => (broken = true));
    }
  } finally {
    client.release(broken);
  }
}

/** One pass of the 3PC participant-side timeouts; [] when another pass is running in this database. */
export async function singleFlightThreePhaseTimeouts(pool: Pool, asOf?: Date): Promise<TimeoutAction[]> {
  return (
    (await singleFlight(pool, THREE_PHASE_TIMER_LOCK, () => enforceThreePhaseTimeouts(pool, asOf))) ?? []
  );
}
