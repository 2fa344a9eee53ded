// The 2PC/3PC integration suites' shared set-up: a test stack whose bank-a, bank-b and outbox participants run
// with hooks at the protocol's crash points, which each test sets for itself (cleared before every test).
import { after, before, beforeEach } from 'node:test';
import { createBankActivities, createOutboxActivities, type ParticipantHooks } from '../../activities/banks';
import { totalMoney } from '../../services/banks';
import type { QueueKey } from '../../workers';
import { startTestStack, type TestStack } from './stack';

/** The participants' activities call whatever `current` holds when they reach a crash point. */
export class SwappableHooks {
  current: ParticipantHooks = {};
  readonly delegate: ParticipantHooks = {
    beforePrepare: (gid) => this.current.beforePrepare?.(gid),
    afterPrepare: (gid) => this.current.afterPrepare?.(gid),
    beforeCommitPrepared: (gid) => this.current.beforeCommitPrepared?.(gid),
  };
}

export interface TwoPhaseSuite {
  readonly t: TestStack;
  /** Balances over all banks before the suite's first test. */
  readonly total: number;
  readonly hooks: SwappableHooks;
}

/** Registers before/after/beforeEach hooks on the enclosing describe; `t` and `total` are set once `before` ran. */
export function twoPhaseSuite(opts: { queues?: QueueKey[] } = {}): TwoPhaseSuite {
  const s = { hooks: new SwappableHooks() } as { t: TestStack; total: number; hooks: SwappableHooks };
  before(async () => {
    s.t = await startTestStack();
    const { pools } = s.t.stack;
    const { delegate } = s.hooks;
    await s.t.startWorkers({
      ...(opts.queues ? { queues: opts.queues } : {}),
      extraActivities: {
        bankA: createBankActivities(pools.bank_a, delegate),
        bankB: createBankActivities(pools.bank_b, delegate),
        outbox: createOutboxActivities(pools.outbox, delegate),
      },
    });
    s.total = await totalMoney(pools);
  });
  after(async () => {
    await s.t?.teardown();
  });
  beforeEach(() => {
    s.hooks.current = {};
  });
  return s;
}
