// One status vocabulary per pattern, the same in every CLI command, the metrics and docs/operations.md.
// Imports nothing: workflow code (the metrics interceptor) uses it too.
//
// Older engines record some outcomes under other words in the SettleStatus search attribute (a TCC transfer
// `confirmed`, a choreographed order `cancelled`); histories already written keep them, so the readers map them
// here (canonicalStatus) and list queries match both spellings (statusQuery).

export type StatusPattern = 'saga' | 'choreography' | '2pc' | '3pc' | 'tcc';

export interface StatusWord {
  status: string;
  /** True for a status a transaction passes through (only a running execution carries it). */
  inProgress: boolean;
  meaning: string;
}

const w = (status: string, inProgress: boolean, meaning: string): StatusWord => ({
  status,
  inProgress,
  meaning,
});

/** Every pattern's statuses, in the order a transaction meets them. */
export const STATUS_VOCABULARY: Record<StatusPattern, StatusWord[]> = {
  saga: [
    w('running', true, 'forward steps are running'),
    w(
      'compensating',
      true,
      'a step failed (or a cancel arrived): completed steps are being undone in reverse order',
    ),
    w(
      'needs-operator',
      true,
      'a compensation or post-pivot step exhausted its retries: settle resolve decides',
    ),
    w('completed', false, 'every forward step completed'),
    w(
      'compensated',
      false,
      'every completed step was undone (a failure, a cancel, or an operator abort before the pivot)',
    ),
    w(
      'aborted',
      false,
      'an operator aborted the compensation: the saga is half-undone and finance reconciles it',
    ),
  ],
  choreography: [
    w('running', true, 'the services are exchanging events'),
    w('completed', false, 'stock reserved and payment taken: the order is confirmed'),
    w('compensated', false, 'stock or payment was refused: the order is cancelled and its stock released'),
  ],
  '2pc': [
    w('preparing', true, 'participants are voting (preparing their transactions)'),
    w('committing', true, 'commit is decided and recorded: participants are committing'),
    w('aborting', true, 'abort is decided and recorded: participants are rolling back'),
    w('committed', false, 'every participant committed'),
    w('aborted', false, 'every participant rolled back (a no vote, a timeout or a cancel): nothing moved'),
  ],
  '3pc': [
    w('preparing', true, 'can-commit: participants are voting'),
    w('pre-committing', true, 'every vote was yes: participants acknowledge the pre-commit'),
    w('committing', true, 'do-commit: participants are committing'),
    w('aborting', true, 'abort is decided: participants are rolling back'),
    w('committed', false, 'every participant committed'),
    w('aborted', false, 'every participant rolled back: nothing moved'),
  ],
  tcc: [
    w('trying', true, 'both legs are being tried (the debit is held)'),
    w('reserved', true, 'both tries succeeded: waiting for confirm (manual mode) or confirming'),
    w('confirming', true, 'confirm is decided: both legs are being confirmed'),
    w('cancelling', true, 'cancel is decided: both legs are being cancelled (held money returned)'),
    w('committed', false, 'both legs confirmed: the money moved (recorded as confirmed by older engines)'),
    w(
      'aborted',
      false,
      'both legs cancelled: nothing moved (recorded as cancelled, or expired when the reservation timed out)',
    ),
  ],
};

/** What only Temporal knows: the workflow was ended from outside, or failed, before it could record an outcome. */
export const TEMPORAL_STATUSES: Record<string, { executionStatus: string; meaning: string }> = {
  failed: {
    executionStatus: 'Failed',
    meaning: 'the workflow failed (a bug or a non-retryable error outside the engine)',
  },
  terminated: {
    executionStatus: 'Terminated',
    meaning: 'terminated from outside (temporal workflow terminate, Web UI)',
  },
  'timed-out': { executionStatus: 'TimedOut', meaning: 'its workflow execution timeout elapsed' },
  cancelled: {
    executionStatus: 'Canceled',
    meaning: 'cancelled by Temporal without an outcome of its own (the workflow did not handle the cancel)',
  },
};

/** Long-lived service workflows that carry a pattern but are not transactions (the outbox relays). */
export const SERVICE_STATUSES: Record<string, string> = {
  relay:
    'an outbox relay (one per publishing service, runs forever): not a transaction; list and stuck leave it out',
};

/** Old spellings a user may still type: accepted everywhere, reported under the canonical word. */
export const STATUS_INPUT_ALIASES: Record<string, string> = { canceled: 'cancelled' };

/** Stored SettleStatus values that mean a canonical status of that pattern. */
export const STORED_STATUS_ALIASES: Partial<Record<StatusPattern, Record<string, string>>> = {
  tcc: { confirmed: 'committed', cancelled: 'aborted', expired: 'aborted' },
  choreography: { confirmed: 'completed', cancelled: 'compensated' },
};

/** The canonical word for a stored SettleStatus value of a pattern. */
export function canonicalStatus(pattern: string | undefined, stored: string): string {
  const map = pattern ? STORED_STATUS_ALIASES[pattern as StatusPattern] : undefined;
  return map?.[stored] ?? STATUS_INPUT_ALIASES[stored] ?? stored;
}

/** Every status word a user may give --status (canonical words, relay, and the accepted old spellings). */
export function knownStatusWords(): string[] {
  const words = new Set<string>();
  for (const list of Object.values(STATUS_VOCABULARY)) for (const s of list) words.add(s.status);
  for (const k of Object.keys(TEMPORAL_STATUSES)) words.add(k);
  for (const k of Object.keys(SERVICE_STATUSES)) words.add(k);
  for (const k of Object.keys(STATUS_INPUT_ALIASES)) words.add(k);
  for (const map of Object.values(STORED_STATUS_ALIASES)) for (const k of Object.keys(map)) words.add(k);
  return [...words];
}

export function isInProgress(status: string): boolean {
  return Object.values(STATUS_VOCABULARY).some((l) => l.some((s) => s.inProgress && s.status === status));
}

const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * The visibility clause for a --status word (canonical or an old stored spelling), matching every stored
 * spelling of it, pattern by pattern. Undefined for the statuses only Temporal records (see TEMPORAL_STATUSES).
 */
export function statusQuery(word: string, pattern?: string): string | undefined {
  const input = STATUS_INPUT_ALIASES[word] ?? word;
  if (TEMPORAL_STATUSES[input]) return undefined;
  const clauses: string[] = [];
  const canonicalOwners = (Object.keys(STATUS_VOCABULARY) as StatusPattern[]).filter((p) =>
    STATUS_VOCABULARY[p].some((s) => s.status === input),
  );
  if (canonicalOwners.length || SERVICE_STATUSES[input]) clauses.push(`SettleStatus = ${quote(input)}`);
  for (const [p, map] of Object.entries(STORED_STATUS_ALIASES) as [StatusPattern, Record<string, string>][]) {
    if (pattern && pattern !== p) continue;
    const stored = Object.entries(map)
      .filter(([raw, canonical]) => canonical === input || raw === input)
      // An old spelling finds exactly what it used to (expired: only the expired ones), a canonical word all of them.
      .filter(([raw]) => !(map[input] && raw !== input))
      .map(([raw]) => raw);
    if (stored.length)
      clauses.push(
        `(SettlePattern = ${quote(p)} AND SettleStatus ${stored.length === 1 ? `= ${quote(stored[0]!)}` : `IN (${stored.map(quote).join(', ')})`})`,
      );
  }
  if (clauses.length === 0) clauses.push(`SettleStatus = ${quote(input)}`);
  return clauses.length === 1 ? clauses[0] : `(${clauses.join(' OR ')})`;
}
