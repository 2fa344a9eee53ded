// `npm start`: the whole local stack in the foreground until Ctrl-C or SIGTERM.
import { readStackInfo } from '../client/config';
import { isAlive } from '../services/processes';
import { hostStack } from '../workers/host';

async function main(): Promise<void> {
  const started = Date.now();
  const existing = readStackInfo();
  if (existing && existing.pid !== process.pid && isAlive(existing.pid)) {
    // Never reap a live stack: a second `npm start` just says where the first one is.
    process.stdout.write(
      `Settle is already running (pid ${existing.pid}): Temporal ${existing.temporalAddress}, Web UI ${existing.uiUrl ?? '-'}\n`,
    );
    return;
  }
  const host = await hostStack();
  const ui = host.info.uiUrl ?? '(external Temporal: use its Web UI)';
  process.stdout.write(
    `Settle is running (ready in ${((Date.now() - started) / 1000).toFixed(1)}s)\n` +
      `  Temporal:   ${host.info.temporalAddress} (namespace ${host.info.namespace})\n` +
      `  Web UI:     ${ui}\n` +
      `  PostgreSQL: ${host.info.databaseUrl.replace(/:[^:@/]*@/, ':***@')}\n` +
      (host.info.metricsUrl ? `  Metrics:    ${host.info.metricsUrl}\n` : '') +
      `Try: npm run settle -- order place --customer alice --sku SKU-1 --qty 2 --amount 30\n` +
      `Press Ctrl-C to stop.\n`,
  );
  let signalled = false;
  const stop = (sig: string): void => {
    if (signalled) return;
    signalled = true;
    process.stdout.write(`\n${sig}: shutting down...\n`);
    host.shutdown().then(
      () => {
        process.stdout.write('stopped cleanly\n');
        process.exit(0);
      },
      (err: Error) => {
        process.stderr.write(`shutdown failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  await host.running.catch((err: Error) => {
    process.stderr.write(`a worker failed: ${err.message}\n`);
    stop('worker failure');
  });
}

main().catch((err: Error) => {
  process.stderr.write(`settle: could not start: ${err.message}\n`);
  process.exit(1);
});
