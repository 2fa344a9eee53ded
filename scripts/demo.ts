// The quick-start demo: boots the local stack (embedded PostgreSQL + Temporal dev server + workers), places
// one order that completes and one that fails at payment and is compensated, through the real CLI, prints
// both outcomes, the databases' view and the Web UI link, then shuts everything down cleanly.
// If `npm start` is already running, the demo uses that stack and leaves it running.
import { Pool } from 'pg';
import { localPorts, readStackInfo } from '../client/config';
import { main as cli } from '../client/cli';
import { orderPlaceArgv } from '../client/commands/order';
import { serviceDatabaseUrl } from '../services/db';
import { isAlive, portInUse } from '../services/processes';
import { hostStack, type HostedStack } from '../workers/host';

const say = (m: string): void => void process.stdout.write(`${m}\n`);

async function snapshot(databaseUrl: string): Promise<{ wallet: string; stock: string; orders: number }> {
  const payments = new Pool({ connectionString: serviceDatabaseUrl(databaseUrl, 'payments'), max: 1 });
  const inventory = new Pool({ connectionString: serviceDatabaseUrl(databaseUrl, 'inventory'), max: 1 });
  const orders = new Pool({ connectionString: serviceDatabaseUrl(databaseUrl, 'orders'), max: 1 });
  try {
    const w = await payments.query<{ balance_cents: string }>(
      `SELECT balance_cents FROM wallets WHERE customer_id = 'alice'`,
    );
    const s = await inventory.query<{ available: number; reserved: number }>(
      `SELECT available, reserved FROM stock WHERE sku = 'SKU-1'`,
    );
    const o = await orders.query<{ n: string }>(
      `SELECT count(*) AS n FROM orders WHERE status = 'confirmed'`,
    );
    return {
      wallet: (Number(w.rows[0]?.balance_cents ?? 0) / 100).toFixed(2),
      stock: `${s.rows[0]?.available ?? '?'} available / ${s.rows[0]?.reserved ?? '?'} reserved`,
      orders: Number(o.rows[0]?.n ?? 0),
    };
  } finally {
    await Promise.all([payments.end(), inventory.end(), orders.end()]);
  }
}

async function demo(): Promise<number> {
  const t0 = Date.now();
  const running = readStackInfo();
  let host: HostedStack | undefined;
  let info = running && isAlive(running.pid) ? running : undefined;
  if (info) {
    say(`Using the running stack (pid ${info.pid}).`);
  } else {
    const ports = localPorts();
    for (const [name, port] of Object.entries({
      Temporal: ports.temporal,
      'Web UI': ports.ui,
      PostgreSQL: ports.postgres,
    })) {
      if (!process.env.TEMPORAL_ADDRESS && name !== 'PostgreSQL' && (await portInUse(port)))
        throw new Error(
          `port ${port} (${name}) is in use by another program; stop it or set SETTLE_TEMPORAL_PORT / SETTLE_UI_PORT`,
        );
      if (!process.env.DATABASE_URL && name === 'PostgreSQL' && (await portInUse(port)))
        throw new Error(`port ${port} (${name}) is in use by another program; stop it or set SETTLE_PG_PORT`);
    }
    say('Starting the local stack: embedded PostgreSQL, Temporal dev server, workers...');
    host = await hostStack({ log: (m) => say(`  ${m}`) });
    info = host.info;
    say(`Stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s.`);
  }
  process.env.TEMPORAL_ADDRESS = info.temporalAddress;
  process.env.TEMPORAL_NAMESPACE = info.namespace;
  let code = 0;
  try {
    const before = await snapshot(info.databaseUrl);
    say(
      `\nBefore: alice's wallet ${before.wallet}, SKU-1 ${before.stock}, ${before.orders} confirmed orders\n`,
    );

    const first = orderPlaceArgv({ customer: 'alice', sku: 'SKU-1', qty: 2, amount: '30' });
    say(`$ settle ${first.join(' ')}`);
    code ||= await cli(first);
    const mid = await snapshot(info.databaseUrl);
    say(`  -> alice's wallet ${mid.wallet}, SKU-1 ${mid.stock}\n`);

    const failing = orderPlaceArgv({
      customer: 'alice',
      sku: 'SKU-1',
      qty: 1,
      amount: '15',
      failAt: 'charge',
    });
    say(`$ settle ${failing.join(' ')}`);
    code ||= await cli(failing);
    const after = await snapshot(info.databaseUrl);
    say(
      `  -> alice's wallet ${after.wallet}, SKU-1 ${after.stock} (unchanged: the reservation was released, nothing charged)\n`,
    );

    say(
      `Web UI: ${info.uiUrl ?? '(external Temporal: use its Web UI)'}/namespaces/${info.namespace}/workflows`,
    );
    say(`Try:    npm start   (keeps the stack running), then npm run settle -- --help`);
  } finally {
    if (host) {
      say('\nShutting down...');
      await host.shutdown();
      say(`Stopped cleanly. Demo took ${((Date.now() - t0) / 1000).toFixed(1)}s.`);
    }
  }
  return code;
}

demo().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`demo failed: ${err.message}\n`);
    process.exit(1);
  },
);
