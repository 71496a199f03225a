import { describe, expect, it } from 'vitest';
import { Scheduler } from '../scheduler.ts';
import { US_PER_SECOND } from '../time.ts';
import { OpenLoop, type OpenLoopOptions } from './open-loop.ts';

const options: OpenLoopOptions = {
  ratePerSecond: 2000,
  keys: 1000,
  distribution: { kind: 'uniform' },
  readRatio: 0.9,
  startUs: 0,
  stopUs: 10 * US_PER_SECOND,
};

function run(seed: number, name = 'client-0', o: OpenLoopOptions = options) {
  const scheduler = new Scheduler();
  const arrivals: { atUs: number; keyId: number; read: boolean }[] = [];
  const loop = new OpenLoop(scheduler, seed, name, o, (keyId, read) =>
    arrivals.push({ atUs: scheduler.nowUs, keyId, read }),
  );
  loop.start();
  scheduler.runUntilIdle(1e7);
  return { arrivals, loop };
}

describe('OpenLoop', () => {
  it('issues about ratePerSecond requests a virtual second, within the window', () => {
    const { arrivals, loop } = run(1);
    // 20,000 expected; a Poisson count's standard deviation is sqrt(20,000) ≈ 141.
    expect(arrivals.length).toBeGreaterThan(19_500);
    expect(arrivals.length).toBeLessThan(20_500);
    expect(loop.issued).toBe(arrivals.length);
    expect(arrivals.every((a) => a.atUs >= 0 && a.atUs < 10 * US_PER_SECOND)).toBe(true);
  });

  it('spaces arrivals like a Poisson process: gaps with mean 1/rate and as large a spread', () => {
    const { arrivals } = run(2);
    const gaps = arrivals.slice(1).map((a, i) => a.atUs - arrivals[i]!.atUs);
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    const variance = gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length;
    expect(mean).toBeGreaterThan(475);
    expect(mean).toBeLessThan(525);
    // An exponential's coefficient of variation is 1 (a fixed-rate clock's would be 0).
    expect(Math.sqrt(variance) / mean).toBeGreaterThan(0.95);
    expect(Math.sqrt(variance) / mean).toBeLessThan(1.05);
  });

  it('reads readRatio of the time, over keys from the given distribution', () => {
    const { arrivals } = run(3);
    const reads = arrivals.filter((a) => a.read).length / arrivals.length;
    expect(reads).toBeGreaterThan(0.88);
    expect(reads).toBeLessThan(0.92);
    expect(new Set(arrivals.map((a) => a.keyId)).size).toBe(1000);

    const zipf = run(3, 'client-0', { ...options, distribution: { kind: 'zipf', s: 0.99 } });
    const counts = new Map<number, number>();
    for (const a of zipf.arrivals) counts.set(a.keyId, (counts.get(a.keyId) ?? 0) + 1);
    const hottest = Math.max(...counts.values()) / zipf.arrivals.length;
    expect(hottest).toBeGreaterThan(0.08); // rank 1 of Zipf(0.99) over 1000 keys: ~13 %
  });

  it('replays from its seed and name, and differs under another of either', () => {
    const first = run(4).arrivals;
    expect(run(4).arrivals).toEqual(first);
    expect(run(5).arrivals).not.toEqual(first);
    expect(run(4, 'client-1').arrivals).not.toEqual(first);
  });

  it('refuses a rate, ratio or window it cannot honour', () => {
    const s = new Scheduler();
    const make = (o: Partial<OpenLoopOptions>) => () =>
      new OpenLoop(s, 1, 'c', { ...options, ...o }, () => {});
    expect(make({ ratePerSecond: 0 })).toThrow(/ratePerSecond/);
    expect(make({ readRatio: 1.5 })).toThrow(/readRatio/);
    expect(make({ startUs: 5, stopUs: 1 })).toThrow(/startUs/);
  });
});
