// Memory per cached workflow: M engine sagas parked half-way (two steps done, waiting for a signal) on a
// worker in debugMode, which runs workflow code on this thread (with the same reusable V8 context as
// production), so the JS heap delta is the workflows' own. RSS also counts the Rust core's per-workflow
// state. Heap and RSS are measured after a full GC, before and after the M workflows are cached.
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BENCH_TASK_QUEUES, sagaProgressQuery } from '../shared';
import type { BenchInput } from './workflows';
import type { Rig } from './rig';

export interface MemoryResult {
  config: string;
  workflows: number;
  cached: number;
  heap_bytes_per_workflow: number;
  rss_bytes_per_workflow: number;
  heap_before_mb: number;
  heap_after_mb: number;
}

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function settle(gc: () => void): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage();
}

export async function measureMemory(
  rig: Rig,
  bundle: WorkerOptions['workflowBundle'],
  count: number,
  tag: string,
  progress: (m: string) => void,
): Promise<MemoryResult> {
  const gc = collector();
  const worker = await Worker.create({
    connection: rig.connection,
    namespace: rig.stack.temporal.namespace,
    taskQueue: BENCH_TASK_QUEUES.memory,
    workflowBundle: bundle,
    debugMode: true,
    maxCachedWorkflows: count + 100,
    maxConcurrentWorkflowTaskExecutions: 50,
  });
  const running = worker.run();
  const client = rig.client;
  const startParked = async (prefix: string, n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: Math.min(50, n - i) }, (_, j) => `bench-mem-${prefix}-${i + j}`);
      await Promise.all(
        batch.map((id) =>
          client.workflow.start('benchParkedSaga', {
            taskQueue: BENCH_TASK_QUEUES.memory,
            workflowId: id,
            args: [{ id } satisfies BenchInput],
          }),
        ),
      );
      ids.push(...batch);
    }
    return ids;
  };
  const waitParked = async (ids: string[]): Promise<void> => {
    const pending = new Set(ids);
    const deadline = Date.now() + 120_000;
    while (pending.size) {
      if (Date.now() > deadline)
        throw new Error(`${pending.size} parked workflows never reached their hold step`);
      for (const id of [...pending].slice(0, 100)) {
        const p = await client.workflow.getHandle(id).query(sagaProgressQuery);
        if (p.ledger.some((e) => e.name === 'hold' && e.status === 'running')) pending.delete(id);
      }
      progress(`memory: ${ids.length - pending.size}/${ids.length} parked`);
    }
  };
  const release = async (ids: string[]): Promise<void> => {
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map((id) => client.workflow.getHandle(id).signal('benchRelease')),
      );
    }
    await Promise.all(ids.map((id) => client.workflow.getHandle(id).result()));
  };
  try {
    // Warm-up: the reusable context and the bundle get loaded once, whatever the count.
    const warm = await startParked(`${tag}-warm`, 10);
    await waitParked(warm);
    await release(warm);
    const before = await settle(gc);
    const ids = await startParked(tag, count);
    await waitParked(ids);
    const after = await settle(gc);
    const cached = worker.getStatus().numCachedWorkflows;
    await release(ids);
    return {
      config: rig.tuning.name,
      workflows: count,
      cached,
      heap_bytes_per_workflow: Math.round((after.heapUsed - before.heapUsed) / count),
      rss_bytes_per_workflow: Math.round((after.rss - before.rss) / count),
      heap_before_mb: Math.round(before.heapUsed / 1e5) / 10,
      heap_after_mb: Math.round(after.heapUsed / 1e5) / 10,
    };
  } finally {
    worker.shutdown();
    await running;
  }
}
