/**
 * A log-linear histogram of durations (HdrHistogram's layout, simplified): values are kept in
 * microseconds, exact below 32 µs, then 32 linear sub-buckets per power of two, so any value is
 * known to within ~3 %. Fixed memory (864 counters) whatever the sample count: never keep arrays
 * of samples. Exact count, sum, min and max are kept alongside.
 */
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // 32
const MAX_EXP = 31; // values up to 2^31 µs (~35 min); larger ones land in the last bucket
const SIZE = SUB + (MAX_EXP - SUB_BITS) * SUB;

function indexOf(us: number): number {
  if (us < SUB) return us < 0 ? 0 : us | 0;
  if (us >= 2 ** MAX_EXP) return SIZE - 1;
  const v = us >>> 0;
  const e = 31 - Math.clz32(v); // floor(log2 v) >= SUB_BITS
  const sub = (v >>> (e - SUB_BITS)) - SUB;
  return SUB + (e - SUB_BITS) * SUB + sub;
}

/** Lowest value (µs) that lands in bucket `i`, and the bucket's width. */
function bucketRange(i: number): [number, number] {
  if (i < SUB) return [i, 1];
  const e = Math.floor((i - SUB) / SUB) + SUB_BITS;
  const sub = (i - SUB) % SUB;
  const width = 2 ** (e - SUB_BITS);
  return [(SUB + sub) * width, width];
}

export interface HistogramSummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * A histogram in JSON, exactly: non-empty buckets as [index, count] pairs plus the exact count,
 * sum, min and max. `Histogram.fromJSON` gives back the same histogram, so runs merge without loss.
 */
export interface HistogramJson {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  buckets: [number, number][];
}

export class Histogram {
  private readonly counts = new Uint32Array(SIZE);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  /** Records a duration in milliseconds. */
  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const us = Math.round(ms * 1000);
    this.counts[indexOf(us)]++;
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < SIZE; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  toJSON(): HistogramJson {
    const buckets: [number, number][] = [];
    for (let i = 0; i < SIZE; i++) if (this.counts[i]) buckets.push([i, this.counts[i]]);
    return { count: this.count, sum: this.sum, min: Number.isFinite(this.min) ? this.min : null, max: Number.isFinite(this.max) ? this.max : null, buckets };
  }

  /** Adds a histogram from its JSON form; throws on a malformed one (index out of range, counts that do not add up). */
  mergeJson(j: HistogramJson): void {
    if (!j || !Array.isArray(j.buckets) || !Number.isFinite(j.count) || !Number.isFinite(j.sum)) throw new Error('malformed histogram');
    let n = 0;
    for (const [i, c] of j.buckets) {
      if (!Number.isInteger(i) || i < 0 || i >= SIZE || !Number.isInteger(c) || c < 0) throw new Error('malformed histogram bucket');
      n += c;
    }
    if (n !== j.count) throw new Error('histogram buckets do not add up to its count');
    for (const [i, c] of j.buckets) this.counts[i] += c;
    this.count += j.count;
    this.sum += j.sum;
    if (j.min !== null && j.min < this.min) this.min = j.min;
    if (j.max !== null && j.max > this.max) this.max = j.max;
  }

  /** Relative error bound of a quantile: half a bucket's width over its lower edge (1/64 above 32 µs). */
  static readonly RELATIVE_ERROR = 1 / (2 * SUB);

  /** The value (ms) at quantile q in [0,1]: the middle of the bucket, clamped to [min, max]. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.count));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const [lo, width] = bucketRange(i);
        const mid = (lo + (width - 1) / 2) / 1000;
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  /** How many recorded values lie in [loMs, hiMs) (to bucket precision). */
  countBetween(loMs: number, hiMs: number): number {
    const a = indexOf(Math.round(loMs * 1000));
    const b = indexOf(Math.round(hiMs * 1000));
    let n = 0;
    for (let i = a; i < b; i++) n += this.counts[i];
    return n;
  }

  summary(): HistogramSummary {
    if (this.count === 0) return { count: 0, min: NaN, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
    return {
      count: this.count,
      min: this.min,
      mean: this.sum / this.count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.max,
    };
  }
}
