/**
 * Virtual time. The simulator counts whole microseconds: integers add exactly, so two events
 * meant to fall at the same instant do (0.1 + 0.2 !== 0.3 in floating-point ms), ties break
 * only by the scheduler's sequence numbers, and a run replays bit for bit. A double holds
 * whole µs exactly up to 2^53 µs (285 years of virtual time). Microseconds are fine enough for
 * an in-memory cache, whose service times are tens of µs; the engine takes ms (its `now`), so
 * the simulator converts at that edge with `msFromUs`.
 */

export const US_PER_MS = 1000;
export const US_PER_SECOND = 1_000_000;

/** Whole µs nearest to `ms`; configuration (in ms, as people write it) enters here. */
export function usFromMs(ms: number): number {
  return Math.round(ms * US_PER_MS);
}

/** Ms as the engine and the reports read them (exact for whole µs below 2^53). */
export function msFromUs(us: number): number {
  return us / US_PER_MS;
}
