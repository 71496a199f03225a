/**
 * Replicated shards (Level 6, first step) with real node processes: the control plane starts
 * 2 shards × 3 replicas with data directories, each shard elects a leader, any node serves
 * any key, and when a shard's leader is killed another of its replicas takes over.
 * Then `tinycache cluster --shards 2 --replicas 3` does the same without the dashboard.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, request, spawnServer } from '../testing/processes.ts';
import { route } from '../../core/cluster/index.ts';
import { ClusterManager, type ShardLeader } from './cluster.ts';
import { raftFromHealth } from './raft-status.ts';
import { ControlError, Supervisor } from './supervisor.ts';

/** Polls `check` every 100 ms until it gives a value; fails with `what` after `timeoutMs`. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | null>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A PUT through `url`, retried while the shard is between leaders (503 or no answer). */
async function putEventually(url: string, key: string, value: string): Promise<number> {
  let last = 'nothing yet';
  try {
    return await eventually(`PUT ${key} through ${url}`, async () => {
      try {
        const answer = await request(`${url}/v1/keys/${key}`, {
          method: 'PUT',
          headers: { 'content-type': 'text/plain' },
          body: value,
        });
        last = `${answer.status} ${answer.text().slice(0, 300)}`;
        return answer.status === 200 || answer.status === 201 ? answer.status : null;
      } catch (error) {
        last = (error as Error).message;
        return null;
      }
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last answer: ${last}`);
  }
}

async function get(url: string, key: string): Promise<{ status: number; text: string }> {
  const answer = await request(`${url}/v1/keys/${key}`);
  return { status: answer.status, text: answer.text() };
}

describe('a replicated cluster (2 shards × 3 replicas)', () => {
  let root: string;
  let supervisor: Supervisor;
  let cluster: ClusterManager;
  let leaders: ShardLeader[];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'tinycache-replicated-'));
    supervisor = new Supervisor({ dataRoot: root });
    cluster = new ClusterManager(supervisor, () => {});
    ({ leaders } = await cluster.formReplicated({ shards: 2, replicas: 3 }));
  }, 30_000);

  afterAll(async () => {
    await supervisor?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('starts six replicas, each with its data dir, three to a shard, and each shard elects a leader', () => {
    const nodes = supervisor.list();
    expect(nodes).toHaveLength(6);
    for (const node of nodes) {
      expect(node.status).toBe('up');
      expect(node.dataDir).toBe(join(root, 'nodes', node.id));
      expect(existsSync(node.dataDir!)).toBe(true);
    }
    const state = cluster.state();
    expect(state.replicated).toBe(true);
    expect(state.shards).toEqual([
      { id: 's1', nodes: ['n1', 'n2', 'n3'] },
      { id: 's2', nodes: ['n4', 'n5', 'n6'] },
    ]);
    expect(leaders.map((l) => l.shard)).toEqual(['s1', 's2']);
    for (const leader of leaders) {
      expect(state.shards.find((s) => s.id === leader.shard)!.nodes).toContain(leader.id);
      expect(leader.term).toBeGreaterThan(0);
      // NodeInfo shows what /healthz said.
      expect(supervisor.get(leader.id)).toMatchObject({ role: 'leader', term: leader.term });
    }
  });

  it("a write through any node is readable through every other, and /healthz names the shard's leader", async () => {
    const nodes = supervisor.list();
    const keys = Array.from({ length: 12 }, (_, i) => `replicated-${i}`);
    for (const [i, key] of keys.entries()) {
      expect(await putEventually(nodes[i % nodes.length]!.url, key, `v-${key}`)).toBe(201);
    }
    for (const node of nodes) {
      for (const key of keys)
        expect(await get(node.url, key)).toEqual({ status: 200, text: `v-${key}` });
    }
    for (const node of nodes) {
      const health = raftFromHealth((await request(`${node.url}/healthz`)).text());
      const leader = leaders.find((l) => l.shard === node.shard)!;
      expect(health).toMatchObject({ shard: node.shard, leader: leader.id, term: leader.term });
    }
  });

  it("refuses to add or remove shards of a replicated cluster, and to kill a shard's leader that does not exist", async () => {
    await expect(cluster.addShard()).rejects.toThrow(/replicated cluster cannot be added/);
    await expect(cluster.removeShard('s2')).rejects.toThrow(/replicated cluster cannot be removed/);
    await expect(cluster.killLeader('s9')).rejects.toThrow(/No shard s9/);
    await expect(cluster.addShard()).rejects.toBeInstanceOf(ControlError);
  });

  it('killLeader kills the leader; another replica of the shard takes over and writes succeed again', async () => {
    const before = leaders.find((l) => l.shard === 's1')!;
    const { killed, term } = await cluster.killLeader('s1');
    expect(killed).toBe(before.id);
    expect(term).toBe(before.term);
    expect(supervisor.get(killed)).toMatchObject({ status: 'down', role: 'follower' });

    const next = await eventually('a new leader in s1', async () => {
      const leader = await cluster.leaderOf('s1');
      return leader !== null && leader.id !== killed ? leader : null;
    });
    expect(next.term).toBeGreaterThan(term);
    expect(['n1', 'n2', 'n3']).toContain(next.id);

    // Writes succeed again through every node still up, keys of both shards (a node of s2
    // finds s1's new leader), and every key reads back through every node, old ones too.
    const map = cluster.state().map!;
    const up = supervisor.list().filter((n) => n.status === 'up');
    expect(up).toHaveLength(5);
    const keys = Array.from({ length: 16 }, (_, i) => `after-${i}`);
    expect(new Set(keys.map((key) => route(map, key).shard))).toEqual(new Set(['s1', 's2']));
    for (const [i, key] of keys.entries()) {
      expect(await putEventually(up[i % up.length]!.url, key, `a-${key}`)).toBe(201);
    }
    for (const node of up) {
      for (const key of keys) {
        expect(await get(node.url, key)).toEqual({ status: 200, text: `a-${key}` });
      }
      for (let i = 0; i < 12; i++) {
        expect(await get(node.url, `replicated-${i}`)).toEqual({
          status: 200,
          text: `v-replicated-${i}`,
        });
      }
    }
  }, 20_000);

  it('a killed replica restarts on its own data dir and catches up; retired, its dir goes', async () => {
    const killed = supervisor.list().find((n) => n.status === 'down')!;
    const dir = killed.dataDir!;
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    const back = await supervisor.restart(killed.id);
    expect(back.dataDir).toBe(dir);
    await eventually(`${killed.id} serving after-0`, async () => {
      const answer = await get(supervisor.get(killed.id).url, 'after-0');
      return answer.status === 200 && answer.text === 'a-after-0' ? true : null;
    });
    await eventually(`${killed.id} a follower again`, async () => {
      const health = raftFromHealth((await request(`${back.url}/healthz`)).text());
      return health?.role === 'follower' ? health : null;
    });

    await supervisor.retire(killed.id);
    expect(existsSync(dir)).toBe(false);
  }, 20_000);

  // A node forwards a key of another shard to that shard's leader as last named, else its
  // first node in the map, else (connection refused) its other nodes: a shard whose first
  // node is down stays reachable from the others.
  it("a key of a shard whose first node is down is still served through another shard's node", async () => {
    const map = cluster.state().map!;
    const [first] = map.shards.find((s) => s.id === 's2')!.nodes;
    await supervisor.kill(first!.id);
    await eventually('a leader in s2 again', async () => {
      const leader = await cluster.leaderOf('s2');
      return leader !== null && leader.id !== first!.id ? leader : null;
    });
    const key = [...Array(100).keys()]
      .map((i) => `gap-${i}`)
      .find((k) => route(map, k).shard === 's2')!;
    const s1Node = supervisor.list().find((n) => n.shard === 's1' && n.status === 'up')!;
    const answer = await request(`${s1Node.url}/v1/keys/${key}`, { method: 'PUT', body: 'x' });
    expect(answer.status).toBe(201);
  }, 20_000);
});

describe('tinycache cluster --shards 2 --replicas 3', () => {
  it('prints each shard with its leader, serves any key through any node, and cleans up on SIGINT', async () => {
    const cli = await spawnServer(
      process.execPath,
      [BIN, 'cluster', '--shards', '2', '--replicas', '3', '--base-port', '0'],
      /Ctrl-C stops them all/,
      { timeoutMs: 30_000, url: 'http://127.0.0.1:1' },
    );
    try {
      const out = cli.output();
      expect(out).toMatch(/tinycache cluster: 2 shards × 3 replicas \(Raft\)/);
      expect(out.match(/leader \* \(term \d+\)/g)).toHaveLength(2);
      const urls = [...out.matchAll(/ {2}(n\d) {2}(http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[2]!);
      expect(urls).toHaveLength(6);
      const dataRoot = /data in (\S+)\/nodes\/n1\)/.exec(out)![1]!;
      expect(existsSync(dataRoot)).toBe(true);

      expect(await putEventually(urls[0]!, 'hello', 'world')).toBe(201);
      for (const url of urls)
        expect(await get(url, 'hello')).toEqual({ status: 200, text: 'world' });

      expect(await cli.stop('SIGINT')).toBe(0);
      expect(existsSync(dataRoot)).toBe(false);
    } finally {
      await cli.stop('SIGKILL');
    }
  }, 40_000);

  it("with --data-dir, a second run recovers the first run's keys from the replicas' logs", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinycache-cluster-again-'));
    const run = () =>
      spawnServer(
        process.execPath,
        [BIN, 'cluster', '--shards', '1', '--replicas', '3', '--base-port', '0', '--data-dir', dir],
        /Ctrl-C stops them all/,
        { timeoutMs: 30_000, url: 'http://127.0.0.1:1' },
      );
    const urlsOf = (out: string) =>
      [...out.matchAll(/ {2}(n\d) {2}(http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[2]!);
    try {
      const first = await run();
      try {
        const urls = urlsOf(first.output());
        expect(await putEventually(urls[0]!, 'kept', 'across runs')).toBe(201);
        expect(await first.stop('SIGINT')).toBe(0);
      } finally {
        await first.stop('SIGKILL');
      }
      expect(readdirSync(join(dir, 'nodes', 'n1')).join(' ')).toContain('cluster-map.json');
      // The nodes take up the first run's map at start (a later epoch than a new control
      // plane's first), on other ports: the new run's map must still win.
      const second = await run();
      try {
        for (const url of urlsOf(second.output())) {
          expect(await get(url, 'kept')).toEqual({ status: 200, text: 'across runs' });
        }
      } finally {
        expect(await second.stop('SIGINT')).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
