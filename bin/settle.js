#!/usr/bin/env node
// The `settle` bin: runs the TypeScript CLI through tsx (no build step). `settle worker ...` is a long-running
// worker process (workers/main.ts, above the CLI in the layering): it runs as a child that gets our signals, so a
// SIGTERM to `settle worker` drains it.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const tsx = require.resolve('tsx/cli', { paths: [path.join(__dirname, '..')] });
const args = process.argv.slice(2);
if (args[0] === 'worker') {
  const child = spawn(
    process.execPath,
    [tsx, path.join(__dirname, '..', 'workers', 'main.ts'), ...args.slice(1)],
    {
      stdio: 'inherit',
    },
  );
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code) => process.exit(code === null ? 1 : code));
} else {
  const res = spawnSync(process.execPath, [tsx, path.join(__dirname, '..', 'client', 'cli.ts'), ...args], {
    stdio: 'inherit',
  });
  process.exit(res.status === null ? 1 : res.status);
}
