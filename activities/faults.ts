// Fault-injection switches (`inject` from a workflow's failAt, `voteNo`, `refuse`) travel in activity inputs,
// which anyone who can start a workflow chooses. A production worker must not let a caller make a participant
// fail on demand, so unless the worker was started with faults enabled (tests, the demo: SETTLE_FAULTS=1 or
// the `faults` worker option), every activity sees its input with those switches removed.
const SWITCHES = ['inject', 'voteNo', 'refuse'] as const;

/** SETTLE_FAULTS=1: the process is a test or the demo. */
export function faultsEnabledFromEnv(env: Record<string, string | undefined> = process.env): boolean {
  return env.SETTLE_FAULTS === '1';
}

function withoutSwitches(arg: unknown): unknown {
  if (typeof arg !== 'object' || arg === null || Array.isArray(arg)) return arg;
  if (!SWITCHES.some((k) => k in arg)) return arg;
  const copy = { ...(arg as Record<string, unknown>) };
  for (const k of SWITCHES) delete copy[k];
  return copy;
}

/** The same activities, each called with the fault switches stripped from its first argument. */
export function ignoreFaultSwitches<T extends object>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] =
      typeof fn === 'function'
        ? (first: unknown, ...rest: unknown[]) =>
            (fn as (...a: unknown[]) => unknown).call(activities, withoutSwitches(first), ...rest)
        : fn;
  }
  return out as T;
}
