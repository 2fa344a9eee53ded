// Invariants of the money transfers (2PC, 3PC, TCC over the two banks, and the 2PC outbox participant): every
// account equals its opening deposit plus its ledger, every transaction's legs net to zero, no TCC hold stranded,
// every committed transfer's event in the outbox exactly once, nothing left in pg_prepared_xacts.
import { SEED_ACCOUNTS, TRANSFER_WORKFLOW_PREFIX } from '../shared';
import { SERVICE_NAMES } from './db';
import { violation as v, type Dbs, type InvariantCheck, type Violation } from './invariants-kit';

/** A held TCC reservation is legitimate until it expires; `settle check` allows this much clock skew after. */
const EXPIRY_GRACE_MS = 60_000;

async function ourDatabases(dbs: Dbs): Promise<string[]> {
  return Promise.all(
    SERVICE_NAMES.map(
      async (s) => (await dbs[s].query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db,
    ),
  );
}

async function prepared(dbs: Dbs): Promise<{ gid: string; database: string; prepared: Date }[]> {
  const r = await dbs.bank_a.query<{ gid: string; database: string; prepared: Date }>(
    'SELECT gid, database, prepared FROM pg_prepared_xacts WHERE database = ANY($1) ORDER BY gid',
    [await ourDatabases(dbs)],
  );
  return r.rows;
}

/** Workflows still in flight on the banks: a prepared branch or a held reservation (their legs may not net yet). */
async function inFlight(dbs: Dbs): Promise<Set<string>> {
  const out = new Set<string>();
  for (const p of await prepared(dbs)) out.add(p.gid.replace(/^settle:[^:]+:/, ''));
  for (const bank of [dbs.bank_a, dbs.bank_b]) {
    const r = await bank.query<{ workflow_id: string }>(
      `SELECT DISTINCT workflow_id FROM reservations WHERE status = 'held'`,
    );
    for (const row of r.rows) out.add(row.workflow_id);
  }
  return out;
}

export const banksConserved: InvariantCheck = {
  name: 'banks-conserved',
  description:
    "every seeded account: balance + TCC hold - ledger = its opening deposit; each transaction's legs net to zero",
  async run(dbs, opts) {
    const out: Violation[] = [];
    const net = new Map<string, number>();
    for (const [bank, db] of [
      ['bank-a', dbs.bank_a],
      ['bank-b', dbs.bank_b],
    ] as const) {
      const accounts = await db.query<{ account_id: string; balance: string; held: string; ledger: string }>(
        `SELECT a.account_id, a.balance_cents AS balance,
                coalesce((SELECT -sum(amount_cents) FROM reservations r
                           WHERE r.account_id = a.account_id AND r.status = 'held' AND r.amount_cents < 0), 0) AS held,
                coalesce((SELECT sum(amount_cents) FROM transfers t WHERE t.account_id = a.account_id), 0) AS ledger
           FROM accounts a ORDER BY a.account_id`,
      );
      for (const a of accounts.rows) {
        const seed = SEED_ACCOUNTS.find((s) => s.bank === bank && s.account === a.account_id);
        const opening = Number(a.balance) + Number(a.held) - Number(a.ledger);
        if (seed && opening !== seed.balanceCents)
          out.push(
            v(
              this.name,
              `${bank}:${a.account_id}: balance ${a.balance} + held ${a.held} - ledger ${a.ledger} = ${opening}, opened with ${seed.balanceCents}`,
            ),
          );
      }
      const legs = await db.query<{ workflow_id: string; s: string }>(
        'SELECT workflow_id, sum(amount_cents) AS s FROM transfers GROUP BY workflow_id',
      );
      for (const l of legs.rows) net.set(l.workflow_id, (net.get(l.workflow_id) ?? 0) + Number(l.s));
    }
    const running = opts?.quiesced ? new Set<string>() : await inFlight(dbs);
    for (const [wf, s] of net)
      if (s !== 0 && !running.has(wf))
        out.push(
          v(this.name, `${wf}: its legs net to ${s} cents, not 0 (money ${s > 0 ? 'created' : 'lost'})`),
        );
    return out;
  },
};

export const noStrandedTccHold: InvariantCheck = {
  name: 'no-stranded-tcc-hold',
  description: 'no TCC reservation still held after it expired (quiesced: none held at all)',
  async run(dbs, opts) {
    const out: Violation[] = [];
    for (const [bank, db] of [
      ['bank-a', dbs.bank_a],
      ['bank-b', dbs.bank_b],
    ] as const) {
      const r = await db.query<{ reservation_id: string; amount_cents: string; expires_at: Date | null }>(
        `SELECT reservation_id, amount_cents, expires_at FROM reservations WHERE status = 'held'
           AND ($1 OR expires_at < clock_timestamp() - make_interval(secs => $2)) ORDER BY reservation_id`,
        [opts?.quiesced ?? false, EXPIRY_GRACE_MS / 1000],
      );
      for (const h of r.rows)
        out.push(
          v(
            this.name,
            `${bank} ${h.reservation_id}: ${h.amount_cents} cents still held${h.expires_at ? ` (expired ${h.expires_at.toISOString()})` : ''}`,
          ),
        );
    }
    return out;
  },
};

/** 2PC/3PC transfers (`transfer-<ref>`) prepare their notification event in the outbox with the money. */
export const outboxExactlyOnce: InvariantCheck = {
  name: 'outbox-exactly-once',
  description:
    "every committed 2PC/3PC transfer has exactly one outbox event, and every event has its transfer's legs",
  async run(dbs, opts) {
    const out: Violation[] = [];
    const credited = new Map<string, number>();
    for (const db of [dbs.bank_a, dbs.bank_b]) {
      const r = await db.query<{ workflow_id: string; credit: string }>(
        `SELECT workflow_id, coalesce(sum(amount_cents) FILTER (WHERE amount_cents > 0), 0) AS credit FROM transfers
          WHERE protocol IN ('2pc', '3pc') AND workflow_id LIKE $1 GROUP BY workflow_id`,
        [`${TRANSFER_WORKFLOW_PREFIX}%`],
      );
      for (const row of r.rows)
        credited.set(row.workflow_id, (credited.get(row.workflow_id) ?? 0) + Number(row.credit));
    }
    const events = await dbs.outbox.query<{ event_id: string; n: string; amount: string | null }>(
      `SELECT event_id, count(*) AS n, max(payload->>'amountCents') AS amount FROM outbox_events
        WHERE topic = 'transfer.committed' GROUP BY event_id`,
    );
    const byId = new Map(events.rows.map((e) => [e.event_id, e]));
    const running = opts?.quiesced ? new Set<string>() : await inFlight(dbs);
    for (const [wf, credit] of credited) {
      if (running.has(wf)) continue;
      const e = byId.get(wf);
      if (!e) out.push(v(this.name, `${wf} committed (${credit} cents credited) but has no outbox event`));
      else if (Number(e.n) !== 1) out.push(v(this.name, `${wf} has ${e.n} outbox events`));
      else if (Number(e.amount) !== credit)
        out.push(v(this.name, `${wf}: outbox event says ${e.amount} cents, ${credit} were credited`));
    }
    for (const e of events.rows)
      if (!credited.has(e.event_id) && !running.has(e.event_id))
        out.push(v(this.name, `outbox event ${e.event_id} without its transfer's legs`));
    return out;
  },
};

export const noPreparedTransactions: InvariantCheck = {
  name: 'no-prepared-transactions',
  description: 'no prepared (in-doubt) transaction is left in any service database',
  async run(dbs) {
    return (await prepared(dbs)).map((r) =>
      v(this.name, `${r.gid} in ${r.database} since ${r.prepared.toISOString()}`),
    );
  },
};

export const TRANSFER_INVARIANTS: InvariantCheck[] = [
  banksConserved,
  noStrandedTccHold,
  outboxExactlyOnce,
  noPreparedTransactions,
];
