// The AES-GCM payload codec and its HTTP endpoint, without a server: round trips through Temporal's own payload
// converter, key rotation, tampering, configuration errors, the codec server protocol and its CORS rules.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AesGcmCodec,
  encryptionKeysFromEnv,
  ENCRYPTED_ENCODING,
  framePayload,
  KEY_ID_METADATA,
  keyFingerprint,
  payloadToJson,
  startCodecServer,
  unframePayload,
  type JsonPayload,
} from '../../services/codec';

const b64 = (): string => randomBytes(32).toString('base64');
const meta = (p: Payload, k: string): string | undefined =>
  p.metadata?.[k] ? Buffer.from(p.metadata[k]).toString() : undefined;
const SECRET = { customerId: 'cust-7f3a-alice', note: 'personal data' };

describe('payload codec (AES-256-GCM)', () => {
  const k1 = b64();
  const k2 = b64();

  it('frames and unframes payloads exactly', () => {
    const p = defaultPayloadConverter.toPayload(SECRET);
    const back = unframePayload(framePayload(p));
    assert.deepEqual(Buffer.from(back.data!), Buffer.from(p.data!));
    assert.deepEqual(Object.keys(back.metadata!).sort(), Object.keys(p.metadata!).sort());
    assert.throws(() => unframePayload(framePayload(p).subarray(0, 5)), /truncated/);
  });

  it('encrypts: ciphertext only on the wire, the original back after decode', async () => {
    const codec = AesGcmCodec.fromEnv({ SETTLE_ENCRYPTION_KEY: k1, SETTLE_ENCRYPTION_KEY_ID: 'k1' })!;
    const plain = defaultPayloadConverter.toPayload(SECRET);
    const [enc] = await codec.encode([plain]);
    assert.equal(meta(enc!, 'encoding'), ENCRYPTED_ENCODING);
    assert.equal(meta(enc!, KEY_ID_METADATA), 'k1');
    assert.ok(!Buffer.from(enc!.data!).toString('latin1').includes(SECRET.customerId));
    assert.ok(
      !JSON.stringify(payloadToJson(enc!)).includes(
        Buffer.from(SECRET.customerId).toString('base64').slice(0, 12),
      ),
    );
    // Fresh IV every time: the same value never encrypts to the same bytes.
    const [again] = await codec.encode([plain]);
    assert.notDeepEqual(Buffer.from(again!.data!), Buffer.from(enc!.data!));
    const [dec] = await codec.decode([enc!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(dec!), SECRET);
    // Idempotent both ways: an encrypted payload is not encrypted twice, a plain one passes decode untouched.
    const [twice] = await codec.encode([enc!]);
    assert.equal(twice, enc);
    const [untouched] = await codec.decode([plain]);
    assert.equal(untouched, plain);
  });

  it('rotates keys: old payloads stay readable with the old key listed, and fail clearly without it', async () => {
    const before = AesGcmCodec.fromEnv({ SETTLE_ENCRYPTION_KEY: k1, SETTLE_ENCRYPTION_KEY_ID: 'k1' })!;
    const [old] = await before.encode([defaultPayloadConverter.toPayload(SECRET)]);
    const rotated = AesGcmCodec.fromEnv({
      SETTLE_ENCRYPTION_KEY: k2,
      SETTLE_ENCRYPTION_KEY_ID: 'k2',
      SETTLE_ENCRYPTION_OLD_KEYS: `k1:${k1}`,
    })!;
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!), SECRET);
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(SECRET)]);
    assert.equal(meta(fresh!, KEY_ID_METADATA), 'k2');
    const withoutOld = AesGcmCodec.fromEnv({ SETTLE_ENCRYPTION_KEY: k2, SETTLE_ENCRYPTION_KEY_ID: 'k2' })!;
    await assert.rejects(
      withoutOld.decode([old!]),
      /key 'k1', which is not configured.*SETTLE_ENCRYPTION_OLD_KEYS/,
    );
    // Decode-only: encryption turned off, old histories still readable.
    const decodeOnly = AesGcmCodec.fromEnv({ SETTLE_ENCRYPTION_OLD_KEYS: `k1:${k1}` })!;
    assert.equal(decodeOnly.keyId, undefined);
    const plain = defaultPayloadConverter.toPayload(SECRET);
    assert.equal((await decodeOnly.encode([plain]))[0], plain);
    assert.deepEqual(defaultPayloadConverter.fromPayload((await decodeOnly.decode([old!]))[0]!), SECRET);
  });

  it('detects tampering and a payload moved to another key id', async () => {
    const codec = AesGcmCodec.fromEnv({
      SETTLE_ENCRYPTION_KEY: k1,
      SETTLE_ENCRYPTION_KEY_ID: 'k1',
      SETTLE_ENCRYPTION_OLD_KEYS: `k2:${k2}`,
    })!;
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(SECRET)]);
    const flipped = Buffer.from(enc!.data!);
    flipped[flipped.length - 1]! ^= 1;
    await assert.rejects(codec.decode([{ ...enc!, data: flipped }]), /failed authentication with key 'k1'/);
    const moved = { ...enc!, metadata: { ...enc!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await assert.rejects(codec.decode([moved]), /failed authentication with key 'k2'/);
  });

  it('validates configuration before anything starts', () => {
    assert.equal(encryptionKeysFromEnv({}), undefined);
    assert.throws(
      () => encryptionKeysFromEnv({ SETTLE_ENCRYPTION_KEY: Buffer.alloc(16).toString('base64') }),
      /must be 32 bytes/,
    );
    assert.throws(() => encryptionKeysFromEnv({ SETTLE_ENCRYPTION_KEY: 'not base64!' }), /not base64/);
    assert.throws(
      () => encryptionKeysFromEnv({ SETTLE_ENCRYPTION_KEY_ID: 'k1' }),
      /SETTLE_ENCRYPTION_KEY is not/,
    );
    assert.throws(
      () => encryptionKeysFromEnv({ SETTLE_ENCRYPTION_KEY: k1, SETTLE_ENCRYPTION_KEY_ID: 'bad id' }),
      /KEY_ID/,
    );
    assert.throws(
      () => encryptionKeysFromEnv({ SETTLE_ENCRYPTION_KEY: k1, SETTLE_ENCRYPTION_OLD_KEYS: 'nocolon' }),
      /id:base64/,
    );
    assert.throws(
      () =>
        encryptionKeysFromEnv({ SETTLE_ENCRYPTION_KEY: k1, SETTLE_ENCRYPTION_OLD_KEYS: `a:${k2},a:${k2}` }),
      /twice/,
    );
    assert.throws(
      () =>
        encryptionKeysFromEnv({
          SETTLE_ENCRYPTION_KEY: k1,
          SETTLE_ENCRYPTION_KEY_ID: 'a',
          SETTLE_ENCRYPTION_OLD_KEYS: `a:${k2}`,
        }),
      /names two different keys/,
    );
    // Without an id, the key names itself by fingerprint (stable, and not the key).
    const keys = encryptionKeysFromEnv({ SETTLE_ENCRYPTION_KEY: k1 })!;
    assert.equal(keys.current!.id, keyFingerprint(Buffer.from(k1, 'base64')));
    assert.ok(!keys.current!.id.includes(k1.slice(0, 8)));
  });
});

describe('codec server protocol', () => {
  const key = b64();
  const codec = AesGcmCodec.fromEnv({ SETTLE_ENCRYPTION_KEY: key, SETTLE_ENCRYPTION_KEY_ID: 'ui' })!;
  const origin = 'http://localhost:18233';
  let server: Awaited<ReturnType<typeof startCodecServer>>;
  before(async () => {
    server = await startCodecServer(codec, { port: 0, allowedOrigins: [origin] });
  });
  after(async () => {
    await server?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      // From the Web UI's page (its Origin), unless the test says otherwise.
      headers: { 'Content-Type': 'application/json', Origin: origin, ...headers },
      body: JSON.stringify(body),
    });

  it('decodes what the workers encoded, under /decode and /{namespace}/decode', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(SECRET)]);
    for (const path of ['/decode', '/default/decode']) {
      const res = await post(
        path,
        { payloads: [payloadToJson(enc!)] },
        { 'X-Namespace': 'default', Origin: origin },
      );
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('access-control-allow-origin'), origin);
      const body = (await res.json()) as { payloads: JsonPayload[] };
      const p = body.payloads[0]!;
      assert.equal(Buffer.from(p.metadata!.encoding!, 'base64').toString(), 'json/plain');
      assert.deepEqual(JSON.parse(Buffer.from(p.data!, 'base64').toString()), SECRET);
    }
  });

  it('encodes for the UI (e.g. starting a workflow from it) when /encode is turned on', async () => {
    assert.equal((await post('/encode', { payloads: [] })).status, 404, '/encode is off by default');
    const withEncode = await startCodecServer(codec, {
      port: 0,
      allowedOrigins: [origin],
      allowEncode: true,
    });
    const res = await fetch(`${withEncode.url}/encode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: origin },
      body: JSON.stringify({ payloads: [payloadToJson(defaultPayloadConverter.toPayload(SECRET))] }),
    });
    await withEncode.close();
    const body = (await res.json()) as { payloads: JsonPayload[] };
    assert.equal(Buffer.from(body.payloads[0]!.metadata!.encoding!, 'base64').toString(), ENCRYPTED_ENCODING);
    assert.ok(!Buffer.from(body.payloads[0]!.data!, 'base64').toString('latin1').includes(SECRET.customerId));
  });

  it('answers CORS preflight for the UI origin only', async () => {
    const ok = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace',
      },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), origin);
    assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-namespace/i);
    const evil = await post('/decode', { payloads: [] }, { Origin: 'http://evil.example' });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });

  it('rejects bad requests with a status and a reason', async () => {
    assert.equal((await fetch(`${server.url}/decode`)).status, 405);
    assert.equal((await post('/nope', { payloads: [] })).status, 404);
    const notJson = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { Origin: origin },
      body: '{nope',
    });
    assert.equal(notJson.status, 400);
    assert.equal((await post('/decode', { other: 1 })).status, 400);
    const foreign = await post('/decode', {
      payloads: [
        {
          metadata: {
            encoding: Buffer.from(ENCRYPTED_ENCODING).toString('base64'),
            [KEY_ID_METADATA]: Buffer.from('zz').toString('base64'),
          },
          data: 'AAAA',
        },
      ],
    });
    assert.equal(foreign.status, 422);
    assert.match(((await foreign.json()) as { error: string }).error, /key 'zz'/);
  });
});
