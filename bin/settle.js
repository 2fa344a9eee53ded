#!/usr/bin/env node
// The `settle` bin: runs the compiled CLI (dist/, built by `npm run build:cli`, which `prepare` runs at npm ci)
// when it is up to date, else the TypeScript through tsx. `settle worker ...` is a long-running
// worker process (workers/main.ts, above the CLI in the layering): it runs as a child that gets our signals, so a
// SIGTERM to `settle worker` drains it.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const tsx = require.resolve('tsx/cli', { paths: [path.join(__dirname, '..')] });
const args = process.argv.slice(2);

const ROOT = path.join(__dirname, '..');
const COMPILED_CLI = path.join(ROOT, 'dist', 'client', 'cli.js');

/** dist/client/cli.js exists and is newer than every source file the CLI is built from (a few ms of stat calls). */
function compiledCliIsFresh() {
  const fs = require('node:fs');
  let built;
  try {
    built = fs.statSync(COMPILED_CLI).mtimeMs;
  } catch {
    return false;
  }
  const newer = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    return entries.some((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return newer(p);
      return e.name.endsWith('.ts') && fs.statSync(p).mtimeMs > built;
    });
  };
  return !['client', 'shared', 'services'].some((d) => newer(path.join(ROOT, d)));
}
if (args[0] === 'worker') {
  const child = spawn(
    process.execPath,
    [tsx, path.join(__dirname, '..', 'workers', 'main.ts'), ...args.slice(1)],
    {
      stdio: 'inherit',
    },
  );
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  // A worker ended by a signal ends this process by the same signal, so a supervisor (or a test) sees how it died.
  child.on('exit', (code, signal) => {
    if (!signal) process.exit(code === null ? 1 : code);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
} else if (compiledCliIsFresh()) {
  // The compiled CLI (npm run build:cli, run by `prepare` at npm ci), in this process: no TypeScript to compile.
  require(COMPILED_CLI)
    .main(args)
    .then(
      (code) => process.exit(code),
      (err) => {
        process.stderr.write(`settle: ${(err && err.stack) || err}\n`);
        process.exit(1);
      },
    );
} else {
  // Not built, or sources changed since (a checkout being edited): the TypeScript through tsx.
  const res = spawnSync(process.execPath, [tsx, path.join(__dirname, '..', 'client', 'cli.ts'), ...args], {
    stdio: 'inherit',
  });
  process.exit(res.status === null ? 1 : res.status);
}
