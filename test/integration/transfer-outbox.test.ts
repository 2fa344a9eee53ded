// The 2PC transfer's outbox event is relayed (the same relay workflow as the choreography, relay 'transfers') to
// its documented consumer, the notifications service's transfer notices: exactly one notice when the transfer
// commits, none when it aborts, and still one after a redelivery.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { noticesFor, receiveTransferEvent } from '../../services/transfer-notices';
import { TASK_QUEUES, transferWorkflowId, type TransferInput, type TransferResult } from '../../shared';
import { relayId, TRANSFER_COMMITTED } from '../../shared/relay';
import type { transfer2pc } from '../../workflows';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { waitFor } from '../helpers/transfers';

const ALICE = { bank: 'bank-a', account: 'alice' } as const;
const BOB = { bank: 'bank-b', account: 'bob' } as const;

describe('2PC transfer outbox relayed to the transfer notices (real Temporal + PostgreSQL)', () => {
  let t: TestStack;
  before(async () => {
    t = await startTestStack();
    await t.startWorkers();
    await t.client.workflow.start('outboxRelay', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: relayId('transfers'),
      args: ['transfers', { waitMs: 5_000 }],
    });
  });
  after(async () => {
    await t?.teardown();
  });

  const transfer = (input: TransferInput): Promise<TransferResult> =>
    t.client.workflow.execute<typeof transfer2pc>('transfer2pc', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: transferWorkflowId(input.ref),
      args: [input],
    });
  const published = async (eventId: string): Promise<boolean> =>
    (
      await t.stack.pools.outbox.query(
        'SELECT 1 FROM outbox_events WHERE event_id = $1 AND published_at IS NOT NULL',
        [eventId],
      )
    ).rowCount === 1;

  it('a committed transfer produces exactly one notice; a redelivery changes nothing', async () => {
    const ref = uniqueId('tx');
    const r = await transfer({ ref, from: ALICE, to: BOB, amountCents: 1_500 });
    assert.equal(r.status, 'committed');
    const eventId = transferWorkflowId(ref);
    await waitFor('the transfer event published by the relay', () => published(eventId));
    const notices = await noticesFor(t.stack.pools.notifications, ref);
    assert.deepEqual(
      notices.map((n) => n.eventId),
      [eventId],
    );
    assert.match(notices[0]!.body, /sent 15\.00/);
    // Redelivered (relay crashed before marking it published; or an operator redrive): applied once.
    const ev = await t.stack.pools.outbox.query<{ payload: unknown }>(
      'SELECT payload FROM outbox_events WHERE event_id = $1',
      [eventId],
    );
    const again = await receiveTransferEvent(t.stack.pools.notifications, {
      eventId,
      topic: TRANSFER_COMMITTED,
      payload: ev.rows[0]!.payload,
    });
    assert.equal(again, 'duplicate');
    assert.equal((await noticesFor(t.stack.pools.notifications, ref)).length, 1);
  });

  it('an aborted transfer produces no event and no notice', async () => {
    const ref = uniqueId('tx');
    const r = await transfer({ ref, from: ALICE, to: BOB, amountCents: 700, voteNo: 'bank-b' });
    assert.equal(r.status, 'aborted');
    // Synchronise on the relay having passed a later event: a committed transfer started after the abort.
    const later = uniqueId('tx');
    assert.equal(
      (await transfer({ ref: later, from: ALICE, to: BOB, amountCents: 100 })).status,
      'committed',
    );
    await waitFor('the later transfer relayed', () => published(transferWorkflowId(later)));
    const row = await t.stack.pools.outbox.query('SELECT 1 FROM outbox_events WHERE event_id = $1', [
      transferWorkflowId(ref),
    ]);
    assert.equal(row.rowCount, 0, 'the event rolled back with the money');
    assert.deepEqual(await noticesFor(t.stack.pools.notifications, ref), []);
  });
});
