// The quick failure matrix (`npm run chaos -- --quick`) inside `npm test`: every pattern and every fault kind,
// on one real stack (embedded PostgreSQL, Temporal dev server, a chaos worker process that is SIGKILLed and
// restarted), each cell ending with the global invariants read straight from the databases. A red cell is a
// failing test named after the cell, with the command that reruns it.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { cellName, QUICK_CELLS, rerunCommand } from '../../scripts/chaos/cells';
import type { CellResult } from '../../scripts/chaos/drive';
import { runOnStack } from '../../scripts/chaos/session';
import { quietRuntime } from '../helpers/env';

describe('chaos: the quick failure matrix', { timeout: 20 * 60_000 }, () => {
  let results: CellResult[] = [];
  before(
    async () => {
      quietRuntime();
      results = await runOnStack(QUICK_CELLS, {
        closeTimeoutMs: 120_000,
        quiesceTimeoutMs: 30_000,
        log: () => undefined,
      });
    },
    { timeout: 20 * 60_000 },
  );

  for (const cell of QUICK_CELLS)
    it(cellName(cell), () => {
      const r = results.find((x) => x.pattern === cell.pattern && x.fault === cell.fault && x.at === cell.at);
      assert.ok(r, 'the cell ran');
      assert.deepEqual(r.violations, [], `violations (rerun: ${rerunCommand(cell)})`);
    });
});
