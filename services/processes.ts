// Child-process hygiene for the local stack: pidfiles so a restart after a crash finds and stops what the
// crashed run left behind, and free-port discovery for tests that must not collide with a running stack.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

/** Stop a process we started, TERM first, KILL if it does not go. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  await waitForExit(pid, 5_000);
}

/**
 * If a pidfile names a live process whose command line matches, it was orphaned by a crashed run of ours:
 * stop it. Then remove the pidfile.
 */
export async function reapStale(
  pidFile: string,
  mustContain: string,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]?.trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && commandLine(pid).includes(mustContain)) {
    process.stderr.write(`[settle] stopping process ${pid} left over from an earlier run\n`);
    try {
      process.kill(pid, signal);
    } catch {
      /* raced */
    }
    if (!(await waitForExit(pid, 15_000))) {
      process.kill(pid, 'SIGKILL');
      await waitForExit(pid, 5_000);
    }
  }
  rmSync(pidFile, { force: true });
}

/**
 * The environment a server we spawn (PostgreSQL, the Temporal dev server) gets: locale, paths and time zone,
 * nothing else. Whatever the host process holds (SETTLE_ENCRYPTION_KEY, SETTLE_TCC_KEY, TEMPORAL_API_KEY,
 * DATABASE_URL, PGPASSWORD...) stays out of it: anyone who can read a server's /proc/<pid>/environ, or make the
 * server read it (pg_read_file as a database superuser), learns nothing.
 */
const CHILD_ENV_KEEP = /^(PATH|HOME|TMPDIR|TZ|LANG|LANGUAGE|LC_[A-Z]+|USER|LOGNAME)$/;

export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (CHILD_ENV_KEEP.test(k) && v !== undefined) env[k] = v;
  return { ...env, ...extra };
}

export function writePidFile(pidFile: string, pid: number): void {
  writeFileSync(pidFile, `${pid}\n`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, host, () => srv.close(() => resolve(false)));
  });
}
