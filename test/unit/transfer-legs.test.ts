// Issue 14 item 2: a coordinator refuses legs that do not balance before anything is prepared, and a
// participant votes no on them again by itself (a coordinator started by anyone must not mint money).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pool } from 'pg';
import { createBankActivities } from '../../activities/banks';
import { branchGid, TASK_QUEUES, unbalancedLegs, type LoggedLeg, type ParticipantSpec } from '../../shared';
import { checkParticipants } from '../../workflows/two-phase';

const WF = 'transfer-mint';
const mint: ParticipantSpec[] = [
  {
    name: 'bank-a',
    queue: TASK_QUEUES.bankA,
    ops: [{ kind: 'credit', account: 'carol', amountCents: 100_000_000 }],
  },
  { name: 'bank-b', queue: TASK_QUEUES.bankB, ops: [{ kind: 'credit', account: 'bob', amountCents: 1 }] },
];
const legs = (ps: ParticipantSpec[]): LoggedLeg[] =>
  ps.map((p) => ({ name: p.name, queue: p.queue, ops: p.ops }));
/** A pool that must never be reached: the refusal happens before any database work. */
const untouchable = new Proxy({} as Pool, {
  get() {
    throw new Error('the participant touched its database');
  },
});

describe('legs must balance (coordinator and participant)', () => {
  it('unbalancedLegs: debits must equal credits, amounts positive whole cents', () => {
    assert.equal(
      unbalancedLegs([
        { ops: [{ kind: 'debit', account: 'a', amountCents: 5 }] },
        { ops: [{ kind: 'credit', account: 'b', amountCents: 5 }] },
      ]),
      undefined,
    );
    assert.match(unbalancedLegs(legs(mint)) ?? '', /do not balance: debits 0 cents, credits 100000001 cents/);
    assert.match(
      unbalancedLegs([{ ops: [{ kind: 'debit', account: 'a', amountCents: -5 }] }]) ?? '',
      /positive whole/,
    );
  });

  it('the coordinator refuses two credits and no debit before anything is prepared (non-retryable)', () => {
    assert.throws(
      () => checkParticipants(mint, WF),
      (err: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(err.type, 'InvalidInput');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /refused before anything was prepared: the legs do not balance/);
        return true;
      },
    );
  });

  it('the participant votes no on unbalanced legs, or on a prepare that does not show them, without touching its data', async () => {
    const acts = createBankActivities(untouchable);
    const req = { gid: branchGid(WF, 'bank-a'), workflowId: WF, participant: 'bank-a', ops: mint[0]!.ops };
    const unbalanced = await acts.prepareBranch({ ...req, legs: legs(mint) });
    assert.equal(unbalanced.vote, 'no');
    assert.match(unbalanced.vote === 'no' ? unbalanced.reason : '', /do not balance/);
    const blind = await acts.prepareBranch(req);
    assert.equal(blind.vote, 'no');
    assert.match(blind.vote === 'no' ? blind.reason : '', /must carry every leg/);
    const notMine = await acts.prepareBranch({
      ...req,
      legs: [
        {
          name: 'bank-a',
          queue: TASK_QUEUES.bankA,
          ops: [{ kind: 'debit', account: 'alice', amountCents: 1 }],
        },
        {
          name: 'bank-b',
          queue: TASK_QUEUES.bankB,
          ops: [{ kind: 'credit', account: 'bob', amountCents: 1 }],
        },
      ],
    });
    assert.match(notMine.vote === 'no' ? notMine.reason : '', /not its leg/);
  });
});
