import { describe, expect, it } from 'vitest';
import { createRng } from '../random.ts';
import { createPermutation } from './permutation.ts';
import {
  createKeySampler,
  uniformSampler,
  zipfSampler,
  zipfScanSampler,
  type KeySampler,
} from './samplers.ts';

function draw(sampler: KeySampler, count: number): number[] {
  return Array.from({ length: count }, () => sampler.next());
}

function counts(ids: number[]): Map<number, number> {
  const byId = new Map<number, number>();
  for (const id of ids) byId.set(id, (byId.get(id) ?? 0) + 1);
  return byId;
}

function harmonic(n: number, s: number): number {
  let sum = 0;
  for (let k = 1; k <= n; k++) sum += k ** -s;
  return sum;
}

describe('uniform sampler', () => {
  it('replays the same keys from the same seed', () => {
    const a = draw(uniformSampler(1000, createRng(7)), 100);
    const b = draw(uniformSampler(1000, createRng(7)), 100);
    const c = draw(uniformSampler(1000, createRng(8)), 100);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('covers the whole range [0, keys) and nothing outside it', () => {
    const ids = draw(uniformSampler(50, createRng(1)), 5000);
    expect(new Set(ids).size).toBe(50);
    expect(Math.min(...ids)).toBe(0);
    expect(Math.max(...ids)).toBe(49);
  });

  it('gives every key about the same share', () => {
    const byId = counts(draw(uniformSampler(10, createRng(3)), 100_000));
    for (const n of byId.values()) expect(n).toBeGreaterThan(9_500);
  });
});

describe('zipf sampler', () => {
  it('replays the same keys from the same seed', () => {
    const a = draw(zipfSampler(1_000_000, createRng(7)), 200);
    expect(draw(zipfSampler(1_000_000, createRng(7)), 200)).toEqual(a);
  });

  it.each([0.5, 0.99, 1, 1.2])('matches the theoretical rank shares for s = %s', (s) => {
    const n = 1000;
    const samples = 200_000;
    const byRank = counts(draw(zipfSampler(n, createRng(11), { s, scatter: false }), samples));
    const h = harmonic(n, s);
    for (const rank of [1, 2, 10, 100]) {
      const expected = rank ** -s / h;
      const observed = (byRank.get(rank - 1) ?? 0) / samples;
      // within 5 standard errors of a binomial proportion
      const tolerance = 5 * Math.sqrt((expected * (1 - expected)) / samples);
      expect(Math.abs(observed - expected)).toBeLessThan(tolerance);
    }
  });

  it('stays within range for 10M keys and builds at once (O(1) memory)', () => {
    const ids = draw(zipfSampler(10_000_000, createRng(5)), 10_000);
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ids)).toBeLessThan(10_000_000);
  });

  it('scatters the hot ranks over key ids, the same way on every run', () => {
    const n = 1_000_000;
    const hottest = (seed: number) => {
      const byId = counts(draw(zipfSampler(n, createRng(seed)), 20_000));
      return [...byId.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    };
    const permutation = createPermutation(n);
    expect(hottest(1)).toBe(permutation.apply(0));
    expect(hottest(2)).toBe(permutation.apply(0));
    expect(permutation.apply(0)).not.toBe(0);
  });

  it('refuses a key count or exponent out of range, naming it', () => {
    expect(() => zipfSampler(0, createRng(1))).toThrow(/keys/);
    expect(() => zipfSampler(10, createRng(1), { s: -1 })).toThrow(/zipf s/);
  });
});

describe('scatter permutation', () => {
  it.each([1, 2, 3, 17, 1000, 65_537])('is a bijection of [0, %s)', (n) => {
    const permutation = createPermutation(n);
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) seen.add(permutation.apply(i));
    expect(seen.size).toBe(n);
    expect(Math.max(...seen)).toBe(n - 1);
  });
});

describe('zipf plus scan sampler', () => {
  it('interleaves scanEvery zipf keys with scanLength sequential, never repeated scan keys', () => {
    const keys = 100;
    const sampler = zipfScanSampler({ keys, scanEvery: 6, scanLength: 4 }, createRng(2));
    const ids = draw(sampler, 30);
    const scan = ids.filter((id) => id >= keys);
    expect(ids.slice(0, 6).every((id) => id < keys)).toBe(true);
    expect(ids.slice(6, 10)).toEqual([100, 101, 102, 103]);
    expect(scan).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111]);
  });

  it('wraps a bounded scan space, so scan keys come back rarely', () => {
    const sampler = zipfScanSampler(
      { keys: 10, scanEvery: 0, scanLength: 1, scanKeys: 3 },
      createRng(1),
    );
    expect(draw(sampler, 7)).toEqual([10, 11, 12, 10, 11, 12, 10]);
  });

  it('is built by createKeySampler from plain data', () => {
    const sampler = createKeySampler(
      10,
      { kind: 'zipf-scan', scanEvery: 1, scanLength: 1 },
      createRng(1),
    );
    expect(draw(sampler, 4).filter((id) => id >= 10)).toEqual([10, 11]);
  });
});
