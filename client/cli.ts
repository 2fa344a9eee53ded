#!/usr/bin/env node
// settle: one command for every pattern. `settle --help` lists the commands; each has --help with examples.
import { CliError, closeClient, EXIT, helpText, runCommand, type Command } from './cli-kit';
import { COMMANDS } from './commands';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return (
    'settle: durable multi-service transactions on Temporal (sagas, 2PC, TCC, 3PC)\n\nCommands:\n' +
    COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary.split(':')[0]!.split('. ')[0]}`).join('\n') +
    `\n\nEvery command takes --json (one JSON document on stdout) and --help.\n` +
    `Exit codes: 0 ok, 1 error, 2 bad input (nothing started), 3 server unreachable, 4 not found, 5 needs attention.\n` +
    `Which Temporal: --address/--namespace, else the running stack's file ($SETTLE_DATA_DIR/stack.json), else SETTLE_TEMPORAL_PORT,\n` +
    `else TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY / TEMPORAL_TLS_* / TEMPORAL_PROFILE, else localhost:7233.\n` +
    `Databases: DATABASE_URL, else the running stack's. Waiting commands take --timeout (exit 5 when it runs out).\n`
  );
}

/** Longest command name that prefixes argv wins: 'order place' before 'order'. */
function findCommand(argv: string[]): { command?: Command; rest: string[] } {
  const words = argv.filter((a) => !a.startsWith('-'));
  let best: Command | undefined;
  for (const c of COMMANDS) {
    const parts = c.name.split(' ');
    if (parts.every((p, i) => argv[i] === p) && (!best || parts.length > best.name.split(' ').length))
      best = c;
  }
  void words;
  return best ? { command: best, rest: argv.slice(best.name.split(' ').length) } : { rest: argv };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(overview());
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const { command, rest } = findCommand(argv);
  if (!command) {
    const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
    if (group.length) {
      process.stderr.write(
        `settle ${argv[0]}: which one?\n${group.map((c) => `  settle ${c.usage}`).join('\n')}\n`,
      );
    } else {
      process.stderr.write(`settle: unknown command '${argv.join(' ')}'\n\n${overview()}`);
    }
    return EXIT.usage;
  }
  try {
    return await runCommand(command, rest);
  } catch (err) {
    if (err instanceof CliError) {
      if (rest.includes('--json'))
        process.stdout.write(JSON.stringify({ error: err.message, exitCode: err.exitCode }) + '\n');
      process.stderr.write(`settle ${command.name}: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`settle ${command.name}: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.error;
  } finally {
    await closeClient();
  }
}

export { helpText };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`settle: ${err.stack ?? err.message}\n`);
      process.exit(EXIT.error);
    },
  );
}
