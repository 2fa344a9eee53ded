// The outbox relays are long-lived workflows, one per outbox (each shop service's and the transfer outbox).
// ensureRelays starts each one that is not running (starting one that runs is a no-op) and makes sure the
// relay supervisor schedule exists: every minute it starts relaySupervisor, which re-creates any relay that
// is missing, terminated or failed, so no outbox stays undelivered longer than a minute after an accident.
import {
  Client,
  Connection,
  ScheduleAlreadyRunning,
  WorkflowExecutionAlreadyStartedError,
  type ConnectionOptions,
} from '@temporalio/client';
import { TASK_QUEUES } from '../shared';
import {
  RELAY_NAMES,
  RELAY_SUPERVISOR_ID,
  relayId,
  relaySearchAttributes,
  type RelayName,
} from '../shared/relay';
import type { RelayOptions } from '../workflows/relay';

export const RELAY_SUPERVISOR_SCHEDULE_ID = RELAY_SUPERVISOR_ID;

export async function ensureRelaySupervisorSchedule(
  client: Client,
  opts: { every?: string; options?: RelayOptions } = {},
): Promise<'created' | 'exists'> {
  try {
    await client.schedule.create({
      scheduleId: RELAY_SUPERVISOR_SCHEDULE_ID,
      spec: { intervals: [{ every: (opts.every ?? '1m') as `${number}m` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'relaySupervisor',
        workflowId: RELAY_SUPERVISOR_ID,
        taskQueue: TASK_QUEUES.orchestration,
        args: [{ relays: RELAY_NAMES, options: opts.options ?? {} }],
        staticSummary: 'Relay supervisor: re-create any outbox relay that is not running',
      },
      policies: { overlap: 'SKIP', catchupWindow: '1m' },
      memo: { purpose: 'Settle outbox relay supervision' },
    });
    return 'created';
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return 'exists';
    throw err;
  }
}

async function startRelay(client: Client, relay: RelayName, options: RelayOptions): Promise<void> {
  try {
    await client.workflow.start('outboxRelay', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: relayId(relay),
      args: [relay, options],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `Outbox relay for the ${relay} outbox`,
      staticDetails:
        'Delivers every committed event to its subscribers at least once (subscribers dedupe through their inbox); dead-letters an event whose attempts run out.',
      typedSearchAttributes: relaySearchAttributes(relay),
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

export async function ensureRelays(
  connectionOptions: ConnectionOptions,
  namespace: string,
  opts: { options?: RelayOptions } = {},
): Promise<string[]> {
  const connection = await Connection.connect(connectionOptions);
  try {
    const client = new Client({ connection, namespace });
    for (const relay of RELAY_NAMES) await startRelay(client, relay, opts.options ?? {});
    await ensureRelaySupervisorSchedule(client, { options: opts.options ?? {} });
    return RELAY_NAMES.map(relayId);
  } finally {
    await connection.close();
  }
}
