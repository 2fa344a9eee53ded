// The outbox relays are long-lived workflows, one per publishing service: make sure each is running (starting
// one that already runs is a no-op), so the stack delivers every event that any service has committed.
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { SA, TASK_QUEUES } from '../shared';
import { relayWorkflowId, SHOP_SERVICES } from '../shared/events';

export async function ensureRelays(
  connectionOptions: ConnectionOptions,
  namespace: string,
): Promise<string[]> {
  const connection = await Connection.connect(connectionOptions);
  try {
    const client = new Client({ connection, namespace });
    const ids: string[] = [];
    for (const service of SHOP_SERVICES) {
      const workflowId = relayWorkflowId(service);
      await client.workflow.start('outboxRelay', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId,
        args: [service],
        workflowIdConflictPolicy: 'USE_EXISTING',
        staticSummary: `Outbox relay for the ${service} service`,
        staticDetails:
          'Delivers every committed event to its subscribers at least once; subscribers dedupe through their inbox.',
        typedSearchAttributes: [
          { key: SA.pattern, value: 'choreography' },
          { key: SA.businessKey, value: `relay-${service}` },
          // Not a transaction: 'relay' keeps it out of `settle stuck`.
          { key: SA.status, value: 'relay' },
        ],
      });
      ids.push(workflowId);
    }
    return ids;
  } finally {
    await connection.close();
  }
}
