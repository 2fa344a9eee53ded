// A stream of real transactions for the crash tests: orders (some failing at payment, so compensated) and 2PC
// transfers, started through a Temporal client as the CLI starts them, and awaited through server restarts.
import { type Client, type WorkflowHandle } from '@temporalio/client';
import { orderWorkflowId, SA, TASK_QUEUES, transferWorkflowId, type OrderInput } from '../../shared';
import type { TransferInput } from '../../shared/transfer';
import { uniqueId } from './env';

export interface Started {
  kind: 'order' | 'transfer';
  workflowId: string;
  /** What the transaction must end as: an order failing at charge is compensated, the others complete. */
  expected: string;
  /**
   * The ends that leave every service consistent when a participant's database crashed under it: an order
   * completes or is compensated, a 2PC transfer commits or aborts (a branch that could not prepare votes no).
   */
  consistent: string[];
  handle: WorkflowHandle;
}

export async function startOrder(client: Client, failAtCharge: boolean): Promise<Started> {
  const input: OrderInput = {
    orderId: uniqueId('load'),
    customerId: 'alice',
    sku: 'SKU-1',
    qty: 1,
    amountCents: 100,
    ...(failAtCharge ? { failAt: 'charge' as const } : {}),
  };
  const workflowId = orderWorkflowId(input.orderId);
  const handle = await client.workflow.start('orderSaga', {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: SA.pattern, value: 'saga' },
      { key: SA.businessKey, value: input.orderId },
      { key: SA.status, value: 'running' },
    ],
  });
  const expected = failAtCharge ? 'compensated' : 'completed';
  return { kind: 'order', workflowId, expected, consistent: ['completed', 'compensated'], handle };
}

export async function startTransfer(client: Client): Promise<Started> {
  const input: TransferInput = {
    ref: uniqueId('load'),
    from: { bank: 'bank-a', account: 'alice' },
    to: { bank: 'bank-b', account: 'bob' },
    amountCents: 100,
  };
  const workflowId = transferWorkflowId(input.ref);
  const handle = await client.workflow.start('transfer2pc', {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: SA.pattern, value: '2pc' },
      { key: SA.businessKey, value: input.ref },
      { key: SA.status, value: 'preparing' },
    ],
  });
  return {
    kind: 'transfer',
    workflowId,
    expected: 'committed',
    consistent: ['committed', 'aborted'],
    handle,
  };
}

/** `n` transactions, alternating orders (every third one failing at payment) and transfers. */
export async function startLoad(client: Client, n: number): Promise<Started[]> {
  const started: Started[] = [];
  for (let i = 0; i < n; i++)
    started.push(await (i % 2 === 0 ? startOrder(client, i % 3 === 0) : startTransfer(client)));
  return started;
}

/**
 * Each transaction's final status, waiting through a Temporal server that is down or restarting (the client's
 * own retries give up after a few seconds; this keeps asking until the deadline).
 */
export async function finalStatuses(started: Started[], timeoutMs: number): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  const out = new Map<string, string>();
  for (const s of started) {
    for (;;) {
      try {
        const r = (await s.handle.result()) as { status: string };
        out.set(s.workflowId, r.status);
        break;
      } catch (err) {
        const msg = (err as Error).message;
        if (Date.now() > deadline) throw new Error(`${s.workflowId} did not finish in time: ${msg}`);
        if (
          !/UNAVAILABLE|unavailable|ECONNREFUSED|Connection|DEADLINE|deadline|transport|No connection/i.test(
            msg,
          )
        )
          throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
  return out;
}
