// `settle order place` (the order saga, orchestrated or choreographed) and `settle order status`.
import {
  ORDER_STEPS,
  orderSummary,
  orderWorkflowId,
  TASK_QUEUES,
  validateOrderInput,
  type OrderInput,
  type OrderStep,
  type SagaResult,
} from '../../shared';
import { choreographyWorkflowId, type ChoreographedOrderResult } from '../../shared/events';
import { canonicalStatus } from '../../shared/status';
import { EXIT, intFlag, str, usageError, type Command, type CommandContext } from '../cli-kit';
import { amountFlag, moneyInText } from '../money';
import { checkRefsExist } from '../refs';
import { reportSagaResult, requireFlags } from '../saga-command';
import { BUSINESS_ID_OPTION, idFields, START_OPTIONS, startAndAwait, type StartSpec } from '../start';
import { choreographyLedger, findByIdOrBusinessKey } from '../lookup';
import { printAnyTransaction } from './status';

function newOrderId(): string {
  return `o-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

const MODES = ['orchestration', 'choreography'] as const;

/** The argv of `settle order place` for one order, flags in the order its usage lists them, then `extra`. */
export function orderPlaceArgv(
  o: { customer: string; sku: string; qty: number; amount: string; failAt?: OrderStep; orderId?: string },
  extra: string[] = [],
): string[] {
  return [
    'order',
    'place',
    '--customer',
    o.customer,
    '--sku',
    o.sku,
    '--qty',
    String(o.qty),
    '--amount',
    o.amount,
    ...(o.failAt ? ['--fail-at', o.failAt] : []),
    ...(o.orderId ? ['--order-id', o.orderId] : []),
    ...extra,
  ];
}

export const orderPlace: Command = {
  name: 'order place',
  summary:
    'Place an order: runs the order saga (create order -> reserve stock -> charge -> notify) and waits for its outcome.',
  usage:
    'order place --customer ID --sku SKU --qty N --amount N [--order-id ID] [--fail-at STEP] [--mode orchestration|choreography] [--detach] [--timeout DURATION] [--json]',
  examples: [
    'settle order place --customer alice --sku SKU-1 --qty 2 --amount 30',
    'settle order place --customer alice --sku SKU-1 --qty 1 --amount 15 --fail-at charge --json',
    'settle order place --customer bob --sku SKU-2 --qty 1 --amount 9.99 --detach   # start and return; then: settle watch <id>',
    'settle order place --customer carol --sku SKU-1 --qty 1 --amount 5 --mode choreography   # services react to events; no orchestrator',
  ],
  options: {
    customer: {
      type: 'string',
      placeholder: 'ID',
      description: 'the paying customer (a wallet: settle wallet show ID)',
    },
    sku: { type: 'string', placeholder: 'SKU', description: 'the product (stock in the inventory service)' },
    qty: { type: 'string', placeholder: 'N', description: 'how many, 1-1000000' },
    amount: {
      type: 'string',
      placeholder: 'N',
      description: 'the price in money, e.g. 30 or 9.99 (positive, at most 2 decimals)',
    },
    'order-id': BUSINESS_ID_OPTION,
    'fail-at': {
      type: 'string',
      placeholder: 'STEP',
      description: 'inject a failure at this step (demos and tests; orchestration only)',
      choices: ORDER_STEPS,
    },
    mode: {
      type: 'string',
      placeholder: 'MODE',
      description: 'orchestrated saga, or services reacting to events',
      choices: MODES,
      default: 'orchestration',
    },
    ...START_OPTIONS,
  },
  async run(ctx) {
    const v = ctx.values;
    requireFlags(v, ['customer', 'sku', 'qty', 'amount'], orderPlace.usage);
    const input: OrderInput = {
      orderId: str(v['order-id']) ?? newOrderId(),
      customerId: str(v.customer)!,
      sku: str(v.sku)!,
      qty: intFlag('qty', v.qty, { min: 1, max: 1_000_000 })!,
      amountCents: amountFlag(v.amount),
    };
    const failAt = str(v['fail-at']);
    if (failAt !== undefined) input.failAt = failAt as OrderStep;
    const errors = validateOrderInput(input);
    const mode = str(v.mode) ?? 'orchestration';
    if (!(MODES as readonly string[]).includes(mode))
      errors.push(`--mode must be orchestration or choreography, got '${mode}'`);
    if (mode === 'choreography' && input.failAt) errors.push('--fail-at is for --mode orchestration');
    if (errors.length) throw usageError(errors.join('\n'));
    await checkRefsExist([
      {
        service: 'payments',
        table: 'wallets',
        column: 'customer_id',
        value: input.customerId,
        what: 'customer',
        seeWith: 'settle wallet show <customer>',
      },
      {
        service: 'inventory',
        table: 'stock',
        column: 'sku',
        value: input.sku,
        what: 'SKU',
        seeWith: 'docs: seeded SKUs',
      },
    ]);
    return mode === 'choreography' ? placeChoreographed(ctx, input) : placeOrchestrated(ctx, input);
  },
};

async function placeOrchestrated(ctx: CommandContext, input: OrderInput): Promise<number> {
  const spec: StartSpec = {
    noun: 'order',
    workflowType: 'orderSaga',
    workflowId: orderWorkflowId(input.orderId),
    businessKey: input.orderId,
    pattern: 'saga',
    taskQueue: TASK_QUEUES.orchestration,
    args: [input],
    initialStatus: 'running',
    staticSummary: orderSummary(input),
    staticDetails: `Saga: create order -> reserve stock -> charge payment -> send notification${input.failAt ? ` (fault injected at ${input.failAt})` : ''}`,
    customer: input.customerId,
    legacyKey: 'orderId',
    followWith: `settle watch ${orderWorkflowId(input.orderId)}`,
    stopWhenParked: true,
  };
  const started = await startAndAwait<SagaResult>(ctx, spec);
  if (started.done) return started.exitCode;
  return reportSagaResult(ctx, spec, started.runId, started.result, {
    title: `Order ${input.orderId}`,
    extra: { mode: 'orchestration' },
    markNoopCompensations: true,
  });
}

const FORWARD_TOPICS = new Set(['OrderPlaced', 'StockReserved', 'PaymentCompleted']);
const REJECTION_TOPICS = new Set(['StockRejected', 'PaymentFailed']);

/** The choreographed variant: the services settle the order between themselves through their outboxes. */
async function placeChoreographed(ctx: CommandContext, input: OrderInput): Promise<number> {
  const { failAt: _failAt, ...order } = input;
  const workflowId = choreographyWorkflowId(input.orderId);
  const spec: StartSpec = {
    noun: 'order',
    workflowType: 'choreographedOrder',
    workflowId,
    businessKey: input.orderId,
    pattern: 'choreography',
    taskQueue: TASK_QUEUES.orchestration,
    args: [order],
    initialStatus: 'running',
    staticSummary: `${orderSummary(input)} (choreographed)`,
    staticDetails:
      'Choreography: OrderPlaced -> StockReserved|StockRejected -> PaymentCompleted|PaymentFailed -> StockReleased',
    customer: input.customerId,
    legacyKey: 'orderId',
    followWith: `settle status ${workflowId}`,
  };
  const started = await startAndAwait<ChoreographedOrderResult>(ctx, spec);
  if (started.done) return started.exitCode;
  const r = started.result;
  const rejection = r.events.find((e) => REJECTION_TOPICS.has(e.topic));
  const doc = {
    ...idFields(spec, started.runId),
    mode: 'choreography',
    status: canonicalStatus('choreography', r.status),
    orderStatus: r.status,
    steps: r.events.filter((e) => FORWARD_TOPICS.has(e.topic)).map((e) => e.topic),
    compensations: r.events.filter((e) => e.topic === 'StockReleased').map((e) => e.topic),
    failure: rejection
      ? {
          step: rejection.topic,
          type: rejection.topic,
          message: moneyInText(rejection.reason ?? rejection.topic),
        }
      : undefined,
    ledger: choreographyLedger(r),
    events: r.events,
  };
  if (ctx.json) ctx.emit(doc);
  else {
    ctx.out(`Order ${input.orderId}: ${doc.status} by the services' events  (${workflowId})`);
    for (const e of r.events)
      ctx.out(`  ${e.service.padEnd(9)} ${e.topic}${e.reason ? `  (${moneyInText(e.reason)})` : ''}`);
  }
  return EXIT.ok;
}

export const orderStatus: Command = {
  name: 'order status',
  summary:
    "Show an order's state, orchestrated or choreographed: its step ledger while it runs, its outcome once done.",
  usage: 'order status <workflowId|orderId> [--json]',
  examples: [
    'settle order status order-o-123',
    'settle order status o-123 --json   # the order id works too',
  ],
  options: {},
  positionals: [{ name: 'workflowId|orderId', required: true }],
  async run(ctx) {
    const view = await findByIdOrBusinessKey(await ctx.client(), ctx.positionals[0]!, {
      candidates: (id) => [orderWorkflowId(id), choreographyWorkflowId(id)],
    });
    if (ctx.json) ctx.emit(view);
    else printAnyTransaction(view, ctx.out);
    return view.status === 'needs-operator' ? EXIT.attention : EXIT.ok;
  },
};
