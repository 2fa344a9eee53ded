// A small HDR-style latency histogram: log-linear buckets (128 linear sub-buckets per power of two), so any
// recorded value is reported within 1/128 (< 0.8 %) of its true value, in constant memory whatever the count.
// Values are recorded in microseconds (integers); percentiles are read in milliseconds.

const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128

/** Bucket index of a non-negative integer value. Values below 128 have their own exact bucket. */
export function bucketOf(v: number): number {
  if (v < SUB) return v;
  const exp = Math.floor(Math.log2(v));
  const shift = exp - SUB_BITS;
  let sub = Math.floor(v / 2 ** shift);
  // Guard floating error around exact powers of two.
  if (sub >= 2 * SUB) sub = 2 * SUB - 1;
  if (sub < SUB) sub = SUB;
  return shift * SUB + sub;
}

/** Highest value that falls in bucket `i` (HDR's "highest equivalent value"). */
export function bucketHigh(i: number): number {
  if (i < SUB) return i;
  const shift = Math.floor(i / SUB) - 1;
  const sub = i - shift * SUB;
  return (sub + 1) * 2 ** shift - 1;
}

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  min = Infinity;
  max = 0;
  private sum = 0;

  /** Record one latency in milliseconds (kept at microsecond resolution). */
  recordMs(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000));
    const b = bucketOf(us);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.count += 1;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  merge(other: Histogram): void {
    for (const [b, c] of other.counts) this.counts.set(b, (this.counts.get(b) ?? 0) + c);
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** The value at percentile p (0-100] in milliseconds: the smallest bucket covering p % of the samples. */
  percentileMs(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b)!;
      if (seen >= rank) return Math.min(bucketHigh(b), this.max) / 1000;
    }
    return this.max / 1000;
  }

  meanMs(): number {
    return this.count === 0 ? NaN : this.sum / this.count / 1000;
  }

  maxMs(): number {
    return this.max / 1000;
  }
}
