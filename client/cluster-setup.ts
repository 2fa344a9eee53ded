// What a Temporal namespace needs before Settle runs on it, each step idempotent so it can run on every deploy:
// the custom search attributes the workflows set (registered through the operator service: a self-hosted cluster
// or the dev server; Temporal Cloud registers them in its own control plane) and the in-doubt sweeper schedule.
import { ScheduleAlreadyRunning, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES, TASK_QUEUES } from '../shared';

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;
const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

export interface SearchAttributeResult {
  name: string;
  type: string;
  outcome: 'created' | 'exists';
}

export class SetupError extends Error {}

/** Register every Settle search attribute the namespace lacks; one registered with another type is an error. */
export async function ensureSearchAttributes(client: Client): Promise<SearchAttributeResult[]> {
  const namespace = client.options.namespace;
  const operator = client.connection.operatorService;
  const existing = (await operator.listSearchAttributes({ namespace })).customAttributes ?? {};
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  const results: SearchAttributeResult[] = [];
  for (const sa of SEARCH_ATTRIBUTES) {
    const want = INDEXED_TYPES[sa.type]!;
    const have = existing[sa.name];
    if (have === undefined) {
      missing[sa.name] = want;
      results.push({ name: sa.name, type: sa.type, outcome: 'created' });
    } else if (have !== want) {
      throw new SetupError(
        `search attribute ${sa.name} exists in namespace ${namespace} as ${IndexedValueType[have]}, Settle needs ${sa.type}`,
      );
    } else results.push({ name: sa.name, type: sa.type, outcome: 'exists' });
  }
  if (Object.keys(missing).length)
    await operator.addSearchAttributes({ namespace, searchAttributes: missing });
  return results;
}

export const SWEEPER_SCHEDULE_ID = 'settle-in-doubt-sweeper';

export interface SweeperScheduleOptions {
  /** How often to sweep (default 1m). */
  every?: string;
  /** Presumed abort for an undecided coordinator only after a branch waited this long (default 60s). */
  graceMs?: number;
}

/**
 * In-doubt recovery on a Temporal Schedule: every interval, the inDoubtSweeper workflow resolves the prepared
 * transactions left by crashes (the recorded decision, or presumed abort). Creating it when it exists is a no-op.
 */
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
