// The Dockerfile that builds `settle worker` (docs/deploy.md), checked without docker: every path it copies
// exists, the install it runs has its lock file, the entry point is the real bin, and the arguments it runs the
// worker with are ones `settle worker` accepts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseWorkerArgs } from '../../workers/worker-options';

const ROOT = join(__dirname, '..', '..');

/** Instructions, continuation lines joined, comments dropped: [keyword, rest]. */
function instructions(): [string, string][] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf(' ');
      return [l.slice(0, i).toUpperCase(), l.slice(i + 1).trim()];
    });
}

const jsonArgs = (rest: string): string[] => JSON.parse(rest) as string[];

describe('Dockerfile for settle worker', () => {
  const steps = instructions();

  it('copies only paths that exist, and everything the worker imports', () => {
    const copied = steps.filter(([k]) => k === 'COPY').flatMap(([, rest]) => rest.split(/\s+/).slice(0, -1));
    for (const src of copied) assert.ok(existsSync(join(ROOT, src)), `COPY ${src}: no such path`);
    // The layers workers/main.ts reaches (shared -> services -> activities -> workflows -> client -> workers).
    for (const dir of ['shared', 'services', 'activities', 'workflows', 'client', 'workers', 'bin'])
      assert.ok(copied.includes(dir), `${dir} is copied`);
  });

  it('installs from the lock file with the tools the image has', () => {
    const from = steps.find(([k]) => k === 'FROM')![1];
    assert.match(from, /^node:20/);
    const runs = steps.filter(([k]) => k === 'RUN').map(([, r]) => r);
    assert.ok(
      runs.some((r) => /^npm ci\b/.test(r)),
      'npm ci',
    );
    assert.ok(existsSync(join(ROOT, 'package-lock.json')));
    // tsx runs the TypeScript at run time: it must be installed by npm ci (no --omit=dev).
    assert.ok(!runs.some((r) => /--omit=dev|--production/.test(r)), 'dev dependencies (tsx) kept');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
      dependencies: Record<string, string>;
    };
    assert.ok(pkg.devDependencies.tsx || pkg.dependencies.tsx);
  });

  it('runs settle worker through the real bin with arguments it accepts', () => {
    const entry = jsonArgs(steps.find(([k]) => k === 'ENTRYPOINT')![1]);
    const cmd = jsonArgs(steps.find(([k]) => k === 'CMD')![1]);
    assert.deepEqual(entry.slice(0, 3), ['node', 'bin/settle.js', 'worker']);
    assert.ok(existsSync(join(ROOT, entry[1]!)));
    assert.match(readFileSync(join(ROOT, 'bin', 'settle.js'), 'utf8'), /workers', 'main\.ts'/);
    const env = { SETTLE_METRICS_PORT: '9464' };
    const defaults = parseWorkerArgs([...entry.slice(3), ...cmd], env);
    assert.equal(defaults.metricsHost, '0.0.0.0');
    assert.ok(defaults.queues.length > 1, 'CMD --all serves every queue');
    const one = parseWorkerArgs([...entry.slice(3), '--queues', 'settle-payments'], env);
    assert.deepEqual(one.queues, ['payments']);
    const exposed = steps.find(([k]) => k === 'EXPOSE')![1];
    assert.equal(String(defaults.metricsPort), exposed);
  });
});
