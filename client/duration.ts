// Durations on the command line: "30s", "5m", "1h", "2d", "1h30m", "250ms". Strict, so a typo is a usage error
// instead of a silently different filter.
import { usageError } from './cli-kit';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;
const PART = /(\d+)(ms|s|m|h|d)/g;
const WHOLE = /^(?:\d+(?:ms|s|m|h|d))+$/;

/** Milliseconds for a duration like "1h30m", or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  const seen = new Set<string>();
  for (const [, n, unit] of text.matchAll(PART)) {
    if (seen.has(unit!)) return undefined; // "1m2m" is a typo, not 3 minutes
    seen.add(unit!);
    total += Number(n) * UNIT_MS[unit as Unit];
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Parse a --flag duration for the CLI: a usage error (nothing started) when it is not a positive duration. */
export function durationFlag(
  name: string,
  value: string | boolean | string[] | boolean[] | undefined,
  opts: { max?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : String(value);
  const ms = parseDuration(text);
  if (ms === undefined)
    throw usageError(`--${name} must be a duration like 30s, 5m, 1h or 1h30m, got '${text}'`);
  if (ms <= 0) throw usageError(`--${name} must be longer than zero, got '${text}'`);
  if (opts.max !== undefined && ms > opts.max)
    throw usageError(`--${name} must be at most ${formatDuration(opts.max)}, got '${text}'`);
  return ms;
}

/** Human form of a duration in milliseconds: 90061000 -> "1d1h1m1s" (or "1d1h" with maxParts 2); under a second -> "250ms". */
export function formatDuration(ms: number, maxParts = 4): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  let rest = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.slice(0, maxParts).join('');
}
