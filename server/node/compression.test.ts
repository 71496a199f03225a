import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { acceptsGzip, inflate, InflateLimitError, maybeCompress } from './compression.ts';

describe('compression', () => {
  it('compresses values at or above the threshold when that saves space', async () => {
    const text = Buffer.from('{"name":"tinycache"}'.repeat(100));
    const packed = await maybeCompress(text, text.length);
    expect(packed).not.toBeNull();
    expect(packed!.length).toBeLessThan(text.length);
    expect(await inflate(packed!, text.length)).toEqual(text);
  });

  it('leaves values below the threshold alone', async () => {
    const text = Buffer.from('a'.repeat(100));
    expect(await maybeCompress(text, 101)).toBeNull();
  });

  it('leaves values alone when gzip would not make them smaller', async () => {
    const random = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 7919) % 251));
    expect(await maybeCompress(random, 1)).toBeNull();
  });

  it('a threshold of 0 turns compression off', async () => {
    expect(await maybeCompress(Buffer.from('a'.repeat(10_000)), 0)).toBeNull();
  });

  it('stops inflating past the limit, so a gzip bomb cannot expand', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100 * 1024);
    await expect(inflate(bomb, 1024 * 1024)).rejects.toBeInstanceOf(InflateLimitError);
  });

  it('inflates to exactly the limit', async () => {
    const body = Buffer.alloc(1000, 1);
    expect((await inflate(gzipSync(body), 1000)).length).toBe(1000);
  });

  it('reads Accept-Encoding as RFC 9110 says', () => {
    expect(acceptsGzip('gzip, deflate, br')).toBe(true);
    expect(acceptsGzip('br;q=1.0, gzip;q=0.8')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('*;q=0, identity')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });
});
