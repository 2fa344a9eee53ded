// The notifications service as a relay subscriber: the transfer outbox's `transfer.committed` events become
// transfer notices (services/transfer-notices.ts), each applied once.
import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { receiveTransferEvent, TRANSFER_SUBSCRIBER } from '../services/transfer-notices';
import type { RelaySubscriberActivities } from './outbox-relay';

export function createTransferNoticeActivities(pool: Pool): RelaySubscriberActivities {
  return {
    async deliverEvent(input) {
      if (input.subscriber !== TRANSFER_SUBSCRIBER)
        throw new Error(`event for ${input.subscriber} delivered to ${TRANSFER_SUBSCRIBER}`);
      return receiveTransferEvent(pool, input.event, Context.current().cancellationSignal);
    },
  };
}
