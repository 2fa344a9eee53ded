// A chaos worker process: every Settle queue (workflows and every participant) against the harness's stack,
// each activity wrapped so the fault armed for its cell (scripts/chaos/protocol.ts) fires at its point, once
// per cell (the first attempt, once per process), except `fail`, which fails every call until released.
// The driver SIGKILLs this process at the points where a crash is the fault.
//
//   SETTLE_CHAOS_TEMPORAL  address     SETTLE_CHAOS_NAMESPACE  namespace   SETTLE_CHAOS_PG_URL  PostgreSQL base URL
//   SETTLE_CHAOS_DB_PREFIX prefix      SETTLE_CHAOS_BUNDLE     workflow bundle path
//   SETTLE_CHAOS_CONTROL   control file SETTLE_TCC_URL          the TCC participant server
// stdout: READY | HIT <workflowId> <at> | DONE <workflowId> <at> ok|error
import { ApplicationFailure, Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createPools } from '../../services/db';
import { activitiesFor, ALL_QUEUES, createWorkers, runWorkers, type QueueKey } from '../../workers';
import { pointOf, readControl, type ArmedFault } from './protocol';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const forever = (): Promise<never> => new Promise<never>(() => undefined);
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CONTROL = env('SETTLE_CHAOS_CONTROL');
const fired = new Set<string>();

async function waitReleased(workflowId: string): Promise<void> {
  while (!readControl(CONTROL)[workflowId]?.released) await pause(50);
}

type Fn = (...args: unknown[]) => Promise<unknown>;

async function inject(fault: ArmedFault, workflowId: string, fn: () => Promise<unknown>): Promise<unknown> {
  const tag = `${workflowId} ${fault.at}`;
  switch (fault.behaviour) {
    case 'kill-before':
      say(`HIT ${tag}`);
      return forever();
    case 'kill-after':
      await fn();
      say(`HIT ${tag}`);
      return forever();
    case 'late':
      say(`HIT ${tag}`);
      await pause(fault.delayMs ?? 5000);
      return fn();
    case 'duplicate':
      await fn();
      say(`HIT ${tag}`);
      return fn();
    case 'hold':
      say(`HIT ${tag}`);
      await waitReleased(workflowId);
      return fn();
    case 'fail':
      if (readControl(CONTROL)[workflowId]?.released) return fn();
      if (fault.effectFirst) await fn();
      say(`HIT ${tag}`);
      throw ApplicationFailure.nonRetryable(`chaos: ${fault.at} keeps failing`, 'ChaosFault');
  }
}

function wrap(name: string, fn: Fn): Fn {
  return async (...args) => {
    const info = Context.current().info;
    const point = pointOf(name, args[0], info.workflowExecution?.workflowId ?? '');
    const fault = point && readControl(CONTROL)[point.workflowId];
    const down = fault?.participantDown;
    // After the armed point fired, the participant is down: its every call waits for the release.
    if (
      point &&
      down &&
      !fault.released &&
      point.at.endsWith(`:${down}`) &&
      fired.has(`${point.workflowId}|${fault.at}`)
    ) {
      await waitReleased(point.workflowId);
      return fn(...args);
    }
    if (!point || !fault || fault.at !== point.at) return fn(...args);
    const key = `${point.workflowId}|${point.at}`;
    if (fault.behaviour !== 'fail' && (info.attempt !== 1 || fired.has(key))) return fn(...args);
    fired.add(key);
    try {
      const out = await inject(fault, point.workflowId, () => fn(...args));
      say(`DONE ${point.workflowId} ${point.at} ok`);
      return out;
    } catch (err) {
      say(`DONE ${point.workflowId} ${point.at} error`);
      throw err;
    }
  };
}

function wrapAll(activities: object): Record<string, Fn> {
  return Object.fromEntries(
    Object.entries(activities as Record<string, Fn>).map(([k, f]) => [k, wrap(k, f.bind(activities))]),
  );
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  const pools = createPools(env('SETTLE_CHAOS_PG_URL'), { prefix: env('SETTLE_CHAOS_DB_PREFIX'), max: 6 });
  const connection = await NativeConnection.connect({ address: env('SETTLE_CHAOS_TEMPORAL') });
  const queues: QueueKey[] = ALL_QUEUES;
  const extraActivities: Partial<Record<QueueKey, object>> = {};
  for (const q of queues) if (q !== 'orchestration') extraActivities[q] = wrapAll(activitiesFor(q, pools));
  const workers = await createWorkers({
    connection,
    namespace: env('SETTLE_CHAOS_NAMESPACE'),
    pools,
    queues,
    workflowBundle: { codePath: env('SETTLE_CHAOS_BUNDLE') },
    extraActivities,
    // A dead worker's sticky queue is given up quickly, so the restarted one takes over its workflows at once.
    orchestration: { stickyQueueScheduleToStartTimeout: '1s' },
  });
  const running = runWorkers(workers);
  say('READY');
  await running;
}

main().catch((err: Error) => {
  process.stderr.write(`chaos worker: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
