// In-doubt recovery on a Temporal Schedule (defined in client/cluster-setup.ts, which `settle setup` also runs):
// every interval, the inDoubtSweeper workflow resolves the prepared transactions left by crashes. The host ensures
// it on every start; creating it when it exists is a no-op.
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { ensureSweeperSchedule, type SweeperScheduleOptions } from '../client/cluster-setup';

export {
  ensureSweeperSchedule,
  SWEEPER_SCHEDULE_ID,
  type SweeperScheduleOptions,
} from '../client/cluster-setup';

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
