/**
 * Three Replicas in one process over a loopback network (testing.ts), with real timers and a
 * 5 ms tick: elections take tens of ms. Nothing asserts on wall time; bounds are in ticks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import client from 'prom-client';
import { createRng } from '../../../core/random.ts';
import { ReplicatedCache } from '../../../core/replicated/index.ts';
import type { Message } from '../../../core/raft/index.ts';
import { registerRaftMetrics } from './metrics.ts';
import {
  MembershipRefused,
  NotLeader,
  Replica,
  Unavailable,
  type WriteRequest,
  type Written,
} from './replica.ts';
import { AsyncMemoryStorage, eventually, LoopbackNetwork, PausableTicker } from './testing.ts';

const TICK_MS = 5;
const ELECTION_TICKS = 10;
const TEXT = new TextEncoder();
const DECODE = new TextDecoder();

function set(client: string, seq: number, key: string, value: string): WriteRequest {
  const bytes = TEXT.encode(value);
  return {
    kind: 'set',
    client,
    seq,
    key,
    bytes,
    contentType: 'text/plain',
    compressed: false,
    rawBytes: bytes.length,
    ttlMs: null,
  };
}

interface Options {
  ids?: readonly string[];
  snapshotEvery?: number;
  requestTimeoutMs?: number;
  saveDelayMs?: number;
}

/** A shard of three replicas n1..n3 over one loopback network. */
class Shard {
  readonly ids: readonly string[];
  readonly network = new LoopbackNetwork();
  readonly storages = new Map<string, AsyncMemoryStorage>();
  readonly tickers = new Map<string, PausableTicker>();
  readonly replicas = new Map<string, Replica>();
  readonly fatal: unknown[] = [];
  readonly options: Options;
  #incarnation = 0;

  constructor(options: Options = {}) {
    this.options = options;
    this.ids = options.ids ?? ['n1', 'n2', 'n3'];
    for (const id of this.ids) {
      this.storages.set(id, new AsyncMemoryStorage(options.saveDelayMs ?? 0));
      this.start(id);
    }
  }

  /** A new member: empty storage, the shard's bootstrap peers (core/raft's rule). */
  join(id: string): Replica {
    this.storages.set(id, new AsyncMemoryStorage(this.options.saveDelayMs ?? 0));
    return this.start(id);
  }

  /** Starts `id` (again) from its storage, with a fresh cache. */
  start(id: string): Replica {
    const ticker = new PausableTicker();
    const replica = new Replica({
      id,
      peers: this.ids,
      storage: this.storages.get(id)!,
      transport: this.network.transport(id),
      cache: new ReplicatedCache({
        maxMemoryBytes: 1 << 20,
        maxKeyBytes: 250,
        maxValueBytes: 1 << 16,
        policy: 'lru',
      }),
      now: () => Date.now(),
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 2,
      snapshotEvery: this.options.snapshotEvery ?? 10_000,
      requestTimeoutMs: this.options.requestTimeoutMs ?? 2_000,
      rng: createRng(1000 * ++this.#incarnation + this.ids.indexOf(id)),
      ticker: ticker.ticker,
      onFatal: (error) => this.fatal.push(error),
    });
    this.tickers.set(id, ticker);
    this.replicas.set(id, replica);
    this.network.listen(id, (m: Message) => replica.receive(m));
    replica.start();
    return replica;
  }

  replica(id: string): Replica {
    return this.replicas.get(id)!;
  }

  /** Kills `id`: its messages are lost and it stops. */
  async kill(id: string): Promise<void> {
    this.network.cut(id);
    await this.replica(id).stop();
  }

  /** SIGSTOP: its clock stops and its messages wait, both ways. */
  pause(id: string): void {
    this.network.pause(id, 'both');
    this.tickers.get(id)!.paused = true;
  }

  resume(id: string): void {
    this.tickers.get(id)!.paused = false;
    this.network.resume(id);
  }

  /** The leader of the highest term among `among`, if one of them leads it. */
  leader(among = this.ids): Replica | null {
    let best: Replica | null = null;
    let maxTerm = 0;
    for (const id of among) {
      const s = this.replica(id).status();
      maxTerm = Math.max(maxTerm, s.term);
      if (s.role === 'leader' && (best === null || s.term > best.status().term)) {
        best = this.replica(id);
      }
    }
    return best !== null && best.status().term === maxTerm ? best : null;
  }

  async waitLeader(among = this.ids): Promise<Replica> {
    await eventually(() => this.leader(among) !== null, `a leader among ${among.join(',')}`);
    return this.leader(among)!;
  }

  /** Every replica started, bootstrap or joined. */
  get all(): string[] {
    return [...this.replicas.keys()];
  }

  async stopAll(): Promise<void> {
    for (const id of this.all) await this.replica(id).stop();
  }
}

async function readValue(
  replica: Replica,
  key: string,
  consistency: 'linearizable' | 'stale',
): Promise<string | null> {
  const entry = await replica.read(key, consistency);
  return entry === undefined ? null : DECODE.decode(entry.bytes);
}

/** Settles every promise; each comes back as its value or its error. */
async function settle<T>(promises: Promise<T>[]): Promise<(T | Error)[]> {
  const results = await Promise.allSettled(promises);
  return results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error)));
}

let shard: Shard | null = null;
afterEach(async () => {
  await shard?.stopAll();
  expect(shard?.fatal ?? []).toEqual([]);
  shard = null;
});

describe('Replica: elections and writes', () => {
  it('elects one leader, commits writes and every replica applies them', async () => {
    shard = new Shard();
    const leader = await shard.waitLeader();
    const applied: Written[] = [];
    for (let seq = 1; seq <= 5; seq++)
      applied.push(await leader.write(set('c1', seq, `k${seq}`, `v${seq}`)));
    expect(applied.map((a) => a.outcome)).toEqual(
      Array.from({ length: 5 }, () => ({ ok: true, kind: 'set', created: true })),
    );
    expect(applied.every((a) => !a.duplicate)).toBe(true);
    const last = applied.at(-1)!.index;
    for (const id of shard.ids) {
      await eventually(() => shard!.replica(id).status().applied >= last, `${id} applies ${last}`);
      expect(await readValue(shard.replica(id), 'k5', 'stale')).toBe('v5');
    }
    const status = leader.status();
    expect(status.commit).toBeGreaterThanOrEqual(last);
    expect(status.followers.map((f) => f.id).sort()).toEqual(
      shard.ids.filter((id) => id !== leader.id),
    );
    await eventually(
      () => leader.status().followers.every((f) => f.lagEntries === 0),
      'followers caught up',
    );
    expect(leader.appendDurations.count).toBe(5);
  });

  it('a write or a linearizable read on a follower throws NotLeader naming the leader', async () => {
    shard = new Shard();
    const leader = await shard.waitLeader();
    await leader.write(set('c1', 1, 'k', 'v'));
    const follower = shard.ids.map((id) => shard!.replica(id)).find((r) => r !== leader)!;
    await eventually(() => follower.status().leader === leader.id, 'the follower knows the leader');
    const write = await settle([follower.write(set('c1', 2, 'k', 'w'))]);
    expect(write[0]).toBeInstanceOf(NotLeader);
    expect((write[0] as NotLeader).leader).toBe(leader.id);
    const read = await settle([follower.read('k', 'linearizable')]);
    expect(read[0]).toBeInstanceOf(NotLeader);
    expect((read[0] as NotLeader).leader).toBe(leader.id);
  });

  it('a linearizable read on the leader sees the last acknowledged write; a stale read on a follower eventually does', async () => {
    shard = new Shard();
    const leader = await shard.waitLeader();
    const follower = shard.ids.map((id) => shard!.replica(id)).find((r) => r !== leader)!;
    for (let seq = 1; seq <= 20; seq++) {
      await leader.write(set('c1', seq, 'k', `v${seq}`));
      expect(await readValue(leader, 'k', 'linearizable')).toBe(`v${seq}`);
    }
    await eventually(() => follower.status().applied >= leader.status().commit, 'follower applies');
    expect(await readValue(follower, 'k', 'stale')).toBe('v20');
    expect(await readValue(leader, 'missing', 'linearizable')).toBeNull();
  });

  it('progress needs no tick: writes and reads issued from a previous answer go out at once', async () => {
    // One replica: no message from a peer comes to run the Ready loop again.
    shard = new Shard({ ids: ['n1'] });
    const leader = await shard.waitLeader();
    await leader.write(set('c1', 1, 'k', 'v1'));
    // Clocks stopped: only messages and proposals drive the replicas from here.
    for (const ticker of shard.tickers.values()) ticker.paused = true;
    for (let seq = 2; seq <= 10; seq++) {
      const applied = await leader.write(set('c1', seq, 'k', `v${seq}`));
      expect(applied.outcome.ok).toBe(true);
      expect(await readValue(leader, 'k', 'linearizable')).toBe(`v${seq}`);
    }
  });

  it('concurrent linearizable reads share ReadIndex rounds, and each sees the writes before it', async () => {
    shard = new Shard();
    const leader = await shard.waitLeader();
    await leader.write(set('c1', 1, 'k', 'v1'));
    // Clocks stopped: every heartbeat from here is a read's confirmation round.
    for (const ticker of shard.tickers.values()) ticker.paused = true;
    const before = shard.network.delivered.get('MsgHeartbeat') ?? 0;
    const reads = Array.from({ length: 100 }, () => readValue(leader, 'k', 'linearizable'));
    expect(await Promise.all(reads)).toEqual(Array.from({ length: 100 }, () => 'v1'));
    // Reads concurrent with a write may see either value, never another.
    const written = leader.write(set('c1', 2, 'k', 'v2'));
    const concurrent = Array.from({ length: 100 }, () => readValue(leader, 'k', 'linearizable'));
    await written;
    // Reads that start after the write was acknowledged see it.
    const after = await Promise.all(
      Array.from({ length: 10 }, () => readValue(leader, 'k', 'linearizable')),
    );
    expect(after).toEqual(Array.from({ length: 10 }, () => 'v2'));
    for (const value of await Promise.all(concurrent)) expect(['v1', 'v2']).toContain(value);
    const rounds = ((shard.network.delivered.get('MsgHeartbeat') ?? 0) - before) / 2;
    expect(rounds).toBeLessThan(20);
  });

  it('writes proposed together share saves (group commit) and all resolve in order', async () => {
    shard = new Shard({ saveDelayMs: 3 });
    const leader = await shard.waitLeader();
    const storage = shard.storages.get(leader.id)!;
    const before = storage.saves;
    const writes = Array.from({ length: 50 }, (_, i) =>
      leader.write(set(`c${i}`, 1, `k${i}`, `v${i}`)),
    );
    const applied = await Promise.all(writes);
    const indexes = applied.map((a) => a.index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(storage.saves - before).toBeLessThan(50);
  });
});

describe('Replica: leader failure', () => {
  it('a killed leader is replaced within a bounded number of ticks, and the shard keeps serving', async () => {
    shard = new Shard();
    const old = await shard.waitLeader();
    await old.write(set('c1', 1, 'k', 'before'));
    const survivors = shard.ids.filter((id) => id !== old.id);
    const ticksBefore = survivors.map((id) => shard!.tickers.get(id)!);
    const counted = countTicks(ticksBefore);
    await shard.kill(old.id);
    const leader = await shard.waitLeader(survivors);
    // A follower campaigns within 2 * electionTicks of the last heartbeat; a pre-vote and a
    // vote round follow. Generous slack for a loaded test machine.
    expect(counted()).toBeLessThanOrEqual(4 * ELECTION_TICKS * survivors.length);
    expect(await readValue(leader, 'k', 'linearizable')).toBe('before');
    await leader.write(set('c1', 2, 'k', 'after'));
    expect(await readValue(leader, 'k', 'linearizable')).toBe('after');
  });

  it('a leader cut off from its followers fails its pending writes and reads, and none of them is acknowledged', async () => {
    shard = new Shard({ requestTimeoutMs: 10_000 });
    const old = await shard.waitLeader();
    await old.write(set('c1', 1, 'k', 'committed'));
    shard.network.cut(old.id);
    const writes = Array.from({ length: 5 }, (_, i) =>
      old.write(set('c2', i + 1, `x${i}`, 'lost')),
    );
    const reads = [old.read('k', 'linearizable')];
    const settled = settle<unknown>([...writes, ...reads]);
    const survivors = shard.ids.filter((id) => id !== old.id);
    const leader = await shard.waitLeader(survivors);
    // checkQuorum: the old leader steps down after an election timeout without a quorum.
    const results = await settled;
    for (const r of results) expect(r).toBeInstanceOf(NotLeader);
    expect(old.status().role).not.toBe('leader');
    shard.network.heal(old.id);
    for (let i = 0; i < 5; i++) expect(await readValue(leader, `x${i}`, 'linearizable')).toBeNull();
    // The old leader rejoins and follows.
    await eventually(() => old.status().leader === leader.id, 'the old leader follows');
  });

  it('a paused leader resumed acknowledges only writes that committed', async () => {
    shard = new Shard({ requestTimeoutMs: 30_000 });
    const old = await shard.waitLeader();
    await old.write(set('c0', 1, 'k', 'base'));
    const survivors = shard.ids.filter((id) => id !== old.id);
    // Round 1: proposals that reach both followers while their acks wait (the old leader
    // stops hearing, then pauses): whichever follower wins holds them and commits them in
    // its term. Round 2: proposals made while paused, which never leave it. (Three writes:
    // fewer than maxInflightAppends, so all leave without an ack.)
    shard.network.pause(old.id, 'inbound');
    const first = Array.from({ length: 3 }, (_, i) => old.write(set('c1', i + 1, `a${i}`, 'A')));
    const target = old.status().lastIndex;
    await eventually(
      () => survivors.every((id) => shard!.replica(id).status().lastIndex >= target),
      'both followers hold the proposals',
    );
    shard.pause(old.id);
    const second = Array.from({ length: 3 }, (_, i) => old.write(set('c2', i + 1, `b${i}`, 'B')));
    const settled = settle<Written>([...first, ...second]);
    const leader = await shard.waitLeader(survivors);
    await leader.write(set('c3', 1, 'k', 'new leader'));
    shard.resume(old.id);
    const results = await settled;
    const keys = ['a0', 'a1', 'a2', 'b0', 'b1', 'b2'];
    for (const [i, result] of results.entries()) {
      const value = await readValue(leader, keys[i]!, 'linearizable');
      if (result instanceof Error) expect(result).toBeInstanceOf(NotLeader);
      // Acknowledged: it committed, so the new leader has it.
      else expect(value).toBe(i < 3 ? 'A' : 'B');
      // Round 1 committed whatever the old leader answered; round 2 never left it.
      expect(value).toBe(i < 3 ? 'A' : null);
    }
    await eventually(() => old.status().leader === leader.id, 'the old leader follows');
    expect(old.status().term).toBe(leader.status().term);
  });

  it('a retried write (same client and seq) after a leader change applies once', async () => {
    shard = new Shard();
    const old = await shard.waitLeader();
    const first = await old.write(set('c1', 1, 'k', 'first'));
    expect(first.duplicate).toBe(false);
    const next = shard.ids.find((id) => id !== old.id)!;
    await eventually(
      () => shard!.replica(next).status().applied >= first.index,
      'the successor holds the write',
    );
    old.transferLeadership(next);
    await eventually(() => shard!.leader()?.id === next, 'leadership moves');
    const leader = shard.replica(next);
    await leader.write(set('c2', 1, 'k', 'second'));
    const retry = await leader.write(set('c1', 1, 'k', 'first'));
    expect(retry.duplicate).toBe(true);
    expect(retry.outcome).toEqual(first.outcome);
    expect(await readValue(leader, 'k', 'linearizable')).toBe('second');
  });
});

describe('Replica: restarts and snapshots', () => {
  it('a replica restarted from its storage recovers its log and catches up', async () => {
    shard = new Shard();
    const leader = await shard.waitLeader();
    await leader.write(set('c1', 1, 'k1', 'v1'));
    const follower = shard.ids.find((id) => id !== leader.id)!;
    await eventually(() => shard!.replica(follower).status().applied >= 2, 'follower applies');
    const term = shard.replica(follower).status().term;
    await shard.kill(follower);
    for (let seq = 2; seq <= 10; seq++) await leader.write(set('c1', seq, `k${seq}`, `v${seq}`));
    shard.network.heal(follower);
    const restarted = shard.start(follower);
    // Term and log come back from storage before any message arrives.
    expect(restarted.status().term).toBe(term);
    expect(restarted.status().lastIndex).toBeGreaterThanOrEqual(2);
    const commit = leader.status().commit;
    await eventually(
      () => restarted.status().applied >= commit,
      'the restarted replica catches up',
    );
    expect(await readValue(restarted, 'k1', 'stale')).toBe('v1');
    expect(await readValue(restarted, 'k10', 'stale')).toBe('v10');
  });

  it('the leader restarted comes back as a follower of its successor with every write', async () => {
    shard = new Shard({ snapshotEvery: 4 });
    const old = await shard.waitLeader();
    for (let seq = 1; seq <= 10; seq++) await old.write(set('c1', seq, `k${seq}`, `v${seq}`));
    await shard.kill(old.id);
    const leader = await shard.waitLeader(shard.ids.filter((id) => id !== old.id));
    await leader.write(set('c1', 11, 'k11', 'v11'));
    shard.network.heal(old.id);
    const restarted = shard.start(old.id);
    await eventually(() => restarted.status().applied >= leader.status().commit, 'catches up');
    for (let seq = 1; seq <= 11; seq++) {
      expect(await readValue(restarted, `k${seq}`, 'stale')).toBe(`v${seq}`);
    }
  });

  it('compacts every snapshotEvery entries, and a lagging follower catches up from a snapshot', async () => {
    shard = new Shard({ snapshotEvery: 5 });
    const leader = await shard.waitLeader();
    const lagging = shard.ids.find((id) => id !== leader.id)!;
    shard.network.cut(lagging);
    for (let seq = 1; seq <= 30; seq++) await leader.write(set('c1', seq, `k${seq}`, `v${seq}`));
    const storage = shard.storages.get(leader.id)!;
    await eventually(() => storage.firstIndex() > 20, 'the leader compacts its log');
    expect(shard.network.delivered.get('MsgSnap') ?? 0).toBe(0);
    shard.network.heal(lagging);
    const follower = shard.replica(lagging);
    const commit = leader.status().commit;
    await eventually(() => follower.status().applied >= commit, 'the lagging follower catches up');
    expect(shard.network.delivered.get('MsgSnap') ?? 0).toBeGreaterThan(0);
    for (let seq = 1; seq <= 30; seq++) {
      expect(await readValue(follower, `k${seq}`, 'stale')).toBe(`v${seq}`);
    }
    // The follower's state now survives its own restart too (snapshot + log in its storage).
    await shard.kill(lagging);
    shard.network.heal(lagging);
    const restarted = shard.start(lagging);
    await eventually(() => restarted.status().applied >= commit, 'restarted from the snapshot');
    expect(await readValue(restarted, 'k1', 'stale')).toBe('v1');
  });
});

describe('Replica: membership', () => {
  it('replaces a dead replica: the new one catches up by snapshot and counts in the quorum', async () => {
    shard = new Shard({ snapshotEvery: 5 });
    const leader = await shard.waitLeader();
    for (let seq = 1; seq <= 20; seq++) await leader.write(set('c1', seq, `k${seq}`, `v${seq}`));
    const [dead, other] = shard.ids.filter((id) => id !== leader.id) as [string, string];
    await shard.kill(dead);
    const seen: (readonly string[])[] = [];
    leader.onVotersChange((voters) => seen.push(voters));

    const joined = shard.join('n4');
    await leader.changeMembership({ type: 'add', node: 'n4' });
    expect([...leader.status().voters].sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    await eventually(() => joined.status().applied >= leader.status().commit, 'n4 catches up');
    expect(shard.network.delivered.get('MsgSnap') ?? 0).toBeGreaterThan(0);
    expect(await readValue(joined, 'k1', 'stale')).toBe('v1');

    await leader.changeMembership({ type: 'remove', node: dead });
    expect([...leader.status().voters].sort()).toEqual([leader.id, other, 'n4'].sort());
    expect(seen.map((v) => v.length)).toEqual([4, 3]);
    // Only the leader and n4 are left of {leader, other, n4}: a quorum only if n4 counts.
    await shard.kill(other);
    const applied = await leader.write(set('c1', 21, 'k21', 'v21'));
    await eventually(() => joined.status().applied >= applied.index, 'n4 applies it');
    expect(await readValue(joined, 'k21', 'stale')).toBe('v21');
    expect([...joined.status().voters].sort()).toEqual([leader.id, other, 'n4'].sort());
  });

  it('one change at a time: a second change while one is pending is refused, and a follower says who leads', async () => {
    shard = new Shard();
    const leader = await shard.waitLeader();
    await leader.write(set('c1', 1, 'k', 'v'));
    shard.join('n4');
    const first = leader.changeMembership({ type: 'add', node: 'n4' });
    const [second] = await settle([leader.changeMembership({ type: 'add', node: 'n5' })]);
    expect(second).toBeInstanceOf(MembershipRefused);
    expect((second as MembershipRefused).reason).toBe('pending-conf-change');
    await first;
    const follower = shard.replica(shard.ids.find((id) => id !== leader.id)!);
    await eventually(() => follower.status().leader === leader.id, 'the follower knows the leader');
    const [refused] = await settle([follower.changeMembership({ type: 'remove', node: 'n4' })]);
    expect(refused).toBeInstanceOf(NotLeader);
    expect((refused as NotLeader).leader).toBe(leader.id);
  });
});

describe('Replica: lifecycle and metrics', () => {
  it('stop() fails what is pending with Unavailable, and later calls too', async () => {
    shard = new Shard({ requestTimeoutMs: 10_000 });
    const leader = await shard.waitLeader();
    shard.network.cut(leader.id);
    const pending = leader.write(set('c1', 1, 'k', 'v'));
    await leader.stop();
    const [result] = await settle([pending]);
    expect(result).toBeInstanceOf(Unavailable);
    const [later] = await settle([leader.write(set('c1', 2, 'k', 'v'))]);
    expect(later).toBeInstanceOf(Unavailable);
  });

  it('a write not applied in time fails with Unavailable', async () => {
    shard = new Shard({ requestTimeoutMs: 20 });
    const leader = await shard.waitLeader();
    const storage = shard.storages.get(leader.id)!;
    storage.hold();
    const [result] = await settle([leader.write(set('c1', 1, 'k', 'v'))]);
    storage.release();
    expect(result).toBeInstanceOf(Unavailable);
  });

  it('a failing storage stops the replica and reports it', async () => {
    shard = new Shard();
    const leader = await shard.waitLeader();
    const storage = shard.storages.get(leader.id)!;
    storage.save = () => Promise.reject(new Error('disk full'));
    const [result] = await settle([leader.write(set('c1', 1, 'k', 'v'))]);
    expect(result).toBeInstanceOf(Unavailable);
    expect(shard.fatal.map(String)).toEqual(['Error: disk full']);
    shard.fatal.length = 0;
  });

  it('onLeaderChange reports leaders and registerRaftMetrics renders the figures', async () => {
    shard = new Shard();
    const changes: { term: number; leader: string | null }[] = [];
    const unsubscribe = shard
      .replica('n1')
      .onLeaderChange(({ term, leader }) => changes.push({ term, leader }));
    const leader = await shard.waitLeader();
    await leader.write(set('c1', 1, 'k', 'v'));
    await eventually(() => changes.some((c) => c.leader === leader.id), 'n1 learns the leader');
    unsubscribe();
    const registry = new client.Registry();
    registerRaftMetrics(registry, () => leader);
    const text = await registry.metrics();
    const term = leader.status().term;
    expect(text).toContain(`tinycache_raft_term ${term}`);
    expect(text).toContain('tinycache_raft_role{role="leader"} 1');
    expect(text).toContain('tinycache_raft_role{role="follower"} 0');
    expect(text).toMatch(/tinycache_raft_commit_index \d+/);
    expect(text).toMatch(/tinycache_raft_applied_index \d+/);
    expect(text).toMatch(/tinycache_raft_leader_changes_total [1-9]/);
    expect(text).toContain('tinycache_raft_append_duration_seconds_count 1');
    expect(text).toMatch(/tinycache_raft_fsync_duration_seconds_count [1-9]/);
    expect(text).toMatch(/tinycache_raft_follower_lag_entries\{follower="n\d"\} \d+/);
    const none = new client.Registry();
    registerRaftMetrics(none, () => null);
    // No replica: nothing to say per role or per follower.
    const empty = await none.metrics();
    expect(empty).not.toContain('tinycache_raft_role{');
    expect(empty).not.toContain('tinycache_raft_follower_lag_entries{');
  });
});

/** Counts the ticks the given tickers deliver from now on. */
function countTicks(tickers: readonly PausableTicker[]): () => number {
  const start = tickers.map((t) => t.ticks);
  return () => tickers.reduce((sum, t, i) => sum + t.ticks - start[i]!, 0);
}
