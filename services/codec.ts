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
// u32 value length, value), then the data. The key id is authenticated (GCM additional data), so moving a
// payload's metadata to another key id fails authentication instead of decrypting with the wrong key.
import type { Payload, PayloadCodec } from '@temporalio/common';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
const VERSION = 1;
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
  for (const entry of (oldText ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = entry.indexOf(':');
    if (at <= 0)
      throw new EncryptionConfigError(
        `SETTLE_ENCRYPTION_OLD_KEYS entries must be id:base64, got '${entry.slice(0, 20)}...'`,
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

const aad = (keyId: string): Buffer => Buffer.from(`settle:v${VERSION}:${keyId}`, 'utf8');

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

  encode(payloads: Payload[]): Promise<Payload[]> {
    const current = this.keys.current;
    if (!current) return Promise.resolve(payloads);
    return settle(() => payloads.map((p) => (isEncrypted(p) ? p : this.seal(p, current))));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return settle(() => payloads.map((p) => (isEncrypted(p) ? this.open(p) : p)));
  }

  private seal(p: Payload, { id, key }: EncryptionKey): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(id));
    const body = Buffer.concat([cipher.update(framePayload(p)), cipher.final()]);
    return {
      metadata: {
        encoding: utf8(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8(id),
        [CIPHER_METADATA]: utf8(CIPHER),
      },
      data: Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]),
    };
  }

  private open(p: Payload): Payload {
    const id = text(p.metadata?.[KEY_ID_METADATA]);
    if (!id) throw new Error('encrypted payload has no encryption-key-id');
    const key = this.keys.all.get(id);
    if (!key)
      throw new Error(
        `payload was encrypted with key '${id}', which is not configured (add it to SETTLE_ENCRYPTION_OLD_KEYS as ${id}:<base64>)`,
      );
    const data = Buffer.from(p.data ?? new Uint8Array());
    if (data.length < 1 + IV_BYTES + TAG_BYTES) throw new Error('encrypted payload is truncated');
    if (data[0] !== VERSION) throw new Error(`unknown encrypted payload version ${data[0]}`);
    const iv = data.subarray(1, 1 + IV_BYTES);
    const tag = data.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad(id));
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
  /** Browser origins allowed to call (the Web UI's, e.g. http://localhost:8233); '*' allows any. */
  allowedOrigins: string[];
  /** Largest request body accepted (default 16 MiB). */
  maxBodyBytes?: number;
  log?: (msg: string) => void;
}

const ROUTE = /^\/(?:[^/]+\/)?(encode|decode)\/?$/;

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
  const max = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const anyOrigin = opts.allowedOrigins.includes('*');
  const send = (res: ServerResponse, status: number, body?: unknown): void => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin) {
      if (!anyOrigin && !opts.allowedOrigins.includes(origin)) {
        send(res, 403, { error: `origin ${origin} is not allowed (SETTLE_CODEC_ORIGINS)` });
        return;
      }
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS');
      res.setHeader(
        'Access-Control-Allow-Headers',
        req.headers['access-control-request-headers'] ?? 'Content-Type, X-Namespace, Authorization',
      );
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
    if (!m) {
      send(res, 404, { error: 'not found: POST /encode or /decode' });
      return;
    }
    if (req.method !== 'POST') {
      send(res, 405, { error: 'use POST' });
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
  const server = createServer(codecHttpHandler(codec, opts));
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
