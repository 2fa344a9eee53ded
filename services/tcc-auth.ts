// Request signing between the TCC activities (the coordinator's side) and the TCC participant server. Anyone
// on the host can reach a loopback port, and any web page a developer opens can POST to one, so the server
// accepts only requests signed with the install's key:
//
//   x-settle-timestamp  milliseconds since the epoch (accepted within ±30 s of the server's clock)
//   x-settle-nonce      16 random bytes, hex (each accepted once within the window: a replay is refused)
//   x-settle-signature  hex HMAC-SHA256(key, METHOD \n path+query \n timestamp \n nonce \n hex SHA-256(body))
//
// The key: SETTLE_TCC_KEY (64 hex characters, or base64 of at least 32 bytes) or, for the local stack, a random
// key generated once per install into <data dir>/secrets/tcc-hmac-key (0600).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { defaultDataDir, installSecret, TCC_KEY_SECRET } from './secrets';

export const TCC_SIGNATURE_HEADERS = {
  timestamp: 'x-settle-timestamp',
  nonce: 'x-settle-nonce',
  signature: 'x-settle-signature',
} as const;

export const TCC_SIGNATURE_WINDOW_MS = 30_000;

export class TccKeyError extends Error {
  override name = 'TccKeyError';
}

function parseKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64,}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  // Never echo the value: only its length.
  if (key.length < 32)
    throw new TccKeyError(
      `SETTLE_TCC_KEY must be 64 hex characters or base64 of at least 32 bytes (got ${key.length} bytes)`,
    );
  return key;
}

/** The TCC signing key: SETTLE_TCC_KEY, or this install's generated key file. */
export function tccKey(
  env: Record<string, string | undefined> = process.env,
  dataDir = defaultDataDir(),
): Buffer {
  const fromEnv = env.SETTLE_TCC_KEY;
  if (fromEnv) return parseKey(fromEnv);
  return parseKey(installSecret(dataDir, TCC_KEY_SECRET));
}

const sha256 = (body: string | Buffer): string => createHash('sha256').update(body).digest('hex');

function signature(
  key: Buffer,
  method: string,
  path: string,
  ts: string,
  nonce: string,
  body: string | Buffer,
) {
  return createHmac('sha256', key)
    .update(`${method.toUpperCase()}\n${path}\n${ts}\n${nonce}\n${sha256(body)}`)
    .digest('hex');
}

/** The headers that sign one request (path includes the query string). */
export function signTccRequest(
  key: Buffer,
  req: { method: string; path: string; body: string },
  now = Date.now(),
  nonce = randomBytes(16).toString('hex'),
): Record<string, string> {
  const ts = String(now);
  return {
    [TCC_SIGNATURE_HEADERS.timestamp]: ts,
    [TCC_SIGNATURE_HEADERS.nonce]: nonce,
    [TCC_SIGNATURE_HEADERS.signature]: signature(key, req.method, req.path, ts, nonce, req.body),
  };
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks signatures and remembers the nonces it accepted for twice the window, so each signed request is
 * served once. (After a restart the cache is empty: a request captured in the last 30 s could be replayed
 * once; every TCC call is idempotent at the participant's barrier, so that replay repeats an answer and
 * changes nothing.)
 */
export class TccVerifier {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly key: Buffer,
    private readonly windowMs = TCC_SIGNATURE_WINDOW_MS,
  ) {}

  verify(
    req: {
      method: string;
      path: string;
      body: Buffer;
      headers: Record<string, string | string[] | undefined>;
    },
    now = Date.now(),
  ): Verdict {
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const ts = header(TCC_SIGNATURE_HEADERS.timestamp);
    const nonce = header(TCC_SIGNATURE_HEADERS.nonce);
    const sig = header(TCC_SIGNATURE_HEADERS.signature);
    if (!ts || !nonce || !sig) return { ok: false, reason: 'the request is not signed' };
    if (!/^\d{1,15}$/.test(ts) || !/^[0-9a-f]{32}$/.test(nonce) || !/^[0-9a-f]{64}$/.test(sig))
      return { ok: false, reason: 'malformed signature headers' };
    if (Math.abs(now - Number(ts)) > this.windowMs)
      return { ok: false, reason: 'the signature has expired (or the clocks differ by more than 30 s)' };
    const expected = Buffer.from(signature(this.key, req.method, req.path, ts, nonce, req.body), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return { ok: false, reason: 'bad signature' };
    this.forgetOld(now);
    if (this.seen.has(nonce)) return { ok: false, reason: 'replayed request (nonce already used)' };
    this.seen.set(nonce, now);
    return { ok: true };
  }

  private forgetOld(now: number): void {
    for (const [n, at] of this.seen) {
      if (now - at <= 2 * this.windowMs) break; // insertion order = time order
      this.seen.delete(n);
    }
  }
}
