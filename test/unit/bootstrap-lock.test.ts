// Two processes bootstrapping at once (a test run and the chaos matrix, two CI jobs on one clone) used to
// pip-install into the same venv together; the second then spawned a binary the first was still writing
// (spawn ETXTBSY). The install now runs under .tools/install.lock: this proves two concurrent holders never
// overlap and that a lock left by a dead process is taken over.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const BOOTSTRAP = resolve(__dirname, '../../scripts/bootstrap.js');

/** A process that holds the lock while it writes "<tag> in", waits, then "<tag> out" to the log. */
function holder(dir: string, log: string, tag: string): Promise<number | null> {
  const code = `
    const fs = require('node:fs');
    const { withInstallLock } = require(${JSON.stringify(BOOTSTRAP)});
    withInstallLock(() => {
      fs.appendFileSync(${JSON.stringify(log)}, '${tag} in\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
      fs.appendFileSync(${JSON.stringify(log)}, '${tag} out\\n');
    }, ${JSON.stringify(dir)});`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'inherit' });
  return new Promise((r) => child.once('exit', r));
}

describe('bootstrap install lock', () => {
  it('serialises two concurrent installs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'settle-lock-'));
    const log = join(dir, 'log');
    writeFileSync(log, '');
    assert.deepEqual(await Promise.all([holder(dir, log, 'a'), holder(dir, log, 'b')]), [0, 0]);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(lines.length, 4);
    // Each holder's "in" is followed by its own "out": the two critical sections never interleave.
    assert.equal(lines[0]!.split(' ')[0], lines[1]!.split(' ')[0]);
    assert.equal(lines[2]!.split(' ')[0], lines[3]!.split(' ')[0]);
    assert.deepEqual(
      lines.map((l) => l.split(' ')[1]),
      ['in', 'out', 'in', 'out'],
    );
  });

  it('takes over a lock whose holder died', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'settle-lock-'));
    const log = join(dir, 'log');
    writeFileSync(log, '');
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(join(dir, 'install.lock'), String(dead.pid));
    assert.equal(await holder(dir, log, 'c'), 0);
    assert.equal(readFileSync(log, 'utf8'), 'c in\nc out\n');
  });
});
