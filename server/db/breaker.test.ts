import { describe, expect, it } from 'vitest';
import { Breaker } from './breaker.ts';

describe('Breaker', () => {
  it('stays closed through fewer failures in a row than the limit', () => {
    const breaker = new Breaker({ failures: 3, openMs: 1000 });
    breaker.failure(0);
    breaker.failure(1);
    breaker.success();
    breaker.failure(2);
    breaker.failure(3);
    expect(breaker.state(4)).toBe('closed');
    expect(breaker.allow(4)).toBe(true);
  });

  it('opens at the limit and refuses calls until openMs has passed', () => {
    const breaker = new Breaker({ failures: 2, openMs: 1000 });
    breaker.failure(0);
    breaker.failure(10);
    expect(breaker.state(10)).toBe('open');
    expect(breaker.allow(500)).toBe(false);
    expect(breaker.retryAfterSeconds(500)).toBe(1);
    expect(breaker.state(1010)).toBe('half-open');
  });

  it('lets one probe through when half-open; its success closes the breaker', () => {
    const breaker = new Breaker({ failures: 1, openMs: 100 });
    breaker.failure(0);
    expect(breaker.allow(100)).toBe(true);
    expect(breaker.allow(100)).toBe(false); // one probe at a time
    breaker.success();
    expect(breaker.state(100)).toBe('closed');
    expect(breaker.allow(101)).toBe(true);
  });

  it('opens again for another openMs when the probe fails', () => {
    const breaker = new Breaker({ failures: 5, openMs: 100 });
    for (let i = 0; i < 5; i++) breaker.failure(0);
    expect(breaker.allow(150)).toBe(true);
    breaker.failure(150);
    expect(breaker.state(200)).toBe('open');
    expect(breaker.state(250)).toBe('half-open');
  });
});
