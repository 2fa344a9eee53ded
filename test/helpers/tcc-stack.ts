// The TCC integration suites' shared set-up: a test stack, the HTTP participant server on a free port, workers
// whose TCC activities call that server, and the money total every test checks its invariant against.
import { before, after } from 'node:test';
import { createTccActivities } from '../../activities/tcc';
import { totalMoney } from '../../services/banks';
import { startTccServer, type TccServer } from '../../services/tcc-server';
import { startTestStack, type TestStack } from './stack';

export interface TccSuite {
  readonly t: TestStack;
  readonly server: TccServer;
  /** Balances + holds over all banks before the suite's first test. */
  readonly total: number;
}

/** Registers before/after hooks on the enclosing describe; the returned fields are set once `before` ran. */
export function tccSuite(): TccSuite {
  const s = {} as { t: TestStack; server: TccServer; total: number };
  before(async () => {
    s.t = await startTestStack();
    s.server = await startTccServer({ pools: s.t.stack.pools, port: 0 });
    await s.t.startWorkers({ extraActivities: { tcc: createTccActivities({ baseUrl: s.server.url }) } });
    s.total = await totalMoney(s.t.stack.pools);
  });
  after(async () => {
    await s.server?.close();
    await s.t?.teardown();
  });
  return s;
}
