// `settle outbox dead-letters` and `settle outbox redrive`: the events a relay gave up on (their delivery
// attempts ran out; each holds back only the later events of its own key), and putting them back in line once
// the cause is fixed. Reads every outbox: the shop services' (choreography) and the transfer outbox (2PC/3PC).
import { listDeadLetters, redrive, RELAY_OUTBOX, type DeadLetter } from '../../services/outbox-relay';
import { RELAY_NAMES, type RelayName } from '../../shared/relay';
import { CliError, EXIT, str, usageError, type Command } from '../cli-kit';
import { withServiceDb } from '../db';

type Listed = DeadLetter & { outbox: RelayName };

async function allDeadLetters(): Promise<Listed[]> {
  const out: Listed[] = [];
  for (const outbox of RELAY_NAMES) {
    const { database, table } = RELAY_OUTBOX[outbox];
    const rows = await withServiceDb(database, (pool) => listDeadLetters(pool, table));
    out.push(...rows.map((r) => ({ outbox, ...r })));
  }
  return out;
}

export const outboxDeadLetters: Command = {
  name: 'outbox dead-letters',
  summary:
    'List the outbox events whose delivery attempts ran out (each holds back the later events of its key).',
  usage: 'outbox dead-letters [--json]',
  examples: ['settle outbox dead-letters', 'settle outbox dead-letters --json   # exit 5 when there is any'],
  options: {},
  async run(ctx) {
    const dead = await allDeadLetters();
    if (ctx.json) ctx.emit(dead);
    else if (dead.length === 0) ctx.out('no dead letters: every outbox is flowing');
    else
      for (const d of dead)
        ctx.out(
          `${d.outbox.padEnd(10)} ${d.eventId}  ${d.topic}  key ${d.key}  ${d.attempts} attempts, dead since ${d.deadAt}` +
            `${d.heldBack ? `, holding back ${d.heldBack}` : ''}\n           last error: ${d.lastError ?? '-'}`,
        );
    return dead.length ? EXIT.attention : EXIT.ok;
  },
};

export const outboxRedrive: Command = {
  name: 'outbox redrive',
  summary:
    'Put a dead-lettered outbox event (or all of them) back in line for its relay, with a fresh budget of delivery attempts.',
  usage: 'outbox redrive <event-id> | --all [--json]',
  examples: ['settle outbox redrive OrderPlaced:o-42', 'settle outbox redrive --all --json'],
  options: {
    all: { type: 'boolean', default: false, description: 'redrive every dead-lettered event' },
  },
  positionals: [{ name: 'event-id', required: false }],
  async run(ctx) {
    const eventId = str(ctx.positionals[0]);
    const all = ctx.values.all === true;
    if (all === (eventId !== undefined)) throw usageError('give exactly one of <event-id> or --all');
    const redriven: { outbox: RelayName; eventId: string }[] = [];
    for (const outbox of RELAY_NAMES) {
      const { database, table } = RELAY_OUTBOX[outbox];
      const ids = await withServiceDb(database, (pool) => redrive(pool, table, eventId));
      redriven.push(...ids.map((id) => ({ outbox, eventId: id })));
    }
    if (eventId !== undefined && redriven.length === 0)
      throw new CliError(
        `no dead letter '${eventId}' in any outbox (see: settle outbox dead-letters)`,
        EXIT.notFound,
      );
    if (ctx.json) ctx.emit({ redriven });
    else if (redriven.length === 0) ctx.out('no dead letters to redrive');
    else for (const r of redriven) ctx.out(`redriven: ${r.outbox} ${r.eventId} (its relay delivers it next)`);
    return EXIT.ok;
  },
};
