// `npm run chaos`: the failure matrix. For each pattern, one real stack (PostgreSQL, Temporal dev server, a
// chaos worker process it can kill), every selected cell on it in turn with distinct ids, the invariants read
// from the databases after each. Prints the matrix (pattern x fault: passed/failed, quiesce p50/max) and one
// line per violation with the command that reruns its cell; exit 1 on any violation.
//
//   npm run chaos                       the full matrix
//   npm run chaos -- --quick            a sample covering every pattern and every fault kind
//   npm run chaos -- --pattern 2pc-2 --fault late-commit --at prepare:bank-b
//   npm run chaos -- --json             one document: {"cells": [...], "violations": N}
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseArgs } from 'node:util';
import { FAULTS, selectCells, type Cell } from './cells';
import { PATTERNS } from './patterns';
import { formatMatrix, formatViolations } from './report';
import { runOnStack, type PatternRunOptions } from './session';
import type { CellResult } from './drive';

function usage(msg: string): never {
  process.stderr.write(
    `${msg}\nusage: npm run chaos -- [--quick] [--pattern ${PATTERNS.join('|')}] [--fault ${FAULTS.join('|')}] [--at POINT] [--json]\n`,
  );
  process.exit(2);
}

async function main(): Promise<number> {
  // The harness is a test tool: the fault switches (failAt, voteNo) are honoured by its workers and servers.
  process.env.SETTLE_FAULTS = '1';
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        pattern: { type: 'string' },
        fault: { type: 'string' },
        at: { type: 'string' },
        quick: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'close-timeout': { type: 'string', default: '120' },
        'quiesce-timeout': { type: 'string', default: '30' },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  for (const p of values.pattern?.split(',') ?? [])
    if (!(PATTERNS as readonly string[]).includes(p)) usage(`unknown pattern '${p}'`);
  for (const f of values.fault?.split(',') ?? [])
    if (!(FAULTS as readonly string[]).includes(f)) usage(`unknown fault '${f}'`);
  const cells = selectCells(values);
  if (cells.length === 0) usage('no cell matches (see docs/chaos.md for the points of each pattern)');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const opts: PatternRunOptions = {
    closeTimeoutMs: Number(values['close-timeout']) * 1000,
    quiesceTimeoutMs: Number(values['quiesce-timeout']) * 1000,
    log: (m) => process.stderr.write(`${m}\n`),
  };
  const started = Date.now();
  const results: CellResult[] = [];
  if (values.quick) results.push(...(await runOnStack(cells, opts)));
  else
    for (const pattern of PATTERNS) {
      const mine = cells.filter((c: Cell) => c.pattern === pattern);
      if (mine.length) results.push(...(await runOnStack(mine, opts)));
    }
  const violations = results.reduce((n, r) => n + r.violations.length, 0);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({
        cells: results.map((r) => ({
          pattern: r.pattern,
          fault: r.fault,
          at: r.at,
          passed: r.passed,
          violations: r.violations,
          ...(r.left_for_reconciliation ? { left_for_reconciliation: r.left_for_reconciliation } : {}),
          quiesce_ms: r.quiesce_ms,
        })),
        violations,
        duration_ms: Date.now() - started,
      })}\n`,
    );
  } else {
    process.stdout.write(`${formatMatrix(results)}\n`);
    const lines = formatViolations(results);
    if (lines) process.stdout.write(`\n${lines}\n`);
    process.stdout.write(
      `\n${results.length} cells, ${results.filter((r) => !r.passed).length} failed, ${violations} violations, ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
  }
  return violations > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`chaos: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
