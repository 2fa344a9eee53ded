// The participant services' PostgreSQL: embedded (the npm package ships the binaries; we run them ourselves)
// unless DATABASE_URL points at a server of the user's own. Each service gets its own database on it, migrated
// on start.
//
// What the embedded server is locked down to (issue 14):
//  - a random superuser password per install (<data dir>/secrets/postgres-superuser-password, 0600; an install
//    made before, with the old fixed password, is moved to a random one on its next start), SCRAM-SHA-256 for
//    every connection (pg_hba.conf is rewritten on each start), TCP on 127.0.0.1 only, its Unix socket in a
//    directory only the server's account can enter;
//  - the server's environment is cleaned (services/processes.ts childEnv): no host secret can be read back
//    through /proc/<pid>/environ;
//  - as root, the server runs as the 'postgres' account with its cluster in /var/lib/settle/clusters/<id>
//    (0700, owned by postgres), so the data dir itself stays 0700 and root's; binaries it cannot reach in the
//    checkout are run from a verified copy (services/pg-binaries.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import {
  postgresUser,
  runnableBinaries,
  SHARED_BINARIES_DIR,
  type PgBinaries,
  type PgUser,
} from './pg-binaries';
import { childEnv, reapStale } from './processes';
import { installSecret, maskUrl, PG_SUPERUSER_SECRET, privateDir } from './secrets';

export interface PostgresHandle {
  /** Base URL of the server as its superuser (database part replaced per service). Never written to a file. */
  url: string;
  /** The same URL with the password replaced by ***: for stack.json and logs. */
  maskedUrl: string;
  embedded: boolean;
  dataDir?: string;
  port?: number;
  /** Embedded: the cluster directory (postmaster.pid lives here) and the private directory holding both. */
  pgdata?: string;
  clusterDir?: string;
  /** Embedded only: the postmaster's pid, and a promise settled when it exits (the host supervises it). */
  pid?: number;
  exited?: Promise<string>;
  /** Embedded only: start it again with the same options (after a crash: the host's supervisor). */
  restart?: () => Promise<PostgresHandle>;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** The data dir whose secrets/ folder holds the superuser password (default dataDir). */
  secretsDataDir?: string;
  /** Prepared transactions for 2PC: must be > 0, and at least the number of concurrent 2PC branches. */
  maxPreparedTransactions?: number;
  maxConnections?: number;
  log?: (line: string) => void;
}

const SUPERUSER = 'postgres';
/** The password every install had before it was generated per install; refused from now on. */
const LEGACY_PASSWORD = 'settle';
export const CLUSTERS_DIR = join(SHARED_BINARIES_DIR, 'clusters');

const HBA = [
  '# Written by Settle on every start (services/postgres.ts): password (SCRAM) logins only.',
  'local all all scram-sha-256',
  'host  all all 127.0.0.1/32 scram-sha-256',
  'host  all all ::1/128 scram-sha-256',
  '',
].join('\n');

/** A directory only the server's account can enter. */
function serverPrivateDir(dir: string, user: PgUser | undefined): string {
  privateDir(dir);
  if (user) chownSync(dir, user.uid, user.gid);
  return dir;
}

/**
 * Where the cluster lives: inside the data dir when we run the server as ourselves; as root (server runs as
 * 'postgres', which must not enter the root-owned 0700 data dir) in CLUSTERS_DIR, keyed by the data dir's path.
 * A cluster an earlier version kept elsewhere is moved here.
 */
function clusterHome(dataDir: string, user: PgUser | undefined): string {
  if (!user) return dataDir;
  const id = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
  mkdirSync(CLUSTERS_DIR, { recursive: true, mode: 0o755 });
  chmodSync(SHARED_BINARIES_DIR, 0o755);
  chmodSync(CLUSTERS_DIR, 0o755);
  const home = serverPrivateDir(join(CLUSTERS_DIR, id), user);
  const legacy = [
    join(dataDir, 'pgdata'),
    join(
      tmpdir(),
      `settle-pg-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`,
      'pgdata',
    ),
  ];
  const target = join(home, 'pgdata');
  for (const old of legacy) {
    if (existsSync(join(target, 'PG_VERSION')) || !existsSync(join(old, 'PG_VERSION'))) continue;
    try {
      renameSync(old, target);
    } catch {
      cpSync(old, target, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      rmSync(old, { recursive: true, force: true });
    }
  }
  return home;
}

function run(bin: string, args: string[], user: PgUser | undefined, log?: (m: string) => void): ChildProcess {
  const child = spawn(bin, args, {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: childEnv({ LC_MESSAGES: 'C' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Always drained (a full pipe would stall the server's logging).
  child.stdout?.on('data', (c: Buffer) => log?.(c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => log?.(c.toString('utf8')));
  return child;
}

async function initdb(
  bins: PgBinaries,
  home: string,
  pgdata: string,
  password: string,
  user: PgUser | undefined,
  log?: (m: string) => void,
): Promise<void> {
  const pwfile = join(home, '.initdb-password');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);
  let output = '';
  try {
    const child = run(
      bins.initdb,
      [
        `--pgdata=${pgdata}`,
        '--auth=scram-sha-256',
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      user,
      (m) => {
        output += m;
        log?.(m);
      },
    );
    const code = await new Promise<number | null>((done, fail) => {
      child.once('error', fail);
      child.once('exit', done);
    });
    if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${output.slice(-2000)}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** Start the postmaster and wait until it accepts connections (or fails). */
function startServer(
  bins: PgBinaries,
  pgdata: string,
  socketDir: string,
  opts: EmbeddedPostgresOptions,
  user: PgUser | undefined,
): Promise<{ child: ChildProcess; exited: Promise<string> }> {
  let ready = false;
  let tail = '';
  return new Promise((resolveStart, rejectStart) => {
    const child = run(
      bins.postgres,
      [
        '-D',
        pgdata,
        '-p',
        String(opts.port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${socketDir}`,
        '-c',
        'unix_socket_permissions=0700',
        '-c',
        'password_encryption=scram-sha-256',
        '-c',
        `max_prepared_transactions=${opts.maxPreparedTransactions ?? 128}`,
        '-c',
        `max_connections=${opts.maxConnections ?? 300}`,
        '-c',
        'fsync=on',
      ],
      user,
      (m) => {
        opts.log?.(m);
        if (ready) return;
        tail = (tail + m).slice(-4000);
        if (tail.includes('database system is ready to accept connections')) {
          ready = true;
          resolveStart({ child, exited });
        }
      },
    );
    const exited = new Promise<string>((done) =>
      child.once('exit', (code, signal) => {
        done(signal ? `signal ${signal}` : `code ${code}`);
        if (!ready)
          rejectStart(new Error(`PostgreSQL exited on start (${signal ?? code}): ${tail.slice(-2000)}`));
      }),
    );
    child.once('error', rejectStart);
  });
}

/** An install made with the old fixed password gets its generated one (once; the old one is then refused). */
async function ensureSuperuserPassword(
  port: number,
  password: string,
  log?: (m: string) => void,
): Promise<void> {
  const login = async (pw: string): Promise<Client> => {
    const c = new Client({ host: '127.0.0.1', port, user: SUPERUSER, password: pw, database: 'postgres' });
    await c.connect();
    return c;
  };
  try {
    await (await login(password)).end();
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '28P01') throw err;
  }
  const c = await login(LEGACY_PASSWORD);
  try {
    if (!/^[0-9a-f]+$/.test(password)) throw new Error('the generated password must be hex');
    await c.query(`ALTER ROLE ${SUPERUSER} PASSWORD '${password}'`);
    log?.("PostgreSQL superuser password changed from the old fixed one to this install's generated one");
  } finally {
    await c.end();
  }
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<PostgresHandle> {
  const dataDir = privateDir(opts.dataDir);
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  const bins = runnableBinaries(user, opts.log);
  const home = clusterHome(dataDir, user);
  const pgdata = join(home, 'pgdata');
  // A postmaster orphaned by a crashed run still holds the data directory; stop it (SIGINT = fast shutdown).
  await reapStale(join(pgdata, 'postmaster.pid'), 'postgres', 'SIGINT');
  const password = installSecret(opts.secretsDataDir ?? dataDir, PG_SUPERUSER_SECRET);
  const fresh = !existsSync(join(pgdata, 'PG_VERSION'));
  if (fresh) await initdb(bins, home, pgdata, password, user, opts.log);
  writeFileSync(join(pgdata, 'pg_hba.conf'), HBA, { mode: 0o600 });
  if (user) chownSync(join(pgdata, 'pg_hba.conf'), user.uid, user.gid);
  const socketDir = serverPrivateDir(join(home, 'socket'), user);
  const { child, exited } = await startServer(bins, pgdata, socketDir, opts, user);
  let dead = false;
  void exited.then(() => (dead = true));
  const stop = async (): Promise<void> => {
    if (dead) return;
    child.kill('SIGINT'); // fast shutdown: active transactions rolled back, prepared ones kept
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    if (!fresh) await ensureSuperuserPassword(opts.port, password, opts.log);
  } catch (err) {
    await stop();
    throw err;
  }
  const url = `postgres://${SUPERUSER}:${password}@127.0.0.1:${opts.port}/postgres`;
  return {
    url,
    maskedUrl: maskUrl(url),
    embedded: true,
    dataDir,
    port: opts.port,
    pgdata,
    clusterDir: home,
    pid: child.pid,
    exited,
    restart: () => startEmbeddedPostgres(opts),
    stop,
  };
}

export function externalPostgres(url: string): PostgresHandle {
  return { url, maskedUrl: maskUrl(url), embedded: false, stop: () => Promise.resolve() };
}
