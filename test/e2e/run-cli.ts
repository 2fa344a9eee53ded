// Run the real CLI as a child process, the way an operator does, against a test stack's Temporal.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../../client/commands';

export const ROOT = join(__dirname, '..', '..');

export interface CliRun {
  /** The command's name words (e.g. 'order place'), for reports. */
  command?: string;
  code: number;
  stdout: string;
  stderr: string;
}

let noStackDir: string | undefined;
/** An empty SETTLE_DATA_DIR: no stack file, so a developer's running `npm start` is never the CLI's target. */
function emptyDataDir(): string {
  return (noStackDir ??= mkdtempSync(join(tmpdir(), 'settle-cli-nostack-')));
}

/** Every key (at any depth) of a JSON document, except inside values that are a workflow's own raw result. */
export function jsonKeys(doc: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(doc)) for (const d of doc) jsonKeys(d, out);
  else if (doc && typeof doc === 'object')
    for (const [k, v] of Object.entries(doc)) {
      out.add(k);
      if (k !== 'result' && k !== 'payload') jsonKeys(v, out);
    }
  return out;
}

/** The JSON fields docs/operations.md documents: the first column of its "JSON fields" table. */
export function documentedJsonFields(markdown: string): Set<string> {
  const section = markdown.split('### JSON fields')[1]?.split('\n## ')[0] ?? '';
  const fields = new Set<string>();
  for (const m of section.matchAll(/^\| `([^`]+)`(?:, `([^`]+)`)*/gm))
    for (const cell of m[0].matchAll(/`([^`]+)`/g)) fields.add(cell[1]!);
  return fields;
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
    const command =
      COMMANDS.map((c) => c.name)
        .filter((n) => n.split(' ').every((w, i) => args[i] === w))
        .sort((x, y) => y.length - x.length)[0] ??
      args[0] ??
      '';
    child.on('close', (code) => resolve({ command, code: code ?? -1, stdout, stderr }));
  });
}

/** Every --json document parsed by json(), with the command that printed it (for the vocabulary test). */
export const SEEN_DOCS: { command: string; doc: unknown }[] = [];

/** Parse --json output, failing with the whole output when it is not JSON. */
export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    const doc = JSON.parse(run.stdout) as T;
    SEEN_DOCS.push({ command: run.command ?? '?', doc });
    return doc;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}
