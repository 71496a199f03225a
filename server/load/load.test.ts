import { afterEach, describe, expect, it } from 'vitest';
import { closedPort, startFixture, type Fixture, type FixtureOptions } from './kv-fixture.ts';
import { startLoad, type LoadOptions } from './load.ts';

let fixture: Fixture | null = null;
afterEach(async () => {
  await fixture?.close();
  fixture = null;
});

async function serve(options: FixtureOptions = {}): Promise<Fixture> {
  fixture = await startFixture(options);
  return fixture;
}

async function run(options: Partial<LoadOptions>) {
  return startLoad({ durationSeconds: 0.4, connections: 4, keys: 100, ...options }).done;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('closed model', () => {
  it('keeps each connection busy and counts every answer', async () => {
    const { url, counts } = await serve();
    const result = await run({ url, connections: 4, readRatio: 0.5 });
    expect(result.requests).toBeGreaterThan(20);
    expect(result.reads + result.writes).toBe(result.requests);
    // The server saw every answered request, plus at most those still in flight at the stop.
    expect(counts.requests).toBeGreaterThanOrEqual(result.requests);
    expect(counts.requests).toBeLessThanOrEqual(result.requests + result.unfinished);
    expect(result.unfinished).toBeLessThanOrEqual(4);
    expect(result.errorCount).toBe(0);
    expect(result.latencyMs?.p50).toBeGreaterThan(0);
    expect(result.bytesRead).toBeGreaterThan(0);
    expect(result.stoppedBy).toBe('duration');
  });

  it('sends GETs and PUTs in the read ratio', async () => {
    const { url } = await serve();
    const result = await run({ url, readRatio: 0.8 });
    expect(result.requests).toBeGreaterThan(200);
    expect(Math.abs(result.reads / result.requests - 0.8)).toBeLessThan(0.06);
  });

  it('counts a GET 200 as a hit and a GET 404 as a miss, not an error', async () => {
    const { url, store } = await serve();
    const result = await run({
      url,
      readRatio: 1,
      distribution: 'uniform',
      keys: 100,
      prefillKeys: 50,
    });
    expect(result.prefilledKeys).toBe(50);
    expect(store.size).toBe(50);
    expect(result.writes).toBe(0);
    expect(result.hits + result.misses).toBe(result.reads);
    expect(result.errorCount).toBe(0);
    expect(result.hitRate).toBeGreaterThan(0.35);
    expect(result.hitRate).toBeLessThan(0.65);
  });

  it('counts errors by HTTP status, apart from hits and misses', async () => {
    const { url } = await serve({ failKey: (key) => key.endsWith('7') });
    const result = await run({ url, distribution: 'uniform', readRatio: 0.5 });
    const failed = result.errors['500'] ?? 0;
    expect(failed).toBeGreaterThan(0);
    expect(result.errorCount).toBe(failed);
    expect(result.statuses['500']).toBe(failed);
    expect(result.hits + result.misses).toBeLessThan(result.reads);
  });

  it('reads chunked bodies', async () => {
    const { url } = await serve({ chunked: true });
    const result = await run({ url, readRatio: 0.9, prefillKeys: 100, valueBytes: 300 });
    expect(result.hits).toBeGreaterThan(10);
    expect(result.errorCount).toBe(0);
  });

  it('replaces connections the server closes, without counting an error', async () => {
    const { url, counts } = await serve({ closeEvery: 3 });
    const result = await run({ url, connections: 2 });
    expect(result.requests).toBeGreaterThan(30);
    expect(result.errorCount).toBe(0);
    expect(counts.connections).toBeGreaterThan(10);
  });

  it('GETs one fixed path in path mode (the anchor for a bare HTTP server)', async () => {
    const { url, counts } = await serve();
    const result = await run({ url, path: '/' });
    expect(result.requests).toBeGreaterThan(20);
    expect(result.statuses['200']).toBe(result.requests);
    expect(result.reads + result.writes).toBe(0);
    expect(result.hitRate).toBeNull();
    expect(counts.gets + counts.puts).toBe(0);
  });

  it('counts socket errors by code: a refused connection', async () => {
    const port = await closedPort();
    const result = await run({ url: `http://127.0.0.1:${port}`, durationSeconds: 0.3 });
    expect(result.requests).toBe(0);
    expect(result.errors['ECONNREFUSED']).toBeGreaterThan(0);
  });

  it('counts a request left unanswered as a timeout and carries on', async () => {
    const { url } = await serve({ hangPath: '/hang' });
    const result = await run({ url, path: '/hang', timeoutMs: 100, durationSeconds: 0.5 });
    expect(result.errors['timeout']).toBeGreaterThanOrEqual(4);
  });
});

describe('open model', () => {
  it('charges a server stall to every request it delayed (coordinated omission)', async () => {
    // 200 req/s for 1 s; the server holds every answer for 300 ms once. About 60 of the 200
    // requests are due during the stall; measured from their intended send times, their
    // latencies spread evenly from 300 ms down to 0, so p99 is near 300 ms and p90 near 200 ms.
    // Measured from the moment each was sent, only the 4 in flight would be slow: p90 ~0.3 ms.
    const { url } = await serve({ stall: { afterRequests: 40, ms: 300 } });
    const result = await run({ url, mode: 'open', rate: 200, connections: 4, durationSeconds: 1 });
    const latency = result.latencyMs;
    expect(latency).not.toBeNull();
    expect(latency?.p99).toBeGreaterThan(250);
    expect(latency?.p90).toBeGreaterThan(150);
    expect(result.requests).toBeGreaterThan(150);
  });

  it('follows the intended rate and takes a new rate from update()', async () => {
    const { url } = await serve();
    const handle = startLoad({ url, mode: 'open', rate: 20, durationSeconds: 1, keys: 10 });
    await sleep(400);
    handle.update({ rate: 400 });
    expect(handle.options.rate).toBe(400);
    const result = await handle.done;
    // ~8 at 20/s, then ~240 at 400/s; without the update it would be ~20.
    expect(result.requests).toBeGreaterThan(100);
    expect(result.requests).toBeLessThan(400);
  });

  it('switches between the open and the closed model while running', async () => {
    const { url, counts } = await serve();
    const handle = startLoad({
      url,
      mode: 'open',
      rate: 10,
      connections: 2,
      durationSeconds: null,
    });
    await sleep(300);
    const afterOpen = counts.requests;
    handle.update({ mode: 'closed' });
    await sleep(300);
    const afterClosed = counts.requests;
    handle.update({ mode: 'open' });
    await sleep(300);
    const afterOpenAgain = counts.requests;
    handle.stop();
    await handle.done;
    // ~3 arrivals at 10/s; then as fast as two connections go; then ~3 again.
    expect(afterOpen).toBeLessThanOrEqual(6);
    expect(afterClosed - afterOpen).toBeGreaterThan(30);
    expect(afterOpenAgain - afterClosed).toBeLessThanOrEqual(8);
  });

  it('refuses a bad update, naming the field, and changes nothing', async () => {
    const { url } = await serve();
    const handle = startLoad({ url, mode: 'open', rate: 50, durationSeconds: null });
    expect(() => handle.update({ rate: -5 })).toThrow(/rate/);
    expect(() => handle.update({ readRatio: 2 })).toThrow(/readRatio/);
    expect(handle.options.rate).toBe(50);
    handle.stop();
    await handle.done;
  });
});

describe('control while running', () => {
  it('stops promptly when the signal aborts', async () => {
    const { url } = await serve();
    const controller = new AbortController();
    const started = performance.now();
    const handle = startLoad({ url, durationSeconds: 30 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const result = await handle.done;
    expect(performance.now() - started).toBeLessThan(3000);
    expect(result.stoppedBy).toBe('abort');
    expect(result.requests).toBeGreaterThan(0);
  });

  it('stops promptly on stop(), even against a server that never answers', async () => {
    const { url } = await serve({ hangPath: '/hang' });
    const handle = startLoad({ url, path: '/hang', durationSeconds: 30 });
    await sleep(100);
    const started = performance.now();
    handle.stop();
    const result = await handle.done;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(result.stoppedBy).toBe('stop');
    expect(result.unfinished).toBeGreaterThan(0);
  });

  it('reports the last second once a second, and follows a change of connections', async () => {
    const { url } = await serve();
    const snapshots: number[] = [];
    const handle = startLoad(
      { url, connections: 2, durationSeconds: null },
      { onProgress: (s) => snapshots.push(s.requestsPerSecond) },
    );
    await sleep(1150);
    const snapshot = handle.snapshot();
    expect(snapshots.length).toBe(1);
    expect(snapshot.running).toBe(true);
    expect(snapshot.phase).toBe('measure');
    expect(snapshot.requestsPerSecond).toBeGreaterThan(0);
    expect(snapshot.p99Ms).toBeGreaterThan(0);
    expect(snapshot.openConnections).toBe(2);
    handle.update({ connections: 5 });
    await sleep(100);
    expect(handle.snapshot().openConnections).toBe(5);
    handle.update({ connections: 1 });
    await sleep(100);
    expect(handle.snapshot().openConnections).toBe(1);
    handle.stop();
    expect((await handle.done).connections).toBe(1);
  });
});

describe('options', () => {
  it('refuses bad options, naming them', () => {
    expect(() => startLoad({ connections: 0 })).toThrow(/connections/);
    expect(() => startLoad({ url: 'https://example.com' })).toThrow(/url/);
    expect(() => startLoad({ keys: 1.5 })).toThrow(/keys/);
  });
});
