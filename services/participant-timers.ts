// The participants' own timers, in the participant's process and on its clock (no Temporal involved): TCC
// reservation expiry on each bank, and the 3PC participant-side timeouts on every 2PC/3PC participant database.
// Started with the TCC server by the host (workers/host.ts); each pass is single-flight per database, so several
// replicas may run it.
import type { Pools } from './db';
import { singleFlightThreePhaseTimeouts } from './three-phase-timer';
import { expireReservations } from './tcc-expiry';

export interface ParticipantTimers {
  /** Run one pass now (tests, and the first pass at start). */
  tick(asOf?: Date): Promise<{ expired: string[]; threePhase: string[] }>;
  stop(): Promise<void>;
}

export function startParticipantTimers(
  pools: Pick<Pools, 'bank_a' | 'bank_b' | 'outbox'>,
  opts: { everyMs?: number; log?: (m: string) => void } = {},
): ParticipantTimers {
  let running: Promise<unknown> = Promise.resolve();
  const tick = async (asOf?: Date) => {
    const expired: string[] = [];
    const threePhase: string[] = [];
    for (const pool of [pools.bank_a, pools.bank_b])
      expired.push(...(await expireReservations(pool, asOf)).expired);
    for (const pool of [pools.bank_a, pools.bank_b, pools.outbox])
      threePhase.push(
        ...(await singleFlightThreePhaseTimeouts(pool, asOf)).map((a) => `${a.gid}: ${a.action}`),
      );
    if (expired.length || threePhase.length)
      opts.log?.(
        `participant timers: expired ${expired.join(', ') || '-'}; 3pc ${threePhase.join(', ') || '-'}`,
      );
    return { expired, threePhase };
  };
  const timer = setInterval(() => {
    running = running
      .then(() => tick())
      .catch((err: Error) => opts.log?.(`participant timers: ${err.message}`));
  }, opts.everyMs ?? 1000);
  timer.unref();
  return {
    tick,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
