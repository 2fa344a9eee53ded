// `settle barrier prune --older-than 30d`: retention for the sub-transaction barrier tables. Every saga step
// writes barrier rows in its participant's database; without retention they grow forever. Rows of a
// transaction whose history Temporal still holds are kept whatever their age: a running one's compensation
// needs them, and a closed one can still be reset, and its new run must meet the old run's rows (without them
// it would hold and charge a second time).
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { closePools, createPools, SERVICE_NAMES } from '../../services/db';
import { pruneBarrier } from '../../services/barrier';
import { CliError, connectClient, EXIT, usageError, type Command } from '../cli-kit';
import { databaseUrl } from '../config';
import { durationFlag, formatDuration } from '../duration';

/** Shorter retention than this could drop the rows of a saga that is merely slow (parked over a weekend). */
const MIN_RETENTION_MS = 86_400_000;

/** The workflow a barrier gid belongs to: the gid itself, or the part before `/<run id>`. */
function workflowIdsOf(gid: string): string[] {
  const slash = gid.lastIndexOf('/');
  return slash > 0 ? [gid, gid.slice(0, slash)] : [gid];
}

/** True while the transaction's history exists (running, or closed but resettable); undefined: cannot tell. */
async function historyExists(client: Client, gid: string): Promise<boolean | undefined> {
  for (const id of workflowIdsOf(gid)) {
    try {
      await client.workflow.getHandle(id).describe();
      return true;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) return undefined; // cannot tell: keep the rows
    }
  }
  // Not found at all: closed and already past Temporal's own retention.
  return false;
}

export const barrierPrune: Command = {
  name: 'barrier prune',
  summary:
    'Delete barrier rows of transactions Temporal no longer holds (past its retention) older than --older-than (default 30d) from every participant database; rows of a transaction that is running or could still be reset are kept.',
  usage: 'barrier prune [--older-than 30d] [--dry-run] [--json]',
  examples: [
    'settle barrier prune --older-than 30d',
    'settle barrier prune --older-than 90d --dry-run --json',
  ],
  options: {
    'older-than': {
      type: 'string',
      placeholder: 'DURATION',
      description: 'age of the rows to delete (at least 1d; e.g. 30d, 12h)',
      defaultText: '30d',
    },
    'dry-run': { type: 'boolean', description: 'count what would be deleted, delete nothing' },
  },
  async run(ctx) {
    const olderThanMs = durationFlag('older-than', ctx.values['older-than'] ?? '30d')!;
    if (olderThanMs < MIN_RETENTION_MS)
      throw usageError(`--older-than must be at least 1d (got ${formatDuration(olderThanMs)})`);
    const url = databaseUrl();
    if (!url)
      throw new CliError(
        `no database: start the stack with 'npm start', or set DATABASE_URL`,
        EXIT.unreachable,
      );
    const client = await connectClient();
    const pools = createPools(url, { max: 2, prefix: process.env.SETTLE_DB_PREFIX || undefined });
    const cutoff = new Date(Date.now() - olderThanMs);
    const dryRun = ctx.values['dry-run'] === true;
    try {
      const services: { service: string; transactions: number; rows: number; kept: number }[] = [];
      for (const service of SERVICE_NAMES) {
        const r = await pruneBarrier(pools[service], cutoff, (gid) => historyExists(client, gid), {
          dryRun,
        }).catch((err: Error & { code?: string }) => {
          if (err.code === 'ECONNREFUSED')
            throw new CliError(
              `cannot reach PostgreSQL: is the stack running ('npm start')?`,
              EXIT.unreachable,
            );
          if (err.code === '3D000') return { gids: 0, rows: 0, kept: 0 }; // that service's database is not set up
          throw err;
        });
        services.push({ service, transactions: r.gids, rows: r.rows, kept: r.kept });
      }
      const total = services.reduce((n, s) => n + s.rows, 0);
      if (ctx.json) ctx.emit({ cutoff: cutoff.toISOString(), dryRun, rows: total, services });
      else {
        for (const s of services)
          if (s.rows || s.kept)
            ctx.out(
              `${s.service.padEnd(14)} ${dryRun ? 'would delete' : 'deleted'} ${s.rows} row(s) of ${s.transactions} finished transaction(s); kept ${s.kept} still in Temporal's history or unknown`,
            );
        ctx.out(
          `${dryRun ? 'would delete' : 'deleted'} ${total} barrier row(s) older than ${cutoff.toISOString()}`,
        );
      }
      return EXIT.ok;
    } finally {
      await closePools(pools);
    }
  },
};
