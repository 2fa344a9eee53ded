// TCC: a confirm decided at the reservations' expiry reaches some legs before the participant's clock passes
// it and others after (one confirmed, the other refused: money moved on one side only). The coordinator
// therefore never decides confirm within its confirm margin of the expiry; it cancels instead, automatically.
// Real dev server, PostgreSQL and the participant server; the credit try is held until the debit's hold has
// expired on the participant's own clock (polled, never slept).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTccActivities, type TccTryCall } from '../../activities/tcc';
import { totalMoney } from '../../services/banks';
import { startTccServer, type TccServer } from '../../services/tcc-server';
import { SA, TASK_QUEUES, transferWorkflowId, type TccInput } from '../../shared';
import type { transferTcc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { assertSettled, balance, waitFor } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

describe('TCC: no confirm decided at the expiry', () => {
  let t: TestStack;
  let server: TccServer;
  let total: number;

  before(async () => {
    t = await startTestStack();
    server = await startTccServer({ pools: t.stack.pools, port: 0 });
    const tcc = createTccActivities({ baseUrl: server.url });
    const { pools } = t.stack;
    await t.startWorkers({
      extraActivities: {
        tcc: {
          ...tcc,
          // The credit try arrives only once the debit's hold is past its expiry on the participant's clock.
          async tccTry(c: TccTryCall) {
            if (c.branch === 'credit')
              await waitFor('the debit hold to pass its expiry', async () => {
                const r = await pools.bank_a.query<{ past: boolean }>(
                  `SELECT expires_at <= now() AS past FROM reservations WHERE reservation_id = $1`,
                  [`${c.workflowId}/debit`],
                );
                return r.rows[0]?.past;
              });
            return tcc.tccTry(c);
          },
        },
      },
    });
    total = await totalMoney(pools);
  });
  after(async () => {
    await server?.close();
    await t?.teardown();
  });

  it('tries that finish after the expiry end cancelled, by themselves, not confirmed on one leg or parked', async () => {
    const { pools } = t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const input: TccInput = {
      ref: uniqueId('tcclate'),
      from: ALICE,
      to: BOB,
      amountCents: 450,
      expiresIn: '2s',
    };
    const handle = await t.client.workflow.start<typeof transferTcc>('transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(input.ref),
      args: [input],
    });
    const closed = await waitFor(
      'the transfer to close (or to park for an operator)',
      async () => {
        const d = await handle.describe();
        if (d.typedSearchAttributes.get(SA.needsOperator)) return 'parked';
        return d.status.name !== 'RUNNING' && d.status.name;
      },
      60_000,
    );
    assert.equal(closed, 'COMPLETED', 'no operator is needed for tries that came too late');
    const result = await handle.result();
    assert.equal(result.status, 'aborted');
    assert.equal(await balance(pools, ALICE), a0);
    assert.equal(await balance(pools, BOB), b0);
    await assertSettled(pools, total);
  });
});
