/**
 * `/metrics` (API.md §3): every name is there, in Prometheus text format, and counters move.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, request, spawnNode } from '../testing/processes.ts';

/** Parses the Prometheus text format into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

let node: NodeProcess;
const scrape = async () => {
  const reply = await request(`${node.url}/metrics`);
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: reply.text(), samples: parse(reply.text()) };
};

beforeAll(async () => {
  node = await spawnNode(['--max-memory', '8KiB', '--compress-threshold', '100']);
});
afterAll(async () => {
  await node.stop();
});

describe('/metrics', () => {
  it('exposes every metric of API.md §3 with its type, and the default process metrics', async () => {
    const { text } = await scrape();
    const types: Record<string, string> = {
      tinycache_requests_total: 'counter',
      tinycache_request_duration_seconds: 'histogram',
      tinycache_cache_hits_total: 'counter',
      tinycache_cache_misses_total: 'counter',
      tinycache_evictions_total: 'counter',
      tinycache_expirations_total: 'counter',
      tinycache_entries: 'gauge',
      tinycache_memory_bytes: 'gauge',
      tinycache_memory_limit_bytes: 'gauge',
      tinycache_compressed_entries: 'gauge',
      tinycache_compression_saved_bytes: 'gauge',
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(types)) {
      expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
      expect(text, name).toMatch(new RegExp(`# HELP ${name} \\S`));
    }
  });

  it('moves its counters and gauges as requests arrive', async () => {
    const before = (await scrape()).samples;
    const key = (k: string) => `${node.url}/v1/keys/${k}`;
    await request(key('a'), { method: 'PUT', body: 'hello' });
    await request(key('a'));
    await request(key('missing'));
    await request(key('doc'), { method: 'PUT', body: 'z'.repeat(2000) }); // compressed
    await request(key('brief?ttl=0.05'), { method: 'PUT', body: 'x' });
    await new Promise((r) => setTimeout(r, 100));
    await request(key('brief')); // lazily expired
    for (let i = 0; i < 40; i++) {
      await request(key(`fill${i}`), { method: 'PUT', body: 'y'.repeat(300) }); // evicts
    }
    await request(key('a'), { method: 'PUT', body: 'x'.repeat(10_000_000) }); // refused: 413
    await request(key('a'), { method: 'DELETE' });
    await request(`${node.url}/v1/keys`, { method: 'PUT', body: 'x' }); // refused: empty key

    const after = (await scrape()).samples;
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta('tinycache_requests_total{op="set",code="201"}')).toBeGreaterThanOrEqual(3);
    expect(delta('tinycache_requests_total{op="get",code="200"}')).toBeGreaterThanOrEqual(1);
    expect(delta('tinycache_requests_total{op="get",code="404"}')).toBeGreaterThanOrEqual(2);
    expect(delta('tinycache_requests_total{op="set",code="413"}')).toBe(1);
    expect(delta('tinycache_requests_total{op="set",code="400"}')).toBe(1);
    expect(delta('tinycache_cache_hits_total')).toBeGreaterThanOrEqual(1);
    expect(delta('tinycache_cache_misses_total')).toBeGreaterThanOrEqual(2);
    expect(delta('tinycache_evictions_total{policy="lru"}')).toBeGreaterThan(0);
    expect(delta('tinycache_expirations_total')).toBeGreaterThanOrEqual(1);
    expect(delta('tinycache_request_duration_seconds_count{op="set"}')).toBeGreaterThanOrEqual(40);
    expect(after.get('tinycache_memory_limit_bytes')).toBe(8192);
    expect(after.get('tinycache_memory_bytes')).toBeGreaterThan(0);
    expect(after.get('tinycache_memory_bytes')).toBeLessThanOrEqual(8192);
    expect(after.get('tinycache_entries')).toBeGreaterThan(0);
  });

  it('counts compression in the gauges while a compressed value is held', async () => {
    const big = await spawnNode(['--compress-threshold', '100']);
    try {
      await request(`${big.url}/v1/keys/doc`, { method: 'PUT', body: 'z'.repeat(5000) });
      const { samples } = await (async () => {
        const reply = await request(`${big.url}/metrics`);
        return { samples: parse(reply.text()) };
      })();
      expect(samples.get('tinycache_compressed_entries')).toBe(1);
      expect(samples.get('tinycache_compression_saved_bytes')).toBeGreaterThan(4000);
    } finally {
      await big.stop();
    }
  });

  it('uses request-duration buckets from 100 µs upward', async () => {
    const { samples } = await scrape();
    const bounds = [...samples.keys()]
      .filter(
        (k) => k.startsWith('tinycache_request_duration_seconds_bucket{') && k.includes('op="get"'),
      )
      .map((k) => /le="([^"]+)"/.exec(k)![1]!);
    expect(bounds[0]).toBe('0.0001');
    expect(bounds).toContain('+Inf');
    expect(bounds.length).toBeGreaterThanOrEqual(12);
  });
});
