// The worker's Prometheus endpoint against the real dev server: the SDK's runtime metrics plus Settle's own —
// outcomes per pattern, compensations by outcome, phase durations (from workflow code, through the metrics
// interceptor), and the needs-operator / running gauges computed from visibility.
// Runtime.install can run once per process: this file installs it with metrics before the test stack.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPaymentsActivities } from '../../activities/shop';
import { freePort } from '../../services/processes';
import {
  orderWorkflowId,
  resolveCompensationUpdate,
  sagaProgressQuery,
  TASK_QUEUES,
  type OrderInput,
  type OrderStep,
  type SagaResult,
} from '../../shared';
import { WORKFLOWS_PATH } from '../../workers';
import {
  GAUGES,
  installRuntime,
  startTransactionGauges,
  WORKFLOW_METRICS_MODULE,
} from '../../workers/metrics';
import { METRICS } from '../../workflows/metrics';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `where`. */
const total = (samples: Sample[], name: string, where: Record<string, string> = {}): number =>
  samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);

describe('metrics endpoint', () => {
  let ts: TestStack;
  let url: string;
  let gauges: ReturnType<typeof startTransactionGauges>;
  const parkedOrder = uniqueId('met-parked');

  const scrape = async (): Promise<Sample[]> => parsePrometheus(await (await fetch(url)).text());
  /** Scrape until `ok` holds (metrics and visibility are updated asynchronously); the last scrape otherwise. */
  const scrapeUntil = async (ok: (s: Sample[]) => boolean, timeoutMs = 20_000): Promise<Sample[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await scrape();
      if (ok(s) || Date.now() > deadline) return s;
      await gauges?.refresh();
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    const installed = installRuntime({ metricsPort: await freePort(), logger: new DefaultLogger('ERROR') });
    assert.ok(installed.url, installed.error);
    url = installed.url;
    ts = await startTestStack({ ownRuntime: true });
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      workflowInterceptorModules: [WORKFLOW_METRICS_MODULE],
      logger: new DefaultLogger('ERROR'),
    });
    // The refund of one order keeps failing (a payment gateway outage): that saga parks for an operator.
    const payments = createPaymentsActivities(ts.stack.pools.payments);
    await ts.startWorkers({
      workflowBundle,
      extraActivities: {
        payments: {
          refundPayment: (input: Parameters<typeof payments.refundPayment>[0]) => {
            if (Context.current().info.workflowExecution?.workflowId === orderWorkflowId(parkedOrder))
              throw ApplicationFailure.nonRetryable('refund gateway offline', 'GatewayDown');
            return payments.refundPayment(input);
          },
        },
      },
    });
    gauges = startTransactionGauges(ts.client, { intervalMs: 60_000 });
  });

  after(async () => {
    gauges?.stop();
    await ts?.teardown();
  });

  const order = (orderId: string, failAt?: OrderStep): OrderInput => ({
    orderId,
    customerId: 'alice',
    sku: 'SKU-1',
    qty: 1,
    amountCents: 1500,
    ...(failAt ? { failAt } : {}),
  });
  const start = (input: OrderInput) =>
    ts.client.workflow.start('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: orderWorkflowId(input.orderId),
      args: [input],
    });

  it('serves the SDK metrics and counts outcomes, compensations and phases per pattern', async () => {
    const ok = (await (await start(order(uniqueId('met-ok')))).result()) as SagaResult;
    const comp = (await (await start(order(uniqueId('met-charge'), 'charge'))).result()) as SagaResult;
    assert.equal(ok.status, 'completed');
    assert.equal(comp.status, 'compensated');
    const s = await scrapeUntil((x) => total(x, METRICS.phaseDuration + '_count', { phase: 'total' }) >= 2);
    assert.equal(
      total(s, METRICS.outcomes, { pattern: 'saga', status: 'completed', workflowType: 'orderSaga' }),
      1,
    );
    assert.equal(total(s, METRICS.outcomes, { pattern: 'saga', status: 'compensated' }), 1);
    assert.equal(
      total(s, METRICS.compensations, { compensation: 'refundPayment', outcome: 'noop' }),
      1,
      'nothing was charged',
    );
    assert.equal(
      total(s, METRICS.compensations, { compensation: 'releaseStock', outcome: 'compensated' }),
      1,
    );
    assert.equal(total(s, METRICS.compensations, { compensation: 'cancelOrder', outcome: 'compensated' }), 1);
    assert.equal(total(s, METRICS.phaseDuration + '_count', { pattern: 'saga', phase: 'forward' }), 2);
    assert.equal(total(s, METRICS.phaseDuration + '_count', { pattern: 'saga', phase: 'compensation' }), 1);
    assert.ok(total(s, METRICS.phaseDuration + '_sum', { phase: 'total' }) > 0);
    // The SDK's own runtime metrics are on the same endpoint.
    assert.equal(total(s, 'temporal_workflow_completed', { workflow_type: 'orderSaga' }), 2);
    assert.ok(total(s, 'temporal_activity_execution_failed') >= 1, 'the injected charge failure');
  });

  it('gauges the transactions that need an operator, and counts how they were resolved', async () => {
    // It fails before the pivot (notify runs after it now, and a failing forward step is never compensated), so
    // it compensates, and the refund that keeps failing parks it.
    const handle = await start(order(parkedOrder, 'charge'));
    while ((await handle.query(sagaProgressQuery)).status !== 'needs-operator')
      await new Promise((r) => setTimeout(r, 100));
    let s = await scrapeUntil((x) => total(x, GAUGES.needsOperator) === 1);
    assert.equal(total(s, GAUGES.needsOperator), 1);
    assert.equal(total(s, GAUGES.running), 1);
    assert.equal(total(s, GAUGES.stuck), 0, 'younger than the 5m threshold');
    // Counted once, when it parked (emitted from the workflow's interceptor, never again on replay).
    s = await scrapeUntil((x) => total(x, METRICS.needsOperator, { pattern: 'saga' }) >= 1);
    assert.equal(total(s, METRICS.needsOperator, { pattern: 'saga', workflowType: 'orderSaga' }), 1);

    await handle.executeUpdate(resolveCompensationUpdate, {
      args: [{ action: 'skip', reason: 'checked by hand: nothing was charged', operator: 'metrics-test' }],
    });
    const result = (await handle.result()) as SagaResult;
    assert.equal(result.status, 'compensated');
    s = await scrapeUntil(
      (x) =>
        total(x, GAUGES.needsOperator) === 0 && total(x, METRICS.outcomes, { status: 'compensated' }) === 2,
    );
    assert.equal(total(s, GAUGES.needsOperator), 0);
    assert.equal(total(s, GAUGES.running), 0);
    assert.equal(total(s, METRICS.outcomes, { pattern: 'saga', status: 'compensated' }), 2);
    assert.equal(total(s, METRICS.compensations, { compensation: 'refundPayment', outcome: 'skipped' }), 1);
    assert.equal(total(s, METRICS.phaseDuration + '_count', { phase: 'total' }), 3);
  });
});
