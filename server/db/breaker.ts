/**
 * A circuit breaker for the database: after `failures` failures in a row it opens, and calls
 * fail at once (no pile of requests each waiting out a timeout) for `openMs`; then it lets
 * one call through (half-open). That call's success closes it; its failure opens it again.
 * Time comes in as `now`, so tests step it.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Failures in a row that open the breaker. */
  readonly failures: number;
  /** How long it stays open before one call may try. */
  readonly openMs: number;
}

export const BREAKER_DEFAULTS: BreakerOptions = { failures: 3, openMs: 1000 };

export class Breaker {
  private failuresInARow = 0;
  private openedAt = 0;
  private opened = false;
  private probing = false;

  constructor(private readonly options: BreakerOptions = BREAKER_DEFAULTS) {}

  state(now: number): BreakerState {
    if (!this.opened) return 'closed';
    return now - this.openedAt >= this.options.openMs ? 'half-open' : 'open';
  }

  /**
   * Whether a call may go ahead now. While half-open only one call at a time may (the probe);
   * every call allowed must be followed by success() or failure().
   */
  allow(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failuresInARow = 0;
    this.opened = false;
    this.probing = false;
  }

  failure(now: number): void {
    this.failuresInARow++;
    if (this.probing || this.failuresInARow >= this.options.failures) {
      this.opened = true;
      this.openedAt = now;
    }
    this.probing = false;
  }

  /** How long until a call may try again, in whole seconds (for Retry-After); at least 1. */
  retryAfterSeconds(now: number): number {
    if (!this.opened) return 1;
    return Math.max(1, Math.ceil((this.openedAt + this.options.openMs - now) / 1000));
  }
}
