/**
 * Reads what a node's `/metrics` says (Prometheus text format 0.0.4) into the few counters and
 * gauges the dashboard draws, and turns two readings a second apart into rates and latency
 * percentiles, as Prometheus's rate() and histogram_quantile() would.
 */

/** One node's counters and gauges at one moment. */
export interface NodeReading {
  /** GET, PUT and DELETE requests on keys (not scrapes or other routes). */
  readonly requests: number;
  /** Answers that were not a success or a plain miss: 4xx other than GET 404, and 5xx. */
  readonly errors: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly expirations: number;
  readonly entries: number;
  readonly memoryBytes: number;
  readonly memoryLimitBytes: number;
  readonly compressedEntries: number;
  readonly compressionSavedBytes: number;
  readonly residentBytes: number;
  readonly cpuSeconds: number;
  /** Request-duration histogram over every op: upper bounds (seconds) and cumulative counts. */
  readonly bucketBounds: readonly number[];
  readonly bucketCounts: readonly number[];
  /** A node with a database: its GETs by where the answer came from; null without one. */
  readonly reads: ReadPathReading | null;
}

/** A histogram as Prometheus gives it: upper bounds (seconds) and cumulative counts. */
export interface Histogram {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
}

/** GETs answered from memory and GETs read through from the database (Level 3). */
export interface ReadPathReading {
  readonly memory: Histogram;
  readonly database: Histogram;
}

/** One read path over an interval. */
export interface PathRates {
  readonly perSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface ReadPathRates {
  readonly memory: PathRates;
  readonly database: PathRates;
}

export interface NodeRates {
  readonly requestsPerSecond: number;
  readonly errorsPerSecond: number;
  readonly evictionsPerSecond: number;
  readonly expirationsPerSecond: number;
  /** Hits / (hits + misses) over the interval; null without lookups. */
  readonly hitRate: number | null;
  /** From the node's own request-duration histogram; null without requests. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Share of one core the node's process used over the interval. */
  readonly cpu: number;
  /** Memory hits against database read-throughs; null for a node without a database. */
  readonly reads: ReadPathRates | null;
}

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: parseValue(match[3]!) });
  }
  return samples;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** The reading in a `/metrics` page; metrics it lacks read as 0. */
export function readMetrics(text: string): NodeReading {
  const sums = new Map<string, number>();
  const add = (name: string, value: number) => sums.set(name, (sums.get(name) ?? 0) + value);
  const buckets = new Map<number, number>();
  const readBuckets = { memory: new Map<number, number>(), database: new Map<number, number>() };
  let errors = 0;
  for (const { name, labels, value } of parseSamples(text)) {
    if (name === 'tinycache_db_get_duration_seconds_bucket') {
      if (labels.source === 'memory' || labels.source === 'database') {
        readBuckets[labels.source].set(parseValue(labels.le ?? '+Inf'), value);
      }
      continue;
    }
    // Cache traffic only: the scrapes themselves (op "other") would show as load.
    const cacheOp = labels.op === 'get' || labels.op === 'set' || labels.op === 'delete';
    if (name === 'tinycache_request_duration_seconds_bucket') {
      if (!cacheOp) continue;
      const le = parseValue(labels.le ?? '+Inf');
      buckets.set(le, (buckets.get(le) ?? 0) + value);
      continue;
    }
    if (name === 'tinycache_requests_total') {
      const code = Number(labels.code);
      if (code >= 400 && !(code === 404 && labels.op === 'get')) errors += value;
      if (!cacheOp) continue;
    }
    add(name, value);
  }
  const histogram = toHistogram(buckets);
  const get = (name: string) => sums.get(name) ?? 0;
  return {
    requests: get('tinycache_requests_total'),
    errors,
    hits: get('tinycache_cache_hits_total'),
    misses: get('tinycache_cache_misses_total'),
    evictions: get('tinycache_evictions_total'),
    expirations: get('tinycache_expirations_total'),
    entries: get('tinycache_entries'),
    memoryBytes: get('tinycache_memory_bytes'),
    memoryLimitBytes: get('tinycache_memory_limit_bytes'),
    compressedEntries: get('tinycache_compressed_entries'),
    compressionSavedBytes: get('tinycache_compression_saved_bytes'),
    residentBytes: get('process_resident_memory_bytes'),
    cpuSeconds: get('process_cpu_seconds_total'),
    bucketBounds: histogram.bounds,
    bucketCounts: histogram.counts,
    reads:
      readBuckets.memory.size === 0
        ? null
        : { memory: toHistogram(readBuckets.memory), database: toHistogram(readBuckets.database) },
  };
}

function toHistogram(buckets: ReadonlyMap<number, number>): Histogram {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  return { bounds, counts: bounds.map((bound) => buckets.get(bound)!) };
}

/** What happened between two readings of the same process `seconds` apart. */
export function ratesBetween(before: NodeReading, after: NodeReading, seconds: number): NodeRates {
  const per = (a: number, b: number) => Math.max(0, b - a) / seconds;
  const { hits, lookups } = lookupsBetween(before, after);
  const counts = bucketsBetween(before, after);
  const path = (a: Histogram, b: Histogram): PathRates => {
    const between = countsBetween(a, b);
    return {
      perSecond: (between.at(-1) ?? 0) / seconds,
      p50Ms: histogramQuantile(0.5, b.bounds, between),
      p99Ms: histogramQuantile(0.99, b.bounds, between),
    };
  };
  return {
    requestsPerSecond: per(before.requests, after.requests),
    errorsPerSecond: per(before.errors, after.errors),
    evictionsPerSecond: per(before.evictions, after.evictions),
    expirationsPerSecond: per(before.expirations, after.expirations),
    hitRate: lookups > 0 ? hits / lookups : null,
    p50Ms: histogramQuantile(0.5, after.bucketBounds, counts),
    p99Ms: histogramQuantile(0.99, after.bucketBounds, counts),
    cpu: per(before.cpuSeconds, after.cpuSeconds),
    reads:
      after.reads === null
        ? null
        : {
            memory: path(before.reads?.memory ?? EMPTY, after.reads.memory),
            database: path(before.reads?.database ?? EMPTY, after.reads.database),
          },
  };
}

const EMPTY: Histogram = { bounds: [], counts: [] };

export function lookupsBetween(
  before: NodeReading,
  after: NodeReading,
): { hits: number; lookups: number } {
  const hits = Math.max(0, after.hits - before.hits);
  return { hits, lookups: hits + Math.max(0, after.misses - before.misses) };
}

/** The requests between two readings, as cumulative counts per bucket of `after`. */
export function bucketsBetween(before: NodeReading, after: NodeReading): number[] {
  return countsBetween(
    { bounds: before.bucketBounds, counts: before.bucketCounts },
    { bounds: after.bucketBounds, counts: after.bucketCounts },
  );
}

/** What a histogram counted between two readings, cumulative per bucket of `after`. */
export function countsBetween(before: Histogram, after: Histogram): number[] {
  const same =
    before.bounds.length === after.bounds.length &&
    before.bounds.every((bound, i) => bound === after.bounds[i]);
  return after.counts.map((count, i) => Math.max(0, count - (same ? (before.counts[i] ?? 0) : 0)));
}

/**
 * The q-quantile, in ms, of a histogram given as cumulative counts per upper bound (seconds),
 * interpolated linearly inside the bucket that holds it, as Prometheus's histogram_quantile.
 * Null when the histogram is empty.
 */
export function histogramQuantile(
  q: number,
  bounds: readonly number[],
  cumulative: readonly number[],
): number | null {
  const total = cumulative.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let i = cumulative.findIndex((count) => count >= rank);
  if (i < 0) i = cumulative.length - 1;
  const upper = bounds[i]!;
  if (upper === Infinity) {
    // Beyond the last finite bound, say the bound: the histogram knows nothing finer.
    return (bounds[i - 1] ?? 0) * 1000;
  }
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  const below = i === 0 ? 0 : cumulative[i - 1]!;
  const inBucket = cumulative[i]! - below;
  const fraction = inBucket > 0 ? (rank - below) / inBucket : 1;
  return (lower + (upper - lower) * fraction) * 1000;
}
