// One trace per transaction: the client that starts it, the workflow, every activity and compensation, and the
// participants' database queries, with Settle's attributes (workflow id, step, participant, gid). The spans are
// collected in memory; the workflow's leave the sandbox through the exporter sink.
import { Client } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clientTracingInterceptors } from '../../client/tracing';
import { ATTR, setupTracing, type Tracing } from '../../services/tracing';
import { WORKFLOWS_PATH } from '../../workers';
import { WORKFLOW_METRICS_MODULE } from '../../workers/metrics';
import { OTEL_WORKFLOW_MODULE } from '../../workers/tracing';
import { startOrder, startTransfer, type Started } from '../helpers/load';
import { startTestStack, type TestStack } from '../helpers/stack';

const parentId = (s: ReadableSpan): string | undefined => s.parentSpanId;

describe('tracing across client, workflow, activities and databases', () => {
  const exporter = new InMemorySpanExporter();
  let t: Tracing;
  let ts: TestStack;
  let client: Client;

  let offWithoutEndpoint: unknown = 'not checked';

  before(async () => {
    // Before anything turns it on: without an OTLP endpoint (and no processor of a test's own), tracing stays off.
    offWithoutEndpoint = setupTracing({ serviceName: 'x', env: {} });
    t = setupTracing({ serviceName: 'settle-test', spanProcessor: new SimpleSpanProcessor(exporter) })!;
    ts = await startTestStack();
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      workflowInterceptorModules: [WORKFLOW_METRICS_MODULE, OTEL_WORKFLOW_MODULE],
      logger: new DefaultLogger('ERROR'),
    });
    await ts.startWorkers({ workflowBundle, faults: true });
    client = new Client({
      connection: ts.client.connection,
      namespace: ts.stack.temporal.namespace,
      interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: t.tracer })] },
    });
  });

  after(async () => {
    await ts?.teardown();
    await t?.shutdown();
  });

  /** The spans of one transaction's trace, once its workflow span has arrived from the sandbox. */
  async function traceOf(s: Started): Promise<ReadableSpan[]> {
    await s.handle.result();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const spans = exporter.getFinishedSpans();
      const start = spans.find(
        (x) => x.name.startsWith('StartWorkflow:') && x.attributes.temporalWorkflowId === s.workflowId,
      );
      const traceId = start?.spanContext().traceId;
      const mine = spans.filter((x) => x.spanContext().traceId === traceId);
      if (start && mine.some((x) => x.name.startsWith('RunWorkflow:'))) return mine;
      if (Date.now() > deadline) throw new Error(`no complete trace for ${s.workflowId}`);
      await new Promise((r) => setImmediate(r));
    }
  }

  function assertTree(spans: ReadableSpan[], workflowId: string): Map<string, ReadableSpan> {
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const roots = spans.filter((s) => !parentId(s) || !byId.has(parentId(s)!));
    assert.deepEqual(
      roots.map((r) => r.name),
      [spans.find((s) => s.name.startsWith('StartWorkflow:'))!.name],
      'one root: the client call that started the transaction',
    );
    for (const s of spans.filter((x) => x.name.startsWith('RunActivity:'))) {
      assert.equal(s.attributes[ATTR.workflowId], workflowId, s.name);
      assert.equal(s.attributes[ATTR.step], s.name.slice('RunActivity:'.length), s.name);
      assert.ok(s.attributes[ATTR.participant], `${s.name} has a participant`);
    }
    return byId;
  }

  it('a compensated order: client -> workflow -> steps and compensations -> each service database', async () => {
    const order = await startOrder(client, true);
    const spans = await traceOf(order);
    const byId = assertTree(spans, order.workflowId);
    const ran = spans.filter((s) => s.name.startsWith('RunActivity:')).map((s) => s.name.slice(12));
    for (const compensation of ['releaseStock', 'cancelOrder'])
      assert.ok(ran.includes(compensation), ran.join());
    const db = spans.filter((s) => s.name.startsWith('pg '));
    for (const service of ['orders', 'inventory', 'payments'])
      assert.ok(
        db.some((s) => s.attributes[ATTR.participant] === service),
        `${service} database work in the trace`,
      );
    for (const q of db) {
      const parent = byId.get(parentId(q)!);
      assert.ok(parent?.name.startsWith('RunActivity:'), `${q.name} under an activity, got ${parent?.name}`);
      assert.equal(q.attributes[ATTR.step], parent!.attributes[ATTR.step]);
      assert.equal(q.attributes[ATTR.workflowId], order.workflowId);
    }
  });

  it('a 2PC transfer: each branch carries its gid and participant down to its bank database', async () => {
    const transfer = await startTransfer(client);
    const spans = await traceOf(transfer);
    assertTree(spans, transfer.workflowId);
    const branches = spans.filter((s) => s.name.startsWith('RunActivity:') && s.attributes[ATTR.gid]);
    const participants = new Set(branches.map((s) => s.attributes[ATTR.participant]));
    for (const p of ['bankA', 'bankB', 'outbox']) assert.ok(participants.has(p), [...participants].join());
    const bankQueries = spans.filter((s) => s.name === 'pg bank_a' && s.attributes[ATTR.gid]);
    assert.ok(bankQueries.length > 0, 'bank-a queries carry the branch gid');
  });

  it('is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set', () => {
    assert.equal(offWithoutEndpoint, undefined);
    assert.equal(clientTracingInterceptors({}), undefined);
  });
});
