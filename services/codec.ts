// Payload encryption: an AES-256-GCM PayloadCodec, so customer data in Temporal histories (inputs, results,
// summaries, query answers, failure messages) is stored as ciphertext. It runs where payloads cross the wire (the
// client, the worker's main thread, the codec HTTP endpoint for the Web UI), never in the workflow sandbox.
//
// Wire format of an encrypted payload:
//   metadata.encoding          = "binary/encrypted"
//   metadata.encryption-key-id = the id of the key that sealed it (so keys can rotate: old ids stay decryptable)
//   metadata.encryption-cipher = "AES-256-GCM"
//   data = version (1 byte) | IV (12 bytes) | GCM tag (16 bytes) | ciphertext of the original payload
// The original payload (its metadata and data) is framed as: u16 entry count, per entry (u16 key length, key,
// u32 value length, value), then the data. The GCM additional data authenticates the version, the key id and
// (version 2) metadata.encryption-binding = "<namespace>/<workflow id>" of the workflow owning the payload (from
// the SDK's serialization context): a payload moved to another key id fails authentication, and one copied into
// another workflow is refused wherever the decoder knows the workflow (workers, clients). Version 1 payloads
// (written before the binding) still open.
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
/** 1: AAD = version + key id. 2: AAD also binds the owning namespace and workflow id (encryption-binding). */
const VERSION = 2;
const VERSIONS = [1, 2];
export const BINDING_METADATA = 'encryption-binding';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export class EncryptionConfigError extends Error {
  override name = 'EncryptionConfigError';
}

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface EncryptionKeys {
  /** Seals new payloads. Absent: decode-only (reading old histories after encryption was turned off). */
  current?: EncryptionKey;
  /** Every key that can open a payload, by id (the current one included). */
  all: Map<string, Buffer>;
}

function decodeKey(name: string, b64: string): Buffer {
  const text = b64.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new EncryptionConfigError(`${name} is not base64`);
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32)
    throw new EncryptionConfigError(
      `${name} must be 32 bytes (base64 of 32 random bytes: openssl rand -base64 32), got ${key.length}`,
    );
  return key;
}

/** A stable id for a key when none is configured: the first 8 bytes of its SHA-256, so it names the key without revealing it. */
export function keyFingerprint(key: Buffer): string {
  return `k-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/**
 * Keys from configuration (the caller passes process.env; only entry points read the environment):
 *   SETTLE_ENCRYPTION_KEY       base64 of 32 bytes: seals new payloads
 *   SETTLE_ENCRYPTION_KEY_ID    its id, stored in each payload's metadata (default: a fingerprint of the key)
 *   SETTLE_ENCRYPTION_OLD_KEYS  "id:base64,id:base64": retired keys, still able to open older payloads
 * Undefined when no key is configured (payloads are then stored as plain JSON, as Temporal does by default).
 */
export function encryptionKeysFromEnv(env: Record<string, string | undefined>): EncryptionKeys | undefined {
  const keyText = env.SETTLE_ENCRYPTION_KEY?.trim();
  const idText = env.SETTLE_ENCRYPTION_KEY_ID?.trim();
  const oldText = env.SETTLE_ENCRYPTION_OLD_KEYS?.trim();
  if (!keyText && idText)
    throw new EncryptionConfigError('SETTLE_ENCRYPTION_KEY_ID is set but SETTLE_ENCRYPTION_KEY is not');
  if (!keyText && !oldText) return undefined;
  const all = new Map<string, Buffer>();
  const entries = (oldText ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [index, entry] of entries.entries()) {
    const at = entry.indexOf(':');
    if (at <= 0)
      throw new EncryptionConfigError(
        // Never any of the entry's characters: without an id, the entry is the key itself.
        `SETTLE_ENCRYPTION_OLD_KEYS entry ${index + 1} of ${entries.length} must be id:base64 (it has no id)`,
      );
    const id = entry.slice(0, at);
    if (!KEY_ID_RE.test(id))
      throw new EncryptionConfigError(
        `SETTLE_ENCRYPTION_OLD_KEYS: invalid key id '${id}' (letters, digits, . _ -)`,
      );
    if (all.has(id))
      throw new EncryptionConfigError(`SETTLE_ENCRYPTION_OLD_KEYS: key id '${id}' appears twice`);
    all.set(id, decodeKey(`SETTLE_ENCRYPTION_OLD_KEYS key '${id}'`, entry.slice(at + 1)));
  }
  let current: EncryptionKey | undefined;
  if (keyText) {
    const key = decodeKey('SETTLE_ENCRYPTION_KEY', keyText);
    const id = idText || keyFingerprint(key);
    if (!KEY_ID_RE.test(id))
      throw new EncryptionConfigError(
        `SETTLE_ENCRYPTION_KEY_ID must be 1-64 letters, digits, . _ -, got '${id}'`,
      );
    const old = all.get(id);
    if (old && !old.equals(key))
      throw new EncryptionConfigError(
        `key id '${id}' names two different keys (SETTLE_ENCRYPTION_KEY and SETTLE_ENCRYPTION_OLD_KEYS)`,
      );
    current = { id, key };
    all.set(id, key);
  }
  return { current, all };
}

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const text = (b: Uint8Array | null | undefined): string | undefined =>
  b ? Buffer.from(b).toString('utf8') : undefined;

/** Serialise a payload (metadata + data) into one buffer; see the header comment for the layout. */
export function framePayload(p: Payload): Buffer {
  const entries = Object.entries(p.metadata ?? {});
  const parts: Buffer[] = [];
  const count = Buffer.alloc(2);
  count.writeUInt16BE(entries.length);
  parts.push(count);
  for (const [k, v] of entries) {
    const key = Buffer.from(k, 'utf8');
    const head = Buffer.alloc(6);
    head.writeUInt16BE(key.length, 0);
    head.writeUInt32BE(v?.length ?? 0, 2);
    parts.push(head.subarray(0, 2), key, head.subarray(2), Buffer.from(v ?? new Uint8Array()));
  }
  parts.push(Buffer.from(p.data ?? new Uint8Array()));
  return Buffer.concat(parts);
}

export function unframePayload(buf: Buffer): Payload {
  let at = 0;
  const need = (n: number): void => {
    if (at + n > buf.length) throw new Error('encrypted payload is truncated');
  };
  need(2);
  const count = buf.readUInt16BE(at);
  at += 2;
  const metadata: Record<string, Uint8Array> = {};
  for (let i = 0; i < count; i++) {
    need(2);
    const kl = buf.readUInt16BE(at);
    at += 2;
    need(kl);
    const k = buf.subarray(at, at + kl).toString('utf8');
    at += kl;
    need(4);
    const vl = buf.readUInt32BE(at);
    at += 4;
    need(vl);
    metadata[k] = new Uint8Array(buf.subarray(at, at + vl));
    at += vl;
  }
  return { metadata, data: new Uint8Array(buf.subarray(at)) };
}

/**
 * What a payload is bound to: the namespace and workflow id of the workflow (or of the activity's workflow) that
 * owns it, from the SDK's serialization context (experimental in 1.24). Which field of that workflow the payload
 * is (input, result, an activity's argument) is not in the context, so it is not bound.
 */
export function bindingOf(context: SerializationContext | undefined): string {
  if (!context?.workflowId) return '';
  return `${context.namespace}/${context.workflowId}`;
}

const aad = (version: number, keyId: string, binding: string): Buffer =>
  Buffer.from(version === 1 ? `settle:v1:${keyId}` : `settle:v${version}:${keyId}:${binding}`, 'utf8');

export function isEncrypted(p: Payload): boolean {
  return text(p.metadata?.encoding) === ENCRYPTED_ENCODING;
}

/** Run synchronous crypto, reporting failures as a rejected promise (the PayloadCodec contract). */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export class AesGcmCodec implements PayloadCodec {
  constructor(readonly keys: EncryptionKeys) {}

  static fromEnv(env: Record<string, string | undefined>): AesGcmCodec | undefined {
    const keys = encryptionKeysFromEnv(env);
    return keys ? new AesGcmCodec(keys) : undefined;
  }

  /** The id that seals new payloads (undefined in decode-only mode). */
  get keyId(): string | undefined {
    return this.keys.current?.id;
  }

  encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const current = this.keys.current;
    if (!current) return Promise.resolve(payloads);
    const binding = bindingOf(context);
    return settle(() => payloads.map((p) => (isEncrypted(p) ? p : this.seal(p, current, binding))));
  }

  /**
   * Opens payloads; the binding recorded in each is authenticated, and when the caller knows whose payload it
   * is decoding (a worker or client passes the serialization context) it must be that workflow's: a payload
   * copied into another workflow's history is refused. The codec endpoint (no context) opens any bound payload.
   */
  decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const expected = bindingOf(context);
    return settle(() => payloads.map((p) => (isEncrypted(p) ? this.open(p, expected) : p)));
  }

  private seal(p: Payload, { id, key }: EncryptionKey, binding: string): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(VERSION, id, binding));
    const body = Buffer.concat([cipher.update(framePayload(p)), cipher.final()]);
    return {
      metadata: {
        encoding: utf8(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8(id),
        [CIPHER_METADATA]: utf8(CIPHER),
        ...(binding ? { [BINDING_METADATA]: utf8(binding) } : {}),
      },
      data: Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]),
    };
  }

  private open(p: Payload, expected: string): Payload {
    const id = text(p.metadata?.[KEY_ID_METADATA]);
    if (!id) throw new Error('encrypted payload has no encryption-key-id');
    const key = this.keys.all.get(id);
    if (!key)
      throw new Error(
        `payload was encrypted with key '${id}', which is not configured (add it to SETTLE_ENCRYPTION_OLD_KEYS as ${id}:<base64>)`,
      );
    const data = Buffer.from(p.data ?? new Uint8Array());
    if (data.length < 1 + IV_BYTES + TAG_BYTES) throw new Error('encrypted payload is truncated');
    const version = data[0]!;
    if (!VERSIONS.includes(version)) throw new Error(`unknown encrypted payload version ${version}`);
    const binding = text(p.metadata?.[BINDING_METADATA]) ?? '';
    if (version > 1 && expected && binding && binding !== expected)
      throw new Error(`encrypted payload belongs to ${binding}, not ${expected} (moved between workflows)`);
    const iv = data.subarray(1, 1 + IV_BYTES);
    const tag = data.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad(version, id, binding));
    decipher.setAuthTag(tag);
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new Error(
        `encrypted payload failed authentication with key '${id}' (wrong key or tampered data)`,
      );
    }
    return unframePayload(plain);
  }
}

/** The data converter for clients and workers: the codec, and failure messages moved into encrypted attributes. */
export function encryptionDataConverter(
  codec: PayloadCodec | undefined,
): { payloadCodecs: PayloadCodec[]; failureConverterPath: string } | undefined {
  if (!codec) return undefined;
  return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** Loaded by the worker (and bundled into the workflow sandbox): see services/failure-converter.ts. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

// ---- The codec server protocol (what the Web UI and `temporal --codec-endpoint` call) -------------------------

/** A payload as proto3 JSON: bytes fields in base64. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadFromJson(j: JsonPayload): Payload {
  if (j === null || typeof j !== 'object') throw new Error('payload must be an object');
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(j.metadata ?? {})) {
    if (typeof v !== 'string') throw new Error(`metadata '${k}' must be a base64 string`);
    metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  }
  if (j.data !== undefined && typeof j.data !== 'string') throw new Error('data must be a base64 string');
  return { metadata, data: new Uint8Array(Buffer.from(j.data ?? '', 'base64')) };
}

export function payloadToJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {}))
    metadata[k] = Buffer.from(v ?? new Uint8Array()).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

export interface CodecServerOptions {
  /**
   * The one browser origin allowed to call (the Web UI's, e.g. http://localhost:8233). Exactly one; '*' is
   * refused (the endpoint answers with credentials allowed). A request without an Origin header (curl, the
   * temporal CLI, another local process) is not from a browser: it must present the token.
   */
  allowedOrigins: string[];
  /**
   * Shared bearer token (SETTLE_CODEC_TOKEN): when set, every /encode and /decode request must carry
   * `Authorization: Bearer <token>` (the Web UI's "pass access token" setting, `temporal --codec-auth`).
   * A plain shared secret compared in constant time; JWT validation is not implemented.
   */
  token?: string;
  /** Serve /encode (anyone allowed in could otherwise make ciphertext under the key). Default off. */
  allowEncode?: boolean;
  /** Largest request body accepted (default 16 MiB). */
  maxBodyBytes?: number;
  log?: (msg: string) => void;
}

const ROUTE = /^\/(?:[^/]+\/)?(encode|decode)\/?$/;
/** The headers the Web UI and the CLI send; nothing else is allowed in a preflight. */
const ALLOWED_HEADERS = 'Content-Type, X-Namespace, Authorization';

/** Refuse configurations that would open the endpoint to every site. */
export function checkCodecServerOptions(opts: CodecServerOptions): void {
  if (opts.allowedOrigins.length !== 1)
    throw new Error(
      `the codec endpoint allows exactly one browser origin (the Web UI's), got ${opts.allowedOrigins.length}: ${opts.allowedOrigins.join(', ')}`,
    );
  const origin = opts.allowedOrigins[0]!;
  if (origin === '*' || origin === 'null')
    throw new Error(`the codec endpoint refuses origin '${origin}' (credentials are allowed)`);
  if (!/^https?:\/\/[^/\s]+$/.test(origin))
    throw new Error(`'${origin}' is not an origin (scheme://host[:port])`);
  if (opts.token !== undefined && opts.token.length < 16)
    throw new Error('the codec token must be at least 16 characters');
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(Object.assign(new Error(`request body larger than ${max} bytes`), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The HTTP handler of a codec server: POST /encode and /decode (also /{namespace}/encode|decode) with
 * {"payloads": [...]} in proto3 JSON, CORS for the Web UI's origin, GET /health.
 */
export function codecHttpHandler(
  codec: PayloadCodec,
  opts: CodecServerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  checkCodecServerOptions(opts);
  const max = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const allowed = opts.allowedOrigins[0]!;
  const send = (res: ServerResponse, status: number, body?: unknown): void => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== allowed) {
      send(res, 403, { error: `origin ${origin} is not allowed (SETTLE_CODEC_ORIGINS)` });
      return;
    }
    res.setHeader('Vary', 'Origin');
    if (origin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', allowed);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'OPTIONS') {
      send(res, 204);
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      send(res, 200, { ok: true });
      return;
    }
    const m = ROUTE.exec(path);
    if (!m || (m[1] === 'encode' && !opts.allowEncode)) {
      send(res, 404, { error: `not found: POST /decode${opts.allowEncode ? ' or /encode' : ''}` });
      return;
    }
    if (req.method !== 'POST') {
      send(res, 405, { error: 'use POST' });
      return;
    }
    // Who may ask: with a token configured, only its holders; without one, only the Web UI's origin (a
    // request with no Origin is not a browser's, and without a token nothing vouches for it).
    if (
      opts.token !== undefined ? !bearerMatches(req.headers.authorization, opts.token) : origin === undefined
    ) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      send(res, 401, {
        error:
          opts.token !== undefined
            ? 'a valid Authorization: Bearer token is required'
            : 'requests must come from the Web UI origin (or configure SETTLE_CODEC_TOKEN)',
      });
      return;
    }
    const op = m[1] as 'encode' | 'decode';
    readBody(req, max)
      .then(async (raw) => {
        let body: { payloads?: JsonPayload[] };
        try {
          body = JSON.parse(raw.toString('utf8')) as { payloads?: JsonPayload[] };
        } catch {
          send(res, 400, { error: 'body must be JSON: {"payloads": [...]}' });
          return;
        }
        if (!body || !Array.isArray(body.payloads)) {
          send(res, 400, { error: 'body must be {"payloads": [...]}' });
          return;
        }
        let payloads: Payload[];
        try {
          payloads = body.payloads.map(payloadFromJson);
        } catch (err) {
          send(res, 400, { error: (err as Error).message });
          return;
        }
        try {
          const out = op === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
          send(res, 200, { payloads: out.map(payloadToJson) });
        } catch (err) {
          opts.log?.(`codec ${op} failed: ${(err as Error).message}`);
          send(res, 422, { error: (err as Error).message });
        }
      })
      .catch((err: Error & { status?: number }) => send(res, err.status ?? 400, { error: err.message }));
  };
}

/** Listen on host:port; resolves with the server and its URL once it accepts connections. */
export async function startCodecServer(
  codec: PayloadCodec,
  opts: CodecServerOptions & { port: number; host?: string },
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const handler = codecHttpHandler(codec, opts);
  const server = createServer(handler);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The codec endpoint's access settings from configuration (entry points pass process.env):
 *   SETTLE_CODEC_ORIGIN (or the older SETTLE_CODEC_ORIGINS, which must then name one) default http://localhost:<ui>
 *   SETTLE_CODEC_TOKEN  shared bearer token required on every request (recommended on a shared host)
 *   SETTLE_CODEC_ENCODE=1  also serve /encode
 */
export function codecAccessFromEnv(
  env: Record<string, string | undefined>,
  uiPort: number,
): Pick<CodecServerOptions, 'allowedOrigins' | 'token' | 'allowEncode'> {
  const origins = (env.SETTLE_CODEC_ORIGIN || env.SETTLE_CODEC_ORIGINS || `http://localhost:${uiPort}`)
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return {
    allowedOrigins: origins,
    ...(env.SETTLE_CODEC_TOKEN ? { token: env.SETTLE_CODEC_TOKEN } : {}),
    allowEncode: env.SETTLE_CODEC_ENCODE === '1',
  };
}
