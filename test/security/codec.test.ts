// The codec endpoint as an attacker on the same host (or a web page) sees it: it decrypts history payloads, so
// only the Web UI's one origin, or the holder of the configured token, may use it; /encode is off; CORS does not
// echo what the caller asks for. The codec itself: a payload copied into another workflow is refused, and a
// malformed key setting never prints key material.
import { defaultPayloadConverter } from '@temporalio/common';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AesGcmCodec,
  encryptionKeysFromEnv,
  payloadToJson,
  startCodecServer,
  type JsonPayload,
} from '../../services/codec';

function note(what: string, answer: unknown): void {
  process.stdout.write(`attempt ${what}: ${JSON.stringify(answer)}\n`);
}

const key = randomBytes(32).toString('base64');
const codec = AesGcmCodec.fromEnv({ SETTLE_ENCRYPTION_KEY: key, SETTLE_ENCRYPTION_KEY_ID: 'k1' })!;
const origin = 'http://localhost:18233';
const SECRET = { customerId: 'cust-secret-42', cardLast4: '4242' };
const wf = (workflowId: string) => ({ type: 'workflow' as const, namespace: 'default', workflowId });

describe('codec endpoint access', () => {
  const token = randomBytes(24).toString('hex');
  let open: Awaited<ReturnType<typeof startCodecServer>>;
  let guarded: Awaited<ReturnType<typeof startCodecServer>>;
  let body: { payloads: JsonPayload[] };
  before(async () => {
    open = await startCodecServer(codec, { port: 0, allowedOrigins: [origin] });
    guarded = await startCodecServer(codec, { port: 0, allowedOrigins: [origin], token });
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(SECRET)], wf('order-1'));
    body = { payloads: [payloadToJson(enc!)] };
  });
  after(async () => {
    await open?.close();
    await guarded?.close();
  });
  const post = async (url: string, path: string, headers: Record<string, string>) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      leaked:
        text.includes(Buffer.from(JSON.stringify(SECRET)).toString('base64').slice(0, 12)) ||
        text.includes('cust-secret'),
      text: text.slice(0, 160),
    };
  };

  it('decrypt without an Origin and without a token is refused', async () => {
    const r = await post(open.url, '/decode', {});
    note('codec /decode, no Origin, no token', r);
    assert.equal(r.status, 401);
  });

  it('with a token configured: no token, a wrong token, or just the right Origin is refused; the token works', async () => {
    const none = await post(guarded.url, '/decode', {});
    const wrong = await post(guarded.url, '/decode', { authorization: 'Bearer nope-nope-nope-nope' });
    const originOnly = await post(guarded.url, '/decode', { origin });
    note('codec /decode with token configured, none sent', none);
    note('codec /decode with a wrong token', wrong);
    note('codec /decode with the UI Origin but no token', originOnly);
    for (const r of [none, wrong, originOnly]) {
      assert.equal(r.status, 401);
      assert.equal(r.leaked, false);
    }
    const ok = await post(guarded.url, '/decode', { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
  });

  it('a foreign Origin is refused and no CORS header is granted; a preflight gets the fixed header list', async () => {
    const evil = await fetch(`${open.url}/decode`, {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
      body: '{}',
    });
    note('codec /decode from http://evil.example', evil.status);
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(`${open.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-evil,cookie',
      },
    });
    note('codec preflight asking for x-evil', pre.headers.get('access-control-allow-headers'));
    assert.equal(pre.headers.get('access-control-allow-headers'), 'Content-Type, X-Namespace, Authorization');
    assert.equal(pre.headers.get('access-control-allow-origin'), origin);
  });

  it("/encode is off unless asked for; '*' and several origins are refused", async () => {
    const enc = await post(open.url, '/encode', { origin });
    note('codec /encode (not enabled)', enc.status);
    assert.equal(enc.status, 404);
    await assert.rejects(startCodecServer(codec, { port: 0, allowedOrigins: ['*'] }), /refuses origin '\*'/);
    await assert.rejects(
      startCodecServer(codec, { port: 0, allowedOrigins: [origin, 'http://127.0.0.1:18233'] }),
      /exactly one/,
    );
  });
});

describe('codec payload binding and key errors', () => {
  it('a payload copied into another workflow is refused; its own workflow and the codec endpoint open it', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(SECRET)], wf('transfer-a'));
    const [own] = await codec.decode([enc!], wf('transfer-a'));
    assert.deepEqual(defaultPayloadConverter.fromPayload(own!), SECRET);
    const moved = await codec.decode([enc!], wf('transfer-b')).catch((e: Error) => e);
    note(
      'decode a payload of transfer-a inside transfer-b',
      moved instanceof Error ? moved.message : 'opened',
    );
    assert.ok(moved instanceof Error);
    assert.match(moved.message, /moved between workflows/);
    // Stripping the binding from the metadata breaks the authentication instead.
    const stripped = { ...enc!, metadata: { ...enc!.metadata } };
    delete stripped.metadata['encryption-binding'];
    await assert.rejects(codec.decode([stripped], wf('transfer-b')), /failed authentication/);
    const [viaEndpoint] = await codec.decode([enc!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(viaEndpoint!), SECRET);
  });

  it('an old-keys entry without an id does not print any of the key', () => {
    const secret = randomBytes(32).toString('base64');
    let message = '';
    try {
      encryptionKeysFromEnv({ SETTLE_ENCRYPTION_KEY: key, SETTLE_ENCRYPTION_OLD_KEYS: secret });
    } catch (err) {
      message = (err as Error).message;
    }
    note('SETTLE_ENCRYPTION_OLD_KEYS=<key without id> error', message);
    assert.match(message, /must be id:base64/);
    for (let i = 0; i + 6 <= secret.length; i++)
      assert.ok(!message.includes(secret.slice(i, i + 6)), 'no 6 characters of the key appear in the error');
  });
});
