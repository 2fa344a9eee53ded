import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createPools, SERVICE_NAMES } from '../services/db';
import { startEmbeddedPostgres } from '../services/postgres';
import { freePort } from '../services/processes';
import { prepareDatabases } from '../services/stack';
import { temporalBinaries } from '../services/tools';
import { WORKFLOWS_PATH } from '../workers';
import { parseTuning } from './tuning';
import { startBenchWorkers } from './workers';

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const root = '/work/main/.data/bench-dbg-' + Date.now();
  mkdirSync(root, { recursive: true });
  const pg = await startEmbeddedPostgres({ dataDir: join(root, 'pg'), port: await freePort() });
  const pools = createPools(pg.url, { prefix: 'dbg' });
  await prepareDatabases(pg.url, pools, 'dbg');
  const port = await freePort();
  const extra = (process.argv[3] ?? '').split(' ').filter(Boolean);
  const child = spawn(temporalBinaries().temporal, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'warn', ...extra], { stdio: 'inherit' });
  let connection: NativeConnection | undefined;
  for (let i = 0; i < 100 && !connection; i++) {
    try { connection = await NativeConnection.connect({ address: `127.0.0.1:${port}` }); await connection.workflowService.describeNamespace({ namespace: 'default' }); } catch { connection = undefined; await new Promise((r) => setTimeout(r, 300)); }
  }
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
  const w = await startBenchWorkers({ connection: connection!, namespace: 'default', pools, workflowBundle: { code: bundle.code }, tuning: parseTuning(process.argv[2] ?? 'default'), queues: process.env.QUEUES ? (process.env.QUEUES.split(',') as never) : undefined });
  const client = new Client({ connection: connection!, namespace: 'default' });
  const cpuTicks = () => { const f = require('node:fs').readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
  const lat: number[] = [];
  let c0 = 0;
  for (let i = 0; i < Number(process.env.N ?? 10); i++) {
    if (i === 5) c0 = cpuTicks();
    const t0 = Date.now();
    const h = await client.workflow.start('benchBaseline', { taskQueue: 'settle-orchestration', workflowId: `dbg-${i}`, args: [{ id: `x${i}` }] });
    await h.result();
    lat.push(Date.now() - t0);
    if (i === Number(process.env.N ?? 10) - 1) {
      const hist = await h.fetchHistory();
      let prev = 0;
      const gaps: string[] = [];
      for (const e of hist.events ?? []) {
        const t = Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
        gaps.push(`${e.eventType}:${prev ? t - prev : 0}`);
        prev = t;
      }
      console.log(gaps.join(' '));
    }
  }
  console.log('latencies', lat.join(' '));
  console.log('temporal cpu ms per saga', ((cpuTicks() - c0) * 10) / (lat.length - 5));
  if (process.env.METRICS) { const r = await fetch(`http://127.0.0.1:${process.env.METRICS}/metrics`); require('node:fs').writeFileSync('/tmp/metrics.txt', await r.text()); }
  await w.stop();
  await connection!.close();
  child.kill('SIGTERM');
  await pg.stop();
  void SERVICE_NAMES;
}
main().catch((e) => { console.error(e); process.exit(1); });
