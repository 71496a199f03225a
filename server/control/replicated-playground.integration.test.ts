/**
 * The playground's replicated cluster over tRPC (Level 6, first step), with real node
 * processes: formReplicated makes one shard of three replicas beside the lone node a new
 * user starts with, cluster.state shows their roles and terms, killLeader kills the leader
 * and the dashboard's view follows the new one. Moves are refused on a replicated cluster.
 */
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from '../app.ts';
import type { AppRouter } from '../trpc/router.ts';

let app: App;
let dataDir: string;
let client: ReturnType<typeof createTRPCClient<AppRouter>>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tinycache-replicated-playground-'));
  app = await startApp({ port: 0, nodes: 1, dashboard: false, dataDir });
  client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${app.url}/api/trpc` })] });
}, 60_000);

afterAll(async () => {
  await app?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the playground, replicated', () => {
  it('refuses an even number of replicas, naming the field', async () => {
    await expect(client.cluster.formReplicated.mutate({ shards: 1, replicas: 2 })).rejects.toThrow(
      /replicas must be odd/,
    );
  });

  it('forms a shard of three replicas with data dirs under the playground folder; one leads', async () => {
    const formed = await client.cluster.formReplicated.mutate({ shards: 1, replicas: 3 });
    expect(formed.replicated).toBe(true);
    expect(formed.shards).toEqual([{ id: 's1', nodes: ['n2', 'n3', 'n4'] }]);
    expect(formed.leaders).toHaveLength(1);
    const replicas = formed.nodes.filter((n) => n.shard === 's1');
    expect(replicas).toHaveLength(3);
    for (const node of replicas) {
      expect(node.dataDir).toBe(join(dataDir, 'nodes', node.id));
      expect(existsSync(node.dataDir!)).toBe(true);
    }
    expect(replicas.find((n) => n.id === formed.leaders[0]!.id)).toMatchObject({
      role: 'leader',
      term: formed.leaders[0]!.term,
    });
    // The lone node the playground started with leads itself, as API.md says.
    expect(formed.nodes.find((n) => n.id === 'n1')).toMatchObject({
      role: 'leader',
      term: null,
      dataDir: null,
      shard: null,
    });
    await expect(client.cluster.formReplicated.mutate({ shards: 1, replicas: 3 })).rejects.toThrow(
      /already formed/,
    );
  });

  it('refuses to add or remove a shard of a replicated cluster', async () => {
    await expect(client.cluster.addShard.mutate({})).rejects.toThrow(
      /replicated cluster cannot be added/,
    );
    await expect(client.cluster.removeShard.mutate({ shard: 's1' })).rejects.toThrow(
      /replicated cluster cannot be removed/,
    );
  });

  it('killLeader kills the leader, and cluster.state soon shows another replica leading in a later term', async () => {
    await expect(client.cluster.killLeader.mutate({ shard: 's9' })).rejects.toThrow(/No shard s9/);
    const { killed, term } = await client.cluster.killLeader.mutate({ shard: 's1' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const state = await client.cluster.state.query();
      expect(state.nodes.find((n) => n.id === killed)).toMatchObject({ status: 'down' });
      // The monitor reads roles from /metrics each second.
      const leader = state.nodes.find(
        (n) => n.shard === 's1' && n.status === 'up' && n.role === 'leader',
      );
      if (leader !== undefined && (leader.term ?? 0) > term) break;
      if (Date.now() > deadline)
        throw new Error(`no new leader shown: ${JSON.stringify(state.nodes)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 20_000);

  it("the live load leaves a dead replica to its shard's other replicas", async () => {
    const state = await client.cluster.state.query();
    const dead = state.nodes.find((n) => n.shard === 's1' && n.status === 'down')!;
    const alive = state.nodes.filter((n) => n.status === 'up').map((n) => n.id);
    await client.load.start.mutate({ rate: 200 });
    try {
      const deadline = Date.now() + 10_000;
      let targets: string[] = [];
      while (Date.now() < deadline) {
        targets = [...(await client.load.status.query()).targets].sort();
        if (targets.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // A real client whose replica died goes to another; a dead lone node would stay a target.
      expect(targets).toEqual([...alive].sort());
      expect(targets).not.toContain(dead.id);
    } finally {
      await client.load.stop.mutate();
    }
  }, 20_000);
});
