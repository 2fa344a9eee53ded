// `npm start`: the whole local stack in the foreground until Ctrl-C or SIGTERM (`npm start -- --no-workers`: the
// servers alone, for `settle worker` processes). It stops when its parent goes away too: `kill -TERM` aimed at
// `npm start` must never leave this process (and its servers) behind, whatever npm or a shell in between does.
import { readStackInfo } from '../client/config';
import { isAlive } from '../services/processes';
import { hostStack } from '../workers/host';

const USAGE = `Usage: npm start [-- --no-workers]

  --no-workers  start PostgreSQL, the Temporal dev server and the TCC server only; run the workers as separate
                processes with \`settle worker --queues ...\` (or \`npm run worker -- --all\`)
`;

function parseFlags(argv: string[]): { workers: boolean } | undefined {
  let workers = true;
  for (const a of argv) {
    if (a === '--no-workers') workers = false;
    else if (a === '--help' || a === '-h') return (process.stdout.write(USAGE), process.exit(0));
    else return undefined;
  }
  return { workers };
}

/** Checks every half second whether this process was orphaned (its parent died and it was re-parented). */
function onParentExit(fn: () => void): void {
  const parent = process.ppid;
  if (parent <= 1) return; // PID 1 in a container, or already orphaned: nothing to watch
  setInterval(() => {
    if (process.ppid !== parent) fn();
  }, 500).unref();
}

async function main(): Promise<void> {
  const started = Date.now();
  const flags = parseFlags(process.argv.slice(2));
  if (!flags) {
    process.stderr.write(`npm start: unknown argument(s) ${process.argv.slice(2).join(' ')}\n\n${USAGE}`);
    process.exit(2);
  }
  const existing = readStackInfo();
  if (existing && existing.pid !== process.pid && isAlive(existing.pid)) {
    // Never reap a live stack: a second `npm start` just says where the first one is.
    process.stdout.write(
      `Settle is already running (pid ${existing.pid}): Temporal ${existing.temporalAddress}, Web UI ${existing.uiUrl ?? '-'}\n`,
    );
    return;
  }
  const host = await hostStack({ workers: flags.workers });
  const ui = host.info.uiUrl ?? '(external Temporal: use its Web UI)';
  process.stdout.write(
    `Settle is running (ready in ${((Date.now() - started) / 1000).toFixed(1)}s)\n` +
      `  Temporal:   ${host.info.temporalAddress} (namespace ${host.info.namespace})\n` +
      `  Web UI:     ${ui}\n` +
      `  PostgreSQL: ${host.info.databaseUrl.replace(/:[^:@/]*@/, ':***@')}\n` +
      (host.info.metricsUrl ? `  Metrics:    ${host.info.metricsUrl}\n` : '') +
      (flags.workers
        ? `  Workers:    ${host.workers.length} (one per task queue)\n`
        : `  Workers:    none (--no-workers): run \`npm run worker -- --all\` or \`settle worker --queues ...\`\n`) +
      `Try: npm run settle -- order place --customer alice --sku SKU-1 --qty 2 --amount 30\n` +
      `Press Ctrl-C to stop.\n`,
  );
  let signalled = false;
  const stop = (why: string, exitCode = 0): void => {
    if (signalled) return;
    signalled = true;
    process.stdout.write(`\n${why}: shutting down...\n`);
    host.shutdown().then(
      () => {
        process.stdout.write(exitCode ? 'stopped\n' : 'stopped cleanly\n');
        process.exit(exitCode);
      },
      (err: Error) => {
        process.stderr.write(`shutdown failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => stop(sig));
  onParentExit(() => stop('parent process exited'));
  await host.running.catch((err: Error) => {
    process.stderr.write(`settle: ${err.message}\n`);
    stop('fatal error', 1);
  });
}

main().catch((err: Error) => {
  process.stderr.write(`settle: could not start: ${err.message}\n`);
  process.exit(1);
});
