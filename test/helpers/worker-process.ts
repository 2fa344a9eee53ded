// A worker process of its own for crash tests: the workflows (orchestration) and the 2PC participants (both
// banks and the outbox), connected to a test stack. The parent SIGKILLs it at a deterministic point: with
// SETTLE_FAULT set, the participant blocks forever at that protocol step and says so on stdout first.
//
//   SETTLE_TEST_TEMPORAL   Temporal address          SETTLE_TEST_NAMESPACE  namespace
//   SETTLE_TEST_PG_URL     PostgreSQL base URL       SETTLE_TEST_DB_PREFIX  the test's database prefix
//   SETTLE_TEST_BUNDLE     path of a pre-built workflow bundle (so the child does not bundle again)
//   SETTLE_FAULT           after-prepare:<participant> | before-commit:<participant> | (empty: healthy)
// stdout: "READY" once polling; "BLOCKED <gid>" when a fault point is reached.
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { ParticipantHooks } from '../../activities/banks';
import type { FaultHooks } from '../../activities/branch';
import { createPools } from '../../services/db';
import { parseGid } from '../../shared';
import { createWorkers, runWorkers } from '../../workers';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  const [point, participant] = (process.env.SETTLE_FAULT ?? '').split(':');
  const block = (at: string) => async (gid: string) => {
    if (point !== at || parseGid(gid)?.participant !== participant) return;
    process.stdout.write(`BLOCKED ${gid}\n`);
    await new Promise<never>(() => undefined); // until SIGKILL
  };
  const hooks: FaultHooks & ParticipantHooks = {
    afterPrepare: block('after-prepare'),
    beforeCommitPrepared: block('before-commit'),
  };
  const pools = createPools(env('SETTLE_TEST_PG_URL'), { prefix: env('SETTLE_TEST_DB_PREFIX'), max: 4 });
  const connection = await NativeConnection.connect({ address: env('SETTLE_TEST_TEMPORAL') });
  const workers = await createWorkers({
    connection,
    namespace: env('SETTLE_TEST_NAMESPACE'),
    pools,
    queues: ['orchestration', 'bankA', 'bankB', 'outbox'],
    workflowBundle: { codePath: env('SETTLE_TEST_BUNDLE') },
    hooks,
    // A dead worker's sticky queue is given up quickly, so the restarted one takes over the workflow at once.
    orchestration: { stickyQueueScheduleToStartTimeout: '1s' },
  });
  const running = runWorkers(workers);
  process.stdout.write('READY\n');
  await running;
}

main().catch((err: Error) => {
  process.stderr.write(`worker-process: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
