// Process-tree helpers for tests that run `npm start` or worker processes: who descends from a pid (read from
// /proc), which of them still live, and a line-by-line view of a child's output to wait on.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { isAlive } from '../../services/processes';

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Every live process below `root` (children, grandchildren, ...). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const ppid = parentOf(pid);
    if (ppid !== undefined) parents.set(pid, ppid);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, ppid] of parents) {
      if (ppid !== p) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}

export const alive = (pids: number[]): number[] => pids.filter(isAlive);

/** Collects a child's output; `waitFor` resolves with the first line (past or future) matching a pattern. */
export class Output {
  readonly lines: string[] = [];
  private waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  constructor(child: ChildProcess, onLine?: (line: string) => void) {
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.lines.push(line);
          onLine?.(line);
          this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(line), false) : true));
        }
      });
    }
  }
  waitFor(re: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no line matching ${re} within ${timeoutMs}ms; output:\n${this.lines.join('\n')}`),
          ),
        timeoutMs,
      );
      this.waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }
  index(re: RegExp): number {
    return this.lines.findIndex((l) => re.test(l));
  }
}
