// Money transfers between the two banks (2PC, TCC or 3PC), their status, the balances, and the prepared
// transactions in doubt.
import type { Client } from '@temporalio/client';
import {
  accountBalance,
  BANK_SERVICES,
  listAccounts,
  listAllPrepared,
  type AccountBalance,
} from '../../services/banks';
import {
  BANKS,
  coordinatorStateQuery,
  formatAccountRef,
  formatCents,
  parseAccountRef,
  parseGid,
  PROTOCOLS,
  SA,
  TASK_QUEUES,
  tccStateQuery,
  TRANSFER_WORKFLOW_PREFIX,
  transferSummary,
  transferWorkflowId,
  validateTransferInput,
  voteNoChoices,
  type AccountRef,
  type ParticipantView,
  type Protocol,
  type TccInput,
  type TransferResult,
} from '../../shared';
import { CliError, EXIT, str, usageError, type Command, type CommandContext } from '../cli-kit';
import { amountFlag, moneyInText } from '../money';
import { temporalClient } from '../temporal';
import { idFields, START_OPTIONS, startAndAwait, type StartSpec } from '../start';
import { databaseUrl } from '../config';
import { withServiceDb } from '../db';
import { effectiveStatus } from '../transactions';
import { canonicalStatus } from '../../shared/status';

const WORKFLOW_TYPES: Record<Protocol, string> = {
  '2pc': 'transfer2pc',
  tcc: 'transferTcc',
  '3pc': 'transfer3pc',
};

function newRef(): string {
  return `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

function account(flag: string, text: string | undefined): AccountRef {
  if (text === undefined) throw usageError(`missing --${flag} BANK:ACCOUNT (e.g. bank-a:alice)`);
  const ref = parseAccountRef(text);
  if (typeof ref === 'string') throw usageError(`--${flag}: ${ref}`);
  return ref;
}

/** Unknown accounts are refused before anything starts, when the banks' databases are reachable from here. */
async function checkAccountsExist(refs: AccountRef[]): Promise<void> {
  if (!databaseUrl()) return; // an external cluster without DATABASE_URL: the participant will vote no instead
  for (const ref of refs) {
    let found: number | undefined;
    try {
      found = await withServiceDb(BANK_SERVICES[ref.bank], (pool) => accountBalance(pool, ref.account));
    } catch {
      return; // the database is not reachable from the CLI: leave the check to the participant
    }
    if (found === undefined)
      throw new CliError(`no account ${formatAccountRef(ref)} (see: settle accounts)`, EXIT.notFound);
  }
}

export function printParticipants(participants: ParticipantView[], out: (t: string) => void): void {
  const rows = participants.map((p) => [
    p.name,
    p.vote + (p.voteDetail ? ` (${p.voteDetail})` : ''),
    p.outcome ?? p.phaseTwo,
    p.lastError ?? '',
  ]);
  const head = ['PARTICIPANT', 'VOTE', 'OUTCOME', 'LAST ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  out(fmt(head));
  for (const r of rows) out(fmt(r));
}

export const transfer: Command = {
  name: 'transfer',
  summary:
    'Move money from an account at one bank to an account at the other, atomically: two-phase commit over PostgreSQL prepared transactions (default), TCC over HTTP, or three-phase commit.',
  usage:
    'transfer --from BANK:ACCOUNT --to BANK:ACCOUNT --amount N [--protocol 2pc|tcc|3pc] [--vote-no PARTICIPANT] [--ref REF] [--detach] [--timeout DURATION] [--json]',
  examples: [
    'settle transfer --from bank-a:alice --to bank-b:bob --amount 25',
    'settle transfer --from bank-a:alice --to bank-b:bob --amount 10 --vote-no bank-b --json   # aborted: nothing moves',
    'settle transfer --from bank-b:bob --to bank-a:alice --amount 5.50 --protocol tcc',
    'settle transfer --from bank-a:alice --to bank-b:bob --amount 1 --protocol 3pc --detach   # then: settle transfer status <id>',
  ],
  options: {
    from: {
      type: 'string',
      placeholder: 'BANK:ACCOUNT',
      description: 'the account to debit, e.g. bank-a:alice',
    },
    to: {
      type: 'string',
      placeholder: 'BANK:ACCOUNT',
      description: 'the account to credit, e.g. bank-b:bob',
    },
    amount: { type: 'string', placeholder: 'N', description: 'how much, in money (25 or 25.50)' },
    protocol: {
      type: 'string',
      placeholder: 'P',
      description: 'the commit protocol',
      choices: PROTOCOLS,
      default: '2pc',
    },
    'vote-no': {
      type: 'string',
      placeholder: 'PARTICIPANT',
      description: 'make this participant refuse (demos and tests); the protocol aborts',
      choices: ['bank-a', 'bank-b', 'outbox'],
    },
    ref: {
      type: 'string',
      placeholder: 'REF',
      description: 'the business reference (a reused one is refused)',
      defaultText: 'a new reference',
    },
    ...START_OPTIONS,
  },
  async run(ctx) {
    const v = ctx.values;
    const protocol = str(v.protocol) as Protocol;
    if (!PROTOCOLS.includes(protocol))
      throw usageError(`--protocol must be one of ${PROTOCOLS.join(', ')}, got '${protocol}'`);
    const from = account('from', str(v.from));
    const to = account('to', str(v.to));
    const amountCents = amountFlag(v.amount);
    const voteNo = str(v['vote-no']);
    if (voteNo !== undefined && !voteNoChoices(protocol).includes(voteNo))
      throw usageError(
        `--vote-no must be one of ${voteNoChoices(protocol).join(', ')} for ${protocol}, got '${voteNo}'`,
      );
    const input: TccInput = {
      ref: str(v.ref) ?? newRef(),
      from,
      to,
      amountCents,
      ...(voteNo ? { voteNo } : {}),
    };
    const errors = validateTransferInput(input, protocol);
    if (errors.length) throw usageError(errors.join('\n'));
    await checkAccountsExist([from, to]);

    const workflowId = transferWorkflowId(input.ref);
    const spec: StartSpec = {
      noun: 'transfer',
      workflowType: WORKFLOW_TYPES[protocol],
      workflowId,
      businessKey: input.ref,
      pattern: protocol,
      taskQueue: TASK_QUEUES.orchestration,
      args: [input],
      initialStatus: protocol === 'tcc' ? 'trying' : 'preparing',
      staticSummary: transferSummary(protocol, input),
      staticDetails:
        protocol === 'tcc'
          ? 'TCC: try both legs (hold the debit), then confirm both, or cancel both'
          : protocol === '3pc'
            ? '3PC: can-commit, pre-commit, do-commit over the two banks and the outbox'
            : '2PC: prepare the two banks and the outbox in parallel, record the decision, commit or roll back all',
      customer: from.account,
      legacyKey: 'ref',
      followWith: `settle transfer status ${workflowId}`,
    };
    const started = await startAndAwait<TransferResult>(ctx, spec);
    if (started.done) return started.exitCode;
    const result = { ...started.result, reason: started.result.reason && moneyInText(started.result.reason) };
    if (ctx.json) ctx.emit({ ...result, ...idFields(spec, started.runId) });
    else {
      ctx.out(`Transfer ${result.ref}: ${result.status}  (${result.protocol}, ${workflowId})`);
      ctx.out(`  ${result.from} -> ${result.to}  ${result.amount}`);
      ctx.out(`  decision: ${result.decision}${result.reason ? ` — ${result.reason}` : ''}`);
      printParticipants(result.participants, ctx.out);
      for (const a of result.anomalies) ctx.out(`  ANOMALY: ${a}`);
    }
    return result.anomalies.length ? EXIT.attention : EXIT.ok;
  },
};

export interface TransferStatusView {
  workflowId: string;
  type: string;
  /** The shared names (as in list and status); `protocol` is kept for scripts. */
  pattern?: string;
  businessKey?: string;
  protocol?: string;
  /** committed / aborted once finished; the coordinator's status (preparing, committing, ...) while it runs. */
  status: string;
  temporalStatus: string;
  decision?: string;
  reason?: string;
  participants: ParticipantView[];
  anomalies: string[];
  startedAt?: string;
  closedAt?: string;
  failure?: string;
  result?: TransferResult;
}

export async function transferStatus(client: Client, id: string): Promise<TransferStatusView> {
  const workflowId = id.startsWith(TRANSFER_WORKFLOW_PREFIX) ? id : transferWorkflowId(id);
  const handle = client.workflow.getHandle(workflowId);
  const { WorkflowNotFoundError } = temporalClient();
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new CliError(`no transfer '${id}' (looked for workflow ${workflowId})`, EXIT.notFound);
    throw err;
  }
  const view: TransferStatusView = {
    workflowId,
    type: d.type,
    pattern: d.typedSearchAttributes.get(SA.pattern),
    businessKey: d.typedSearchAttributes.get(SA.businessKey),
    protocol: d.typedSearchAttributes.get(SA.pattern),
    status: effectiveStatus(
      d.typedSearchAttributes.get(SA.status),
      d.status.name,
      d.typedSearchAttributes.get(SA.pattern),
    ),
    temporalStatus: d.status.name,
    participants: [],
    anomalies: [],
    startedAt: d.startTime.toISOString(),
    closedAt: d.closeTime?.toISOString(),
  };
  if (d.status.name === 'COMPLETED') {
    const r = (await handle.result()) as TransferResult;
    Object.assign(view, {
      status: r.status,
      decision: r.decision,
      reason: r.reason,
      participants: r.participants,
      anomalies: r.anomalies,
      result: r,
    });
  } else if (d.status.name === 'RUNNING') {
    try {
      if (d.type === 'transferTcc') {
        const s = await handle.query(tccStateQuery);
        view.status = canonicalStatus('tcc', s.status);
        view.reason = s.reason;
      } else {
        const s = await handle.query(coordinatorStateQuery);
        Object.assign(view, {
          status: s.status,
          decision: s.decision,
          reason: s.decisionReason,
          participants: s.participants,
          anomalies: s.anomalies,
        });
      }
    } catch {
      /* no worker to answer right now: the search attributes are what we know */
    }
  } else {
    await handle.result().catch((err: Error & { cause?: Error }) => {
      view.failure = err.cause ? `${err.message}: ${err.cause.message}` : err.message;
    });
  }
  return view;
}

export const transferStatusCommand: Command = {
  name: 'transfer status',
  summary: "Show a transfer's state: the coordinator's decision and each participant's vote and outcome.",
  usage: 'transfer status <workflowId|ref> [--json]',
  examples: ['settle transfer status transfer-t-123', 'settle transfer status t-123 --json'],
  options: {},
  positionals: [{ name: 'workflowId', required: true }],
  async run(ctx) {
    const view = await transferStatus(await ctx.client(), ctx.positionals[0]!);
    if (ctx.json) ctx.emit(view);
    else {
      ctx.out(`${view.workflowId}  ${view.type}  ${view.status}  (Temporal: ${view.temporalStatus})`);
      if (view.decision) ctx.out(`  decision: ${view.decision}${view.reason ? ` — ${view.reason}` : ''}`);
      if (view.participants.length) printParticipants(view.participants, ctx.out);
      for (const a of view.anomalies) ctx.out(`  ANOMALY: ${a}`);
      if (view.failure) ctx.out(`  failure: ${view.failure}`);
    }
    return view.anomalies.length ? EXIT.attention : EXIT.ok;
  },
};

export interface AccountsView {
  banks: {
    bank: string;
    accounts: (AccountBalance & { balance: string })[];
    totalCents: number;
    total: string;
  }[];
  /** Balances plus money held by pending TCC debits: the invariant that no transfer changes. */
  totalCents: number;
  total: string;
}

export const accounts: Command = {
  name: 'accounts',
  summary: 'Show the balance of every account at both banks, and the total (which no transfer changes).',
  usage: 'accounts [--json]',
  examples: [
    'settle accounts',
    'settle accounts --json   # {banks: [{bank, accounts: [...], total}], totalCents, total}',
  ],
  options: {},
  async run(ctx: CommandContext) {
    const view: AccountsView = { banks: [], totalCents: 0, total: '' };
    for (const bank of BANKS) {
      const rows = await withServiceDb(BANK_SERVICES[bank], (pool) => listAccounts(pool));
      const totalCents = rows.reduce((s, a) => s + a.balanceCents + a.heldCents, 0);
      view.banks.push({
        bank,
        accounts: rows.map((a) => ({ ...a, balance: formatCents(a.balanceCents) })),
        totalCents,
        total: formatCents(totalCents),
      });
      view.totalCents += totalCents;
    }
    view.total = formatCents(view.totalCents);
    if (ctx.json) ctx.emit(view);
    else {
      for (const b of view.banks) {
        ctx.out(`${b.bank}  (total ${b.total})`);
        for (const a of b.accounts)
          ctx.out(
            `  ${`${b.bank}:${a.account}`.padEnd(16)} ${a.balance.padStart(12)}${a.heldCents ? `  (+${formatCents(a.heldCents)} held by a TCC try)` : ''}`,
          );
      }
      ctx.out(`total ${view.total}`);
    }
    return EXIT.ok;
  },
};

export const prepared: Command = {
  name: 'prepared',
  summary:
    'List the prepared transactions in doubt (pg_prepared_xacts), with the transfer and participant each belongs to.',
  usage: 'prepared [--json]',
  examples: [
    'settle prepared',
    'settle prepared --json   # {count: 0, prepared: []} when nothing is in doubt',
  ],
  options: {},
  async run(ctx) {
    const rows = await withServiceDb('bank_a', (pool) => listAllPrepared(pool));
    const list = rows.map((r) => ({ ...r, ...(parseGid(r.gid) ?? {}) }));
    // An object like every other command's (it was a bare array): {count, prepared: [...]}.
    if (ctx.json) ctx.emit({ count: list.length, prepared: list });
    else if (list.length === 0) ctx.out('no prepared transactions in doubt');
    else {
      for (const r of list)
        ctx.out(
          `${r.gid}  db=${r.database}  prepared ${r.preparedAt} (${r.ageSeconds}s ago)${'workflowId' in r ? `  -> settle transfer status ${r.workflowId}` : ''}`,
        );
      ctx.out(
        `${list.length} in doubt; the in-doubt sweeper resolves them (commit if the coordinator recorded commit, else presumed abort)`,
      );
    }
    return EXIT.ok;
  },
};
