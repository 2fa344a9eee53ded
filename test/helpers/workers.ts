import { Worker, type WorkerOptions } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { TASK_QUEUES } from '../../shared';
import { workflowBundle } from './env';

/**
 * Run an orchestration worker (the real workflow bundle) plus one worker per task queue with the given
 * activities, for the duration of `fn`.
 */
export async function withWorkers<T>(
  connection: NativeConnection,
  activitiesByQueue: Record<string, object>,
  fn: () => Promise<T>,
  orchestration: Partial<WorkerOptions> = {},
): Promise<T> {
  const workers = await Promise.all([
    Worker.create({
      connection,
      taskQueue: TASK_QUEUES.orchestration,
      workflowBundle: await workflowBundle(),
      ...orchestration,
    }),
    ...Object.entries(activitiesByQueue).map(([taskQueue, activities]) =>
      Worker.create({ connection, taskQueue, activities: activities }),
    ),
  ]);
  const runs = workers.map((w) => w.run());
  try {
    return await fn();
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.all(runs);
  }
}
