/**
 * A fixed-bucket latency histogram over whole µs: log-linear buckets, 16 per power of two
 * (HdrHistogram's layout with one significant hex digit), so any value is within 1/16 (6.25 %)
 * of its bucket's bound and memory is fixed whatever the count. Recording is a few integer
 * operations; a percentile is a walk over the ~500 buckets. Everything is integer arithmetic,
 * so a report built from it is the same on every run.
 *
 * Not server/load's HDR histogram: the simulator records millions of values per wall second
 * and keeps one histogram per virtual second, so it wants a small fixed array it can reset.
 */

const SUB_BUCKET_BITS = 4;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
/** Values at or above 2^32 µs (71 minutes) are counted in the last bucket. */
const BUCKETS = (32 - SUB_BUCKET_BITS + 1) * SUB_BUCKETS;
const MAX_TRACKED_US = 2 ** 32 - 1;

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private maxValue = 0;

  get count(): number {
    return this.total;
  }

  /** The largest value recorded, exactly (0 when empty). */
  get maxUs(): number {
    return this.maxValue;
  }

  /** Records a latency in whole µs (negative counts as 0, beyond 2^32 - 1 as that). */
  record(us: number): void {
    const value = us > 0 ? (us < MAX_TRACKED_US ? us : MAX_TRACKED_US) : 0;
    this.counts[bucketOf(value)]!++;
    this.total++;
    if (value > this.maxValue) this.maxValue = value;
  }

  /**
   * The value at `quantile` (0 to 1): the highest value of the bucket holding that rank, so a
   * percentile is never understated (HdrHistogram's highestEquivalentValue), capped at the max.
   * 0 when empty.
   */
  quantileUs(quantile: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(quantile * this.total));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(highestValueOf(b), this.maxValue);
    }
    return this.maxValue;
  }

  /** Adds another histogram's counts to this one. */
  add(other: Histogram): void {
    for (let b = 0; b < BUCKETS; b++) this.counts[b]! += other.counts[b]!;
    this.total += other.total;
    if (other.maxValue > this.maxValue) this.maxValue = other.maxValue;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.maxValue = 0;
  }
}

/** Values below 16 have a bucket each; above, 16 buckets per power of two. */
function bucketOf(value: number): number {
  if (value < SUB_BUCKETS) return value;
  const exponent = 31 - Math.clz32(value); // >= SUB_BUCKET_BITS
  const shift = exponent - SUB_BUCKET_BITS;
  return (shift + 1) * SUB_BUCKETS + ((value >>> shift) & (SUB_BUCKETS - 1));
}

/** The largest value that falls in bucket `b`. */
function highestValueOf(b: number): number {
  if (b < SUB_BUCKETS) return b;
  const shift = Math.floor(b / SUB_BUCKETS) - 1;
  const sub = b % SUB_BUCKETS;
  return (SUB_BUCKETS + sub + 1) * 2 ** shift - 1;
}
