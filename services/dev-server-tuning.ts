// The dev server settings the local stack runs with (`npm start`, the demo, integration tests, the bench's
// `default`): the fastest ones measured on this project's machine that keep every acknowledged write across
// a crash of the server process. The bench's `cli-defaults` atom passes CLI_DEFAULTS to measure what they buy
// (docs/benchmark.md, "Tuning").

/**
 * The history service's queue readers. The dev server has one history shard, whose transfer, timer and
 * visibility queues are read at most 20 times a second by default: ~25 ms added to every task hop (workflow
 * task, activity task). 1000/s removes that wait; the readers still sleep when their queue is empty.
 */
export const TUNED_DYNAMIC_CONFIG: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  'history.visibilityProcessorMaxPollRPS': 1000,
};

/**
 * SQLite write-ahead log with synchronous=NORMAL: one fsync per checkpoint instead of two per commit. A crash
 * of the server process loses nothing (the WAL is in the file system); an OS crash or power loss may lose the
 * last commits but never corrupts the file. synchronous=OFF was measured only ~5 % cheaper and loses that.
 * The CLI accepts only these two pragmas. Applied only to a file database (in memory there is no journal).
 */
export const TUNED_SQLITE_PRAGMAS: Readonly<Record<string, string>> = {
  journal_mode: 'WAL',
  synchronous: 'NORMAL',
};

/** What the Temporal CLI runs with when given nothing (SQLite's and the server's own defaults), explicitly. */
export const CLI_DEFAULTS = {
  sqlitePragmas: ['journal_mode=DELETE', 'synchronous=FULL'],
  dynamicConfig: {
    'history.transferProcessorMaxPollRPS': 20,
    'history.timerProcessorMaxPollRPS': 20,
    'history.visibilityProcessorMaxPollRPS': 20,
  },
} as const;

export interface DevServerTuningInput {
  /** History in a SQLite file (pragmas apply) or in memory. */
  persistent?: boolean;
  /** KEY=VALUE pragmas that replace the tuned value of the same key (e.g. CLI_DEFAULTS.sqlitePragmas). */
  sqlitePragmas?: readonly string[];
  /** Dynamic config values that replace the tuned value of the same key, or add keys. */
  dynamicConfig?: Readonly<Record<string, string | number | boolean>>;
}

function pragmaMap(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`SQLite pragma '${p}': expected KEY=VALUE`);
    out[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
  }
  return out;
}

/**
 * The `temporal server start-dev` arguments for the tuned settings merged with the caller's: each key
 * appears once (a caller's value wins), so the CLI never sees a duplicate pragma.
 */
export function devServerTuningArgs(input: DevServerTuningInput = {}): string[] {
  const args: string[] = [];
  if (input.persistent !== false) {
    const pragmas = { ...TUNED_SQLITE_PRAGMAS, ...pragmaMap(input.sqlitePragmas ?? []) };
    for (const [k, v] of Object.entries(pragmas)) args.push('--sqlite-pragma', `${k}=${v}`);
  }
  const dc = { ...TUNED_DYNAMIC_CONFIG, ...input.dynamicConfig };
  for (const [k, v] of Object.entries(dc)) args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  return args;
}
