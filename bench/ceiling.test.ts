import { describe, expect, it } from 'vitest';
import { highestSustained, sustained, type OpenRun } from './ceiling.ts';

const LIMITS = { shortfall: 0.02, p99Ms: 10 };

/** A generator that keeps up to `capacity` req/s and falls behind (with a growing queue) above. */
function fakeRun(capacity: number) {
  return async (rate: number): Promise<OpenRun> =>
    rate <= capacity
      ? { intended: rate, achieved: rate, p99Ms: 1, errors: 0 }
      : { intended: rate, achieved: capacity, p99Ms: 400, errors: 0 };
}

describe('sustained', () => {
  const run = { intended: 10_000, achieved: 10_000, p99Ms: 2, errors: 0 };

  it('passes a run that kept its rate with a low p99 and no errors', () => {
    expect(sustained(run, LIMITS)).toBe(true);
    expect(sustained({ ...run, achieved: 9_800 }, LIMITS)).toBe(true);
    expect(sustained({ ...run, p99Ms: 10 }, LIMITS)).toBe(true);
  });

  it('fails a run that fell more than the shortfall behind', () => {
    expect(sustained({ ...run, achieved: 9_799 }, LIMITS)).toBe(false);
  });

  it('fails a run whose p99 exploded even though every request was answered', () => {
    expect(sustained({ ...run, p99Ms: 366 }, LIMITS)).toBe(false);
  });

  it('fails a run with errors', () => {
    expect(sustained({ ...run, errors: 1 }, LIMITS)).toBe(false);
  });
});

describe('highestSustained', () => {
  const passes = (r: OpenRun) => sustained(r, LIMITS);

  it('finds the capacity within (high - low) / 2^steps in 1 + steps probes', async () => {
    for (const capacity of [20_000, 31_234, 37_000, 43_900]) {
      const search = { low: 20_000, high: 44_000, steps: 4, grain: 100 };
      const { best, probes } = await highestSustained(fakeRun(capacity), passes, search);
      expect(probes).toHaveLength(5);
      expect(best!.rate).toBeLessThanOrEqual(capacity);
      expect(best!.rate).toBeGreaterThan(capacity - 24_000 / 16 - 100);
      expect(best!.pass).toBe(true);
      expect(probes[0]!.rate).toBe(20_000);
      for (const p of probes) expect(p.rate % 100).toBe(0);
    }
  });

  it('searches below the low rate when it fails, and returns null when nothing passes', async () => {
    const search = { low: 20_000, high: 44_000, steps: 4, grain: 100 };
    const below = await highestSustained(fakeRun(5_000), passes, search);
    expect(below.probes.map((p) => p.rate)).toEqual([20_000, 10_000, 5_000, 7_500, 6_300]);
    expect(below.best!.rate).toBe(5_000);
    const none = await highestSustained(fakeRun(0), passes, search);
    expect(none.best).toBeNull();
    expect(none.probes).toHaveLength(5);
  });

  it('with tries, passes a rate that fails once and then keeps up, but not one past capacity', async () => {
    const seen = new Set<number>();
    const steady = fakeRun(30_000);
    const flaky = async (rate: number): Promise<OpenRun> => {
      if (seen.has(rate)) return steady(rate);
      seen.add(rate); // the first run at every rate meets a stall
      return { intended: rate, achieved: rate, p99Ms: 300, errors: 0 };
    };
    const search = { low: 20_000, high: 44_000, steps: 4, grain: 100 };
    const once = await highestSustained(flaky, passes, search);
    expect(once.best).toBeNull(); // every rate failed its only run
    seen.clear();
    const twice = await highestSustained(flaky, passes, { ...search, tries: 2 });
    expect(twice.best!.rate).toBeLessThanOrEqual(30_000);
    expect(twice.best!.rate).toBeGreaterThan(30_000 - 1_600);
    expect(twice.probes.map((p) => p.runs)).toEqual([2, 2, 2, 2, 2]);
  });

  it('stops when the bracket is narrower than the grain', async () => {
    const { best, probes } = await highestSustained(fakeRun(1e9), passes, {
      low: 1_000,
      high: 1_300,
      steps: 10,
      grain: 100,
    });
    expect(probes.map((p) => p.rate)).toEqual([1_000, 1_200]);
    expect(best!.rate).toBe(1_200);
  });
});
