import { describe, expect, it } from 'vitest';
import { shareOf } from './live.ts';
import { DEFAULT_LOAD_SETTINGS } from './settings.ts';

describe('shareOf', () => {
  it('splits connections and rate evenly over the targets', () => {
    const settings = { ...DEFAULT_LOAD_SETTINGS, connections: 30, rate: 3000 };
    const share = shareOf(settings, 3, 'http://127.0.0.1:7001');
    expect(share).toMatchObject({ url: 'http://127.0.0.1:7001', connections: 10, rate: 1000 });
    expect(share.durationSeconds).toBeNull();
  });

  it('gives every target at least one connection', () => {
    const settings = { ...DEFAULT_LOAD_SETTINGS, connections: 1 };
    expect(shareOf(settings, 4, 'http://127.0.0.1:7001').connections).toBe(1);
  });

  it('refuses bad settings, naming the field', () => {
    const settings = { ...DEFAULT_LOAD_SETTINGS, readRatio: 2 };
    expect(() => shareOf(settings, 1, 'http://127.0.0.1:7001')).toThrow(/readRatio/);
  });
});
