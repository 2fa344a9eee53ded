#!/usr/bin/env node
// The `settle` bin: runs the TypeScript CLI through tsx (no build step).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const tsx = require.resolve('tsx/cli', { paths: [path.join(__dirname, '..')] });
const res = spawnSync(
  process.execPath,
  [tsx, path.join(__dirname, '..', 'client', 'cli.ts'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);
process.exit(res.status === null ? 1 : res.status);
