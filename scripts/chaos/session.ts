// One stack's run: every selected cell on it in turn (distinct ids), the invariants after each, then teardown.
import type { Cell } from './cells';
import { driveCell, type CellResult } from './drive';
import { CHAOS_TRIP_RESOURCES, type PatternName } from './patterns';
import { ChaosStack } from './stack';
import { ensureRelays } from '../../workers/relays';

export interface PatternRunOptions {
  closeTimeoutMs: number;
  quiesceTimeoutMs: number;
  log: (m: string) => void;
}

const TRIP_TABLES = [
  {
    kind: 'flight',
    table: 'flights',
    key: 'flight_id',
    count: 'seats_available',
    id: CHAOS_TRIP_RESOURCES.flight,
  },
  {
    kind: 'hotel',
    table: 'hotels',
    key: 'hotel_id',
    count: 'rooms_available',
    id: CHAOS_TRIP_RESOURCES.hotel,
  },
  {
    kind: 'car',
    table: 'car_classes',
    key: 'car_class',
    count: 'cars_available',
    id: CHAOS_TRIP_RESOURCES.car,
  },
] as const;

async function addTripResources(st: ChaosStack): Promise<void> {
  for (const t of TRIP_TABLES)
    await st.pools.trip.query(
      `INSERT INTO ${t.table} (${t.key}, ${t.count}) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [t.id, CHAOS_TRIP_RESOURCES.count],
    );
}

/** The resources the harness added are conserved too: free + held/confirmed = what was added. */
async function tripResourcesConserved(st: ChaosStack): Promise<string[]> {
  const out: string[] = [];
  for (const t of TRIP_TABLES) {
    const r = await st.pools.trip.query<{ free: number; used: string }>(
      `SELECT i.${t.count} AS free, (SELECT count(*) FROM holds h WHERE h.kind = $2 AND h.resource = $1 AND h.status <> 'released') AS used
         FROM ${t.table} i WHERE i.${t.key} = $1`,
      [t.id, t.kind],
    );
    const row = r.rows[0];
    if (row && row.free + Number(row.used) !== CHAOS_TRIP_RESOURCES.count)
      out.push(
        `trip-conserved: ${t.kind} ${t.id}: ${row.free} free + ${row.used} held/confirmed != ${CHAOS_TRIP_RESOURCES.count}`,
      );
  }
  return out;
}

async function startRelays(st: ChaosStack): Promise<void> {
  await ensureRelays({ address: st.temporal.address }, st.client.options.namespace);
}

/**
 * Run cells on one stack, in turn, with distinct ids. The full matrix uses one stack per pattern; the quick
 * sample shares one stack between all its patterns (the invariants are global either way).
 */
export async function runOnStack(cells: Cell[], opts: PatternRunOptions): Promise<CellResult[]> {
  const patterns = new Set<PatternName>(cells.map((c) => c.pattern));
  const st = new ChaosStack();
  const results: CellResult[] = [];
  const tag = Date.now().toString(36);
  const t0 = Date.now();
  try {
    await st.start();
    if (patterns.has('trip')) await addTripResources(st);
    if (patterns.has('choreography')) await startRelays(st);
    opts.log(
      `${[...patterns].join(', ')}: stack up in ${Math.round((Date.now() - t0) / 1000)} s, ${cells.length} cells`,
    );
    const known = new Set<string>();
    for (const [i, cell] of cells.entries()) {
      const r = await driveCell(st, cell, `cx${tag}-${i}`, {
        closeTimeoutMs: opts.closeTimeoutMs,
        quiesceTimeoutMs: opts.quiesceTimeoutMs,
        known,
        ...(patterns.has('trip') ? { extraChecks: tripResourcesConserved } : {}),
      });
      results.push(r);
      opts.log(
        `${r.passed ? 'pass' : 'FAIL'} ${cell.pattern} ${cell.fault} ${cell.at} (${(r.ms / 1000).toFixed(1)} s)${r.violations.map((v) => `\n     - ${v}`).join('')}`,
      );
    }
  } catch (err) {
    // The stack itself failed: every cell not run yet is reported failed, with the reason.
    const reason = `stack: ${(err as Error).message.split('\n')[0]}`;
    for (const cell of cells.slice(results.length))
      results.push({ ...cell, passed: false, violations: [reason], quiesce_ms: 0, ms: 0 });
    opts.log(`FAIL ${reason}`);
  } finally {
    await st.stop();
  }
  return results;
}
