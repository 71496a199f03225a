/**
 * Key samplers: which key id (an integer in [0, keys)) a workload touches next. Randomness
 * comes from an injected Rng, so one seed replays one stream of keys.
 */
import type { Rng } from '../random.ts';
import { createPermutation, MAX_PERMUTATION_SIZE } from './permutation.ts';

export interface KeySampler {
  /** The next key id. */
  next(): number;
}

/** How keys are chosen; plain data, so it crosses a worker boundary and a JSON API. */
export type KeyDistribution =
  | { readonly kind: 'uniform' }
  | { readonly kind: 'zipf'; readonly s?: number; readonly scatter?: boolean }
  | ({ readonly kind: 'zipf-scan' } & Omit<ZipfScanOptions, 'keys'>);

export const DEFAULT_ZIPF_S = 0.99;
export const MAX_KEYS = MAX_PERMUTATION_SIZE;

export function createKeySampler(
  keys: number,
  distribution: KeyDistribution,
  rng: Rng,
): KeySampler {
  switch (distribution.kind) {
    case 'uniform':
      return uniformSampler(keys, rng);
    case 'zipf':
      return zipfSampler(keys, rng, distribution);
    case 'zipf-scan':
      return zipfScanSampler({ ...distribution, keys }, rng);
  }
}

export function uniformSampler(keys: number, rng: Rng): KeySampler {
  checkKeys(keys);
  return { next: () => rng.nextInt(keys) };
}

export interface ZipfOptions {
  /** The exponent: P(rank k) ∝ 1/k^s. Default 0.99, as in YCSB. */
  readonly s?: number;
  /**
   * Scatter ranks over key ids through a fixed permutation (default true), so the hot keys are
   * spread over the key space; false maps rank 1 to key 0, rank 2 to key 1, …
   */
  readonly scatter?: boolean;
}

/**
 * Zipf over `keys` ranks by rejection-inversion (Hörmann & Derflinger, "Rejection-inversion to
 * generate variates from monotone discrete distributions", 1996; the form used by Apache
 * Commons RNG). Chosen over a precomputed CDF because it is O(1) in memory and construction
 * (a CDF for 10M keys is 80 MB and ~100 ms to build) and O(1) expected per draw (a
 * draw is rarely rejected), against O(log n) for a binary search.
 */
export function zipfSampler(keys: number, rng: Rng, options: ZipfOptions = {}): KeySampler {
  checkKeys(keys);
  const s = options.s ?? DEFAULT_ZIPF_S;
  if (!(s >= 0 && s <= 10))
    throw new RangeError(`zipf s must be a number from 0 to 10 (got ${s}).`);
  const rank = zipfRanks(keys, s, rng);
  if (options.scatter === false) return { next: () => rank() - 1 };
  const permutation = createPermutation(keys);
  return { next: () => permutation.apply(rank() - 1) };
}

/** Returns a function drawing ranks 1..n with P(k) ∝ k^-s. */
function zipfRanks(n: number, s: number, rng: Rng): () => number {
  // H is an integral of h(x) = x^-s, written with helpers that stay exact near s = 1.
  const h = (x: number): number => Math.exp(-s * Math.log(x));
  const hIntegral = (x: number): number => {
    const logX = Math.log(x);
    return expm1OverX((1 - s) * logX) * logX;
  };
  const hIntegralInverse = (x: number): number => {
    let t = x * (1 - s);
    if (t < -1) t = -1; // guards rounding; the exact value is never below -1
    return Math.exp(log1pOverX(t) * x);
  };
  const hIntegralX1 = hIntegral(1.5) - 1;
  const hIntegralN = hIntegral(n + 0.5);
  const squeeze = 2 - hIntegralInverse(hIntegral(2.5) - h(2));

  return () => {
    for (;;) {
      const u = hIntegralN + rng.next() * (hIntegralX1 - hIntegralN);
      const x = hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > n) k = n;
      if (k - x <= squeeze || u >= hIntegral(k + 0.5) - h(k)) return k;
    }
  };
}

function log1pOverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

function expm1OverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}

export interface ZipfScanOptions {
  /** Zipf keys are ids [0, keys). */
  readonly keys: number;
  readonly s?: number;
  /** Consecutive scan keys in one scan. */
  readonly scanLength: number;
  /** Zipf draws between two scans. */
  readonly scanEvery: number;
  /**
   * Distinct scan keys, ids [keys, keys + scanKeys), walked in order and wrapping; default
   * unbounded, so a scan key is never repeated. A small value makes scans rarely repeated.
   */
  readonly scanKeys?: number;
}

/**
 * A Zipf stream interleaved with sequential scans: `scanEvery` Zipf draws, then `scanLength`
 * keys that continue one sequential walk outside the Zipf key space. The classic test of scan
 * resistance: LRU lets every scan flush the hot set, TinyLFU should not.
 */
export function zipfScanSampler(options: ZipfScanOptions, rng: Rng): KeySampler {
  const { keys, scanLength, scanEvery } = options;
  const scanKeys = options.scanKeys ?? Infinity;
  for (const [name, value] of [
    ['scanLength', scanLength],
    ['scanEvery', scanEvery],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`${name} must be a whole number >= 0 (got ${value}).`);
    }
  }
  if (scanEvery + scanLength < 1) throw new RangeError('scanEvery + scanLength must be >= 1.');
  if (scanKeys !== Infinity && !(Number.isInteger(scanKeys) && scanKeys >= 1)) {
    throw new RangeError(`scanKeys must be a whole number >= 1 (got ${scanKeys}).`);
  }
  const zipf = zipfSampler(keys, rng, options.s === undefined ? {} : { s: options.s });
  const period = scanEvery + scanLength;
  let position = 0; // where in the period the next key falls
  let scanCursor = 0;
  return {
    next() {
      const inScan = position >= scanEvery;
      position = position + 1 === period ? 0 : position + 1;
      if (!inScan) return zipf.next();
      const id = keys + scanCursor;
      scanCursor = scanCursor + 1 === scanKeys ? 0 : scanCursor + 1;
      return id;
    },
  };
}

function checkKeys(keys: number): void {
  if (!Number.isInteger(keys) || keys < 1 || keys > MAX_KEYS) {
    throw new RangeError(`keys must be a whole number from 1 to ${MAX_KEYS} (got ${keys}).`);
  }
}
