// `settle projections status`: where each event-store projection is (its checkpoint in global order), how far
// behind (events and seconds), and its last error. `settle projections rebuild`: replay one from zero into a
// shadow table and swap it in atomically. `settle projections run`: the background projector in the foreground.
import { projectionStatus } from '../../services/projections';
import { PROJECTIONS } from '../../services/projection-models';
import {
  rebuildProjection,
  RebuildRunningError,
  type RebuildOptions,
} from '../../services/projection-rebuild';
import { startProjector } from '../../services/projector';
import { CliError, EXIT, intFlag, usageError, type Command } from '../cli-kit';
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

export const projectionsRebuild: Command = {
  name: 'projections rebuild',
  summary:
    'Rebuild a projection from zero into a shadow table and swap it in atomically (the live one keeps serving).',
  usage: 'projections rebuild <name> [--batch N] [--json]',
  examples: [
    'settle projections rebuild customer_spending',
    'settle projections rebuild daily_revenue --json',
  ],
  positionals: [{ name: 'name', required: true }],
  options: {
    batch: {
      type: 'string',
      placeholder: 'N',
      description: 'events per replay transaction',
      defaultText: '2000',
    },
  },
  async run(ctx) {
    const name = ctx.positionals[0]!;
    if (!PROJECTIONS.some((p) => p.name === name))
      throw usageError(`unknown projection '${name}' (one of: ${PROJECTIONS.map((p) => p.name).join(', ')})`);
    const batch = intFlag('batch', ctx.values.batch, { min: 1, max: 100_000 });
    // Progress goes to stderr, so --json stays one document on stdout.
    const onProgress: RebuildOptions['onProgress'] = (p) =>
      ctx.note(
        p.phase === 'replay'
          ? `${name}: replayed ${p.events} events (at ${p.position})`
          : `${name}: swapped in at ${p.position}`,
      );
    const r = await withServiceDb('payments', async (pool) => {
      try {
        return await rebuildProjection(pool, name, { ...(batch ? { batch } : {}), onProgress });
      } catch (err) {
        if (err instanceof RebuildRunningError) throw new CliError(err.message, EXIT.error);
        throw err;
      }
    });
    if (ctx.json) ctx.emit(r);
    else
      ctx.out(
        `${r.name}: rebuilt from ${r.events} events in ${r.seconds.toFixed(2)} s, now at ${r.position}`,
      );
    return 0;
  },
};

export const projectionsRun: Command = {
  name: 'projections run',
  summary:
    'Run the background projector in the foreground until SIGTERM or Ctrl-C (the host and workers run it too).',
  usage: 'projections run [--batch N] [--every MS]',
  examples: ['settle projections run', 'settle projections run --batch 100 --every 200'],
  options: {
    batch: {
      type: 'string',
      placeholder: 'N',
      description: 'events per projector transaction',
      defaultText: '500',
    },
    every: {
      type: 'string',
      placeholder: 'MS',
      description: 'pause when caught up, in milliseconds',
      defaultText: '500',
    },
  },
  async run(ctx) {
    const batch = intFlag('batch', ctx.values.batch, { min: 1, max: 100_000 });
    const everyMs = intFlag('every', ctx.values.every, { min: 1 });
    await withServiceDb('payments', async (pool) => {
      const projector = startProjector(pool, {
        ...(batch ? { batch } : {}),
        ...(everyMs ? { everyMs } : {}),
        log: (m) => ctx.note(m),
      });
      ctx.note(`projecting ${PROJECTIONS.map((p) => p.name).join(', ')} (pid ${process.pid})`);
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
      });
      await projector.stop();
    });
    return 0;
  },
};
