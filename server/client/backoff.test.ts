import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/random.ts';
import { backoffMs, DEFAULT_RETRY_POLICY, nextRetryDelayMs } from './backoff.ts';

describe('backoff with full jitter', () => {
  const policy = DEFAULT_RETRY_POLICY;

  it('waits in [0, min(cap, base·2^n)) and is the same for the same seed', () => {
    const rng = createRng(42);
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
      for (let i = 0; i < 200; i++) {
        const d = backoffMs(policy, attempt, rng);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(ceiling);
      }
    }
    const a = createRng(7);
    const b = createRng(7);
    const seq = (r: typeof a) => Array.from({ length: 10 }, (_, n) => backoffMs(policy, n, r));
    expect(seq(a)).toEqual(seq(b));
  });

  it('spreads the waits (jitter), rather than all at the ceiling', () => {
    const rng = createRng(3);
    const waits = Array.from({ length: 1000 }, () => backoffMs(policy, 10, rng));
    const mean = waits.reduce((s, x) => s + x, 0) / waits.length;
    expect(mean).toBeGreaterThan(policy.capMs * 0.4);
    expect(mean).toBeLessThan(policy.capMs * 0.6);
  });

  it('gives up once a retry would start past the total bound', () => {
    const rng = createRng(1);
    expect(nextRetryDelayMs(policy, 0, 0, 0, rng)).not.toBeNull();
    expect(nextRetryDelayMs(policy, 5, 0, policy.totalMs + 1, rng)).toBeNull();
    // Retrying until refused never schedules a retry past the bound.
    let t = 0;
    let attempts = 0;
    for (let n = 0; ; n++) {
      const d = nextRetryDelayMs(policy, n, 0, t, rng);
      if (d === null) break;
      t += d + 10; // the attempt itself takes 10 ms
      attempts++;
      expect(t - 10).toBeLessThanOrEqual(policy.totalMs);
    }
    expect(attempts).toBeGreaterThan(3);
  });
});
