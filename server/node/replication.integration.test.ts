/**
 * Level 6 with real node processes: `tinycache node --data-dir` makes each node a replica of
 * its shard's Raft group, formed from the cluster map. Writes through any node commit through
 * Raft and read back linearizably from any node; a follower answers stale reads itself; a
 * leader killed with SIGKILL under writes, ten times, is replaced each time within the
 * election bound (a generous liveness bound, not a speed figure), and no acknowledged write
 * is lost; the killed node restarts from its data dir on a new port and catches up; a paused
 * (SIGSTOP) leader acknowledges nothing it had pending; in a 2 × 3 cluster, keys of the other
 * shard go to that shard's leader.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterMap, route } from '../../core/cluster/index.ts';
import { agent, call } from '../testing/http.ts';
import { DEFAULT_ELECTION_TICKS, DEFAULT_TICK_MS } from './raft/replica.ts';
import { type NodeProcess, spawnNode } from '../testing/processes.ts';

/** Leader kills (each followed by the restart of the killed node) in the one-shard test. */
const KILLS = 10;
/**
 * A killed leader's shard serves writes again within this long, every time: a liveness bound
 * (ten times the longest election timeout, DEFAULT_ELECTION_TICKS × DEFAULT_TICK_MS × 2), not
 * a speed figure; bench/replication.ts measures the distribution.
 */
const ELECTION_BOUND_MS = 10 * 2 * DEFAULT_ELECTION_TICKS * DEFAULT_TICK_MS;

interface Replica {
  readonly id: string;
  readonly dir: string;
  proc: NodeProcess;
}

interface Health {
  role: string;
  term: number;
  leader: string | null;
  shard: string | null;
  commit: number;
  applied: number;
}

const dirs: string[] = [];
const procs: NodeProcess[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  agent.destroy();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function spawnReplica(id: string, dir?: string): Promise<Replica> {
  const dataDir = dir ?? (await mkdtemp(join(tmpdir(), `tinycache-${id}-`)));
  if (dir === undefined) dirs.push(dataDir);
  const proc = await spawnNode([
    '--node-id',
    id,
    '--data-dir',
    dataDir,
    '--max-value-bytes',
    '4KiB',
  ]);
  procs.push(proc);
  return { id, dir: dataDir, proc };
}

function mapOf(epoch: number, shards: Record<string, readonly Replica[]>): ClusterMap {
  return {
    epoch,
    vnodes: 64,
    shards: Object.entries(shards).map(([id, nodes]) => ({
      id,
      nodes: nodes.map((n) => ({ id: n.id, url: n.proc.url })),
    })),
    moving: null,
  };
}

async function publish(map: ClusterMap, nodes: readonly Replica[]): Promise<void> {
  for (const node of nodes) {
    const answer = await call(`${node.proc.url}/v1/cluster`, 'PUT', JSON.stringify(map), {
      'content-type': 'application/json',
    });
    expect(answer.status, answer.body).toBe(200);
  }
}

async function health(node: Replica): Promise<Health | null> {
  try {
    const answer = await call(`${node.proc.url}/healthz`);
    return answer.status === 200 ? (JSON.parse(answer.body) as Health) : null;
  } catch {
    return null;
  }
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The node among `nodes` that leads in the highest term any of them reports, or null. */
async function leaderAmong(nodes: readonly Replica[]): Promise<Replica | null> {
  const states = await Promise.all(nodes.map(health));
  const top = Math.max(...states.map((s) => s?.term ?? 0));
  const i = states.findIndex((s) => s?.role === 'leader' && s.term === top);
  return i === -1 ? null : nodes[i]!;
}

async function waitLeader(nodes: readonly Replica[], aboveTerm = 0): Promise<Replica> {
  let leader: Replica | null = null;
  await until(async () => {
    leader = await leaderAmong(nodes);
    return leader !== null && ((await health(leader))?.term ?? 0) > aboveTerm;
  }, 'a leader');
  return leader!;
}

const keyUrl = (node: Replica, key: string, query = '') =>
  `${node.proc.url}/v1/keys/${encodeURIComponent(key)}${query}`;

async function put(node: Replica, key: string, value: string): Promise<number> {
  try {
    return (await call(keyUrl(node, key), 'PUT', value, { 'content-type': 'text/plain' })).status;
  } catch {
    return 0; // the connection failed: the outcome is unknown
  }
}

/** A linearizable read through `node`: the value, or null for a 404. Throws on anything else. */
async function read(node: Replica, key: string): Promise<string | null> {
  const answer = await call(keyUrl(node, key));
  if (answer.status === 404) return null;
  if (answer.status !== 200) throw new Error(`GET ${key}: ${answer.status} ${answer.body}`);
  return answer.body;
}

/**
 * Writers, each PUTting fresh keys (each must read back) and overwriting one key of its own
 * (which must read back with the latest acknowledged value or a later attempted one).
 */
class WriteLoop {
  readonly acked = new Map<string, string>();
  readonly attempted = new Set<string>();
  readonly counters = new Map<string, { acked: number; attempted: number }>();
  refused = 0;
  #running = true;
  readonly #done: Promise<void>[] = [];

  constructor(targets: () => readonly Replica[], writers: number, prefix: string) {
    for (let w = 0; w < writers; w++) {
      const counter = `${prefix}-counter-${w}`;
      this.counters.set(counter, { acked: 0, attempted: 0 });
      this.#done.push(
        (async () => {
          for (let n = 1; this.#running; n++) {
            const live = targets();
            const node = live[n % live.length]!;
            const key = `${prefix}-${w}-${n}`;
            this.attempted.add(key);
            const status = await put(node, key, `v${n}`);
            if (status === 201 || status === 200) this.acked.set(key, `v${n}`);
            else if (status === 503) this.refused++;
            else if (status !== 0) throw new Error(`PUT ${key}: unexpected ${status}`);
            const c = this.counters.get(counter)!;
            c.attempted = n;
            const s = await put(node, counter, String(n));
            if (s === 200 || s === 201) c.acked = n;
            else if (s !== 503 && s !== 0) throw new Error(`PUT ${counter}: unexpected ${s}`);
          }
        })(),
      );
    }
  }

  get ackedCount(): number {
    return this.acked.size;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#done);
  }

  /**
   * Every acknowledged write is there with its value; each counter within its bounds (read
   * while the writers run, a counter is at least what was acknowledged before the read).
   */
  async check(through: Replica): Promise<void> {
    // A copy: while the writers run, the map grows.
    for (const [key, value] of [...this.acked]) {
      expect(await read(through, key), key).toBe(value);
    }
    for (const [key, c] of this.counters) {
      const acked = c.acked;
      const got = await read(through, key);
      const n = got === null ? 0 : Number(got);
      expect(n, key).toBeGreaterThanOrEqual(acked);
      expect(n, key).toBeLessThanOrEqual(c.attempted);
    }
  }
}

describe('replicated shards on real nodes (--data-dir)', () => {
  it('one shard of three replicas: writes anywhere, linearizable and stale reads, failover under writes, restart and catch-up, a paused leader', async () => {
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map((id) => spawnReplica(id)));
    await publish(mapOf(1, { s1: nodes }), nodes);
    const leader = await waitLeader(nodes);
    const followers = nodes.filter((n) => n !== leader);

    // Writes through every node, read back linearizably from every node.
    for (const [i, node] of nodes.entries()) {
      const answer = await call(keyUrl(node, `k${i}`), 'PUT', `value ${i}`, {
        'content-type': 'text/plain',
      });
      expect(answer.status, answer.body).toBe(201);
      expect(answer.headers['x-tinycache-leader']).toBe(leader.id);
      expect(answer.headers['x-tinycache-shard']).toBe('s1');
    }
    for (const node of nodes) {
      for (let i = 0; i < nodes.length; i++) expect(await read(node, `k${i}`)).toBe(`value ${i}`);
    }
    // A follower's answer names the leader that served it and its term.
    const viaFollower = await call(keyUrl(followers[0]!, 'k0'));
    expect(viaFollower.headers['x-tinycache-leader']).toBe(leader.id);
    expect(viaFollower.headers['x-tinycache-forwarded-by']).toBe(followers[0]!.id);
    expect(Number(viaFollower.headers['x-tinycache-term'])).toBeGreaterThan(0);
    // Stale reads: the follower answers from its own state (it may lag: eventually).
    await until(async () => {
      const answer = await call(keyUrl(followers[1]!, 'k2', '?consistency=stale'));
      return answer.status === 200 && answer.body === 'value 2';
    }, 'a stale read on a follower');
    const staleByHeader = await call(keyUrl(followers[1]!, 'k2'), 'GET', undefined, {
      'x-tinycache-consistency': 'stale',
    });
    expect(staleByHeader.headers['x-tinycache-forwarded-by']).toBeUndefined();
    const bad = await call(keyUrl(followers[0]!, 'k0', '?consistency=eventual'));
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('consistency');
    // Refusals are checked before proposing; a DELETE is answered once applied.
    const tooLarge = await call(keyUrl(followers[0]!, 'big'), 'PUT', 'x'.repeat(5000));
    expect(tooLarge.status).toBe(413);
    expect((await call(keyUrl(followers[0]!, 'k1'), 'DELETE')).status).toBe(204);
    expect((await call(keyUrl(nodes[2]!, 'k1'), 'DELETE')).status).toBe(404);
    // A client's session: a retry of (client, seq) gets the first answer, applied once.
    const session = { 'x-tinycache-client': 'c1', 'x-tinycache-seq': '1' };
    expect((await call(keyUrl(nodes[0]!, 's'), 'PUT', 'first', session)).status).toBe(201);
    expect((await call(keyUrl(nodes[1]!, 's'), 'PUT', 'again', session)).status).toBe(201);
    expect(await read(nodes[2]!, 's')).toBe('first');
    const health0 = await health(leader);
    expect(health0).toMatchObject({ role: 'leader', shard: 's1', leader: leader.id });
    expect(health0!.applied).toBeGreaterThan(0);
    const metrics = (await call(`${leader.proc.url}/metrics`)).body;
    for (const name of [
      'tinycache_raft_term',
      'tinycache_raft_role{role="leader"} 1',
      'tinycache_raft_commit_index',
      'tinycache_raft_applied_index',
      'tinycache_raft_leader_changes_total',
      'tinycache_raft_append_duration_seconds_count',
      'tinycache_raft_fsync_duration_seconds_count',
      'tinycache_raft_follower_lag_entries',
    ]) {
      expect(metrics).toContain(name);
    }
    const stats = JSON.parse((await call(`${followers[0]!.proc.url}/v1/stats`)).body) as {
      entries: number;
    };
    expect(stats.entries).toBeGreaterThan(0);
    // The node's memory settings are its replica's store's (evictions are local).
    const patched = await call(
      `${followers[0]!.proc.url}/v1/config`,
      'PATCH',
      JSON.stringify({ policy: 'wtinylfu', maxMemoryBytes: 32 * 1024 * 1024 }),
      { 'content-type': 'application/json' },
    );
    expect(patched.status, patched.body).toBe(200);
    const after = JSON.parse((await call(`${followers[0]!.proc.url}/v1/stats`)).body) as {
      policy: string;
      maxMemoryBytes: number;
      entries: number;
    };
    expect(after).toMatchObject({ policy: 'wtinylfu', maxMemoryBytes: 32 * 1024 * 1024 });
    expect(after.entries).toBeGreaterThanOrEqual(stats.entries);

    // SIGKILL the leader under writes, KILLS times: 503s or successes, a new leader in a later
    // term, nothing acknowledged lost; the killed node restarts from its data dir on a new
    // port, gets the new map, and catches up before the next round.
    let all: readonly Replica[] = nodes;
    const servedAfterMs: number[] = [];
    let term = health0!.term;
    let epoch = 1;
    const loops: WriteLoop[] = [];
    for (let round = 0; round < KILLS; round++) {
      const killed = await waitLeader(all);
      const survivors = all.filter((n) => n !== killed);
      let live = all;
      const loop = new WriteLoop(() => live, 3, `kill${round}`);
      loops.push(loop);
      await until(async () => loop.ackedCount >= 10, 'writes before the kill');
      const killedAt = performance.now();
      await killed.proc.stop('SIGKILL');
      live = survivors;
      const ackedAtKill = loop.ackedCount;
      const next = await waitLeader(survivors, term);
      // Serving again: a write through the survivors acknowledged after the kill.
      await until(async () => loop.ackedCount > ackedAtKill, 'a write after the failover');
      servedAfterMs.push(performance.now() - killedAt);
      await until(async () => loop.ackedCount >= ackedAtKill + 10, 'writes after the failover');
      await loop.stop();
      await loop.check(next);

      const restarted = await spawnReplica(killed.id, killed.dir);
      all = all.map((n) => (n === killed ? restarted : n));
      await publish(mapOf(++epoch, { s1: all }), all);
      const commit = (await health(next))!.commit;
      await until(
        async () => ((await health(restarted))?.applied ?? 0) >= commit,
        'the restarted node to catch up',
      );
      // Term and log came back from disk (its term only grows).
      expect((await health(restarted))!.term).toBeGreaterThanOrEqual(term);
      term = (await health(next))!.term;
      for (const [key, value] of [...loop.acked].slice(-5)) {
        const answer = await call(keyUrl(restarted, key, '?consistency=stale'));
        expect(answer.body, key).toBe(value);
      }
    }
    for (const node of all) for (const loop of loops) await loop.check(node);
    // Within the election bound every time: a liveness bound, far above the 250-500 ms
    // election timeout (bench/replication.ts measures the distribution).
    expect(servedAfterMs).toHaveLength(KILLS);
    for (const ms of servedAfterMs) expect(ms).toBeLessThan(ELECTION_BOUND_MS);

    // SIGSTOP the leader with writes pending on it; a new leader; SIGCONT: it acknowledges
    // nothing it had pending unless that write committed.
    const paused = await waitLeader(all);
    const pausedTerm = (await health(paused))!.term;
    const others = all.filter((n) => n !== paused);
    paused.proc.child.kill('SIGSTOP');
    const pending = Array.from({ length: 10 }, (_, i) =>
      put(paused, `paused-${i}`, `p${i}`).then((status) => ({ key: `paused-${i}`, status })),
    );
    const third = await waitLeader(others, pausedTerm);
    for (let i = 0; i < 5; i++) expect(await put(third, `after-${i}`, `a${i}`)).toBe(201);
    paused.proc.child.kill('SIGCONT');
    const outcomes = await Promise.all(pending);
    for (const { key, status } of outcomes) {
      expect([200, 201, 503, 0]).toContain(status);
      if (status === 200 || status === 201) expect(await read(third, key)).toBe(`p${key.slice(7)}`);
    }
    // The old leader, back, serves through the new one (once it has learned of it).
    await until(
      async () => (await call(keyUrl(paused, 'after-0'))).status === 200,
      'the old leader to forward',
    );
    for (let i = 0; i < 5; i++) expect(await read(paused, `after-${i}`)).toBe(`a${i}`);
    for (const loop of loops) await loop.check(third);

    // A graceful stop ends cleanly (a follower: the paused node, back, or another).
    expect(await others[0]!.proc.stop('SIGTERM')).toBe(0);
  }, 120_000);

  it('two shards of three replicas: keys of the other shard go to its leader', async () => {
    const ids = ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'];
    const nodes = await Promise.all(ids.map((id) => spawnReplica(id)));
    const s1 = nodes.slice(0, 3);
    const s2 = nodes.slice(3);
    const map = mapOf(1, { s1, s2 });
    await publish(map, nodes);
    const leaders = { s1: await waitLeader(s1), s2: await waitLeader(s2) };
    for (let i = 0; i < 20; i++) {
      const key = `key-${i}`;
      const shard = route(map, key).shard as 's1' | 's2';
      // Through a follower of the other shard: one cross-shard hop, then one to the leader.
      const other = (shard === 's1' ? s2 : s1).find(
        (n) => n !== leaders[shard === 's1' ? 's2' : 's1'],
      )!;
      const answer = await call(keyUrl(other, key), 'PUT', `v${i}`, {
        'content-type': 'text/plain',
      });
      expect(answer.status, answer.body).toBe(201);
      expect(answer.headers['x-tinycache-shard']).toBe(shard);
      expect(answer.headers['x-tinycache-leader']).toBe(leaders[shard].id);
      const reader = nodes[(i + 1) % nodes.length]!;
      expect(await read(reader, key)).toBe(`v${i}`);
    }
    // s2's first node (where the map sends s2's keys) dies: they reach its other replicas,
    // through a new leader if it led.
    await s2[0]!.proc.stop('SIGKILL');
    const s2Keys = Array.from({ length: 60 }, (_, i) => `later-${i}`)
      .filter((key) => route(map, key).shard === 's2')
      .slice(0, 5);
    for (const key of s2Keys) {
      await until(
        async () => [200, 201].includes(await put(s1[1]!, key, `x-${key}`)),
        `a write of ${key} through s1`,
      );
      await until(
        async () => (await call(keyUrl(s1[2]!, key))).body === `x-${key}`,
        `a read of ${key} through s1`,
      );
    }
    // A replicated shard is formed, not resharded: a map that moves keys is refused.
    const moving: ClusterMap = {
      ...mapOf(2, { s1 }),
      moving: { fromRing: ['s1', 's2'], leaving: [{ id: 's2', nodes: map.shards[1]!.nodes }] },
    };
    const refused = await call(`${nodes[0]!.proc.url}/v1/cluster`, 'PUT', JSON.stringify(moving), {
      'content-type': 'application/json',
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('Raft');
  }, 30_000);
});
