// CPU seconds of the processes under test, from /proc (Linux): a process tree's user+system time including its
// reaped children (cutime/cstime), so PostgreSQL backends that exited during a run still count.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

interface Stat {
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime (children that exited and were waited for), in ticks. */
  reaped: number;
  rssPages: number;
}

function readStat(pid: number): Stat | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may contain spaces) start at field 3 (state).
  const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(f[i - 3] ?? 0);
  return { ppid: n(4), own: n(14) + n(15), reaped: n(16) + n(17), rssPages: n(24) };
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** CPU seconds used so far by `pid` and all its descendants (live ones, and reaped ones via the parent). */
export function treeCpuSeconds(pid: number): number {
  const stats = new Map<number, Stat>();
  for (const p of allPids()) {
    const s = readStat(p);
    if (s) stats.set(p, s);
  }
  const root = stats.get(pid);
  if (!root) return NaN;
  let total = root.own + root.reaped;
  const children = new Map<number, number[]>();
  for (const [p, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), p]);
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length) {
    const p = stack.pop()!;
    const s = stats.get(p)!;
    total += s.own; // its reaped children are in s.reaped, but only once it is reaped itself; count them too
    total += s.reaped;
    stack.push(...(children.get(p) ?? []));
  }
  return total / clockTicks();
}

/** The postmaster's pid from `<pgdata>/postmaster.pid` (first line). */
export function postmasterPid(pgdata: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${pgdata}/postmaster.pid`, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function rssBytes(pid: number): number {
  return (readStat(pid)?.rssPages ?? NaN) * 4096;
}
