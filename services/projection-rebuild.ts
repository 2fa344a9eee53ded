// Rebuilding a projection while the live read model keeps serving: replay from zero into a shadow table
// (`<table>_rebuild`) in batches, then in one transaction lock the live checkpoint (the background projector
// skips it meanwhile), apply the events that arrived since, swap the tables by rename and move the checkpoint
// to where the shadow is. Readers see the old table until the commit and the rebuilt one after it, never a
// half-built one. An interrupted rebuild leaves only a shadow table the next rebuild drops.
// The replay stops at the event store's horizon (services/event-store.ts): events of a transaction still open
// are not in the rebuilt table and the checkpoint stays before them, so the live projector applies them once
// they commit.
import type { Pool, PoolClient } from 'pg';
import { DB_TIMEOUTS, inTransaction, isDbTimeout } from './db';
import { formatPosition, readAllForward, START, type GlobalPosition } from './event-store';
import { findProjection, type Projection } from './projection-models';

export interface RebuildResult {
  name: string;
  events: number;
  seconds: number;
  position: string;
}

export interface RebuildOptions {
  /** Events per replay transaction (default 2000). */
  batch?: number;
  /** Called every `progressEvery` events replayed (default 10,000) and once the swap committed. */
  onProgress?: (p: { events: number; position: string; phase: 'replay' | 'swapped' }) => void;
  progressEvery?: number;
  /** Swap attempts when the live table is busy (a lock timeout rolls the swap back; the shadow is kept). */
  swapAttempts?: number;
}

export class UnknownProjectionError extends Error {
  override name = 'UnknownProjectionError';
}

export class RebuildRunningError extends Error {
  override name = 'RebuildRunningError';
}

/**
 * A transaction on the rebuild's connection with the pools' time bounds (services/db.ts DB_TIMEOUTS), whatever
 * pool the caller gave: a stuck lock or statement fails the rebuild instead of hanging it.
 */
async function boundedTx<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
  return inTransaction(client, async () => {
    await client.query(
      `SET LOCAL statement_timeout = ${DB_TIMEOUTS.statementMs}; SET LOCAL lock_timeout = ${DB_TIMEOUTS.lockMs}`,
    );
    return fn();
  });
}

/**
 * Apply batches into `table` from `at` until no readable event is left; returns the new position and count.
 * `inTx` runs each batch: in a transaction of its own (the bulk replay), or in the caller's (the swap).
 */
async function catchUp(
  inTx: <T>(fn: () => Promise<T>) => Promise<T>,
  client: PoolClient,
  p: Projection,
  table: string,
  from: { at: GlobalPosition; events: number },
  batch: number,
  progress: (events: number, at: GlobalPosition) => void,
): Promise<{ at: GlobalPosition; events: number }> {
  let { at, events } = from;
  for (;;) {
    const ev = await inTx(async () => {
      const got = await readAllForward(client, at, batch);
      await p.applyBatch(client, table, got);
      return got;
    });
    events += ev.length;
    if (ev.length) at = ev[ev.length - 1]!.at;
    progress(events, at);
    if (ev.length < batch) return { at, events };
  }
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Each index of `table`, by its definition without its own and its table's name (to match a LIKE copy's). */
async function indexesByShape(client: PoolClient, table: string): Promise<Map<string, string>> {
  const r = await client.query<{ name: string; def: string }>(
    `SELECT c.relname AS name, regexp_replace(pg_get_indexdef(i.indexrelid), ' INDEX \\S+ ON \\S+ ', ' INDEX ON ') AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = $1::regclass`,
    [table],
  );
  return new Map(r.rows.map((x) => [x.def, x.name]));
}

export async function rebuildProjection(
  pool: Pool,
  name: string,
  opts: RebuildOptions = {},
): Promise<RebuildResult> {
  const p = findProjection(name);
  if (!p) throw new UnknownProjectionError(`unknown projection '${name}'`);
  const batch = opts.batch ?? 2000;
  const every = opts.progressEvery ?? 10_000;
  const started = Date.now();
  const shadow = `${p.table}_rebuild`;
  let reported = 0;
  const progress = (events: number, at: GlobalPosition): void => {
    if (Math.floor(events / every) <= Math.floor(reported / every)) return;
    reported = events;
    opts.onProgress?.({ events, position: formatPosition(at), phase: 'replay' });
  };
  // One connection for the whole rebuild: it holds the session lock that keeps a second rebuild of the same
  // projection from dropping this one's shadow table under it.
  const client = await pool.connect();
  let locked = false;
  try {
    const got = await client.query<{ ok: boolean }>(
      `SELECT pg_try_advisory_lock(hashtext('settle-rebuild'), hashtext($1)) AS ok`,
      [name],
    );
    locked = got.rows[0]!.ok;
    if (!locked) throw new RebuildRunningError(`a rebuild of '${name}' is already running`);
    await boundedTx(client, () =>
      client.query(`DROP TABLE IF EXISTS ${shadow}; CREATE TABLE ${shadow} (LIKE ${p.table} INCLUDING ALL)`),
    );
    let done = await catchUp(
      (fn) => boundedTx(client, fn),
      client,
      p,
      shadow,
      { at: START, events: 0 },
      batch,
      progress,
    );
    for (let attempt = 1; ; attempt++) {
      try {
        done = await boundedTx(client, () => swap(client, p, shadow, done, batch, progress));
        break;
      } catch (err) {
        // The live table was busy (a long reader, the projector's batch): the swap rolled back, the shadow and
        // its replay are intact; try again from there.
        if (!isDbTimeout(err) || attempt >= (opts.swapAttempts ?? 3)) throw err;
      }
    }
    opts.onProgress?.({ events: done.events, position: formatPosition(done.at), phase: 'swapped' });
    return {
      name,
      events: done.events,
      seconds: (Date.now() - started) / 1000,
      position: formatPosition(done.at),
    };
  } finally {
    const unlocked =
      !locked ||
      (await client
        .query(`SELECT pg_advisory_unlock(hashtext('settle-rebuild'), hashtext($1))`, [name])
        .then(() => true)
        .catch(() => false));
    client.release(unlocked ? undefined : new Error('rebuild lock not released'));
  }
}

/**
 * Under the live checkpoint's lock: apply the tail into the shadow, put the shadow in the live table's place
 * (with the live table's index names, so the second rebuild's shadow does not inherit `<table>_rebuild_pkey`),
 * and move the checkpoint to the shadow's position.
 */
async function swap(
  client: PoolClient,
  p: Projection,
  shadow: string,
  from: { at: GlobalPosition; events: number },
  batch: number,
  progress: (events: number, at: GlobalPosition) => void,
): Promise<{ at: GlobalPosition; events: number }> {
  await client.query('INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING', [
    p.name,
  ]);
  await client.query('SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [p.name]);
  const tail = await catchUp((fn) => fn(), client, p, shadow, from, batch, progress);
  const liveNames = await indexesByShape(client, p.table);
  await client.query(`DROP TABLE ${p.table}; ALTER TABLE ${shadow} RENAME TO ${p.table}`);
  for (const [def, current] of await indexesByShape(client, p.table)) {
    const wanted = liveNames.get(def);
    if (wanted && wanted !== current)
      await client.query(`ALTER INDEX ${ident(current)} RENAME TO ${ident(wanted)}`);
  }
  await client.query(
    `UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3, updated_at = now(), last_error = NULL WHERE name = $1`,
    [p.name, tail.at.txId, tail.at.position],
  );
  return tail;
}
