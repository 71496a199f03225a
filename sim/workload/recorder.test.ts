import { describe, expect, it } from 'vitest';
import { US_PER_SECOND } from '../time.ts';
import { Histogram } from './histogram.ts';
import { Recorder } from './recorder.ts';

describe('Histogram', () => {
  it('is exact below 16 µs and within 1/16 above, never understating', () => {
    const h = new Histogram();
    for (let v = 1; v <= 100_000; v++) h.record(v);
    for (const q of [0.001, 0.1, 0.5, 0.9, 0.99, 0.999]) {
      const exact = Math.ceil(q * 100_000);
      const got = h.quantileUs(q);
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got).toBeLessThanOrEqual(exact * (1 + 1 / 16));
    }
    expect(h.quantileUs(1)).toBe(100_000);
    const small = new Histogram();
    for (const v of [3, 7, 7, 9]) small.record(v);
    expect([small.quantileUs(0.25), small.quantileUs(0.5), small.quantileUs(1)]).toEqual([3, 7, 9]);
  });

  it('clamps values outside its range, and reads 0 when empty', () => {
    const h = new Histogram();
    expect(h.quantileUs(0.5)).toBe(0);
    h.record(-5);
    h.record(2 ** 40);
    expect(h.count).toBe(2);
    expect(h.quantileUs(0.5)).toBe(0);
    expect(h.maxUs).toBe(2 ** 32 - 1);
  });
});

describe('Recorder', () => {
  it('counts outcomes per virtual second and in total, with empty seconds kept', () => {
    const r = new Recorder();
    r.record('hit', 100, 10);
    r.record('miss', 300, 20);
    r.record('write', 200, 0.5 * US_PER_SECOND);
    // Nothing completes in second 1.
    r.record('hit', 1000, 2.2 * US_PER_SECOND);
    r.record('error', 50_000, 2.9 * US_PER_SECOND);
    const summary = r.finish(2.95 * US_PER_SECOND);
    expect(summary).toMatchObject({ requests: 5, hits: 2, misses: 1, writes: 1, errors: 1 });
    expect(summary.hitRate).toBeCloseTo(2 / 3);
    expect(summary.series.map((s) => [s.second, s.requestsPerSecond, s.hitRate])).toEqual([
      [0, 3, 0.5],
      [1, 0, null],
      [2, 2, 1],
    ]);
    expect(summary.series[0]!.p50Ms).toBe(0.207); // 200 µs, reported as its bucket's top
    expect(summary.series[1]!.p99Ms).toBeNull();
    expect(summary.latency?.maxMs).toBe(50);
  });

  it('refuses a record earlier than the second already closed', () => {
    const r = new Recorder();
    r.record('hit', 1, 2 * US_PER_SECOND);
    expect(() => r.record('hit', 1, 10)).toThrow(RangeError);
  });
});
