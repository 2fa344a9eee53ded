// A TCC reservation belongs to one operation: the workflow id and branch name its key, the account and amount
// say what it is. A transfer started again under the same workflow id with another amount (after the first run
// was terminated) must not take the first run's hold for its own try, nor confirm or cancel it: the participant
// compares what the caller says its leg is with what the reservation holds. Knows nothing of Temporal or HTTP.
import type { Pool } from 'pg';
import { TRANSFER_ERR } from '../shared';
import { BusinessRejection } from './shop';

/** What the caller says its leg is (signed amount: negative for a debit). */
export interface TccLegOperation {
  account: string;
  amountCents: number;
}

/** The leg named in a confirm/cancel body; undefined from callers that do not send it (unchecked). */
export function legOperationOf(doc: Record<string, unknown>): TccLegOperation | undefined {
  const { account, amountCents } = doc;
  return typeof account === 'string' && typeof amountCents === 'number'
    ? { account, amountCents }
    : undefined;
}

/** True when the reservation does not exist yet, or holds exactly this leg (or no leg was named). */
export async function isOwnReservation(
  pool: Pool,
  reservationId: string,
  leg: TccLegOperation | undefined,
): Promise<boolean> {
  if (!leg) return true;
  const r = await pool.query<{ account_id: string; amount_cents: string }>(
    'SELECT account_id, amount_cents FROM reservations WHERE reservation_id = $1',
    [reservationId],
  );
  const row = r.rows[0];
  return !row || (row.account_id === leg.account && Number(row.amount_cents) === leg.amountCents);
}

export function otherOperation(reservationId: string): BusinessRejection {
  return new BusinessRejection(
    TRANSFER_ERR.branchMismatch,
    `reservation ${reservationId} belongs to another operation under this id (another account or amount)`,
  );
}
