import { describe, expect, it } from 'vitest';
import { histogramQuantile, ratesBetween, readMetrics } from './prometheus.ts';

const page = (gets: number, misses: number, fast: number, slow: number) => `
# HELP tinycache_requests_total Requests by operation and status.
# TYPE tinycache_requests_total counter
tinycache_requests_total{op="get",code="200"} ${gets}
tinycache_requests_total{op="get",code="404"} ${misses}
tinycache_requests_total{op="set",code="413"} 2
tinycache_requests_total{op="other",code="200"} 50
tinycache_request_duration_seconds_bucket{le="0.0001",op="get"} ${fast}
tinycache_request_duration_seconds_bucket{le="0.0002",op="get"} ${fast + slow}
tinycache_request_duration_seconds_bucket{le="+Inf",op="get"} ${fast + slow}
tinycache_request_duration_seconds_bucket{le="0.0001",op="set"} 2
tinycache_request_duration_seconds_bucket{le="0.0002",op="set"} 2
tinycache_request_duration_seconds_bucket{le="+Inf",op="set"} 2
tinycache_request_duration_seconds_bucket{le="0.0001",op="other"} 0
tinycache_request_duration_seconds_bucket{le="0.0002",op="other"} 0
tinycache_request_duration_seconds_bucket{le="+Inf",op="other"} 50
tinycache_cache_hits_total ${gets}
tinycache_cache_misses_total ${misses}
tinycache_evictions_total{policy="lru"} 7
tinycache_evictions_total{policy="wtinylfu"} 3
tinycache_memory_bytes 2048
tinycache_memory_limit_bytes 1.048576e+06
process_cpu_seconds_total 1.5
`;

describe('readMetrics', () => {
  it('reads cache traffic, not scrapes, and counts refusals as errors but misses not', () => {
    const reading = readMetrics(page(90, 10, 60, 40));
    expect(reading).toMatchObject({
      requests: 102,
      errors: 2,
      hits: 90,
      misses: 10,
      evictions: 10,
      memoryBytes: 2048,
      memoryLimitBytes: 1048576,
      cpuSeconds: 1.5,
      bucketBounds: [0.0001, 0.0002, Infinity],
      bucketCounts: [62, 102, 102],
    });
  });
});

describe('ratesBetween', () => {
  it('gives per-second rates and percentiles of the requests in between', () => {
    const before = readMetrics(page(90, 10, 60, 40));
    const after = readMetrics(page(190, 110, 60, 240));
    const rates = ratesBetween(before, after, 2);
    expect(rates.requestsPerSecond).toBe(100);
    expect(rates.hitRate).toBe(0.5);
    // Every request in between took 0.1 to 0.2 ms: the median is halfway, by interpolation.
    expect(rates.p50Ms).toBeCloseTo(0.15, 6);
    expect(rates.p99Ms).toBeCloseTo(0.199, 6);
  });

  it('says null, not 0, when nothing happened', () => {
    const reading = readMetrics(page(1, 1, 1, 0));
    expect(ratesBetween(reading, reading, 1)).toMatchObject({
      requestsPerSecond: 0,
      hitRate: null,
      p50Ms: null,
    });
  });
});

describe('the read path of a node with a database', () => {
  const withReads = (memory: number, database: number) => `${page(0, 0, 0, 0)}
tinycache_db_get_duration_seconds_bucket{le="0.0001",source="memory"} ${memory}
tinycache_db_get_duration_seconds_bucket{le="0.0016",source="memory"} ${memory}
tinycache_db_get_duration_seconds_bucket{le="+Inf",source="memory"} ${memory}
tinycache_db_get_duration_seconds_bucket{le="0.0001",source="database"} 0
tinycache_db_get_duration_seconds_bucket{le="0.0016",source="database"} ${database}
tinycache_db_get_duration_seconds_bucket{le="+Inf",source="database"} ${database}
`;

  it('is null for a node without a database', () => {
    expect(readMetrics(page(1, 1, 1, 0)).reads).toBeNull();
    const reading = readMetrics(page(1, 1, 1, 0));
    expect(ratesBetween(reading, reading, 1).reads).toBeNull();
  });

  it('gives memory hits and database read-throughs their own rate and percentiles', () => {
    const rates = ratesBetween(readMetrics(withReads(100, 10)), readMetrics(withReads(300, 30)), 2);
    expect(rates.reads?.memory.perSecond).toBe(100);
    expect(rates.reads?.database.perSecond).toBe(10);
    expect(rates.reads?.memory.p50Ms).toBeCloseTo(0.05, 6);
    // Every database read took 0.1 to 1.6 ms: its median is halfway, by interpolation.
    expect(rates.reads?.database.p50Ms).toBeCloseTo(0.85, 6);
  });
});

describe('histogramQuantile', () => {
  it('interpolates inside the bucket, as Prometheus does', () => {
    expect(histogramQuantile(0.5, [1, 2, Infinity], [0, 10, 10])).toBe(1500);
    expect(histogramQuantile(0.25, [1, 2, Infinity], [10, 10, 10])).toBe(250);
  });

  it('answers with the last finite bound for ranks in the +Inf bucket', () => {
    expect(histogramQuantile(0.99, [1, 2, Infinity], [0, 0, 10])).toBe(2000);
  });

  it('is null for an empty histogram', () => {
    expect(histogramQuantile(0.5, [], [])).toBeNull();
    expect(histogramQuantile(0.5, [1, Infinity], [0, 0])).toBeNull();
  });
});
