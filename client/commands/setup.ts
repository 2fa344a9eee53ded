// `settle setup`: prepares a Temporal namespace for Settle on any cluster, idempotently (run it on every deploy):
// registers the search attributes and creates the in-doubt sweeper schedule (client/cluster-setup.ts). The outbox
// relays are started by the workers serving settle-orchestration (and by npm start).
import { isGrpcServiceError } from '@temporalio/client';
import { CliError, EXIT, type Command } from '../cli-kit';
import {
  ensureSearchAttributes,
  ensureSweeperSchedule,
  SetupError,
  SWEEPER_SCHEDULE_ID,
} from '../cluster-setup';

const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;

export const setup: Command = {
  name: 'setup',
  summary:
    'Prepare the Temporal namespace for Settle: register the search attributes and create the in-doubt sweeper schedule (idempotent).',
  usage: 'setup [--skip-search-attributes] [--json]',
  examples: [
    'settle setup',
    'TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_NAMESPACE=payments settle setup --json',
    'TEMPORAL_PROFILE=cloud settle setup --skip-search-attributes   # Temporal Cloud: attributes added in its UI or tcld',
  ],
  options: {
    'skip-search-attributes': {
      type: 'boolean',
      description: 'register only the schedule (Temporal Cloud: add the attributes in its UI or with tcld)',
    },
  },
  async run(ctx) {
    const client = await ctx.client();
    let searchAttributes: Awaited<ReturnType<typeof ensureSearchAttributes>> | 'skipped' = 'skipped';
    if (ctx.values['skip-search-attributes'] !== true) {
      try {
        searchAttributes = await ensureSearchAttributes(client);
      } catch (err) {
        if (err instanceof SetupError) throw new CliError(err.message, EXIT.error);
        if (isGrpcServiceError(err) && [PERMISSION_DENIED, UNIMPLEMENTED].includes(err.code ?? -1))
          throw new CliError(
            `this cluster does not let this client register search attributes (${err.details}). On Temporal Cloud ` +
              `add SettlePattern, SettleStatus, SettleBusinessKey (Keyword) and SettleNeedsOperator (Bool) in the ` +
              `namespace settings or with tcld, then run: settle setup --skip-search-attributes`,
            EXIT.error,
          );
        throw err;
      }
    }
    const schedule = await ensureSweeperSchedule(client);
    if (ctx.json) {
      ctx.emit({
        namespace: client.options.namespace,
        searchAttributes,
        schedules: [{ id: SWEEPER_SCHEDULE_ID, outcome: schedule }],
      });
    } else {
      ctx.out(`namespace ${client.options.namespace}`);
      if (searchAttributes === 'skipped') ctx.out('  search attributes: skipped');
      else
        for (const sa of searchAttributes)
          ctx.out(`  search attribute ${sa.name} (${sa.type}): ${sa.outcome}`);
      ctx.out(`  schedule ${SWEEPER_SCHEDULE_ID}: ${schedule}`);
    }
    return EXIT.ok;
  },
};
