// Rebuilding a projection while the live read model keeps serving: replay from zero into a shadow table
// (`<table>_rebuild`) in batches, then in one transaction lock the live checkpoint (the background projector
// skips it meanwhile), apply the events that arrived since, swap the tables by rename and move the checkpoint
// to where the shadow is. Readers see the old table until the commit and the rebuilt one after it, never a
// half-built one. An interrupted rebuild leaves only a shadow table the next rebuild drops.
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from './db';
import { formatPosition, readAllForward, START, type GlobalPosition } from './event-store';
import { findProjection, type Projection } from './projection-models';

export interface RebuildResult {
  name: string;
  events: number;
  seconds: number;
  position: string;
}

export class UnknownProjectionError extends Error {
  override name = 'UnknownProjectionError';
}

type InTransaction = <T>(fn: (tx: PoolClient) => Promise<T>) => Promise<T>;

/**
 * Apply batches into `table` from `at` until no readable event is left; returns the new position and count.
 * `inTx` runs each batch: in a transaction of its own (the bulk replay), or in the caller's (the swap).
 */
async function catchUp(
  inTx: InTransaction,
  p: Projection,
  table: string,
  at: GlobalPosition,
  batch: number,
): Promise<{ at: GlobalPosition; events: number }> {
  let events = 0;
  for (;;) {
    const ev = await inTx(async (tx) => {
      const got = await readAllForward(tx, at, batch);
      await p.applyBatch(tx, table, got);
      return got;
    });
    events += ev.length;
    if (ev.length) at = ev[ev.length - 1]!.at;
    if (ev.length < batch) return { at, events };
  }
}

export async function rebuildProjection(
  pool: Pool,
  name: string,
  opts: { batch?: number } = {},
): Promise<RebuildResult> {
  const p = findProjection(name);
  if (!p) throw new UnknownProjectionError(`unknown projection '${name}'`);
  const batch = opts.batch ?? 2000;
  const started = Date.now();
  const shadow = `${p.table}_rebuild`;
  await pool.query(`DROP TABLE IF EXISTS ${shadow}; CREATE TABLE ${shadow} (LIKE ${p.table} INCLUDING ALL)`);
  const bulk = await catchUp((fn) => withTransaction(pool, fn), p, shadow, START, batch);
  const { at, events } = await withTransaction(pool, async (tx) => {
    await tx.query('INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING', [name]);
    await tx.query('SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [name]);
    const tail = await catchUp((fn) => fn(tx), p, shadow, bulk.at, batch);
    await tx.query(
      `ALTER TABLE ${p.table} RENAME TO ${p.table}_replaced; ALTER TABLE ${shadow} RENAME TO ${p.table}; DROP TABLE ${p.table}_replaced`,
    );
    await tx.query(
      `UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3, updated_at = now(), last_error = NULL WHERE name = $1`,
      [name, tail.at.txId, tail.at.position],
    );
    return { at: tail.at, events: bulk.events + tail.events };
  });
  return { name, events, seconds: (Date.now() - started) / 1000, position: formatPosition(at) };
}
