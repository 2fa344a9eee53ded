// The bench's chart: one line per (config, workload, concurrency); throughput bars on the left, latency
// percentiles (p50, p95, p99; log scale) on the right, and the same-run ratios underneath. Plain SVG.
import type { Row } from './measure';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function renderChart(rows: Row[], title: string, notes: string[]): string {
  const W = 1160;
  const labelW = 330;
  const tpW = 280;
  const latX = labelW + tpW + 50;
  const latW = W - latX - 40;
  const rowH = 40;
  const top = 90;
  const H = top + rows.length * rowH + 40 + notes.length * 18 + 30;
  const maxTp = Math.max(1, ...rows.map((r) => r.throughput_per_s));
  const lats = rows.flatMap((r) => [r.p50_ms, r.p95_ms, r.p99_ms]).filter((x) => x > 0 && Number.isFinite(x));
  const lo = 10 ** Math.floor(Math.log10(Math.min(...lats, 10)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...lats, 100)));
  const lx = (ms: number): number =>
    latX + (latW * (Math.log10(Math.max(ms, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const colors: Record<string, string> = { p50: '#2b6cb0', p95: '#dd8a1f', p99: '#c53030' };
  const wlColor = (w: string): string =>
    w === 'order'
      ? '#2f855a'
      : w === 'engine'
        ? '#6b46c1'
        : w === 'baseline'
          ? '#718096'
          : w.startsWith('2pc')
            ? '#b7791f'
            : '#2c7a7b';

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="20" y="30" font-size="18" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${labelW}" y="${top - 14}" font-weight="bold">throughput (transactions/s)</text>`);
  out.push(`<text x="${latX}" y="${top - 14}" font-weight="bold">latency, ms (log scale)</text>`);
  for (const [i, k] of (['p50', 'p95', 'p99'] as const).entries()) {
    out.push(
      `<rect x="${latX + 190 + i * 60}" y="${top - 25}" width="12" height="12" fill="${colors[k]}"/><text x="${latX + 206 + i * 60}" y="${top - 15}">${k}</text>`,
    );
  }
  // Latency grid.
  for (let d = lo; d <= hi; d *= 10) {
    const x = lx(d);
    out.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + rows.length * rowH}" stroke="#e2e8f0"/>`);
    out.push(
      `<text x="${x}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#4a5568">${d >= 1000 ? `${d / 1000}s` : `${d}ms`}</text>`,
    );
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    if (i % 2 === 0) out.push(`<rect x="10" y="${y}" width="${W - 20}" height="${rowH}" fill="#f7fafc"/>`);
    out.push(
      `<text x="20" y="${y + 17}" font-weight="bold" fill="${wlColor(r.workload)}">${esc(`${r.workload}  c=${r.concurrency}`)}</text>`,
    );
    // The distinctive end of a long config name (they share their start): '…sync-normal+la-all+eager'.
    const cfg = r.config.length > 20 ? `…${r.config.slice(-19)}` : r.config;
    const errs = r.errors ? ` · ${r.errors} ERRORS` : '';
    out.push(
      `<text x="20" y="${y + 33}" fill="#4a5568" font-size="10">${esc(cfg)} · ${fmt(r.cpu_ms_per_tx)} CPU ms/tx · ${r.history.events_per_tx} ev${esc(errs)}</text>`,
    );
    const bw = (tpW * r.throughput_per_s) / maxTp;
    out.push(
      `<rect x="${labelW}" y="${y + 8}" width="${Math.max(1, bw)}" height="${rowH - 16}" fill="${wlColor(r.workload)}"/>`,
    );
    out.push(
      `<text x="${labelW + Math.max(1, bw) + 5}" y="${y + rowH / 2 + 4}">${fmt(r.throughput_per_s)}/s</text>`,
    );
    (['p50', 'p95', 'p99'] as const).forEach((k, j) => {
      const v = r[`${k}_ms`];
      const yy = y + 6 + j * 10;
      out.push(
        `<rect x="${latX}" y="${yy}" width="${Math.max(1, lx(v) - latX)}" height="8" fill="${colors[k]}"/>`,
      );
      if (j === 0 || j === 2)
        out.push(`<text x="${lx(v) + 4}" y="${yy + 8}" font-size="10" fill="#2d3748">${fmt(v)}</text>`);
    });
  });
  const ny = top + rows.length * rowH + 44;
  notes.forEach((n, i) => out.push(`<text x="20" y="${ny + i * 18}" fill="#1a202c">${esc(n)}</text>`));
  out.push('</svg>');
  return out.join('\n');
}
