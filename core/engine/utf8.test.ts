import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8ByteLength } from './utf8.ts';

const encoder = new TextEncoder();

describe('utf8ByteLength', () => {
  it('counts what TextEncoder writes, for any UTF-16 string (lone surrogates too)', () => {
    const anyCodeUnits = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
      .map((units) => String.fromCharCode(...units));
    fc.assert(
      fc.property(fc.oneof(anyCodeUnits, fc.string({ unit: 'grapheme' })), (s) => {
        expect(utf8ByteLength(s)).toBe(encoder.encode(s).length);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['', 0],
    ['abc', 3],
    ['é', 2],
    ['日本', 6],
    ['😀', 4],
    ['\ud800', 3],
  ])('%j is %i bytes', (s, bytes) => {
    expect(utf8ByteLength(s)).toBe(bytes);
  });
});
