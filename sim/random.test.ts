import { describe, expect, it } from 'vitest';
import { createRng } from '../core/random.ts';
import { delaySampler, type DelayDistribution } from './distributions.ts';
import { streamRng, streamSeed } from './random.ts';

describe('streams', () => {
  it('gives each name its own seed, the same for the same seed and name', () => {
    expect(streamSeed(1, 'network')).toBe(streamSeed(1, 'network'));
    const seeds = new Set(
      ['network', 'workload', 'faults', 'network/a/b', 'network/b/a'].flatMap((name) => [
        streamSeed(1, name),
        streamSeed(2, name),
        streamSeed(2 ** 40 + 1, name),
      ]),
    );
    expect(seeds.size).toBe(15);
    expect(streamRng(7, 'x').nextU32()).toBe(streamRng(7, 'x').nextU32());
  });

  it('refuses a seed that is not a whole number', () => {
    expect(() => streamSeed(1.5, 'x')).toThrow(/seed/);
  });
});

describe('delaySampler', () => {
  const stats = (distribution: DelayDistribution) => {
    const sample = delaySampler(distribution);
    const rng = createRng(11);
    const values = Array.from({ length: 50_000 }, () => sample(rng));
    const sorted = [...values].sort((a, b) => a - b);
    return {
      min: sorted[0]!,
      median: sorted[sorted.length >> 1]!,
      mean: values.reduce((s, v) => s + v, 0) / values.length,
      whole: values.every((v) => Number.isInteger(v)),
    };
  };

  it('draws whole µs with the shape asked for', () => {
    expect(stats({ kind: 'constant', ms: 0.25 })).toMatchObject({ min: 250, mean: 250 });
    const uniform = stats({ kind: 'uniform', minMs: 1, maxMs: 2 });
    expect(uniform.min).toBeGreaterThanOrEqual(1000);
    expect(uniform.mean).toBeCloseTo(1500, -1);
    const normal = stats({ kind: 'normal', meanMs: 1, stddevMs: 1, minMs: 0.5 });
    expect(normal.min).toBe(500); // clamped
    expect(normal.median).toBeGreaterThan(950);
    expect(normal.median).toBeLessThan(1050);
    const exponential = stats({ kind: 'exponential', meanMs: 2, baseMs: 0.5 });
    expect(exponential.min).toBeGreaterThanOrEqual(500);
    expect(exponential.mean).toBeGreaterThan(2450);
    expect(exponential.mean).toBeLessThan(2550);
    const lognormal = stats({ kind: 'lognormal', medianMs: 1, sigma: 0.5, baseMs: 0.2 });
    expect(lognormal.median).toBeGreaterThan(1170);
    expect(lognormal.median).toBeLessThan(1230);
    expect(lognormal.mean).toBeGreaterThan(lognormal.median); // the long right tail
    for (const s of [uniform, normal, exponential, lognormal]) expect(s.whole).toBe(true);
  });

  it('refuses negative or absurd delays', () => {
    expect(() => delaySampler({ kind: 'constant', ms: -1 })).toThrow(/ms/);
    expect(() => delaySampler({ kind: 'exponential', meanMs: Infinity })).toThrow(/meanMs/);
    expect(() => delaySampler({ kind: 'lognormal', medianMs: 1, sigma: -1 })).toThrow(/sigma/);
  });
});
