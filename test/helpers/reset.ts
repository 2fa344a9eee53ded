// What an operator's `temporal workflow reset --type FirstWorkflowTask` does, through the client's reset API:
// the current run is terminated and a new run (new run id, same workflow id and input) starts over.
import type { Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

/** Reset the workflow's current run to its first workflow task; returns the new run's id. */
export async function resetToFirstWorkflowTask(client: Client, workflowId: string): Promise<string> {
  const handle = client.workflow.getHandle(workflowId);
  const { runId } = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  const first = events.find((e) => e.workflowTaskCompletedEventAttributes);
  assert.ok(first?.eventId, 'the history has a completed workflow task');
  const res = await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId, runId },
    reason: 'test: operator reset to the first workflow task',
    workflowTaskFinishEventId: first.eventId,
    requestId: randomUUID(),
  });
  assert.ok(res.runId, 'the reset started a new run');
  return res.runId;
}
