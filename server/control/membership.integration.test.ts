/**
 * Level 6 membership with real node processes: one shard of three replicas takes more writes
 * than a snapshot covers (so its leader's log is compacted), then, under a write load, a dead
 * replica is replaced (the new one joins with --join and catches up from a snapshot), a
 * replica is added, and the leader itself is removed (it steps down, another leads). Every
 * acknowledged write reads back with its latest value afterwards, through every replica.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SNAPSHOT_EVERY } from '../node/raft/replica.ts';
import { agent, call } from '../testing/http.ts';
import { ClusterManager } from './cluster.ts';
import { type Members, readMembers } from './membership.ts';
import { ControlError, Supervisor } from './supervisor.ts';

const json = { 'content-type': 'application/json' };

async function until<T>(what: string, check: () => Promise<T | null>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Writes numbered values to a few keys through the live nodes of the shard, one at a time per
 * worker, and keeps the last value acknowledged for each key (a 503 is retried as a new
 * value: only acknowledged ones count).
 */
class WriteLoop {
  readonly acked = new Map<string, string>();
  ackCount = 0;
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(urls: () => string[], workers: number) {
    this.#done = Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let n = 0; !this.#stopped; n++) {
          const live = urls();
          const url = live[n % live.length]!;
          const key = `loop-${w}-${n % 7}`;
          const value = `w${w}-n${n}`;
          try {
            const answer = await call(`${url}/v1/keys/${key}`, 'PUT', value);
            if (answer.status === 201 || answer.status === 200) {
              this.acked.set(key, value);
              this.ackCount++;
            } else await new Promise((resolve) => setTimeout(resolve, 20));
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      }),
    ).then(() => undefined);
  }

  stop(): Promise<void> {
    this.#stopped = true;
    return this.#done;
  }
}

describe('membership of a replicated shard (real processes)', () => {
  let root: string;
  let supervisor: Supervisor;
  let cluster: ClusterManager;
  const up = () =>
    supervisor
      .list()
      .filter((n) => n.shard === 's1' && n.status === 'up')
      .map((n) => n.url);

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'tinycache-membership-'));
    supervisor = new Supervisor({ dataRoot: root });
    cluster = new ClusterManager(supervisor, () => {});
    await cluster.formReplicated({ shards: 1, replicas: 3 });
  }, 30_000);

  afterAll(async () => {
    await supervisor?.close();
    agent.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it('GET /v1/raft/members names the voters; POST is refused on a follower (naming the leader) and for bad bodies', async () => {
    const leader = (await cluster.leaderOf('s1'))!;
    const members = await readMembers(leader.url);
    expect([...members.voters].sort()).toEqual(['n1', 'n2', 'n3']);
    expect([...members.bootstrap].sort()).toEqual(['n1', 'n2', 'n3']);
    expect(members).toMatchObject({ shard: 's1', role: 'leader', leader: leader.id });

    const follower = supervisor.list().find((n) => n.id !== leader.id)!;
    const refused = await call(`${follower.url}/v1/raft/members`, 'POST', '{"add":"n9"}', json);
    expect(refused.status).toBe(503);
    expect(refused.headers['x-tinycache-leader']).toBe(leader.id);
    for (const body of ['{"add":""}', '{"add":"n9","remove":"n1"}', '["n9"]', '{"join":"n9"}']) {
      const bad = await call(`${leader.url}/v1/raft/members`, 'POST', body, json);
      expect(bad.status, body).toBe(400);
      expect(JSON.parse(bad.body)).toMatchObject({
        error: { code: 'bad_request', message: expect.stringContaining('{"add": "n4"}') },
      });
    }
    const put = await call(`${leader.url}/v1/raft/members`, 'PUT', '{"add":"n9"}', json);
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD, POST');
    const again = await call(`${leader.url}/v1/raft/members`, 'POST', '{"add":"n2"}', json);
    expect(again.status).toBe(409);
    expect(JSON.parse(again.body)).toMatchObject({ error: { code: 'membership_refused' } });
    expect((await readMembers(leader.url)).voters).toHaveLength(3);
  });

  it('replaces a dead replica under writes: the new one catches up from a snapshot; then adds one and removes the leader; nothing acknowledged is lost', async () => {
    // More writes than a snapshot covers: the leader's log starts after a snapshot.
    const leader = (await cluster.leaderOf('s1'))!;
    const total = DEFAULT_SNAPSHOT_EVERY + 200;
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = next++; i < total; i = next++) {
          const answer = await call(`${leader.url}/v1/keys/bulk-${i}`, 'PUT', `b${i}`);
          expect(answer.status).toBe(201);
        }
      }),
    );
    await until('a snapshot on the leader', async () =>
      (await readMembers(leader.url)).snapshotIndex > 0 ? true : null,
    );

    const loop = new WriteLoop(up, 4);
    await until('writes under way', async () => (loop.acked.size >= 10 ? true : null));

    // A follower dies; it is replaced.
    const dead = supervisor.list().find((n) => n.id !== leader.id)!;
    await supervisor.kill(dead.id);
    const { removed, added } = await cluster.replaceReplica(dead.id);
    expect(removed).toBe(dead.id);
    expect(supervisor.list().some((n) => n.id === dead.id)).toBe(false);
    expect(added).toMatchObject({ shard: 's1', status: 'up' });
    const map = cluster.state().map!;
    expect(map.shards[0]!.nodes.map((n) => n.id)).toContain(added.id);
    expect(map.shards[0]!.nodes.map((n) => n.id)).not.toContain(dead.id);
    let joined: Members = await readMembers(added.url);
    expect([...joined.voters].sort()).toEqual([...supervisor.list().map((n) => n.id)].sort());
    // It joined with the group's first voters and came up to date through a snapshot.
    expect([...joined.bootstrap].sort()).toEqual(['n1', 'n2', 'n3']);
    expect(joined.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    const early = await call(`${added.url}/v1/keys/bulk-0?consistency=stale`);
    expect(early.body).toBe('b0');
    const late = await call(`${added.url}/v1/keys/bulk-${total - 1}?consistency=stale`);
    expect(late.body).toBe(`b${total - 1}`);

    // A fourth replica, then the leader leaves: it steps down and another leads.
    const fourth = await cluster.addReplica('s1');
    joined = await readMembers(fourth.url);
    expect(joined.voters).toHaveLength(4);
    const before = (await cluster.leaderOf('s1'))!;
    await cluster.removeReplica(before.id);
    expect(supervisor.list().some((n) => n.id === before.id)).toBe(false);
    const after = await until('a new leader', async () => {
      const l = await cluster.leaderOf('s1');
      return l !== null && l.id !== before.id ? l : null;
    });
    expect((await readMembers(after.url)).voters).toHaveLength(3);
    expect((await readMembers(after.url)).voters).not.toContain(before.id);
    const acked = loop.ackCount;
    await until('writes after the changes', async () =>
      loop.ackCount >= acked + 20 ? true : null,
    );
    await loop.stop();

    // Every acknowledged write, latest value, through every replica (linearizable reads).
    expect(loop.acked.size).toBeGreaterThan(0);
    for (const url of up()) {
      for (const [key, value] of loop.acked) {
        const answer = await call(`${url}/v1/keys/${key}`);
        expect(answer.body, `${key} through ${url}`).toBe(value);
      }
    }
    expect(cluster.state().map!.shards[0]!.nodes).toHaveLength(3);
  }, 120_000);

  it('refuses: an unknown node, an unknown shard, the last replica', async () => {
    await expect(cluster.removeReplica('n99')).rejects.toThrow(ControlError);
    await expect(cluster.addReplica('s9')).rejects.toMatchObject({ code: 'unknown_shard' });
    const nodes = cluster.state().map!.shards[0]!.nodes;
    await cluster.removeReplica(nodes[0]!.id);
    await cluster.removeReplica(nodes[1]!.id);
    await expect(cluster.removeReplica(nodes[2]!.id)).rejects.toMatchObject({
      code: 'membership_refused',
    });
    const last = (await cluster.leaderOf('s1'))!;
    expect(last.id).toBe(nodes[2]!.id);
    expect((await call(`${last.url}/v1/keys/after-shrink`, 'PUT', 'x')).status).toBe(201);
  }, 60_000);
});
