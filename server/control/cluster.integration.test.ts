/**
 * The playground's cluster over tRPC, with real node processes and live load: one node
 * becomes a cluster, a shard is added and removed while the load runs, and nothing fails.
 */
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from '../app.ts';
import { request } from '../testing/processes.ts';
import type { AppRouter } from '../trpc/router.ts';

let app: App;
let dataDir: string;
let client: ReturnType<typeof createTRPCClient<AppRouter>>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tinycache-cluster-'));
  app = await startApp({ port: 0, nodes: 1, dashboard: false, dataDir });
  client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${app.url}/api/trpc` })] });
}, 60_000);

afterAll(async () => {
  await app?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Polls until the move in progress is over; the load's failures per second meanwhile. */
async function moveOver(timeoutMs = 30_000): Promise<number[]> {
  const failures: number[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [state, load] = await Promise.all([
      client.cluster.state.query(),
      client.load.status.query(),
    ]);
    failures.push(load.errors);
    if (state.resharding === null && state.lastMove !== null) return failures;
    if (Date.now() > deadline)
      throw new Error(`the move did not end: ${JSON.stringify(state.resharding)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * 5xx answers a node has given. (A 421 is between nodes: the one with the older map gets the
 * newer and the request is sent again, so no client sees it.)
 */
async function failedAnswers(url: string): Promise<number> {
  const text = (await request(`${url}/metrics`)).text();
  let failed = 0;
  for (const line of text.split('\n')) {
    const code = /^tinycache_requests_total\{.*code="(\d+)".*\} (\S+)$/.exec(line);
    if (code !== null && Number(code[1]) >= 500) failed += Number(code[2]);
  }
  return failed;
}

describe('the playground cluster', () => {
  it('turns one node into two shards under load, moving about half the keys, with no failure', async () => {
    const before = await client.cluster.state.query();
    expect(before.epoch).toBe(0);
    expect(before.nodes[0]!.shard).toBeNull();
    await client.load.start.mutate({
      mode: 'open',
      rate: 1500,
      keys: 4000,
      readRatio: 0.5,
      distribution: 'uniform',
      valueBytes: 64,
    });
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const { shard } = await client.cluster.addShard.mutate({});
    expect(shard).toBe('s2');
    const during = await client.cluster.state.query();
    expect(during.shards.map((s) => s.id)).toEqual(['s1', 's2']);
    // One move at a time.
    await expect(client.cluster.addShard.mutate({})).rejects.toBeInstanceOf(TRPCClientError);
    const failures = await moveOver();
    expect(failures.every((f) => f === 0)).toBe(true);

    const after = await client.cluster.state.query();
    expect(after.epoch).toBeGreaterThanOrEqual(3);
    expect(after.nodes.map((n) => n.shard)).toEqual(['s1', 's2']);
    expect(after.lastMove?.error).toBeNull();
    expect(after.lastMove?.toShard).toBe('s2');
    expect(after.lastMove?.movedKeys).toBeGreaterThan(0);
    // s2 took a share of the circle near a half, and about that share of the keys.
    expect(after.lastMove!.movedShare).toBeGreaterThan(0.35);
    expect(after.lastMove!.movedShare).toBeLessThan(0.65);
    for (const node of after.nodes) expect(await failedAnswers(node.url)).toBe(0);
  }, 60_000);

  it('removes a shard: its keys drain to the other, then its node stops', async () => {
    const [n1] = (await client.cluster.state.query()).nodes;
    const keys = Array.from({ length: 300 }, (_, i) => `kept-${i}`);
    for (const key of keys) {
      expect(
        (await request(`${n1!.url}/v1/keys/${key}`, { method: 'PUT', body: key })).status,
      ).toBe(201);
    }
    await client.cluster.throttle.mutate({ keysPerSecond: 20_000 });
    await client.cluster.removeShard.mutate({ shard: 's2' });
    const failures = await moveOver();
    expect(failures.every((f) => f === 0)).toBe(true);
    await client.load.stop.mutate();

    const after = await client.cluster.state.query();
    expect(after.shards.map((s) => s.id)).toEqual(['s1']);
    expect(after.lastMove?.fromShard).toBe('s2');
    // Retired: gone from the nodes, its process stopped.
    expect(after.nodes.map((n) => n.id)).toEqual(['n1']);
    for (const key of keys) {
      const answer = await request(`${n1!.url}/v1/keys/${key}`);
      expect(answer.status).toBe(200);
      expect(answer.text()).toBe(key);
    }
  }, 60_000);

  it('refuses to remove the last shard, or one that does not exist', async () => {
    await expect(client.cluster.removeShard.mutate({ shard: 's1' })).rejects.toThrow(/only one/);
    await expect(client.cluster.removeShard.mutate({ shard: 's9' })).rejects.toThrow(/No shard s9/);
  });
});
