import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8Encode, utf8Scratch, xxh32 } from './hash.ts';

/** From the reference implementation (python-xxhash over xxhash 0.8), seeds 0 and 1. */
const VECTORS: [string, number, number][] = [
  ['', 0x02cc5d05, 0x0b2cb792],
  ['a', 0x550d7456, 0xf514706f],
  ['abc', 0x32d153ff, 0xaa3da8ff],
  ['key-00000123', 0x7343e5f7, 0x35cbe774],
  ['Nobody inspects the spammish repetition', 0xe2293b2f, 0x534469ea],
  ['ü日本🎉', 0x283c8bcc, 0x6e83bf47],
  ['x'.repeat(17), 0x483f1b5f, 0x7d4012d5],
  ['abcdefghijklmnopqrstuvwxyz0123456789', 0x42ae804d, 0xf30700f0],
];

describe('xxh32', () => {
  it.each(VECTORS)('hashes %j as the reference implementation does', (key, seed0, seed1) => {
    expect(xxh32(key)).toBe(seed0);
    expect(xxh32(key, 1)).toBe(seed1);
  });

  it('hashes keys longer than its scratch buffer (which then grows)', () => {
    expect(xxh32('k'.repeat(300))).toBe(0x7fdaf8c0);
    expect(xxh32('é'.repeat(200) + '🎉'.repeat(50))).toBe(0xe8d3e43c);
  });

  it('hashes a lone surrogate as U+FFFD, as TextEncoder encodes it', () => {
    expect(xxh32('\ud800x')).toBe(0x552500a8);
  });

  it('returns an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const h = xxh32(s);
        return Number.isInteger(h) && h >= 0 && h < 2 ** 32;
      }),
    );
  });
});

describe('utf8Encode', () => {
  it('writes the bytes TextEncoder writes, lone surrogates included', () => {
    const encoder = new TextEncoder();
    const anyUnits = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
      .map((units) => String.fromCharCode(...units));
    fc.assert(
      fc.property(fc.oneof(anyUnits, fc.string({ unit: 'binary' })), (s) => {
        const len = utf8Encode(s);
        expect([...utf8Scratch().subarray(0, len)]).toEqual([...encoder.encode(s)]);
      }),
    );
  });
});
