// `npm test` provisions the browser the Web UI tests need, as the bootstrap provisions Temporal: a path from the
// environment must be a working Chromium, and a broken one stops the run with a clear message before any test runs
// (never a cancelled browser suite).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..');

/** The runner's environment: without node:test's marker, which would make the nested runner skip every file. */
function runnerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

describe('npm test and the browser', () => {
  it('rejects a SETTLE_CHROMIUM_PATH that is not a Chromium before running the Web UI tests', () => {
    const res = spawnSync(process.execPath, ['scripts/test.js', 'test/e2e/web-ui.test.ts'], {
      cwd: ROOT,
      env: runnerEnv({ SETTLE_CHROMIUM_PATH: '/nonexistent/chromium' }),
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(res.status, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /SETTLE_CHROMIUM_PATH=\/nonexistent\/chromium is not a working Chromium/);
    // Nothing ran: no test stack started, no TAP output from the browser suite.
    assert.doesNotMatch(res.stdout, /Web UI/);
  });
});
