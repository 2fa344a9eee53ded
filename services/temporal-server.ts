// The Temporal CLI dev server for the demo, `npm start` and integration tests: a real Temporal server with
// its history in a SQLite file (so it survives a restart) and the Web UI. Binaries come from scripts/bootstrap.
import { Connection } from '@temporalio/client';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { SEARCH_ATTRIBUTES } from '../shared';
import { devServerTuningArgs } from './dev-server-tuning';
import { childEnv, reapStale, stopProcess, writePidFile } from './processes';
import { temporalBinaries } from './tools';

export interface DevServerOptions {
  dataDir: string;
  port: number;
  uiPort?: number;
  /** Persist history to <dataDir>/temporal.db (default true); tests use an in-memory database. */
  persistent?: boolean;
  namespace?: string;
  /** Extra SQLite pragmas, e.g. journal_mode=WAL (benchmark tuning). */
  sqlitePragmas?: string[];
  /** Extra dynamic config values (`--dynamic-config-value KEY=JSON`), e.g. the benchmark's queue tuning. */
  dynamicConfig?: Record<string, string | number | boolean>;
  readyTimeoutMs?: number;
}

export interface DevServerHandle {
  address: string;
  namespace: string;
  uiUrl?: string;
  pid: number;
  /** Settles when the server process exits, with how it exited ("signal SIGKILL", "code 1"). */
  exited: Promise<string>;
  /** Start it again with the same options (after a crash: the host's supervisor). */
  restart(): Promise<DevServerHandle>;
  stop(): Promise<void>;
}

const SA_TYPE_NAMES: Record<string, string> = {
  KEYWORD: 'Keyword',
  BOOL: 'Bool',
  INT: 'Int',
  TEXT: 'Text',
  DATETIME: 'Datetime',
  DOUBLE: 'Double',
  KEYWORD_LIST: 'KeywordList',
};

let ownProcessGroup = false;

/**
 * The host (`npm start`) stops the servers itself, after draining its workers: it takes the dev servers it starts
 * out of the terminal's process group, so a Ctrl-C reaches only the host. Everyone else (tests, scripts) leaves
 * them in the group, so a Ctrl-C or a killed test run still takes its servers down with it.
 */
export function devServersInOwnProcessGroup(on: boolean): void {
  ownProcessGroup = on;
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServerHandle> {
  mkdirSync(opts.dataDir, { recursive: true });
  const pidFile = join(opts.dataDir, 'temporal.pid');
  await reapStale(pidFile, 'start-dev');
  const namespace = opts.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
  ];
  if (opts.persistent !== false) args.push('--db-filename', join(opts.dataDir, 'temporal.db'));
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  for (const sa of SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${sa.name}=${SA_TYPE_NAMES[sa.type] ?? 'Keyword'}`);
  // The tuned defaults (services/dev-server-tuning.ts), with the caller's pragmas/values replacing them per key.
  args.push(...devServerTuningArgs(opts));
  // Frequent namespace refresh so that search attributes are usable at once.
  args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true');

  const log = openSync(join(opts.dataDir, 'temporal.log'), 'a');
  const child = spawn(temporalBinaries().temporal, args, {
    stdio: ['ignore', log, log],
    detached: ownProcessGroup,
    env: childEnv(), // no secrets of the host in the server's environment
  });
  if (child.pid === undefined) throw new Error('could not start the Temporal dev server');
  writePidFile(pidFile, child.pid);
  // In its own process group only for the host (devServersInOwnProcessGroup): it still owns it, through stop()
  // below, or reapStale on its next start.
  let exited: string | undefined;
  const exitedPromise = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      const how = signal ? `signal ${signal}` : `code ${code}`;
      exited = `exited with ${how}`;
      resolve(how);
    }),
  );

  const address = `127.0.0.1:${opts.port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited)
      throw new Error(`the Temporal dev server ${exited}; see ${join(opts.dataDir, 'temporal.log')}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace });
        break;
      } finally {
        await conn.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        await stopProcess(child.pid);
        throw new Error(
          `the Temporal dev server did not become ready on ${address}: ${(err as Error).message}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const pid = child.pid;
  return {
    address,
    namespace,
    uiUrl: opts.uiPort ? `http://localhost:${opts.uiPort}` : undefined,
    pid,
    exited: exitedPromise,
    restart: () => startDevServer(opts),
    stop: async () => {
      await stopProcess(pid);
      await reapStale(pidFile, 'start-dev');
    },
  };
}
