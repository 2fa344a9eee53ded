import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  orderSummary,
  orderWorkflowId,
  parseAmountToCents,
  SA,
  TASK_QUEUES,
  validateOrderInput,
  type OrderInput,
  type OrderStep,
  type SagaResult,
} from '../../shared';
import { EXIT, intFlag, str, usageError, type Command, type CommandContext } from '../cli-kit';
import type { Client } from '@temporalio/client';
import type { choreographedOrder } from '../../workflows';
import { choreographyWorkflowId, type ChoreographedOrderResult } from '../../shared/events';
import { describeTransaction, printLedger } from '../transactions';

function newOrderId(): string {
  return `o-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export const orderPlace: Command = {
  name: 'order place',
  summary:
    'Place an order: runs the order saga (create order -> reserve stock -> charge -> notify) and waits for its outcome.',
  usage:
    'order place --customer ID --sku SKU --qty N --amount N [--order-id ID] [--fail-at create|reserve|charge|notify] [--detach] [--mode orchestration|choreography] [--json]',
  examples: [
    'settle order place --customer alice --sku SKU-1 --qty 2 --amount 30',
    'settle order place --customer alice --sku SKU-1 --qty 1 --amount 15 --fail-at charge --json',
    'settle order place --customer bob --sku SKU-2 --qty 1 --amount 9.99 --detach   # start and return; then: settle watch <id>',
    'settle order place --customer carol --sku SKU-1 --qty 1 --amount 50 --mode choreography   # services react to events; no orchestrator',
  ],
  options: {
    customer: { type: 'string' },
    sku: { type: 'string' },
    qty: { type: 'string' },
    amount: { type: 'string' },
    'order-id': { type: 'string' },
    'fail-at': { type: 'string' },
    detach: { type: 'boolean', default: false },
    mode: { type: 'string' },
  },
  async run(ctx) {
    const v = ctx.values;
    const missing = ['customer', 'sku', 'qty', 'amount'].filter((k) => str(v[k]) === undefined);
    if (missing.length)
      throw usageError(
        `missing ${missing.map((m) => `--${m}`).join(', ')}\nUsage: settle ${orderPlace.usage}`,
      );
    const amountText = str(v.amount)!;
    const amountCents = parseAmountToCents(amountText);
    if (amountCents === undefined)
      throw usageError(`--amount must be a positive amount with at most 2 decimals, got '${amountText}'`);
    const input: OrderInput = {
      orderId: str(v['order-id']) ?? newOrderId(),
      customerId: str(v.customer)!,
      sku: str(v.sku)!,
      qty: intFlag('qty', v.qty, { min: 1, max: 1_000_000 })!,
      amountCents,
    };
    const failAt = str(v['fail-at']);
    if (failAt !== undefined) input.failAt = failAt as OrderStep;
    const errors = validateOrderInput(input);
    const mode = str(v.mode) ?? 'orchestration';
    if (mode !== 'orchestration' && mode !== 'choreography')
      errors.push(`--mode must be orchestration or choreography, got '${mode}'`);
    if (mode === 'choreography' && (input.failAt || v.detach))
      errors.push('--fail-at and --detach are for --mode orchestration');
    if (errors.length) throw usageError(errors.join('\n'));

    const client = await ctx.client();
    if (mode === 'choreography') return placeChoreographed(ctx, client, input);
    const workflowId = orderWorkflowId(input.orderId);
    let handle;
    try {
      handle = await client.workflow.start('orderSaga', {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId,
        args: [input],
        staticSummary: orderSummary(input),
        staticDetails: `Saga: create order -> reserve stock -> charge payment -> send notification${input.failAt ? ` (fault injected at ${input.failAt})` : ''}`,
        typedSearchAttributes: [
          { key: SA.pattern, value: 'saga' },
          { key: SA.businessKey, value: input.orderId },
          { key: SA.status, value: 'running' },
        ],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw usageError(`order ${input.orderId} already exists (${workflowId})`);
      throw err;
    }
    if (v.detach) {
      if (ctx.json)
        ctx.emit({
          workflowId,
          runId: handle.firstExecutionRunId,
          orderId: input.orderId,
          status: 'running',
        });
      else ctx.out(`started ${workflowId}; follow it with: settle watch ${workflowId}`);
      return EXIT.ok;
    }
    const result = (await handle.result()) as SagaResult;
    const doc = {
      workflowId,
      runId: handle.firstExecutionRunId,
      orderId: input.orderId,
      status: result.status,
      steps: result.steps,
      compensations: result.compensations,
      failure: result.failure,
      ledger: result.ledger,
    };
    if (ctx.json) ctx.emit(doc);
    else {
      ctx.out(`Order ${input.orderId}: ${result.status}  (${workflowId})`);
      ctx.out(`  steps:         ${result.steps.join(', ') || 'none'}`);
      const noop = new Set(
        result.ledger.filter((e) => e.kind === 'compensation' && e.noop).map((e) => e.name),
      );
      const comps = result.compensations.map((c) => (noop.has(c) ? `${c} (nothing to undo)` : c));
      ctx.out(`  compensations: ${comps.join(', ') || 'none'}`);
      if (result.failure)
        ctx.out(
          `  failed at:     ${result.failure.step}: ${result.failure.type ?? ''} ${result.failure.message}`,
        );
    }
    return result.status === 'completed' || result.status === 'compensated' ? EXIT.ok : EXIT.attention;
  },
};

/** The choreographed variant: the services settle the order between themselves through their outboxes. */
async function placeChoreographed(ctx: CommandContext, client: Client, input: OrderInput): Promise<number> {
  const { failAt: _failAt, ...order } = input;
  const workflowId = choreographyWorkflowId(input.orderId);
  let r: ChoreographedOrderResult;
  try {
    r = await client.workflow.execute<typeof choreographedOrder>('choreographedOrder', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [order],
      staticSummary: `${orderSummary(input)} (choreographed)`,
      staticDetails:
        'Choreography: OrderPlaced -> StockReserved|StockRejected -> PaymentCompleted|PaymentFailed -> StockReleased',
      typedSearchAttributes: [
        { key: SA.pattern, value: 'choreography' },
        { key: SA.businessKey, value: input.orderId },
        { key: SA.status, value: 'running' },
      ],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw usageError(`order ${input.orderId} already exists (${workflowId})`);
    throw err;
  }
  const forward = new Set(['OrderPlaced', 'StockReserved', 'PaymentCompleted']);
  const doc = {
    workflowId,
    orderId: input.orderId,
    mode: 'choreography',
    status: r.status === 'confirmed' ? 'completed' : 'compensated',
    orderStatus: r.status,
    steps: r.events.filter((e) => forward.has(e.topic)).map((e) => e.topic),
    compensations: r.events.filter((e) => e.topic === 'StockReleased').map((e) => e.topic),
    events: r.events,
  };
  if (ctx.json) ctx.emit(doc);
  else {
    ctx.out(`Order ${input.orderId}: ${r.status} by the services' events  (${workflowId})`);
    for (const e of r.events)
      ctx.out(`  ${e.service.padEnd(9)} ${e.topic}${e.reason ? `  (${e.reason})` : ''}`);
  }
  return EXIT.ok;
}

export const orderStatus: Command = {
  name: 'order status',
  summary: "Show an order saga's state: its step ledger while it runs, its outcome once done.",
  usage: 'order status <workflowId> [--json]',
  examples: ['settle order status order-o-123', 'settle order status order-o-123 --json'],
  options: {},
  positionals: [{ name: 'workflowId', required: true }],
  async run(ctx) {
    const id = ctx.positionals[0]!;
    const client = await ctx.client();
    // Accept a bare order id too.
    const view = await describeTransaction(client, id.startsWith('order-') ? id : orderWorkflowId(id));
    if (ctx.json) ctx.emit(view);
    else printLedger(view, ctx.out);
    return view.status === 'needs-operator' ? EXIT.attention : EXIT.ok;
  },
};
