// Run the real CLI as a child process, the way an operator does, against a test stack's Temporal.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

let noStackDir: string | undefined;
/** An empty SETTLE_DATA_DIR: no stack file, so a developer's running `npm start` is never the CLI's target. */
function emptyDataDir(): string {
  return (noStackDir ??= mkdtempSync(join(tmpdir(), 'settle-cli-nostack-')));
}

/** Environment for the CLI: the test server's address, and none of the developer's own Temporal/Settle settings. */
export function cliEnv(address: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('TEMPORAL_') || k.startsWith('SETTLE_') || k === 'DATABASE_URL') delete env[k];
  return {
    ...env,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: 'default',
    SETTLE_DATA_DIR: emptyDataDir(),
    NO_COLOR: '1',
    ...extra,
  };
}

/** `settle <args>` through tsx (the same entry point as `npm run settle --`). */
export function startCli(args: string[], env: NodeJS.ProcessEnv, opts: { npx?: boolean } = {}): ChildProcess {
  const [cmd, pre] = opts.npx ? ['npx', ['tsx']] : [process.execPath, ['--import', 'tsx']];
  return spawn(cmd, [...pre, join(ROOT, 'client', 'cli.ts'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { npx?: boolean } = {},
): Promise<CliRun> {
  const child = startCli(args, env, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Parse --json output, failing with the whole output when it is not JSON. */
export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}
