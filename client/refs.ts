// The validation rule every starting command follows (docs/operations.md, "Validation"): input that is malformed
// is refused with exit 2; a reference to something that must already exist (customer, SKU, bank account, flight,
// hotel, car class) is checked against the owning service's database before anything starts, exit 4 when it does
// not exist. When the CLI cannot read that database (an external cluster and no DATABASE_URL), the transaction
// starts and the participant refuses it (the saga compensates, the transfer aborts): the same outcome, later.
import type { ServiceName } from '../services/db';
import { CliError, EXIT } from './cli-kit';
import { databaseUrl } from './config';
import { withServiceDb } from './db';

export interface Ref {
  service: ServiceName;
  table: string;
  column: string;
  value: string;
  /** How the message names it: "customer", "SKU", "account bank-a:alice". */
  what: string;
  /** Where to look them up. */
  seeWith: string;
}

/** Refuse (exit 4) the first reference that does not exist; do nothing when the databases are not reachable from here. */
export async function checkRefsExist(refs: Ref[]): Promise<void> {
  if (!databaseUrl()) return;
  for (const ref of refs) {
    let found: boolean;
    try {
      found = await withServiceDb(ref.service, async (pool) => {
        const r = await pool.query(`SELECT 1 FROM ${ref.table} WHERE ${ref.column} = $1`, [ref.value]);
        return (r.rowCount ?? 0) > 0;
      });
    } catch {
      return; // not reachable from the CLI: the participant decides
    }
    if (!found)
      throw new CliError(
        `no ${ref.what} '${ref.value}' (see: ${ref.seeWith}); nothing was started`,
        EXIT.notFound,
      );
  }
}
