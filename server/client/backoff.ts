/**
 * Retry timing shared by the exported client and the load generator (Level 6): bounded
 * exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter", 2015). Attempt n (0-based) waits a uniform random time in [0, min(cap, base·2^n)),
 * and no retry starts once `totalMs` has passed since the first attempt: a caller sees an
 * answer, or an error, within the bound.
 */
import type { Rng } from '../../core/random.ts';

export interface RetryPolicy {
  /** The first retry waits up to this long. */
  readonly baseMs: number;
  /** No single wait is longer than this. */
  readonly capMs: number;
  /** No retry starts later than this after the first attempt was sent. */
  readonly totalMs: number;
}

/** 25 ms doubling to 1 s, for at most 5 s: a Raft election here takes well under a second. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 25, capMs: 1000, totalMs: 5000 };

/** The wait before retry `attempt` (0 for the first retry), in [0, min(cap, base·2^attempt)). */
export function backoffMs(policy: RetryPolicy, attempt: number, rng: Rng): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return rng.next() * ceiling;
}

/**
 * The wait before retry `attempt` of a request first sent at `firstMs`, or null when the
 * bound leaves no room for it (the caller gives up). `nowMs` and `firstMs` on one clock.
 */
export function nextRetryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  firstMs: number,
  nowMs: number,
  rng: Rng,
): number | null {
  const delay = backoffMs(policy, attempt, rng);
  return nowMs + delay - firstMs > policy.totalMs ? null : delay;
}
