// A participant in an atomic commit over PostgreSQL prepared transactions (2PC and 3PC), for any service
// database: prepare = BEGIN; the local work; PREPARE TRANSACTION '<gid>'; phase two = COMMIT/ROLLBACK PREPARED,
// idempotent. Knows nothing of Temporal.
//
// Every branch leaves one row in xa_branches, keyed by its gid, and this row is what makes it safe:
//  - prepare inserts (gid, 'committed') *inside* the prepared transaction, so the row becomes visible exactly
//    when the branch commits: "already committed" is then detectable after the fact;
//  - rollback inserts (gid, 'aborted') as a tombstone, so a prepare that arrives after the coordinator aborted
//    (a retried or slow attempt) finds it and votes no instead of preparing a branch nobody will resolve;
//  - the primary key serialises the two: a tombstone waits for an in-flight prepare's row (bounded by
//    lock_timeout, then the rollback looks again and rolls the now-prepared branch back).
// A prepared transaction survives its session and a server restart; pg_prepared_xacts lists what is in doubt.
import { Client, type Pool, type PoolClient } from 'pg';
import { isValidGid, TRANSFER_ERR, type Vote } from '../shared';
import type { Migration } from './db';
import { BusinessRejection } from './shop';

export const xaMigration: Migration = {
  id: 50,
  name: 'xa_branches',
  sql: `
    CREATE TABLE IF NOT EXISTS xa_branches (
      gid         text PRIMARY KEY,
      outcome     text NOT NULL CHECK (outcome IN ('committed', 'aborted')),
      recorded_at timestamptz NOT NULL DEFAULT now()
    );
    -- 3PC participant state: the participant-side timeouts are enforced from here, without the coordinator.
    CREATE TABLE IF NOT EXISTS threepc_branches (
      gid               text PRIMARY KEY,
      phase             text NOT NULL CHECK (phase IN ('voting', 'prepared', 'pre-committed', 'committed', 'aborted')),
      wait_timeout_ms   int NOT NULL,
      commit_timeout_ms int NOT NULL,
      deadline          timestamptz NOT NULL,
      updated_at        timestamptz NOT NULL DEFAULT now()
    );`,
};

/**
 * Binds a gid to the exact operation it was first prepared for, committed *before* the prepared transaction
 * starts (a row inside it would be invisible while it is in doubt): the transaction digest from the coordinator
 * log and the digest of this branch's own ops. A prepare of anything else under the same gid votes no.
 */
export const xaBindingMigration: Migration = {
  id: 51,
  name: 'xa_branch_bindings',
  sql: `
    CREATE TABLE IF NOT EXISTS xa_branch_bindings (
      gid         text PRIMARY KEY,
      tx_digest   text NOT NULL,
      ops_digest  text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now()
    );`,
};

export interface BranchBinding {
  txDigest: string;
  opsDigest: string;
}

export async function bindingOf(db: Queryable, gid: string): Promise<BranchBinding | undefined> {
  const r = await db.query<{ tx_digest: string; ops_digest: string }>(
    'SELECT tx_digest, ops_digest FROM xa_branch_bindings WHERE gid = $1',
    [gid],
  );
  const row = r.rows[0];
  return row && { txDigest: row.tx_digest, opsDigest: row.ops_digest };
}

/** SQL: the gid ($1) has been used (outcome row, 3PC state, or prepared) whether or not it is bound. */
const GID_USED = `(EXISTS (SELECT 1 FROM xa_branches WHERE gid = $1)
   OR EXISTS (SELECT 1 FROM threepc_branches WHERE gid = $1)
   OR EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()))`;

/**
 * Claim the gid for this operation: first binding wins, and a gid that some operation already used without a
 * binding (a 3PC branch before 3PC bound its branches, a 2PC branch prepared before bindings existed, a tombstone,
 * a 3PC state row) is never bound afterwards. One statement, so the check and the insert cannot be split.
 * True when the gid is this operation's.
 */
async function claimBranch(db: Queryable, gid: string, b: BranchBinding): Promise<boolean> {
  await db.query(
    `INSERT INTO xa_branch_bindings (gid, tx_digest, ops_digest)
     SELECT $1, $2, $3 WHERE NOT ${GID_USED} ON CONFLICT DO NOTHING`,
    [gid, b.txDigest, b.opsDigest],
  );
  const now = await bindingOf(db, gid);
  return now !== undefined && sameBinding(now, b);
}

const sameBinding = (a: BranchBinding, b: BranchBinding): boolean =>
  a.txDigest === b.txDigest && a.opsDigest === b.opsDigest;

/** The no vote of a prepare whose gid is not its operation's: a plain tombstone (aborted first) says so. */
async function refusedClaim(db: Queryable, gid: string): Promise<Vote> {
  if ((await bindingOf(db, gid)) === undefined && (await recordedOutcome(db, gid)) === 'aborted')
    return { vote: 'no', type: 'BranchAborted', reason: `${gid} was already aborted by the coordinator` };
  return mismatchVote(gid);
}

function mismatchVote(gid: string): Vote {
  return {
    vote: 'no',
    type: TRANSFER_ERR.branchMismatch,
    reason: `${gid} is bound to another operation (other legs or amounts under the same id)`,
  };
}

/**
 * How long a prepare waits for a lock (another attempt of the same branch, or an account row held by another
 * prepared transaction) before it gives up and is retried: this also breaks distributed deadlocks between
 * prepared transactions, which PostgreSQL cannot see.
 */
const PREPARE_LOCK_TIMEOUT = '3s';
/** A rollback's tombstone waits this long for an in-flight prepare of its branch, then looks again. */
const TOMBSTONE_LOCK_TIMEOUT = '250ms';

const UNDEFINED_OBJECT = '42704'; // "prepared transaction with identifier ... does not exist"
const LOCK_NOT_AVAILABLE = '55P03'; // lock_timeout
const OBJECT_IN_USE = '55006'; // the prepared transaction is being committed/rolled back by another session

const codeOf = (err: unknown): string | undefined => (err as { code?: string } | undefined)?.code;

function gidLiteral(gid: string): string {
  // PREPARE TRANSACTION / COMMIT PREPARED take a literal, not a parameter: only ids of safe characters pass.
  if (!isValidGid(gid)) throw new BusinessRejection('InvalidInput', `invalid global transaction id '${gid}'`);
  return `'${gid}'`;
}

/** A connection of its own (not a pooled one): it ends in PREPARE TRANSACTION and is closed right after. */
export async function dedicatedClient(pool: Pool): Promise<Client> {
  const client = new Client({ ...pool.options, application_name: 'settle-xa' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

type Queryable = Pick<PoolClient, 'query'>;

export async function isPrepared(db: Queryable, gid: string): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()`,
    [gid],
  );
  return (r.rowCount ?? 0) > 0;
}

export async function recordedOutcome(
  db: Queryable,
  gid: string,
): Promise<'committed' | 'aborted' | undefined> {
  const r = await db.query<{ outcome: 'committed' | 'aborted' }>(
    'SELECT outcome FROM xa_branches WHERE gid = $1',
    [gid],
  );
  return r.rows[0]?.outcome;
}

export interface PrepareHooks {
  /** Inside the local transaction, after the work and before PREPARE TRANSACTION (locks are held). */
  beforePrepare?(gid: string): void | Promise<void>;
  /** After PREPARE TRANSACTION, before the vote is returned. */
  afterPrepare?(gid: string): void | Promise<void>;
}

/**
 * Phase one for one branch. Idempotent: a retried attempt whose earlier attempt prepared votes yes again; a
 * branch already aborted (tombstone) votes no; business rejections (thrown as BusinessRejection by `work`) vote no.
 */
export async function prepareBranch(
  pool: Pool,
  gid: string,
  work: (tx: Client) => Promise<void>,
  hooks: PrepareHooks = {},
  binding?: BranchBinding,
): Promise<Vote> {
  const literal = gidLiteral(gid);
  // Bound first, so "already prepared" and "already committed" below are answers about this very operation.
  if (binding && !(await claimBranch(pool, gid, binding))) return await refusedClaim(pool, gid);
  const client = await dedicatedClient(pool);
  let open = false;
  try {
    if (await isPrepared(client, gid)) return { vote: 'yes', state: 'already-prepared' };
    await client.query('BEGIN');
    open = true;
    await client.query(`SET LOCAL lock_timeout = '${PREPARE_LOCK_TIMEOUT}'`);
    const mine = await client.query(
      `INSERT INTO xa_branches (gid, outcome) VALUES ($1, 'committed') ON CONFLICT DO NOTHING`,
      [gid],
    );
    if (mine.rowCount === 0) {
      const outcome = await recordedOutcome(client, gid);
      await client.query('ROLLBACK');
      open = false;
      if (outcome === 'committed') return { vote: 'yes', state: 'already-committed' };
      return { vote: 'no', type: 'BranchAborted', reason: `${gid} was already aborted by the coordinator` };
    }
    try {
      await work(client);
    } catch (err) {
      if (!(err instanceof BusinessRejection)) throw err;
      await client.query('ROLLBACK');
      open = false;
      return { vote: 'no', type: err.type, reason: err.message };
    }
    await hooks.beforePrepare?.(gid);
    await client.query(`PREPARE TRANSACTION ${literal}`);
    open = false;
  } catch (err) {
    if (open) await client.query('ROLLBACK').catch(() => undefined);
    // Another attempt of this branch holds its row (it is preparing, or prepared): if it got there, vote yes.
    if (codeOf(err) === LOCK_NOT_AVAILABLE && (await isPrepared(pool, gid)))
      return { vote: 'yes', state: 'already-prepared' };
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
  await hooks.afterPrepare?.(gid);
  return { vote: 'yes', state: 'prepared' };
}

/**
 * COMMIT PREPARED, idempotent: a branch that is no longer prepared but recorded committed is done. A branch that
 * is neither was rolled back behind the coordinator's back (a heuristic outcome): reported, never hidden.
 */
export async function commitBranch(
  pool: Pool,
  gid: string,
  txDigest?: string,
): Promise<'committed' | 'already-committed' | 'heuristic-rollback'> {
  const literal = gidLiteral(gid);
  if (txDigest !== undefined && !(await boundTo(pool, gid, txDigest)))
    throw new BusinessRejection(
      TRANSFER_ERR.branchMismatch,
      `${gid} is bound to another operation: this coordinator never prepared it and must not commit it`,
    );
  try {
    await pool.query(`COMMIT PREPARED ${literal}`);
    return 'committed';
  } catch (err) {
    if (codeOf(err) !== UNDEFINED_OBJECT) throw err; // busy (55006) or I/O: retried
  }
  if ((await recordedOutcome(pool, gid)) === 'committed') return 'already-committed';
  // Not prepared, not committed: make sure a late prepare cannot resurrect it, and report the anomaly.
  await writeTombstone(pool, gid);
  return 'heuristic-rollback';
}

/**
 * True when the gid is this transaction's: bound to its digest, or untouched by anyone (a phase-two call that
 * overtook its own prepare). A gid used without a binding (a legacy or pre-binding 3PC branch, its tombstone) is
 * another operation's, and so is one bound to another digest: phase two of this transaction leaves it alone.
 */
async function boundTo(db: Queryable, gid: string, txDigest: string): Promise<boolean> {
  const b = await bindingOf(db, gid);
  if (b) return b.txDigest === txDigest;
  const r = await db.query<{ used: boolean }>(`SELECT ${GID_USED} AS used`, [gid]);
  return !r.rows[0]?.used;
}

async function writeTombstone(pool: Pool, gid: string): Promise<'aborted' | 'committed' | 'locked'> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = '${TOMBSTONE_LOCK_TIMEOUT}'`);
    const ins = await client.query(
      `INSERT INTO xa_branches (gid, outcome) VALUES ($1, 'aborted') ON CONFLICT DO NOTHING`,
      [gid],
    );
    const outcome = ins.rowCount === 1 ? 'aborted' : await recordedOutcome(client, gid);
    await client.query('COMMIT');
    return outcome ?? 'aborted';
  } catch (err) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    if (codeOf(err) === LOCK_NOT_AVAILABLE) return 'locked';
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * ROLLBACK PREPARED, idempotent, and final: afterwards the branch can never prepare (its tombstone is recorded).
 * Safe against a prepare still in flight: the tombstone waits for that attempt's row, and when the attempt
 * prepared meanwhile it is rolled back on the next pass.
 */
export async function rollbackBranch(
  pool: Pool,
  gid: string,
  opts: { heartbeat?: () => void; txDigest?: string } = {},
): Promise<'rolled-back' | 'nothing-prepared' | 'heuristic-commit'> {
  const literal = gidLiteral(gid);
  // Another operation's branch under this gid is not ours to roll back (its own decision resolves it).
  if (opts.txDigest !== undefined && !(await boundTo(pool, gid, opts.txDigest))) return 'nothing-prepared';
  let rolledBack = false;
  for (;;) {
    opts.heartbeat?.();
    if (await isPrepared(pool, gid)) {
      try {
        await pool.query(`ROLLBACK PREPARED ${literal}`);
        rolledBack = true;
      } catch (err) {
        if (codeOf(err) !== UNDEFINED_OBJECT && codeOf(err) !== OBJECT_IN_USE) throw err;
      }
    }
    const tomb = await writeTombstone(pool, gid);
    if (tomb === 'locked') continue; // a prepare of this branch is in flight: look again
    if (tomb === 'committed') {
      // Committed (rows visible) but possibly still prepared? No: the 'committed' row is visible only after COMMIT PREPARED.
      return 'heuristic-commit';
    }
    return rolledBack ? 'rolled-back' : 'nothing-prepared';
  }
}

export interface InDoubtBranch {
  gid: string;
  preparedAt: Date;
  ageMs: number;
}

/** Settle's prepared transactions in this database (pg_prepared_xacts is cluster-wide; filter to ours). */
export async function listPreparedBranches(db: Queryable, prefix: string): Promise<InDoubtBranch[]> {
  const r = await db.query<{ gid: string; prepared: Date; age_ms: string }>(
    `SELECT gid, prepared, (extract(epoch FROM now() - prepared) * 1000)::bigint AS age_ms
       FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1) ORDER BY prepared`,
    [prefix],
  );
  return r.rows.map((row) => ({ gid: row.gid, preparedAt: row.prepared, ageMs: Number(row.age_ms) }));
}

// ---------------------------------------------------------------------------------------------- 3PC
// The participant-side state machine of three-phase commit:
//   can-commit: record (gid, 'voting'), prepare the branch like 2PC, then 'prepared' with deadline now + wait timeout
//   pre-commit: 'prepared' -> 'pre-committed' with deadline now + commit timeout (refused once the deadline passed)
//   do-commit:  COMMIT PREPARED, 'committed'
// and the participant's own timeouts, applied without asking anyone:
//   'voting' or 'prepared' past its deadline -> abort (roll back);  'pre-committed' past its deadline -> commit.

export async function canCommitBranch(
  pool: Pool,
  gid: string,
  timeouts: { waitTimeoutMs: number; commitTimeoutMs: number },
  work: (tx: Client) => Promise<void>,
  hooks: PrepareHooks = {},
  /** The 3PC operation's binding (threePhaseDigest): claimed before any 3PC state is written for the gid. */
  binding?: BranchBinding,
): Promise<Vote> {
  // A gid of another operation (a 2PC branch under the same workflow id, an earlier 3PC run with other legs)
  // is never adopted, and gets no 3PC state: its own coordinator, sweeper or timers resolve it.
  if (binding && !(await claimBranch(pool, gid, binding))) return await refusedClaim(pool, gid);
  const existing = await pool.query<{ phase: string }>('SELECT phase FROM threepc_branches WHERE gid = $1', [
    gid,
  ]);
  const phase = existing.rows[0]?.phase;
  if (phase === 'aborted')
    return {
      vote: 'no',
      type: 'BranchAborted',
      reason: `${gid} already aborted (participant timeout or coordinator)`,
    };
  // 'committed' means the transaction was decided commit (do-commit, or this participant's commit timeout):
  // said as such, so a coordinator that starts over (a reset run) follows that decision instead of voting again.
  if (phase === 'committed') return { vote: 'yes', state: 'already-committed' };
  if (phase === 'prepared' || phase === 'pre-committed') return { vote: 'yes', state: 'already-prepared' };
  if (phase === undefined) {
    await pool.query(
      `INSERT INTO threepc_branches (gid, phase, wait_timeout_ms, commit_timeout_ms, deadline)
       VALUES ($1, 'voting', $2::int, $3::int, now() + make_interval(secs => $2::int / 1000.0)) ON CONFLICT DO NOTHING`,
      [gid, timeouts.waitTimeoutMs, timeouts.commitTimeoutMs],
    );
  }
  const vote = await prepareBranch(pool, gid, work, hooks);
  if (vote.vote === 'no') {
    await pool.query(
      `UPDATE threepc_branches SET phase = 'aborted', updated_at = now() WHERE gid = $1 AND phase = 'voting'`,
      [gid],
    );
    return vote;
  }
  const moved = await pool.query(
    `UPDATE threepc_branches SET phase = 'prepared', updated_at = now(),
            deadline = now() + make_interval(secs => wait_timeout_ms / 1000.0)
      WHERE gid = $1 AND phase = 'voting' RETURNING 1`,
    [gid],
  );
  if (moved.rowCount === 0) {
    const now = await pool.query<{ phase: string }>('SELECT phase FROM threepc_branches WHERE gid = $1', [
      gid,
    ]);
    if (now.rows[0]?.phase === 'aborted')
      return { vote: 'no', type: 'BranchAborted', reason: `${gid} timed out while voting` };
  }
  return vote;
}

export async function preCommitBranch(
  pool: Pool,
  gid: string,
  txDigest?: string,
): Promise<{ state: 'pre-committed' | 'already-pre-committed' } | { state: 'refused'; reason: string }> {
  if (txDigest !== undefined && !(await boundTo(pool, gid, txDigest)))
    return { state: 'refused', reason: `${gid} is bound to another operation` };
  const r = await pool.query(
    `UPDATE threepc_branches SET phase = 'pre-committed', updated_at = now(),
            deadline = now() + make_interval(secs => commit_timeout_ms / 1000.0)
      WHERE gid = $1 AND phase = 'prepared' AND deadline > now() RETURNING 1`,
    [gid],
  );
  if (r.rowCount === 1) return { state: 'pre-committed' };
  const row = await pool.query<{ phase: string }>('SELECT phase FROM threepc_branches WHERE gid = $1', [gid]);
  const phase = row.rows[0]?.phase;
  if (phase === 'pre-committed' || phase === 'committed') return { state: 'already-pre-committed' };
  return {
    state: 'refused',
    reason: phase ? `branch is ${phase} (its wait timeout passed)` : 'unknown branch',
  };
}

export async function doCommitBranch(
  pool: Pool,
  gid: string,
  txDigest?: string,
): Promise<'committed' | 'already-committed' | 'heuristic-rollback'> {
  if (txDigest !== undefined && !(await boundTo(pool, gid, txDigest)))
    throw new BusinessRejection(
      TRANSFER_ERR.branchMismatch,
      `${gid} is bound to another operation: this coordinator never prepared it and must not commit it`,
    );
  await pool.query(
    `UPDATE threepc_branches SET phase = 'committed', updated_at = now() WHERE gid = $1 AND phase <> 'aborted'`,
    [gid],
  );
  return commitBranch(pool, gid);
}

export async function abortThreePhaseBranch(
  pool: Pool,
  gid: string,
  opts: { heartbeat?: () => void; txDigest?: string } = {},
): Promise<'rolled-back' | 'nothing-prepared' | 'heuristic-commit'> {
  // Another operation's branch under this gid (a 2PC one, an earlier 3PC run's) is not this abort's to touch.
  if (opts.txDigest !== undefined && !(await boundTo(pool, gid, opts.txDigest))) return 'nothing-prepared';
  const r = await pool.query<{ phase: string }>(
    `UPDATE threepc_branches SET phase = 'aborted', updated_at = now() WHERE gid = $1 AND phase <> 'committed' RETURNING phase`,
    [gid],
  );
  if (r.rowCount === 0) {
    const row = await pool.query<{ phase: string }>('SELECT phase FROM threepc_branches WHERE gid = $1', [
      gid,
    ]);
    if (row.rows[0]?.phase === 'committed') {
      // The participant committed on its own (its commit timeout passed): finish that, and report it.
      await commitBranch(pool, gid);
      return 'heuristic-commit';
    }
  }
  return rollbackBranch(pool, gid, opts);
}

export interface TimeoutAction {
  gid: string;
  action: 'commit' | 'abort';
  result: string;
}

/**
 * The participant's own timer: branches whose deadline passed are resolved by the 3PC rules (a pre-committed
 * branch commits, a voting/prepared one aborts). `asOf` lets tests move the participant's clock forward.
 */
export async function enforceThreePhaseTimeouts(pool: Pool, asOf?: Date): Promise<TimeoutAction[]> {
  const due = await pool.query<{ gid: string; phase: string }>(
    `SELECT gid, phase FROM threepc_branches
      WHERE (phase IN ('voting', 'prepared', 'pre-committed') AND deadline <= coalesce($1::timestamptz, now()))
         OR (phase IN ('committed', 'aborted') AND EXISTS (SELECT 1 FROM pg_prepared_xacts p WHERE p.gid = threepc_branches.gid AND p.database = current_database()))
      ORDER BY gid`,
    [asOf ?? null],
  );
  const actions: TimeoutAction[] = [];
  for (const { gid, phase } of due.rows) {
    const commit = phase === 'pre-committed' || phase === 'committed';
    // Move the state first (under the row lock that pre-commit also takes), then resolve the prepared branch.
    const moved = await pool.query(
      `UPDATE threepc_branches SET phase = $2, updated_at = now() WHERE gid = $1 AND phase = $3 RETURNING 1`,
      [gid, commit ? 'committed' : 'aborted', phase],
    );
    if (moved.rowCount === 0 && phase !== 'committed' && phase !== 'aborted') continue; // raced with the coordinator
    const result = commit ? await commitBranch(pool, gid) : await rollbackBranch(pool, gid);
    actions.push({ gid, action: commit ? 'commit' : 'abort', result });
  }
  return actions;
}
