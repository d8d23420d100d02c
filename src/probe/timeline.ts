/**
 * Requests per backend per time bucket, in bounded memory: at most `maxBuckets` buckets; when
 * time runs past them the bucket width doubles and neighbours merge.
 */
export interface TimelineBucket {
  /** Bucket start, ms from the origin. */
  t: number;
  requests: number;
  errors: number;
  backends: Map<string, number>;
}

export class Timeline {
  bucketMs: number;
  buckets: TimelineBucket[] = [];

  constructor(
    initialBucketMs = 100,
    private readonly maxBuckets = 40,
  ) {
    this.bucketMs = initialBucketMs;
  }

  add(tMs: number, backend: string | undefined, error: boolean): void {
    let i = Math.floor(Math.max(0, tMs) / this.bucketMs);
    while (i >= this.maxBuckets) {
      this.coarsen();
      i = Math.floor(Math.max(0, tMs) / this.bucketMs);
    }
    while (this.buckets.length <= i) {
      this.buckets.push({ t: this.buckets.length * this.bucketMs, requests: 0, errors: 0, backends: new Map() });
    }
    const b = this.buckets[i];
    b.requests++;
    if (error) b.errors++;
    else if (backend !== undefined) b.backends.set(backend, (b.backends.get(backend) ?? 0) + 1);
  }

  private coarsen(): void {
    const merged: TimelineBucket[] = [];
    this.bucketMs *= 2;
    for (let i = 0; i < this.buckets.length; i += 2) {
      const a = this.buckets[i];
      const b = this.buckets[i + 1];
      const m: TimelineBucket = { t: merged.length * this.bucketMs, requests: a.requests, errors: a.errors, backends: new Map(a.backends) };
      if (b) {
        m.requests += b.requests;
        m.errors += b.errors;
        for (const [k, v] of b.backends) m.backends.set(k, (m.backends.get(k) ?? 0) + v);
      }
      merged.push(m);
    }
    this.buckets = merged;
  }
}
