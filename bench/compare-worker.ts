// The worker process of a compare run (bench/compare.ts), the one the run SIGKILLs mid-way: the product's
// workers for the queues the five models use (orchestration, both banks, the transfer outbox, TCC) with the
// saga's steps added on the bank queues, plus the two non-Temporal parts of the models:
//  - choreography's relay: drains bank-a's outbox (services/outbox-relay.ts fetchDeliverable/markPublished, as
//    the product's relays read theirs) and credits bank-b through its inbox; the outbox row is the durable
//    state, so a killed relay resumes where it was and a redelivery is a no-op;
//  - the weak model's receiver: POST /credit answers 202 at once and applies the credit in memory, no queue, no
//    retry, so whatever it held when it was killed is gone.
// Configured by one JSON argument; prints "READY <weak port>" once polling.
import { stopWithDriver } from './child-lifecycle';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closePools, createPools } from '../services/db';
import { COMPARE_CREDIT_TOPIC, creditFromEvent, plainCredit, type CreditDue } from '../services/compare';
import { fetchDeliverable, markPublished } from '../services/outbox-relay';
import { createWorkers, runWorkers, shutdownWorkers } from '../workers';
import { createCompareActivities } from './compare-activities';

export interface CompareWorkerConfig {
  address: string;
  namespace: string;
  databaseUrl: string;
  dbPrefix: string;
  bundlePath: string;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (m: string): void => void process.stderr.write(`compare worker: ${m}\n`);

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as CompareWorkerConfig;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  const pools = createPools(cfg.databaseUrl, { max: 20, prefix: cfg.dbPrefix });
  const connection = await NativeConnection.connect({ address: cfg.address });
  const workers = await createWorkers({
    connection,
    namespace: cfg.namespace,
    pools,
    queues: ['orchestration', 'bankA', 'bankB', 'outbox', 'tcc'],
    workflowBundle: { codePath: cfg.bundlePath },
    faults: false,
    extraActivities: {
      bankA: createCompareActivities(pools.bank_a),
      bankB: createCompareActivities(pools.bank_b),
    },
  });
  const running = runWorkers(workers);

  let stopping = false;
  const relay = (async () => {
    while (!stopping) {
      try {
        const batch = await fetchDeliverable(pools.bank_a, 'outbox_events', 100);
        if (batch.length === 0) {
          await pause(20);
          continue;
        }
        const done: string[] = [];
        await Promise.all(
          batch.map(async (e) => {
            if (e.topic !== COMPARE_CREDIT_TOPIC) return;
            await creditFromEvent(pools.bank_b, e.eventId, e.payload as CreditDue);
            done.push(e.eventId);
          }),
        );
        await markPublished(pools.bank_a, 'outbox_events', done);
      } catch (err) {
        // The rows stay unpublished: the next pass delivers them again.
        log(`relay: ${(err as Error).message}`);
        await pause(200);
      }
    }
  })();

  let inMemory = 0;
  const weak = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/pending') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pending: inMemory }));
      return;
    }
    void body(req).then((text) => {
      let due: CreditDue;
      try {
        due = JSON.parse(text) as CreditDue;
      } catch {
        return void res.writeHead(400).end();
      }
      res.writeHead(202).end();
      inMemory += 1;
      plainCredit(pools.bank_b, due)
        .catch((err: Error) => log(`weak credit dropped: ${err.message}`))
        .finally(() => (inMemory -= 1));
    });
  });
  await new Promise<void>((r) => weak.listen(0, '127.0.0.1', r));
  process.stdout.write(`READY ${(weak.address() as AddressInfo).port}\n`);

  stopWithDriver(() => {
    stopping = true;
    weak.close();
    shutdownWorkers(workers);
    return Promise.all([running, relay])
      .then(() => connection.close())
      .then(() => closePools(pools));
  });
  await running;
}

main().catch((err: Error) => {
  process.stderr.write(`compare worker: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
