import { describe, expect, it } from 'vitest';
import { createRng } from '../random.ts';
import { keyName } from './keys.ts';
import { generateValue } from './values.ts';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('generated values', () => {
  it.each([1, 2, 5, 40, 64, 100, 1000, 4096])(
    'a compressible value of %s bytes is exactly that size and parses as JSON',
    (size) => {
      const value = generateValue(size, createRng(1), true);
      expect(value.bytes.length).toBe(size);
      expect(value.contentType).toBe('application/json');
      expect(() => JSON.parse(text(value.bytes)) as unknown).not.toThrow();
    },
  );

  it('a random value has the size asked for and is replayed from its seed', () => {
    const a = generateValue(1001, createRng(9), false);
    expect(a.bytes.length).toBe(1001);
    expect(a.contentType).toBe('application/octet-stream');
    expect(generateValue(1001, createRng(9), false).bytes).toEqual(a.bytes);
    expect(generateValue(1001, createRng(10), false).bytes).not.toEqual(a.bytes);
  });

  it('compressible text repeats itself, random bytes do not', () => {
    const distinct = (bytes: Uint8Array) => new Set(bytes).size;
    expect(distinct(generateValue(4096, createRng(1), true).bytes)).toBeLessThan(64);
    expect(distinct(generateValue(4096, createRng(1), false).bytes)).toBeGreaterThan(200);
  });

  it('an empty value is allowed', () => {
    expect(generateValue(0, createRng(1), true).bytes.length).toBe(0);
  });
});

describe('key names', () => {
  it('are stable, fixed-width and distinct', () => {
    expect(keyName(123)).toBe('key-00000123');
    expect(keyName(0)).toBe('key-00000000');
    expect(keyName(123_456_789)).toBe('key-123456789');
  });
});
