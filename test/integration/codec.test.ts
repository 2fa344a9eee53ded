// Payload encryption against the real dev server: workers and client encrypt, the raw history (read by a client
// WITHOUT the codec) holds ciphertext only: no customer id in inputs, results, summaries, query answers or
// failure messages; the codec endpoint decodes it for the Web UI; the CLI reads it with the key and says which
// setting is missing without it.
import { Client, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AesGcmCodec,
  ENCRYPTED_ENCODING,
  encryptionDataConverter,
  FAILURE_CONVERTER_PATH,
  payloadToJson,
  startCodecServer,
  type JsonPayload,
} from '../../services/codec';
import {
  orderSummary,
  orderWorkflowId,
  SA,
  sagaProgressQuery,
  TASK_QUEUES,
  type OrderInput,
  type SagaResult,
} from '../../shared';
import { WORKFLOWS_PATH } from '../../workers';
import { cliEnv, json, runCli } from '../e2e/run-cli';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';

const KEY = randomBytes(32).toString('base64');
const KEY_ID = 'test-2026';

interface RawPayload {
  metadata?: Record<string, Uint8Array> | null;
  data?: Uint8Array | null;
}

/**
 * Every payload-shaped object (metadata.encoding + data) anywhere in a history, and every byte string and string.
 * Search attributes are payloads the server itself must read (to index them), so codecs never touch them: their
 * bytes are still checked for the customer id, but they are not expected to be encrypted.
 */
function scan(
  node: unknown,
  found: { payloads: RawPayload[]; blobs: Buffer[]; strings: string[] },
  seen = new Set<unknown>(),
  indexed = false,
): void {
  if (node === null || node === undefined || seen.has(node)) return;
  if (typeof node === 'string') {
    found.strings.push(node);
    return;
  }
  if (node instanceof Uint8Array) {
    found.blobs.push(Buffer.from(node));
    return;
  }
  if (typeof node !== 'object') return;
  seen.add(node);
  const o = node as Record<string, unknown>;
  // The SDK's own patch markers (`patched()`) carry only the patch id, written by the core without the codec.
  if (o.markerName === 'core_patch') return;
  const meta = o.metadata as Record<string, unknown> | undefined;
  if (!indexed && meta && typeof meta === 'object' && meta.encoding instanceof Uint8Array)
    found.payloads.push(o);
  for (const [k, v] of Object.entries(o)) scan(v, found, seen, indexed || k === 'searchAttributes');
}

const enc = (p: RawPayload): string => Buffer.from(p.metadata?.encoding ?? new Uint8Array()).toString();

describe('payload encryption (dev server)', () => {
  let ts: TestStack;
  let codec: AesGcmCodec;
  let secure: Client;
  const customerId = `cust-${randomBytes(6).toString('hex')}`;
  const input: OrderInput = { orderId: uniqueId('enc'), customerId, sku: 'SKU-1', qty: 1, amountCents: 1500 };
  const workflowId = orderWorkflowId(input.orderId);
  let result: SagaResult;

  before(async () => {
    ts = await startTestStack();
    codec = AesGcmCodec.fromEnv({ SETTLE_ENCRYPTION_KEY: KEY, SETTLE_ENCRYPTION_KEY_ID: KEY_ID })!;
    const dataConverter = encryptionDataConverter(codec)!;
    // The failure converter runs inside the workflow sandbox too, so it is bundled with the workflows.
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: new DefaultLogger('ERROR'),
    });
    await ts.startWorkers({ dataConverter, workflowBundle });
    secure = new Client({
      connection: ts.client.connection,
      namespace: ts.stack.temporal.namespace,
      dataConverter,
    });
    // The customer has no wallet: the charge is rejected with a message naming them, and the saga compensates.
    const handle: WorkflowHandle = await secure.workflow.start('orderSaga', {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId,
      args: [input],
      staticSummary: orderSummary(input),
      typedSearchAttributes: [
        { key: SA.pattern, value: 'saga' },
        { key: SA.businessKey, value: input.orderId },
      ],
    });
    result = (await handle.result()) as SagaResult;
  });

  after(async () => {
    await ts?.teardown();
  });

  it('runs normally for holders of the key', async () => {
    assert.equal(result.status, 'compensated');
    assert.equal(result.failure?.step, 'charge');
    assert.match(
      result.failure?.message ?? '',
      new RegExp(customerId),
      'the decoded failure names the customer',
    );
    const d = await secure.workflow.getHandle(workflowId).describe();
    assert.equal(await d.staticSummary(), orderSummary(input));
    const progress = await secure.workflow.getHandle(workflowId).query(sagaProgressQuery);
    assert.equal(progress.status, 'compensated');
  });

  it('stores ciphertext only: the raw history never contains the customer id', async () => {
    const raw = await ts.client.workflowService.getWorkflowExecutionHistory({
      namespace: ts.stack.temporal.namespace,
      execution: { workflowId },
    });
    const found = { payloads: [] as RawPayload[], blobs: [] as Buffer[], strings: [] as string[] };
    scan(raw.history, found);
    assert.ok(
      found.payloads.length >= 10,
      `expected the inputs, results, summaries and failures, found ${found.payloads.length} payloads`,
    );
    const plain = found.payloads.filter((p) => enc(p) !== ENCRYPTED_ENCODING).map(enc);
    assert.deepEqual(plain, [], 'every payload is encrypted');
    for (const p of found.payloads)
      assert.equal(Buffer.from(p.metadata![`encryption-key-id`]!).toString(), KEY_ID);
    const needle = Buffer.from(customerId);
    assert.equal(
      found.blobs.filter((b) => b.includes(needle)).length,
      0,
      'no byte field holds the customer id',
    );
    assert.deepEqual(
      found.strings.filter((s) => s.includes(customerId)),
      [],
      'no string field (failure messages) holds it',
    );
    // The scan can see the customer id: decoding the same payloads reveals it (so the check above is not vacuous).
    const decoded = await codec.decode(found.payloads);
    assert.ok(decoded.some((p) => Buffer.from(p.data ?? new Uint8Array()).includes(needle)));
    // Failure messages moved into the encrypted attributes: the plain message is the converter's placeholder.
    const failed = raw.history?.events?.find((e) => e.activityTaskFailedEventAttributes);
    assert.equal(failed?.activityTaskFailedEventAttributes?.failure?.message, 'Encoded failure');
  });

  it('the codec endpoint decodes the history for the Web UI', async () => {
    const raw = await ts.client.workflowService.getWorkflowExecutionHistory({
      namespace: ts.stack.temporal.namespace,
      execution: { workflowId },
    });
    const first = raw.history!.events![0]!;
    const input0 = first.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const body = { payloads: [input0, first.userMetadata!.summary!].map((p) => payloadToJson(p)) };
    const server = await startCodecServer(codec, { port: 0, allowedOrigins: ['http://localhost:8233'] });
    try {
      const res = await fetch(`${server.url}/decode`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Namespace': 'default',
          Origin: 'http://localhost:8233',
        },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200);
      const out = ((await res.json()) as { payloads: JsonPayload[] }).payloads.map(
        (p) => JSON.parse(Buffer.from(p.data!, 'base64').toString()) as unknown,
      );
      assert.deepEqual(out[0], input);
      assert.equal(out[1], orderSummary(input));
    } finally {
      await server.close();
    }
  });

  it('the CLI reads it with the key, and names the missing setting without it', async () => {
    const address = ts.stack.temporal.address;
    const withKey = await runCli(
      ['status', workflowId, '--json'],
      cliEnv(address, { SETTLE_ENCRYPTION_KEY: KEY, SETTLE_ENCRYPTION_KEY_ID: KEY_ID }),
    );
    assert.equal(withKey.code, 0, withKey.stderr);
    const view = json<{ status: string; summary: string; compensations: string[] }>(withKey);
    assert.equal(view.status, 'compensated');
    assert.equal(view.summary, orderSummary(input));
    const without = await runCli(['status', workflowId], cliEnv(address));
    assert.equal(without.code, 1);
    assert.match(without.stderr, /encrypted: set SETTLE_ENCRYPTION_KEY/);
    const badKey = await runCli(['status', workflowId], cliEnv(address, { SETTLE_ENCRYPTION_KEY: 'short' }));
    assert.equal(badKey.code, 2);
    assert.match(badKey.stderr, /bad encryption settings/);
  });
});
