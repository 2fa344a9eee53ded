// An extra worker process for `npm run bench -- --tuning workers-2`: the same workers as the bench process,
// on the same Temporal server and databases. Configured by one JSON argument; prints "ready" when polling.
import { stopWithDriver } from './child-lifecycle';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { closePools, createPools } from '../services/db';
import type { Tuning } from './tuning';
import { startBenchWorkers } from './workers';

export interface WorkerProcessConfig {
  address: string;
  namespace: string;
  databaseUrl: string;
  dbPrefix: string;
  poolMax?: number;
  bundlePath: string;
  tccUrl?: string;
  tuning: Pick<Tuning, 'worker' | 'local' | 'inProcess'>;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as WorkerProcessConfig;
  // Core's own log lines go through the (stderr) logger too: stdout carries only the report (--json).
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  const pools = createPools(cfg.databaseUrl, { max: cfg.poolMax, prefix: cfg.dbPrefix });
  const connection = await NativeConnection.connect({ address: cfg.address });
  const w = await startBenchWorkers({
    connection,
    namespace: cfg.namespace,
    pools,
    workflowBundle: { codePath: cfg.bundlePath },
    tuning: cfg.tuning,
    tccUrl: cfg.tccUrl,
  });
  process.stdout.write('ready\n');
  stopWithDriver(() =>
    w
      .stop()
      .then(() => connection.close())
      .then(() => closePools(pools)),
  );
  await w.running;
}

main().catch((err: Error) => {
  process.stderr.write(`bench worker: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
