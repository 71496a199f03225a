import { describe, expect, it } from 'vitest';
import { LogRing, MAX_LINE_CHARS } from './log-ring.ts';

describe('LogRing', () => {
  it('keeps only the last `capacity` lines, oldest first', () => {
    const ring = new LogRing(3);
    for (const line of ['a', 'b', 'c', 'd', 'e']) ring.push(line);
    expect(ring.tail()).toEqual(['c', 'd', 'e']);
    expect(ring.tail(2)).toEqual(['d', 'e']);
    expect(ring.tail(0)).toEqual([]);
  });

  it('joins chunks into lines per stream, so interleaved streams stay whole', () => {
    const ring = new LogRing(10);
    ring.write('out', 'hel');
    ring.write('err', 'oops\r\nwar');
    ring.write('out', 'lo\nwor');
    ring.flush('out');
    ring.flush('err');
    expect(ring.tail()).toEqual(['oops', 'hello', 'wor', 'war']);
  });

  it('bounds a line that never ends', () => {
    const ring = new LogRing(2);
    ring.write('out', 'x'.repeat(MAX_LINE_CHARS * 3));
    ring.write('out', 'y\n');
    expect(ring.tail()[0]).toHaveLength(MAX_LINE_CHARS);
  });

  it('refuses a capacity that is not a positive whole number', () => {
    expect(() => new LogRing(0)).toThrow(RangeError);
  });
});
