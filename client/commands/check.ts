// `settle check`: the consistency invariants, verified directly on every participant database, each database
// read in one REPEATABLE READ READ ONLY snapshot (services/invariants.ts).
import { closePools, createPools } from '../../services/db';
import { checkInvariants } from '../../services/invariants';
import { CliError, EXIT, type Command } from '../cli-kit';
import { databaseUrl } from '../config';

export const check: Command = {
  name: 'check',
  summary:
    'Verify the invariants on the databases: money conserved (wallets, banks), wallets equal their replay, stock conserved, orders settled, no stranded TCC hold, outbox exactly once, no prepared transaction left.',
  usage: 'check [--quiesced] [--json]',
  examples: [
    'settle check',
    'settle check --json       # exit 1 when any invariant is violated',
    'settle check --quiesced   # nothing is running: a hold, a pending order or an undelivered event is stranded',
  ],
  options: {
    quiesced: {
      type: 'boolean',
      description:
        'also fail on anything still in flight (held, pending, undelivered): use after traffic stopped',
    },
  },
  async run(ctx) {
    const url = databaseUrl();
    if (!url)
      throw new CliError(
        `no database to check: start the stack with 'npm start', or set DATABASE_URL`,
        EXIT.unreachable,
      );
    const pools = createPools(url, { max: 2, prefix: process.env.SETTLE_DB_PREFIX || undefined });
    try {
      const report = await checkInvariants(pools, undefined, {
        quiesced: ctx.values.quiesced === true,
      }).catch((err: Error & { code?: string }) => {
        if (err.code === 'ECONNREFUSED')
          throw new CliError(
            `cannot reach PostgreSQL: is the stack running ('npm start')?`,
            EXIT.unreachable,
          );
        throw err;
      });
      if (ctx.json) ctx.emit(report);
      else
        for (const c of report.checks) {
          ctx.out(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(26)} ${c.description}`);
          for (const d of c.violations) ctx.out(`        - ${d}`);
        }
      return report.ok ? EXIT.ok : EXIT.error;
    } finally {
      await closePools(pools);
    }
  },
};
