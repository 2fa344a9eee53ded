// In-doubt recovery on a Temporal Schedule: every interval, the inDoubtSweeper workflow resolves the prepared
// transactions left by crashes (the recorded decision, or presumed abort; 3PC branches by their own timeouts).
// Creating it when it exists is a no-op, so every start of the stack can call this.
import { Client, Connection, ScheduleAlreadyRunning, type ConnectionOptions } from '@temporalio/client';
import { TASK_QUEUES } from '../shared';

export const SWEEPER_SCHEDULE_ID = 'settle-in-doubt-sweeper';

export interface SweeperScheduleOptions {
  /** How often to sweep (default 1m). */
  every?: string;
  /** Presumed abort for an undecided coordinator only after a branch waited this long (default 60s). */
  graceMs?: number;
}

export async function ensureSweeperSchedule(
  client: Client,
  opts: SweeperScheduleOptions = {},
): Promise<'created' | 'exists'> {
  try {
    await client.schedule.create({
      scheduleId: SWEEPER_SCHEDULE_ID,
      spec: { intervals: [{ every: (opts.every ?? '1m') as `${number}m` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'inDoubtSweeper',
        workflowId: SWEEPER_SCHEDULE_ID,
        taskQueue: TASK_QUEUES.orchestration,
        args: [{ graceMs: opts.graceMs ?? 60_000 }],
        staticSummary: 'In-doubt sweep: resolve prepared transactions left by crashes',
      },
      policies: { overlap: 'SKIP', catchupWindow: '1m' },
      memo: { purpose: 'Settle 2PC/3PC in-doubt recovery' },
    });
    return 'created';
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return 'exists';
    throw err;
  }
}

export async function ensureSweeperScheduleAt(
  connectionOptions: ConnectionOptions,
  namespace: string,
  opts: SweeperScheduleOptions = {},
): Promise<'created' | 'exists'> {
  const connection = await Connection.connect(connectionOptions);
  try {
    return await ensureSweeperSchedule(new Client({ connection, namespace }), opts);
  } finally {
    await connection.close();
  }
}
