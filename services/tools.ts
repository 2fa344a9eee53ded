// Typed access to the Temporal binaries located (or installed) by scripts/bootstrap.js.
import { join } from 'node:path';

interface Bootstrap {
  resolveAll(opts: { install: boolean }): Record<'temporal' | 'temporal-test-server', string>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bootstrap = require(join(__dirname, '..', 'scripts', 'bootstrap.js')) as Bootstrap;

let cached: { temporal: string; testServer: string } | undefined;

export function temporalBinaries(): { temporal: string; testServer: string } {
  if (!cached) {
    const found = bootstrap.resolveAll({ install: true });
    cached = { temporal: found.temporal, testServer: found['temporal-test-server'] };
  }
  return cached;
}
