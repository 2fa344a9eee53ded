// The shapes shared by every invariant check (services/invariants*.ts).
import type { QueryResult, QueryResultRow } from 'pg';
import type { ServiceName } from './db';

export interface Violation {
  check: string;
  detail: string;
}

/** Anything that answers SQL: a pool, or (inside checkInvariants) a connection holding the snapshot. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}
export type Dbs = Record<ServiceName, Queryable>;

export interface CheckOptions {
  /** No transaction is in flight: anything still held, prepared or undelivered is stranded. Default false. */
  quiesced?: boolean;
}

export interface InvariantCheck {
  name: string;
  description: string;
  run(dbs: Dbs, opts?: CheckOptions): Promise<Violation[]>;
}

export const violation = (check: string, detail: string): Violation => ({ check, detail });
