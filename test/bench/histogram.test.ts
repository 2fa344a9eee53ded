import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketHigh, bucketOf, Histogram } from '../../bench/histogram';

function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

test('buckets are contiguous, monotonic and within 1/128 of the value', () => {
  let prev = -1;
  for (let v = 0; v < 5_000_000; v = v < 1000 ? v + 1 : Math.ceil(v * 1.003)) {
    const b = bucketOf(v);
    assert.ok(b >= prev, `bucket of ${v} went backwards`);
    prev = b;
    const high = bucketHigh(b);
    assert.ok(high >= v, `bucket ${b} high ${high} < ${v}`);
    assert.ok(high - v <= v / 128 + 1e-9, `bucket of ${v} too wide: ${high}`);
  }
});

test('percentiles match the exact ones within the bucket error, and merge adds up', () => {
  // A deterministic skewed sample: mostly ~5-50 ms with a long tail to ~2 s.
  let seed = 42;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const values = Array.from({ length: 20_000 }, () => 5 + 45 * rnd() + (rnd() < 0.02 ? 2000 * rnd() : 0));
  const a = new Histogram();
  const b = new Histogram();
  values.forEach((v, i) => (i % 2 ? a : b).recordMs(v));
  a.merge(b);
  assert.equal(a.count, values.length);
  const sorted = values.map((v) => Math.round(v * 1000) / 1000).sort((x, y) => x - y);
  for (const p of [50, 90, 95, 99, 99.9, 100]) {
    const want = exactPercentile(sorted, p);
    const got = a.percentileMs(p);
    assert.ok(got >= want - 1e-9 && got <= want * (1 + 1 / 128) + 1e-3, `p${p}: got ${got}, exact ${want}`);
  }
  assert.equal(a.maxMs(), sorted[sorted.length - 1]);
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  assert.ok(Math.abs(a.meanMs() - mean) < 0.001);
});

test('an empty histogram reports NaN rather than a made-up number', () => {
  assert.ok(Number.isNaN(new Histogram().percentileMs(50)));
});
