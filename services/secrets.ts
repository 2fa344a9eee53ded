// Per-install secrets of the local stack, kept as 0600 files in a 0700 directory under the data dir. A secret is
// generated once (random bytes) and read back on every start; nothing else stores it (stack.json holds a masked
// URL, child processes never get it in their environment).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Create `dir` if needed and close it to everyone but its owner. */
export function privateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

export const secretsDir = (dataDir: string): string => join(dataDir, 'secrets');

/** Write a file readable by its owner only (created 0600 under a temporary name, then renamed into place). */
export function writePrivateFile(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * The secret `name` of this install: read from <dataDir>/secrets/<name>, or generated (`bytes` random bytes,
 * hex) on first use. A file that others can read is tightened to 0600 first.
 */
export function installSecret(dataDir: string, name: string, bytes = 32): string {
  const dir = privateDir(secretsDir(dataDir));
  const path = join(dir, name);
  if (existsSync(path)) {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    const value = readFileSync(path, 'utf8').trim();
    if (value) return value;
  }
  const value = randomBytes(bytes).toString('hex');
  writePrivateFile(path, `${value}\n`);
  return value;
}

/** The secret if it exists, without creating it. */
export function readInstallSecret(dataDir: string, name: string): string | undefined {
  const path = join(secretsDir(dataDir), name);
  if (!existsSync(path)) return undefined;
  return readFileSync(path, 'utf8').trim() || undefined;
}

export const MASK = '***';

/** A database URL with its password replaced by ***, for files and logs. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, `:${MASK}@`);
  }
}

/** Put the password back into a masked URL of the local stack (the superuser's, from its 0600 file). */
export function unmaskUrl(url: string, dataDir: string): string {
  const u = new URL(url);
  if (u.password !== MASK && u.password !== encodeURIComponent(MASK)) return url;
  const password = readInstallSecret(dataDir, PG_SUPERUSER_SECRET);
  if (!password)
    throw new Error(
      `stack.json holds a masked database URL and ${secretsDir(dataDir)} has no password for it (for a server of your own, set DATABASE_URL)`,
    );
  u.password = password;
  return u.toString();
}

export const PG_SUPERUSER_SECRET = 'postgres-superuser-password';
export const TCC_KEY_SECRET = 'tcc-hmac-key';

/**
 * The local stack's data directory when no one passes one: SETTLE_DATA_DIR or <checkout>/.data (the same rule as
 * client/config.ts DATA_DIR, which services cannot import).
 */
export function defaultDataDir(): string {
  return resolve(process.env.SETTLE_DATA_DIR ?? join(__dirname, '..', '.data'));
}
