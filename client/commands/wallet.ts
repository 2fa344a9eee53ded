// Event sourcing, from the CLI: a wallet's state rebuilt from its events (now, as of a version or a time),
// its event history, snapshots, and a check that the read model equals a full replay.
import { formatCents } from '../../shared';
import { loadWallet, readEvents, snapshotWallet, verifyProjection } from '../../services/wallet-events';
import { CliError, EXIT, intFlag, str, usageError, type Command } from '../cli-kit';
import { withServiceDb } from '../db';

export const walletShow: Command = {
  name: 'wallet show',
  summary: "Show a customer's wallet rebuilt by replaying its events (optionally as of a version or a time).",
  usage: 'wallet show <customer> [--as-of-version N] [--as-of ISO-TIME] [--events] [--json]',
  examples: [
    'settle wallet show alice',
    'settle wallet show alice --as-of-version 2 --json',
    'settle wallet show alice --as-of 2026-11-24T18:00:00Z --events',
  ],
  options: {
    'as-of-version': {
      type: 'string',
      placeholder: 'N',
      description: 'the state after this event version (exit 4 if the wallet has not reached it)',
      defaultText: 'the latest',
    },
    'as-of': {
      type: 'string',
      placeholder: 'ISO-TIME',
      description: 'the state at this time',
      defaultText: 'now',
    },
    events: { type: 'boolean', default: false, description: 'also list the events replayed' },
  },
  positionals: [{ name: 'customer', required: true }],
  async run(ctx) {
    const customer = ctx.positionals[0]!;
    const asOfVersion = intFlag('as-of-version', ctx.values['as-of-version'], { min: 1 });
    const asOfText = str(ctx.values['as-of']);
    const asOf = asOfText === undefined ? undefined : new Date(asOfText);
    if (asOf && Number.isNaN(asOf.getTime()))
      throw usageError(`--as-of must be an ISO time, got '${asOfText}'`);
    return withServiceDb('payments', async (pool) => {
      const state = await loadWallet(pool, customer, { asOfVersion, asOf });
      if (!state)
        throw new CliError(
          `no wallet '${customer}'${asOfVersion || asOf ? ' at that point' : ''}`,
          EXIT.notFound,
        );
      // A version the wallet has not reached is unknown, not "the latest" (the rule in docs/operations.md).
      if (asOfVersion !== undefined && state.version < asOfVersion)
        throw new CliError(
          `wallet '${customer}' has no version ${asOfVersion}: its latest is ${state.version}`,
          EXIT.notFound,
        );
      const events = ctx.values.events
        ? await readEvents(pool, customer, { toVersion: asOfVersion, until: asOf })
        : undefined;
      if (ctx.json) {
        ctx.emit({ ...state, balance: formatCents(state.balanceCents), ...(events ? { events } : {}) });
        return EXIT.ok;
      }
      ctx.out(
        `${state.customerId} (${state.name} <${state.email}>): ${formatCents(state.balanceCents)} at version ${state.version}`,
      );
      for (const e of events ?? []) {
        const what =
          e.type === 'BalanceUpdated'
            ? `${e.data.amountCents >= 0 ? '+' : ''}${formatCents(e.data.amountCents)}  ${e.data.reason}`
            : `${e.data.name} <${e.data.email}>`;
        ctx.out(`  v${e.version}  ${e.recordedAt}  ${e.type.padEnd(14)}  ${what}`);
      }
      return EXIT.ok;
    });
  },
};

export const walletSnapshot: Command = {
  name: 'wallet snapshot',
  summary: "Store a snapshot of a wallet's current state, so later loads replay only newer events.",
  usage: 'wallet snapshot <customer> [--json]',
  examples: ['settle wallet snapshot alice'],
  options: {},
  positionals: [{ name: 'customer', required: true }],
  async run(ctx) {
    const customer = ctx.positionals[0]!;
    return withServiceDb('payments', async (pool) => {
      const state = await snapshotWallet(pool, customer);
      if (!state) throw new CliError(`no wallet '${customer}'`, EXIT.notFound);
      if (ctx.json)
        ctx.emit({ customerId: customer, version: state.version, balanceCents: state.balanceCents });
      else ctx.out(`snapshot of ${customer} at version ${state.version}: ${formatCents(state.balanceCents)}`);
      return EXIT.ok;
    });
  },
};

export const walletVerify: Command = {
  name: 'wallet verify',
  summary: 'Replay every wallet from its events and compare with the read model; exit 1 on any difference.',
  usage: 'wallet verify [--json]',
  examples: ['settle wallet verify', 'settle wallet verify --json'],
  options: {},
  async run(ctx) {
    return withServiceDb('payments', async (pool) => {
      const r = await verifyProjection(pool);
      if (ctx.json) ctx.emit({ ok: r.mismatches.length === 0, ...r });
      else if (r.mismatches.length === 0)
        ctx.out(`${r.checked} wallets: read model equals the replay of their events`);
      else
        for (const m of r.mismatches)
          ctx.out(
            `MISMATCH ${m.customerId}: projected ${JSON.stringify(m.projected)}, replayed ${JSON.stringify(m.replayed)}`,
          );
      return r.mismatches.length === 0 ? EXIT.ok : EXIT.error;
    });
  },
};
