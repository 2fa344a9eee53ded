// Counted units a participant hands out and takes back: stock of a SKU, seats on a flight, rooms at a hotel,
// cars of a class. One helper for the shop's reservations and the trip's holds: the counter row is locked
// (FOR UPDATE) so concurrent takes serialise, and a take never drives it below zero.
import type { PoolClient } from 'pg';

export interface UnitCounter {
  table: string;
  /** The key column. */
  key: string;
  /** The column counting units still available. */
  available: string;
  /** A column counting units taken and not yet given back, when the table keeps one. */
  taken?: string;
}

export type TakeOutcome = { ok: true } | { ok: false; available: number | undefined };

/** Take `qty` units of `id`; `{ ok: false }` with what is available (undefined: no such row) when it cannot. */
export async function takeUnits(
  tx: PoolClient,
  c: UnitCounter,
  id: string,
  qty: number,
): Promise<TakeOutcome> {
  const row = await tx.query<{ n: number }>(
    `SELECT ${c.available} AS n FROM ${c.table} WHERE ${c.key} = $1 FOR UPDATE`,
    [id],
  );
  const available = row.rows[0]?.n;
  if (available === undefined || available < qty) return { ok: false, available };
  const taken = c.taken ? `, ${c.taken} = ${c.taken} + $2` : '';
  await tx.query(`UPDATE ${c.table} SET ${c.available} = ${c.available} - $2${taken} WHERE ${c.key} = $1`, [
    id,
    qty,
  ]);
  return { ok: true };
}

/** Give `qty` units of `id` back. */
export async function returnUnits(tx: PoolClient, c: UnitCounter, id: string, qty: number): Promise<void> {
  const taken = c.taken ? `, ${c.taken} = ${c.taken} - $2` : '';
  await tx.query(`UPDATE ${c.table} SET ${c.available} = ${c.available} + $2${taken} WHERE ${c.key} = $1`, [
    id,
    qty,
  ]);
}
