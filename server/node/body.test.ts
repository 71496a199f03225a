import { describe, expect, it } from 'vitest';
import { owned, ownedCopy } from './body.ts';

describe('owned bytes', () => {
  it('copies a view into a larger buffer, so storing it keeps only its own bytes alive', () => {
    const pooled = Buffer.from('hello'); // small Buffers share an 8 KiB pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const mine = owned(pooled);
    expect(mine.buffer.byteLength).toBe(5);
    expect(mine.toString()).toBe('hello');
  });

  it('keeps a buffer that already owns exactly its memory', () => {
    const exact = Buffer.allocUnsafeSlow(3);
    expect(owned(exact)).toBe(exact);
  });

  it('joins chunks in order', () => {
    const joined = ownedCopy([Buffer.from('ab'), Buffer.from('cd')], 4);
    expect(joined.toString()).toBe('abcd');
    expect(joined.buffer.byteLength).toBe(4);
  });
});
