/**
 * Delay distributions as plain data (a scenario's network, service and load times), and the
 * samplers that draw whole µs from them. Every sampler takes a fixed number of draws per
 * sample, so a stream's position depends only on how many samples it gave.
 *
 * Shapes: `constant` and `uniform` for tests and calibrated services; `normal` for jitter
 * around a mean; `exponential` with a base, as TigerBeetle's packet simulator draws one-way
 * delays (one_way_delay_min + an exponential with mean one_way_delay_mean); `lognormal` with a
 * base for the long right tail measured in real networks and services.
 */
import type { Rng } from '../core/random.ts';
import { usFromMs } from './time.ts';

export type DelayDistribution =
  | { readonly kind: 'constant'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  /** Normal, clamped below at `minMs` (default 0). */
  | {
      readonly kind: 'normal';
      readonly meanMs: number;
      readonly stddevMs: number;
      readonly minMs?: number;
    }
  /** `baseMs` (default 0) plus an exponential of mean `meanMs`. */
  | { readonly kind: 'exponential'; readonly meanMs: number; readonly baseMs?: number }
  /** `baseMs` (default 0) plus a log-normal of median `medianMs` and shape `sigma`. */
  | {
      readonly kind: 'lognormal';
      readonly medianMs: number;
      readonly sigma: number;
      readonly baseMs?: number;
    };

/** Draws a delay in whole µs >= 0. */
export type DelaySampler = (rng: Rng) => number;

/** The sampler of `distribution`; throws a RangeError naming a bad field. */
export function delaySampler(distribution: DelayDistribution): DelaySampler {
  switch (distribution.kind) {
    case 'constant': {
      const us = usFromMs(checkMs('ms', distribution.ms));
      return () => us;
    }
    case 'uniform': {
      const minUs = usFromMs(checkMs('minMs', distribution.minMs));
      const maxUs = usFromMs(checkMs('maxMs', distribution.maxMs));
      if (maxUs < minUs) throw new RangeError('uniform maxMs must be >= minMs.');
      const span = maxUs - minUs + 1;
      return (rng) => minUs + Math.floor(rng.next() * span);
    }
    case 'normal': {
      const meanUs = usFromMs(checkMs('meanMs', distribution.meanMs));
      const stddevUs = usFromMs(checkMs('stddevMs', distribution.stddevMs));
      const minUs = usFromMs(checkMs('minMs', distribution.minMs ?? 0));
      return (rng) => Math.max(minUs, Math.round(meanUs + stddevUs * standardNormal(rng)));
    }
    case 'exponential': {
      const meanUs = usFromMs(checkMs('meanMs', distribution.meanMs));
      const baseUs = usFromMs(checkMs('baseMs', distribution.baseMs ?? 0));
      return (rng) => baseUs + Math.round(exponential(rng, meanUs));
    }
    case 'lognormal': {
      const medianUs = usFromMs(checkMs('medianMs', distribution.medianMs));
      const baseUs = usFromMs(checkMs('baseMs', distribution.baseMs ?? 0));
      const sigma = distribution.sigma;
      if (!(sigma >= 0 && sigma <= 10)) {
        throw new RangeError(`lognormal sigma must be from 0 to 10 (got ${sigma}).`);
      }
      return (rng) => baseUs + Math.round(medianUs * Math.exp(sigma * standardNormal(rng)));
    }
  }
}

/** An exponential variate of mean `mean` (inversion; 1 - U is in (0, 1], so the log is finite). */
export function exponential(rng: Rng, mean: number): number {
  return -mean * Math.log(1 - rng.next());
}

/** A standard normal variate (Box–Muller, cosine branch only: two draws per sample). */
export function standardNormal(rng: Rng): number {
  const u1 = 1 - rng.next();
  const u2 = rng.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Bounds delays to a day: a larger one is a unit mistake (seconds given as ms twice over). */
const MAX_DELAY_MS = 24 * 3600 * 1000;

function checkMs(name: string, ms: number): number {
  if (!(ms >= 0 && ms <= MAX_DELAY_MS)) {
    throw new RangeError(`${name} must be a number of ms from 0 to ${MAX_DELAY_MS} (got ${ms}).`);
  }
  return ms;
}
