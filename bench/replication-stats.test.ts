import { describe, expect, it } from 'vitest';
import { formatMs, lostWrites, percentile, type KeyRecord } from './replication-stats.ts';

describe('percentile', () => {
  it('takes the nearest rank, whatever the order', () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
  });

  it('is null without values', () => {
    expect(percentile([], 50)).toBeNull();
  });
});

describe('formatMs', () => {
  it('prints ms below a second and seconds above', () => {
    expect(formatMs(12.34)).toBe('12.3 ms');
    expect(formatMs(412.6)).toBe('413 ms');
    expect(formatMs(2400)).toBe('2.4 s');
    expect(formatMs(19_400)).toBe('19 s');
    expect(formatMs(null)).toBe('-');
  });
});

describe('lostWrites', () => {
  const records = new Map<string, KeyRecord>([
    ['a', { acked: 'v1', unknown: null }],
    ['b', { acked: 'v2', unknown: 'v9' }],
    ['c', { acked: null, unknown: 'v3' }],
    ['d', { acked: 'v4', unknown: null }],
  ]);

  it('counts none when every acknowledged value reads back, or the failed write after it', () => {
    const readBack = new Map([
      ['a', 'v1'],
      ['b', 'v9'],
      ['c', null],
      ['d', 'v4'],
    ]);
    expect(lostWrites(records, readBack)).toEqual({ checked: 3, lost: [] });
  });

  it('counts a missing key and an older value as lost; keys never acknowledged are not checked', () => {
    const readBack = new Map<string, string | null>([
      ['a', null],
      ['b', 'v0'],
      ['d', 'v4'],
    ]);
    expect(lostWrites(records, readBack)).toEqual({ checked: 3, lost: ['a', 'b'] });
  });
});
