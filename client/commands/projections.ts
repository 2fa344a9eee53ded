// `settle projections status`: where each event-store projection is (its checkpoint in global order), how far
// behind (events and seconds), and its last error.
import { projectionStatus } from '../../services/projections';
import type { Command } from '../cli-kit';
import { withServiceDb } from '../db';

export const projectionsStatus: Command = {
  name: 'projections status',
  summary: 'Show each projection: position, lag in events and seconds, last error.',
  usage: 'projections status [--json]',
  examples: ['settle projections status', 'settle projections status --json'],
  options: {},
  async run(ctx) {
    const rows = await withServiceDb('payments', (pool) => projectionStatus(pool));
    if (ctx.json) ctx.emit(rows);
    else
      for (const r of rows)
        ctx.out(
          `${r.name.padEnd(20)} at ${r.position.padEnd(14)} lag ${r.lag_events} events, ${r.lag_seconds.toFixed(1)} s` +
            `${r.last_error ? `  last error: ${r.last_error}` : ''}`,
        );
    return 0;
  },
};
