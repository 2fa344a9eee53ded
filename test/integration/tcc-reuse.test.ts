// TCC under a reused workflow id: a TCC transfer started from code (the SDK's default id reuse policy) under
// the id of an earlier run that was terminated after its debit try must not adopt that run's hold (other
// amount) as its own try, nor confirm or cancel a reservation of another operation. Real dev server,
// PostgreSQL and the participant server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expireReservations } from '../../services/tcc-expiry';
import { TASK_QUEUES, transferWorkflowId, type TccInput } from '../../shared';
import type { transferTcc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { postTcc } from '../helpers/tcc';
import { tccSuite } from '../helpers/tcc-stack';
import { assertSettled, balance } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

describe('TCC: a reused id never adopts another operation\u2019s reservation', () => {
  const s = tccSuite();

  it('a second run with another amount after the first tried only its debit moves exactly its own amount', async () => {
    const { pools } = s.t.stack;
    const [a0, b0] = [await balance(pools, ALICE), await balance(pools, BOB)];
    const ref = uniqueId('tccreuse');
    const wf = transferWorkflowId(ref);
    // Run 1's debit try (700), exactly as its activity sends it; run 1 is gone before its credit try.
    const tried = await postTcc(s.server.url, 'try', {
      workflowId: wf,
      branch: 'debit',
      bank: 'bank-a',
      account: 'alice',
      amountCents: -700,
      expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    });
    assert.equal(tried.status, 200);

    const input: TccInput = { ref, from: ALICE, to: BOB, amountCents: 2 };
    const result = await s.t.client.workflow.execute<typeof transferTcc>('transferTcc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: wf,
      args: [input],
    });
    // Whatever it decided, it moved what it reports, and run 1's hold is released by the participant's expiry.
    await expireReservations(pools.bank_a, new Date(Date.now() + 60 * 60_000));
    const moved = result.status === 'committed' ? 2 : 0;
    assert.equal(await balance(pools, ALICE), a0 - moved, 'alice lost exactly what the transfer reports');
    assert.equal(await balance(pools, BOB), b0 + moved, 'bob got exactly what the transfer reports');
    await assertSettled(pools, s.total);
  });
});
