import { describe, expect, it } from 'vitest';
import { formatCacheReport } from '../report.ts';
import { type CacheScenarioOptions, runCacheScenario } from './cache.ts';

/** Small enough to run in tens of ms: 4 nodes, 3,000 requests over 1.5 virtual seconds. */
const small: Partial<CacheScenarioOptions> = {
  nodes: 4,
  clients: 4,
  ratePerSecond: 2000,
  durationMs: 1500,
  keys: 2000,
  maxMemoryBytes: 256 * 1024,
};

describe('the cache scenario', () => {
  it('replays a seed exactly: the same report, byte for byte, and the same trace', () => {
    const first = runCacheScenario({ ...small, seed: 42 });
    const second = runCacheScenario({ ...small, seed: 42 });
    expect(formatCacheReport(second)).toBe(formatCacheReport(first));
    expect(second.traceHash).toBe(first.traceHash);
    expect(second).toEqual(first);
  });

  it('runs differently under another seed', () => {
    const a = runCacheScenario({ ...small, seed: 42 });
    const b = runCacheScenario({ ...small, seed: 43 });
    expect(b.traceHash).not.toBe(a.traceHash);
    expect(formatCacheReport(b)).not.toBe(formatCacheReport(a));
  });

  it('replays under faults too: loss, duplicates and reordering drawn from the seed', () => {
    const faulty: Partial<CacheScenarioOptions> = {
      ...small,
      timeoutMs: 20,
      link: {
        latency: { kind: 'lognormal', medianMs: 0.1, sigma: 1 },
        lossProbability: 0.02,
        duplicateProbability: 0.02,
        reorder: true,
      },
    };
    const first = runCacheScenario({ ...faulty, seed: 7 });
    expect(formatCacheReport(runCacheScenario({ ...faulty, seed: 7 }))).toBe(
      formatCacheReport(first),
    );
    expect(first.network.lost).toBeGreaterThan(0);
    expect(first.network.duplicated).toBeGreaterThan(0);
    // A lost request or answer ends as a timeout error; every request still ends once.
    expect(first.workload.errors).toBeGreaterThan(0);
    const w = first.workload;
    expect(w.hits + w.misses + w.writes + w.errors).toBe(w.requests);
  });

  it('issues about rate × duration requests and counts every one of them', () => {
    const r = runCacheScenario({ ...small, seed: 1 });
    const w = r.workload;
    expect(w.requests).toBeGreaterThan(2800);
    expect(w.requests).toBeLessThan(3200);
    expect(w.errors).toBe(0);
    expect(w.writes / w.requests).toBeGreaterThan(0.07);
    expect(w.writes / w.requests).toBeLessThan(0.13);
    expect(w.series.map((s) => s.second)).toEqual([0, 1]);
    expect(w.series.reduce((sum, s) => sum + s.requestsPerSecond, 0)).toBe(w.requests);
    // Every request to a node and every answer crosses the network once.
    expect(r.network.delivered).toBe(r.network.sent);
    const served = r.nodes.reduce((sum, n) => sum + n.served, 0);
    expect(r.network.sent).toBe(2 * served);
    expect(r.eventsProcessed).toBeGreaterThan(4 * w.requests);
  });

  it('warms up: the hit rate climbs from a cold start', () => {
    const r = runCacheScenario({ ...small, seed: 3, durationMs: 4000, keys: 20_000 });
    const rates = r.workload.series.map((s) => s.hitRate ?? 0);
    expect(rates[0]).toBeLessThan(rates[3]!);
    expect(r.workload.hitRate).toBeGreaterThan(0.3);
  });

  it('a node cut off by a partition fails its requests by timeout until the partition heals', () => {
    const calm = runCacheScenario({ ...small, seed: 11, durationMs: 2000, timeoutMs: 50 });
    const r = runCacheScenario({
      ...small,
      seed: 11,
      durationMs: 2000,
      timeoutMs: 50,
      faults: [
        { atMs: 300, kind: 'isolate', address: 'node-1' },
        { atMs: 800, kind: 'heal' },
      ],
    });
    expect(calm.workload.errors).toBe(0);
    expect(r.network.cut).toBeGreaterThan(0);
    const [first, second] = r.workload.series;
    // About a quarter of the requests of half a second go to node-1 and time out.
    expect(first!.errors).toBeGreaterThan(100);
    expect(first!.errors).toBeLessThan(500);
    expect(second!.errors).toBe(0);
    expect(formatCacheReport(r)).toContain('faults isolate node-1 at 300 ms; heal at 800 ms');
    expect(() =>
      runCacheScenario({ ...small, seed: 1, faults: [{ atMs: 1, kind: 'isolate', address: 'x' }] }),
    ).toThrow(/no node or client/);
  });

  it('sends each key where the route says', () => {
    const r = runCacheScenario({ ...small, seed: 1 }, () => 'node-2');
    expect(r.nodes.map((n) => n.served > 0)).toEqual([false, false, true, false]);
  });

  it('an overloaded node refuses at once with an error instead of queueing without bound', () => {
    const r = runCacheScenario({
      ...small,
      seed: 5,
      nodes: 1,
      serviceTime: { kind: 'constant', ms: 2 }, // 500 req/s against 2,000 offered
      maxQueueDepth: 16,
    });
    expect(r.nodes[0]!.refused).toBeGreaterThan(0);
    expect(r.workload.errors).toBeGreaterThan(r.workload.requests / 2);
    expect(r.workload.latency!.p50Ms).toBeLessThan(60); // never 1 s: the queue is bounded
  });

  it('expires entries by virtual time when writes carry a TTL', () => {
    const withTtl = runCacheScenario({ ...small, seed: 9, ttlMs: 50 });
    const without = runCacheScenario({ ...small, seed: 9 });
    expect(withTtl.workload.hitRate!).toBeLessThan(without.workload.hitRate!);
  });

  it('refuses options it cannot honour', () => {
    expect(() => runCacheScenario({ seed: 1, nodes: 0 })).toThrow(/nodes/);
    expect(() => runCacheScenario({ seed: 1, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => runCacheScenario({ seed: 1.5 })).toThrow(/seed/);
  });
});
