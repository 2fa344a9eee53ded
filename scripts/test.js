#!/usr/bin/env node
// `npm test`: makes sure the Temporal binaries are there (and Chromium, when a Web UI browser test is selected:
// scripts/chromium.js finds or installs it, or stops the run with an instruction; never skipped), then runs every test/**/*.test.ts (or the files and
// folders given as arguments) with node's test runner through tsx, one file at a time (2-core machines; each
// integration file starts its own PostgreSQL and Temporal server).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { resolveAll } = require('./bootstrap');
const { provisionChromium } = require('./chromium');

const ROOT = path.resolve(__dirname, '..');

function collect(target, out) {
  const stat = fs.statSync(target);
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(target).sort()) {
      if (name === 'node_modules' || name === 'fixtures' || name === 'helpers') continue;
      collect(path.join(target, name), out);
    }
  } else if (target.endsWith('.test.ts')) {
    out.push(path.relative(ROOT, target));
  }
  return out;
}

try {
  resolveAll({ install: true });
} catch (err) {
  process.stderr.write(`[test] ${err.message}\n`);
  process.exit(1);
}
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const targets = args.filter((a) => !a.startsWith('--'));
const files = (targets.length ? targets : ['test']).flatMap((t) => collect(path.resolve(ROOT, t), []));
if (files.length === 0) {
  process.stderr.write('[test] no test files found\n');
  process.exit(1);
}
// The browser tests are the Web UI suites (test/e2e/browser.ts launches the path provisioned here).
const env = { ...process.env };
if (files.some((f) => /^test[\\/]e2e[\\/]web-ui/.test(f))) {
  try {
    env.SETTLE_CHROMIUM_PATH = provisionChromium({ install: true });
  } catch (err) {
    process.stderr.write(`[test] the Web UI browser tests need Chromium: ${err.message}\n`);
    process.exit(1);
  }
}
const tsx = require.resolve('tsx/cli', { paths: [ROOT] });
const res = spawnSync(process.execPath, [tsx, '--test', '--test-concurrency=1', ...flags, ...files], {
  cwd: ROOT,
  stdio: 'inherit',
  env,
});
process.exit(res.status === null ? 1 : res.status);
