#!/usr/bin/env node
// Finds (or installs) the headless Chromium the Web UI browser tests drive through playwright-core, the way
// scripts/bootstrap.js provisions the Temporal binaries: a path from the environment when given, else a Chromium
// already installed, else Debian's `chromium` package through apt-get when this process may install packages
// (root, or password-less sudo), else a clear instruction. Playwright's own browser download is never used.
// Plain JavaScript with no dependencies; every effect goes through `deps`, so the decisions are unit-tested.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');

/** Environment variables naming a Chromium, first set wins (SETTLE_CHROMIUM is the old name). */
const ENV_VARS = ['SETTLE_CHROMIUM_PATH', 'CHROME_PATH', 'SETTLE_CHROMIUM'];
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const PACKAGES = ['chromium', 'fonts-dejavu-core'];

function defaultDeps() {
  return {
    env: process.env,
    candidates: CANDIDATES,
    uid: typeof process.getuid === 'function' ? process.getuid() : -1,
    works(file) {
      try {
        fs.accessSync(file, fs.constants.X_OK);
      } catch {
        return false;
      }
      return spawnSync(file, ['--version'], { stdio: 'ignore', timeout: 30000 }).status === 0;
    },
    /** Runs a command with the terminal attached; returns its exit status (null when it could not start). */
    run(cmd, args, extraEnv) {
      const res = spawnSync(cmd, args, {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, ...extraEnv },
      });
      return res.error ? null : res.status;
    },
    log: (m) => process.stderr.write(`[chromium] ${m}\n`),
  };
}

function fromEnvironment(deps) {
  for (const name of ENV_VARS) {
    const file = deps.env[name];
    if (!file) continue;
    if (!deps.works(file))
      throw new Error(
        `${name}=${file} is not a working Chromium (it must be an executable that answers --version); ` +
          `fix or unset it`,
      );
    return file;
  }
  return undefined;
}

const installed = (deps) => deps.candidates.find((file) => deps.works(file));

/** How this process may run apt-get: directly as root, through `sudo -n` when that needs no password. */
function installPrefix(deps) {
  if (deps.uid === 0) return [];
  if (deps.run('sudo', ['-n', 'true']) === 0) return ['sudo', '-n'];
  return undefined;
}

function instruction() {
  return (
    `Install it and retry:\n` +
    `  sudo apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}   (Debian/Ubuntu)\n` +
    `or point SETTLE_CHROMIUM_PATH (or CHROME_PATH) at a Chromium or Chrome executable.`
  );
}

function aptInstall(prefix, deps) {
  const apt = (args) => {
    const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
    return deps.run(cmd, rest, { DEBIAN_FRONTEND: 'noninteractive' });
  };
  deps.log(`installing Debian's ${PACKAGES.join(' ')} with ${[...prefix, 'apt-get'].join(' ')}`);
  if (apt(['update', '-qq']) !== 0) throw new Error(`apt-get update failed. ${instruction()}`);
  if (apt(['install', '-y', '-qq', '--no-install-recommends', ...PACKAGES]) !== 0)
    throw new Error(`apt-get install ${PACKAGES.join(' ')} failed. ${instruction()}`);
}

/**
 * The path of a working Chromium. With `install` false, never installs: throws when none is found.
 * @param {{ install?: boolean }} opts
 * @param {Partial<ReturnType<typeof defaultDeps>>} [injected]
 */
function provisionChromium(opts = {}, injected = {}) {
  const deps = { ...defaultDeps(), ...injected };
  const given = fromEnvironment(deps);
  if (given) return given;
  const found = installed(deps);
  if (found) return found;
  if (!opts.install)
    throw new Error(`No Chromium found (looked in ${deps.candidates.join(', ')}). ${instruction()}`);
  const prefix = installPrefix(deps);
  if (!prefix)
    throw new Error(
      `No Chromium found, and this user cannot install packages (not root, no password-less sudo). ${instruction()}`,
    );
  aptInstall(prefix, deps);
  const after = installed(deps);
  if (!after)
    throw new Error(
      `apt-get installed ${PACKAGES[0]} but no working Chromium is at ${deps.candidates.join(', ')}`,
    );
  deps.log(`using ${after}`);
  return after;
}

module.exports = { provisionChromium, ENV_VARS, CANDIDATES, PACKAGES };

if (require.main === module) {
  try {
    process.stdout.write(`${provisionChromium({ install: !process.argv.includes('--no-install') })}\n`);
  } catch (err) {
    process.stderr.write(`[chromium] ${err.message}\n`);
    process.exit(1);
  }
}
