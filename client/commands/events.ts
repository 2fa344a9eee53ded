// `settle events tail`: a catch-up read of the wallet event store in global order, from a position (or the
// start) to now. It prints the position after each event, so a consumer resumes with --from and never skips
// an event that committed late (services/event-store.ts explains the (transaction, position) order).
import { formatPosition, parsePosition, readAllForward, START } from '../../services/event-store';
import { intFlag, str, usageError, type Command } from '../cli-kit';
import { withServiceDb } from '../db';

export const eventsTail: Command = {
  name: 'events tail',
  summary: 'Read the wallet events in global order from a position (default: the start) up to now.',
  usage: 'events tail [--from POSITION] [--limit N] [--json]',
  examples: [
    'settle events tail --limit 20',
    'settle events tail --from 812:41 --json   # resume after the position a previous read ended at',
  ],
  options: {
    from: {
      type: 'string',
      placeholder: 'TX:POS',
      description: 'start after this global position (as printed by a previous tail)',
      defaultText: 'the beginning',
    },
    limit: { type: 'string', placeholder: 'N', description: 'at most this many events', defaultText: '1000' },
  },
  async run(ctx) {
    const fromText = str(ctx.values.from);
    const from = fromText === undefined ? START : parsePosition(fromText);
    if (!from)
      throw usageError(`--from must be a position TRANSACTION:POSITION (e.g. 812:41), got '${fromText}'`);
    const limit = intFlag('limit', ctx.values.limit, { min: 1 }) ?? 1000;
    const events = await withServiceDb('payments', (pool) => readAllForward(pool, from, limit));
    const docs = events.map(({ at, ...e }) => ({ position: formatPosition(at), ...e }));
    if (ctx.json) ctx.emit(docs);
    else {
      for (const e of docs)
        ctx.out(`${e.position.padEnd(14)} ${e.streamId} v${e.version} ${e.type} ${JSON.stringify(e.data)}`);
      ctx.out(`next: --from ${docs.length ? docs[docs.length - 1]!.position : formatPosition(from)}`);
    }
    return 0;
  },
};
