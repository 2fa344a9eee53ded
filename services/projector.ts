// The background projector: a loop in the worker process (hosted by workers/host.ts, `settle worker` when it
// serves the orchestration queue, and `settle projections run`), not a Temporal workflow. Each batch is one
// PostgreSQL transaction that reads from the checkpoint, updates the read model and moves the checkpoint, so a
// SIGKILL anywhere loses at most the uncommitted batch, which the next run applies again from the same
// checkpoint: no event applied twice, none skipped. Why a loop (docs/consistency.md): the exactly-once effect
// comes from that transaction, not from Temporal, and a workflow would add an activity round trip and history
// events per batch to a job that needs neither retries across steps nor timers. Replicas are safe: a
// checkpoint another projector holds is skipped (FOR UPDATE SKIP LOCKED).
import type { Pool } from 'pg';
import { PROJECTIONS } from './projection-models';
import { projectOnce } from './projections';

export interface Projector {
  /** Project every projection to the end of the readable events; returns how many events were applied. */
  tick(): Promise<number>;
  stop(): Promise<void>;
}

export function startProjector(
  pool: Pool,
  opts: { everyMs?: number; batch?: number; log?: (m: string) => void } = {},
): Projector {
  const batch = opts.batch ?? 500;
  let stopped = false;
  const tick = async (): Promise<number> => {
    let applied = 0;
    for (const p of PROJECTIONS)
      for (;;) {
        if (stopped) return applied;
        const n = await projectOnce(pool, p.name, batch, { skipLocked: true });
        applied += n;
        if (n < batch) break;
      }
    return applied;
  };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const loop = (): void => {
    running = tick().then(
      () => undefined,
      (err: Error) => opts.log?.(`projector: ${err.message}`), // projectOnce recorded it as last_error
    );
    void running.then(() => {
      if (!stopped) timer = setTimeout(loop, opts.everyMs ?? 500);
    });
  };
  loop();
  return {
    tick,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
