// `settle watch <id>`: follow a transaction live, step by step, until it ends. It polls the workflow's progress
// query (a read-only live view, answered from the worker's cache) and prints only what changed.
import type { Client } from '@temporalio/client';
import { temporalClient } from '../temporal';
import type { LedgerEntry } from '../../shared';
import { CliError, EXIT, type Command } from '../cli-kit';
import { describeTarget } from '../config';
import { durationFlag, formatDuration } from '../duration';
import { DEFAULT_WATCH, isUnreachableError, reportUnfinished, timeoutFlag, timeoutOption } from '../wait';
import {
  describeTransaction,
  effectiveStatus,
  ledgerView,
  printLedger,
  queryProgress,
  type TransactionView,
} from '../transactions';
import { SA } from '../../shared';

/** One line of `watch --json`: the whole current state, so each line stands on its own. */
export interface WatchEvent {
  workflowId: string;
  /** When the change was seen (ISO time). */
  at: string;
  status: string;
  temporalStatus: string;
  ledger: LedgerEntry[];
  failure?: { step?: string; type?: string; message: string };
  note?: string;
  /** True on the last line: the workflow has closed. */
  done: boolean;
}

const entryKey = (e: LedgerEntry): string => `${e.kind}:${e.name}`;
const entryState = (e: LedgerEntry): string =>
  `${e.status}|${e.attempts}|${e.lastError ?? ''}|${e.noop ? 1 : 0}`;

/** Text lines for what changed between two snapshots (new entries, status or failure changes). */
export function describeChanges(prev: WatchEvent | undefined, next: WatchEvent): string[] {
  const time = next.at.slice(11, 23);
  const lines: string[] = [];
  if (!prev || prev.status !== next.status) lines.push(`${time}  ${next.workflowId} is ${next.status}`);
  const before = new Map((prev?.ledger ?? []).map((e) => [entryKey(e), entryState(e)]));
  for (const e of next.ledger) {
    if (before.get(entryKey(e)) === entryState(e)) continue;
    const name = e.kind === 'compensation' ? `↩ ${e.name}` : e.name;
    const extra = [
      e.noop ? 'nothing to undo' : '',
      e.attempts ? `${e.attempts} failed` : '',
      e.lastError ?? '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(`${time}    ${name.padEnd(22)} ${e.status}${extra ? `  (${extra})` : ''}`);
  }
  if (next.note && next.note !== prev?.note) lines.push(`${time}  (${next.note})`);
  return lines;
}

async function snapshot(
  client: Client,
  workflowId: string,
): Promise<{ event: WatchEvent; final?: TransactionView }> {
  const handle = client.workflow.getHandle(workflowId);
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof temporalClient().WorkflowNotFoundError)
      throw new CliError(`no transaction with id '${workflowId}' (see: settle list)`, EXIT.notFound);
    throw err;
  }
  const at = new Date().toISOString();
  if (d.status.name !== 'RUNNING') {
    const final = await describeTransaction(client, workflowId);
    return {
      event: {
        workflowId,
        at,
        status: final.status,
        temporalStatus: final.temporalStatus,
        ledger: final.ledger,
        failure: final.failure,
        done: true,
      },
      final,
    };
  }
  const event: WatchEvent = {
    workflowId,
    at,
    status: effectiveStatus(
      d.typedSearchAttributes.get(SA.status),
      d.status.name,
      d.typedSearchAttributes.get(SA.pattern),
    ),
    temporalStatus: d.status.name,
    ledger: [],
    done: false,
  };
  const { progress, note } = await queryProgress(client, workflowId, d.runId);
  if (progress) {
    event.status = progress.status;
    event.ledger = ledgerView(progress.ledger);
    if (progress.failure) event.failure = progress.failure;
  }
  if (note) event.note = note;
  return { event };
}

const changed = (a: WatchEvent | undefined, b: WatchEvent): boolean =>
  !a ||
  a.done !== b.done ||
  a.status !== b.status ||
  a.temporalStatus !== b.temporalStatus ||
  a.note !== b.note ||
  JSON.stringify(a.ledger) !== JSON.stringify(b.ledger) ||
  JSON.stringify(a.failure) !== JSON.stringify(b.failure);

/** Ended well: closed normally and not left for an operator. */
export function endedWell(v: Pick<TransactionView, 'status' | 'temporalStatus' | 'pattern'>): boolean {
  if (v.temporalStatus !== 'COMPLETED') return false;
  if (v.status === 'needs-operator') return false;
  // A saga whose compensation an operator aborted is half-undone; a 2PC 'aborted' is a clean rollback.
  return !(v.pattern === 'saga' && v.status === 'aborted');
}

export const watch: Command = {
  name: 'watch',
  summary:
    'Follow a transaction live: prints each step and compensation as it changes, until the transaction ends.',
  usage: 'watch <workflowId> [--interval DURATION] [--timeout DURATION] [--json]',
  examples: [
    'settle watch order-o-123',
    'settle watch order-o-123 --json            # one JSON line per change: {workflowId, at, status, temporalStatus, ledger, done}',
    'settle watch order-o-123 --timeout 2m      # give up (exit 5, last JSON line {timedOut: true, ...}) if it has not ended within 2 minutes',
    'settle order place --customer bob --sku SKU-1 --qty 1 --amount 15 --detach && settle watch order-<id>',
  ],
  options: {
    interval: {
      type: 'string',
      placeholder: 'DURATION',
      description: 'how often to look, 100ms-1m',
      defaultText: '500ms',
    },
    timeout: timeoutOption(DEFAULT_WATCH),
  },
  positionals: [{ name: 'workflowId', required: true }],
  async run(ctx) {
    const workflowId = ctx.positionals[0]!;
    const interval = durationFlag('interval', ctx.values.interval, { max: 60_000 }) ?? 500;
    if (interval < 100) throw new CliError('--interval must be at least 100ms', EXIT.usage);
    const timeout = timeoutFlag(ctx, DEFAULT_WATCH);
    const client = await ctx.client();
    const deadline = Date.now() + timeout;
    ctx.note(`watching ${workflowId} until it ends (up to ${formatDuration(timeout)}; --timeout changes it)`);
    let last: WatchEvent | undefined;
    let hinted = false;
    let printed = false;
    let failures = 0;
    for (;;) {
      let snap;
      try {
        snap = await snapshot(client, workflowId);
        failures = 0;
      } catch (err) {
        if (!isUnreachableError(err)) throw err;
        if (++failures < 3) {
          await new Promise((r) => setTimeout(r, interval));
          continue;
        }
        return reportUnfinished(
          ctx,
          {
            kind: 'unreachable',
            status: last?.status ?? 'unknown',
            message: `lost Temporal at ${describeTarget(ctx.target())} while watching ${workflowId}: ${(err as Error).message.split('\n')[0]}`,
          },
          { workflowId, what: workflowId, timeoutMs: timeout, jsonLine: true },
        );
      }
      const { event, final } = snap;
      if (changed(last, event)) {
        if (ctx.json) process.stdout.write(JSON.stringify(event) + '\n');
        // Already over when we arrived: the ledger table below says it all.
        else if (!(final && !last)) {
          for (const line of describeChanges(last, event)) ctx.out(line);
          printed = true;
        }
        if (!ctx.json && event.status === 'needs-operator' && !hinted) {
          hinted = true;
          ctx.out(
            `  needs an operator: settle resolve ${workflowId} retry|skip|abort   (still watching; Ctrl-C to stop)`,
          );
        }
        last = event;
      }
      if (final) {
        if (!ctx.json) {
          if (printed) ctx.out('');
          printLedger(final, ctx.out);
        }
        return endedWell(final) ? EXIT.ok : EXIT.attention;
      }
      if (Date.now() >= deadline)
        return reportUnfinished(
          ctx,
          { kind: 'timeout', status: event.status },
          { workflowId, what: workflowId, timeoutMs: timeout, jsonLine: true },
        );
      await new Promise((r) => setTimeout(r, interval));
    }
  },
};
