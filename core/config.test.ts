import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  MAX_TTL_SECONDS,
  parseBytes,
  parseTtlSeconds,
  ttlMs,
  validateConfigPatch,
} from './config.ts';

describe('sizes', () => {
  it('reads bytes and binary units, every unit a power of 1024', () => {
    expect(parseBytes('1048576')).toBe(1048576);
    expect(parseBytes('512KiB')).toBe(512 * 1024);
    expect(parseBytes('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseBytes('64M')).toBe(64 * 1024 * 1024);
    expect(parseBytes('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseBytes('1.5KiB')).toBe(1536);
  });

  it('refuses what is not a whole number of bytes', () => {
    for (const bad of ['', 'lots', '12XB', '-1', '1.3KiB', '0x10', '1e3']) {
      expect(parseBytes(bad), bad).toBeUndefined();
    }
  });

  it('writes sizes the way people do', () => {
    expect(formatBytes(64 * 1024 * 1024)).toBe('64MiB');
    expect(formatBytes(1536)).toBe('1.5KiB');
    expect(formatBytes(100)).toBe('100B');
  });
});

describe('TTLs: one rule for ?ttl= and --default-ttl', () => {
  it('reads plain decimal seconds above 0, up to ten years', () => {
    expect(parseTtlSeconds('60')).toBe(60);
    expect(parseTtlSeconds('0.25')).toBe(0.25);
    expect(parseTtlSeconds('.5')).toBe(0.5);
    expect(parseTtlSeconds(String(MAX_TTL_SECONDS))).toBe(MAX_TTL_SECONDS);
  });

  it('refuses zero, negatives, exponents, hex, blanks and too long', () => {
    for (const bad of [
      '0',
      '-1',
      '1e3',
      '0x10',
      '',
      ' 5',
      'Infinity',
      String(MAX_TTL_SECONDS + 1),
    ]) {
      expect(parseTtlSeconds(bad), bad).toBeUndefined();
    }
  });

  it('lasts whole milliseconds, at least one', () => {
    expect(ttlMs(0.0001)).toBe(1);
    expect(ttlMs(0.25)).toBe(250);
    expect(ttlMs(1.0004)).toBe(1000);
  });
});

describe('config patches', () => {
  it('takes known fields within their limits', () => {
    const result = validateConfigPatch({
      policy: 'wtinylfu',
      maxMemoryBytes: 1 << 20,
      defaultTtlSeconds: null,
    });
    expect(result).toEqual({
      ok: true,
      value: { policy: 'wtinylfu', maxMemoryBytes: 1 << 20, defaultTtlSeconds: null },
    });
  });

  it.each([
    [{ policy: 'fifo' }, 'policy'],
    [{ maxMemoryBytes: 10 }, 'maxMemoryBytes'],
    [{ maxKeyBytes: 1.5 }, 'maxKeyBytes'],
    [{ defaultTtlSeconds: 0 }, 'defaultTtlSeconds'],
    [{ defaultTtlSeconds: '60' }, 'defaultTtlSeconds'],
    [{ maxMemory: 1 }, 'maxMemory'],
  ])('refuses %j, naming %s', (patch, field) => {
    const result = validateConfigPatch(patch);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('invalid_config');
      expect(result.error.message).toContain(field);
    }
  });

  it('refuses what is not an object', () => {
    for (const input of [null, [], 'x', 3]) expect(validateConfigPatch(input).ok).toBe(false);
  });
});
