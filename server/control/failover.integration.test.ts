/**
 * Failover recording (Level 6) with real node processes: a shard of three replicas, its
 * leader killed by the control plane, and the state's failover names the new leader, its
 * later term and the time from the kill to the first /healthz showing it (polled every
 * FAILOVER_POLL_MS). Then the cluster is dissolved: its nodes retired, a lone node left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterManager, FAILOVER_POLL_MS } from './cluster.ts';
import { Supervisor } from './supervisor.ts';

let root: string;
let supervisor: Supervisor;
let cluster: ClusterManager;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tinycache-failover-'));
  supervisor = new Supervisor({ dataRoot: root });
  cluster = new ClusterManager(supervisor, () => {});
});

afterAll(async () => {
  await supervisor?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('failover recording', () => {
  it('records a killed leader, the new one in a later term and the time between', async () => {
    const { leaders } = await cluster.formReplicated({ shards: 1, replicas: 3 });
    const before = leaders[0]!;
    expect(cluster.state().leaderships).toEqual([
      expect.objectContaining({ shard: 's1', leader: before.id, until: null }),
    ]);
    const killedAt = Date.now();
    const { killed, term } = await cluster.killLeader('s1');
    expect(killed).toBe(before.id);
    const deadline = Date.now() + 10_000;
    while ((cluster.state().failovers ?? []).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [failover] = cluster.state().failovers ?? [];
    expect(failover).toMatchObject({
      shard: 's1',
      oldLeader: killed,
      oldTerm: term,
      cause: 'killed',
      resolutionMs: FAILOVER_POLL_MS,
    });
    expect(failover!.newLeader).not.toBe(killed);
    expect(failover!.term).toBeGreaterThan(term);
    expect(failover!.lostAt).toBeGreaterThanOrEqual(killedAt);
    expect(failover!.ms).toBeGreaterThan(0);
    expect(failover!.ms).toBe(failover!.electedAt - failover!.lostAt!);
    expect(failover!.ms).toBeLessThan(10_000);
    expect(supervisor.get(failover!.newLeader)).toMatchObject({
      role: 'leader',
      term: failover!.term,
    });
    // The timeline: the old leadership ends at the kill, the new one runs on.
    expect(cluster.state().leaderships).toEqual([
      expect.objectContaining({ leader: killed, term, until: failover!.lostAt }),
      expect.objectContaining({ leader: failover!.newLeader, term: failover!.term, until: null }),
    ]);
  }, 30_000);

  it('records a paused leader the same way, and its resumption as no new failover', async () => {
    // The killed replica back first: with it down, pausing another would leave no majority.
    const down = supervisor.list().find((n) => n.status === 'down')!;
    await supervisor.restart(down.id);
    const leader = (await cluster.leaderOf('s1'))!;
    const pausedAt = Date.now();
    cluster.signalled(leader.id); // as node.pause does
    supervisor.pause(leader.id);
    const deadline = Date.now() + 10_000;
    while ((cluster.state().failovers ?? []).length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const failover = (cluster.state().failovers ?? [])[1];
    expect(failover).toMatchObject({
      shard: 's1',
      oldLeader: leader.id,
      oldTerm: leader.term,
      cause: 'paused',
      resolutionMs: FAILOVER_POLL_MS,
    });
    expect(failover!.term).toBeGreaterThan(leader.term);
    expect(failover!.lostAt).toBeGreaterThanOrEqual(pausedAt);
    expect(failover!.ms).toBeGreaterThan(0);
    // Back, it finds a later term and follows: no failover, the new leader still leads.
    supervisor.resume(leader.id);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(cluster.state().failovers).toHaveLength(2);
    expect(cluster.state().leaderships?.at(-1)).toMatchObject({
      leader: failover!.newLeader,
      until: null,
    });
  }, 30_000);

  it('dissolves the cluster: its nodes retired, the map dropped, one lone node left', async () => {
    const members = supervisor.list().map((n) => n.id);
    const { retired, started } = await cluster.dissolve();
    expect(retired.sort()).toEqual(members.sort());
    expect(started).not.toBeNull();
    expect(
      supervisor.list().map((n) => ({ id: n.id, shard: n.shard, dataDir: n.dataDir })),
    ).toEqual([{ id: started, shard: null, dataDir: null }]);
    expect(cluster.state()).toMatchObject({
      map: null,
      epoch: 0,
      replicated: false,
      failovers: [],
      leaderships: [],
    });
    await expect(cluster.dissolve()).rejects.toThrow(/no cluster/);
    // A Level 5 cluster can be made again from here.
    await cluster.addShard();
    expect(cluster.state().shards.map((s) => s.id)).toEqual(['s1', 's2']);
  }, 30_000);
});
