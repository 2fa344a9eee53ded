// The matrix table (pattern x fault -> cells passed/failed, time to quiesce p50/max) and the violation lines.
import { FAULTS, rerunCommand } from './cells';
import type { CellResult } from './drive';
import { PATTERNS } from './patterns';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

export function formatMatrix(results: CellResult[]): string {
  const rows = [
    '| pattern | fault | passed | failed | quiesce p50 | quiesce max |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const p of PATTERNS)
    for (const f of FAULTS) {
      const cells = results.filter((r) => r.pattern === p && r.fault === f);
      if (cells.length === 0) continue;
      const q = cells.map((c) => c.quiesce_ms).sort((a, b) => a - b);
      const failed = cells.filter((c) => !c.passed).length;
      rows.push(
        `| ${p} | ${f} | ${cells.length - failed} | ${failed ? `**${failed}**` : 0} | ${secs(percentile(q, 50))} | ${secs(q[q.length - 1] ?? 0)} |`,
      );
    }
  return rows.join('\n');
}

export function formatViolations(results: CellResult[]): string {
  return results
    .flatMap((r) =>
      r.violations.map((v) => `VIOLATION ${r.pattern} ${r.fault} ${r.at}: ${v}\n  rerun: ${rerunCommand(r)}`),
    )
    .join('\n');
}
