// `settle compare`: the consistency models side by side (docs/consistency.md). The measuring needs its own stack
// and a worker process it can SIGKILL, which sit above the CLI in the layering (bench/compare.ts starts them),
// so this command runs that script as a child, as bin/settle.js runs `settle worker`: progress passes through on
// stderr, the table (or the --json array) comes back on stdout.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { COMPARE_MODELS, parseCompareOptions } from '../../services/compare';
import { CliError, EXIT, usageError, type Command } from '../cli-kit';

/** The checkout holding bench/compare.ts, from client/commands or its compiled copy under dist/. */
function checkoutRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir))
    if (existsSync(join(dir, 'bench', 'compare.ts')) && existsSync(join(dir, 'package.json'))) return dir;
  throw new CliError('settle compare needs the Settle checkout (bench/compare.ts not found)', EXIT.error);
}

export const compare: Command = {
  name: 'compare',
  summary:
    'Run one transfer (bank-a -> bank-b) under 2PC, TCC, an orchestrated saga, choreography over an outbox and a weak fire-and-forget mode on a fresh stack of its own: throughput, latency, intermediate reads, convergence lag, and what a worker SIGKILL lost or duplicated.',
  usage: 'compare [--transfers N] [--concurrency LIST] [--models LIST] [--no-kill] [--json]',
  examples: [
    'settle compare',
    'settle compare --transfers 20 --concurrency 1,10 --models 2pc,weak --no-kill',
    'settle compare --json > compare.json    # progress on stderr',
  ],
  options: {
    transfers: {
      type: 'string',
      placeholder: 'N',
      description: 'transfers per model and concurrency',
      defaultText: '200',
    },
    concurrency: {
      type: 'string',
      placeholder: 'LIST',
      description: 'transfers in flight, comma list (the SIGKILL run uses the largest)',
      defaultText: '1,50',
    },
    models: {
      type: 'string',
      placeholder: 'LIST',
      description: 'which models, comma list',
      choices: COMPARE_MODELS,
      defaultText: 'all',
    },
    'no-kill': { type: 'boolean', description: 'skip the SIGKILL run per model' },
  },
  async run(ctx) {
    const str = (k: string): string | undefined => ctx.values[k] as string | undefined;
    try {
      parseCompareOptions({
        transfers: str('transfers'),
        concurrency: str('concurrency'),
        models: str('models'),
      });
    } catch (err) {
      throw usageError((err as Error).message);
    }
    const root = checkoutRoot();
    const args = [require.resolve('tsx/cli', { paths: [root] }), join(root, 'bench', 'compare.ts')];
    for (const k of ['transfers', 'concurrency', 'models'])
      if (str(k) !== undefined) args.push(`--${k}`, str(k)!);
    if (ctx.values['no-kill'] === true) args.push('--no-kill');
    if (ctx.json) args.push('--json');
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const code = await new Promise<number>((ok) => child.once('close', (c) => ok(c ?? 1)));
    if (code !== 0)
      throw new CliError(
        `the compare run failed (exit ${code}; its log is above)`,
        code === 2 ? EXIT.usage : EXIT.error,
      );
    if (ctx.json) ctx.emit(JSON.parse(stdout));
    else ctx.out(stdout.trimEnd());
    return EXIT.ok;
  },
};
