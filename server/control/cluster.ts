/**
 * The control plane's cluster (Level 5): which of the supervisor's nodes serve which shard,
 * the cluster map it publishes to them, and adding or removing a shard as two map changes
 * (core/cluster, "Resharding"): epoch e+1 moves keys, e+2 once every new owner has them.
 *
 * The control plane is not on the data path. Nodes keep their map and keep routing if it
 * dies; it only makes maps, hands them out (e+1 to old owners first, e+2 to new owners first;
 * see startMove and watch), and watches the moves to say how far they are.
 *
 * Nodes the cluster does not list are lone caches, as in Levels 1-4.
 *
 * Level 6, first step: a replicated cluster (formReplicated) lists R nodes per shard, each
 * started with a data directory; the nodes run their shard's Raft group and elect its
 * leader themselves. The control plane only reads who leads (/healthz) and can kill that
 * node. Moving keys between Raft groups is not done yet, so shards of a replicated cluster
 * are neither added nor removed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ClusterMap,
  type ClusterShard,
  previousRingOf,
  ringOf,
} from '../../core/cluster/index.ts';
import { DEFAULT_VNODES, movedRanges } from '../../core/ring/index.ts';
import type { TransferProgress } from '../node/cluster.ts';
import { changeMembers, type LeaderLookup, type Members, readMembers } from './membership.ts';
import { fetchText } from './monitor.ts';
import { type RaftHealth, raftFromHealth } from './raft-status.ts';
import type { NodeInfo, Supervisor } from './supervisor.ts';
import { ControlError } from './supervisor.ts';

/** How often a move's progress is read from the new owners. */
const PROGRESS_INTERVAL_MS = 250;
/** A node that does not take a map in this long is reported, and the publish fails. */
const PUBLISH_TIMEOUT_MS = 3000;
/** A removed shard's node answers what is already on its way for this long, then stops. */
const RETIRE_DRAIN_MS = 500;
/** A move that makes no progress for this long is reported failed. */
const STALLED_MS = 60_000;
/** How long new replicated shards may take to elect their first leaders. */
export const FIRST_ELECTION_TIMEOUT_MS = 20_000;
/** How long "kill the leader" looks for one (a shard may be between leaders). */
const FIND_LEADER_TIMEOUT_MS = 3000;
/** A new replica that has not caught up by then is left to do so (logged). */
const CATCH_UP_TIMEOUT_MS = 20_000;
/** How often replicas' /healthz is read while waiting for a leader. */
const HEALTH_POLL_MS = 100;
/** A /healthz not answered in this long counts as no answer (a paused node never answers). */
const HEALTH_TIMEOUT_MS = 500;
/** Nodes per shard a replicated cluster may have: odd, so a majority is never a tie. */
export const MAX_REPLICAS = 7;
/**
 * After the control plane kills or pauses a shard's leader, its other replicas' /healthz is
 * read this often until one leads, so the failover time is measured to about this much
 * (the monitor's scrape alone would measure it to a second).
 */
export const FAILOVER_POLL_MS = 25;
/** How long that polling goes on before the monitor's scrape is left to see the new leader. */
const FAILOVER_POLL_LIMIT_MS = 10_000;
/** Failovers kept in the state (the dashboard's table). */
export const FAILOVERS_KEPT = 50;
/** Leaderships kept in the state (the dashboard's election timeline). */
const LEADERSHIPS_KEPT = 200;

/** A move in progress, as `cluster.state` shows it (API.md §4). */
export interface Resharding {
  /** The shard being removed, if any. */
  readonly fromShard?: string;
  /** The shard being added, if any. */
  readonly toShard?: string;
  readonly movedKeys: number;
  readonly totalKeys: number;
  readonly movedBytes: number;
  /** Keys a second each new owner copies at most. */
  readonly keysPerSecond: number;
  /** Share of the key space that changes owner (the moved arcs of the ring), 0-1. */
  readonly movedShare: number;
  readonly startedAt: number;
  /** Keys a second over the move so far. */
  readonly rate: number;
  /** Seconds left at that rate; null until known. */
  readonly etaSeconds: number | null;
}

/** The last move, kept once it is over so the dashboard can say how it went. */
export interface FinishedMove {
  readonly fromShard?: string;
  readonly toShard?: string;
  readonly movedKeys: number;
  readonly movedBytes: number;
  readonly movedShare: number;
  readonly seconds: number;
  /** The map before the move: with the current one, it draws what moved. */
  readonly before: ClusterMap;
  readonly error: string | null;
}

/**
 * A shard's leader lost and another elected (Level 6). `lostAt` is when the control plane
 * killed or paused the old leader (node.kill, node.pause, cluster.killLeader), else the
 * first reading that showed it no longer leading; `electedAt` the first reading (a /healthz
 * poll or the monitor's scrape) that showed the new leader.
 */
export interface Failover {
  readonly shard: string;
  readonly oldLeader: string;
  readonly oldTerm: number;
  readonly newLeader: string;
  /** The new leader's term. */
  readonly term: number;
  /** Null when the old leader's loss was not seen before the new leader was. */
  readonly lostAt: number | null;
  readonly electedAt: number;
  /** electedAt - lostAt; null when lostAt is. */
  readonly ms: number | null;
  /** What happened to the old leader. */
  readonly cause: 'killed' | 'paused' | 'stepped-down' | 'unseen';
  /**
   * How finely `ms` is known: FAILOVER_POLL_MS when the replicas' /healthz was polled after
   * the control plane's kill or pause, else the monitor's 1000 ms scrape.
   */
  readonly resolutionMs: number;
}

/** One node's time as its shard's leader, for the election timeline. */
export interface Leadership {
  readonly shard: string;
  readonly leader: string;
  readonly term: number;
  /** When it was first seen leading. */
  readonly since: number;
  /** When it was lost (killed, paused, stepped down, superseded); null: leads now. */
  readonly until: number | null;
}

export interface ClusterState {
  readonly epoch: number;
  readonly map: ClusterMap | null;
  readonly shards: readonly { readonly id: string; readonly nodes: readonly string[] }[];
  readonly resharding: Resharding | null;
  readonly lastMove: FinishedMove | null;
  /** The pace of moves, this one and the next: keys a second each new owner copies. */
  readonly keysPerSecond: number;
  /**
   * Level 6: the shards are Raft groups of replicas with data directories. (Optional in the
   * type only, for states made before Level 6; always set.)
   */
  readonly replicated?: boolean;
  /** Level 6: the last FAILOVERS_KEPT leader changes, oldest first. (Optional in the type only.) */
  readonly failovers?: readonly Failover[];
  /** Level 6: who led each shard when, oldest first. (Optional in the type only.) */
  readonly leaderships?: readonly Leadership[];
}

/** A shard's leader as its nodes' /healthz say. */
export interface ShardLeader {
  readonly shard: string;
  readonly id: string;
  readonly url: string;
  readonly term: number;
}

/** What a shard's nodes said about themselves (null: no answer, or no Raft group). */
export interface ReplicaHealth {
  readonly id: string;
  readonly url: string;
  readonly health: RaftHealth | null;
}

export interface FormReplicatedOptions {
  readonly shards: number;
  /** Nodes per shard, odd, 1 to MAX_REPLICAS. */
  readonly replicas: number;
  /** Node i (from 0) listens on basePort + i when that port is free; 0 or absent: any. */
  readonly basePort?: number;
  /** Called as nodes start and shards elect leaders (`tinycache cluster`'s progress). */
  readonly onProgress?: (line: string) => void;
}

export type ClusterListener = (state: ClusterState) => void;

export class ClusterManager {
  private map: ClusterMap | null = null;
  private resharding: Resharding | null = null;
  private lastMove: FinishedMove | null = null;
  private busy = false;
  private lastEpoch = 0;
  private keysPerSecond = 50_000;
  private replicated = false;
  private readonly listeners = new Set<ClusterListener>();
  /** The process of each node last handed the map on coming up, so it is handed once. */
  private readonly rejoined = new Map<string, number | null>();
  /** Level 6: each shard's leader as last seen, and shards whose leader was lost. */
  private readonly leaders = new Map<string, { id: string; term: number }>();
  private readonly lost = new Map<
    string,
    { id: string; term: number; at: number; cause: Failover['cause']; resolutionMs: number }
  >();
  /** When the control plane signalled a node (kill, pause), so a loss dates from then. */
  private readonly signalledAt = new Map<string, number>();
  private failovers: Failover[] = [];
  private leaderships: Leadership[] = [];

  constructor(
    private readonly supervisor: Supervisor,
    private readonly log: (line: string) => void = (line) => console.warn(`[cluster] ${line}`),
  ) {
    // A cluster node that comes back (restart) starts without a map: give it the map, with
    // its new URL if it moved.
    // Only once per process: a replica's role changes emit too.
    supervisor.subscribe((node) => {
      this.observeLeadership(node);
      if (node.status !== 'up' || node.shard === null) return;
      if (this.rejoined.has(node.id) && this.rejoined.get(node.id) === node.pid) return;
      this.rejoined.set(node.id, node.pid);
      void this.rejoin(node);
    });
    supervisor.subscribeRemoved((id) => this.rejoined.delete(id));
  }

  state(): ClusterState {
    const map = this.map;
    return {
      epoch: map?.epoch ?? 0,
      map,
      shards: (map?.shards ?? []).map((s) => ({ id: s.id, nodes: s.nodes.map((n) => n.id) })),
      resharding: this.resharding,
      lastMove: this.lastMove,
      keysPerSecond: this.keysPerSecond,
      replicated: this.replicated,
      failovers: this.failovers,
      leaderships: this.leaderships,
    };
  }

  /**
   * Notes that the control plane is about to kill or pause `id` (the dashboard's node
   * buttons), so a leadership lost with it dates from this moment, not from the exit.
   */
  signalled(id: string): void {
    this.signalledAt.set(id, Date.now());
  }

  /**
   * Dissolves the cluster: every node its map lists is retired (a replica's data directory
   * with it), the map is dropped, and the playground is left with its other nodes, or with
   * one new lone node if none is left. Refused while keys move. A node cannot be told to
   * forget a map, so a member is never kept as a lone node (it would still route by it).
   */
  async dissolve(): Promise<{ retired: string[]; started: string | null }> {
    const map = this.map;
    if (map === null) throw new ControlError('unknown_shard', 'There is no cluster to dissolve.');
    this.claim();
    try {
      const retired = this.members(map).map((n) => n.id);
      this.map = null;
      this.replicated = false;
      this.lastMove = null;
      this.leaders.clear();
      this.lost.clear();
      this.failovers = [];
      this.leaderships = [];
      await Promise.all(retired.map((id) => this.supervisor.retire(id).catch(() => undefined)));
      let started: string | null = null;
      if (this.supervisor.list().length === 0) started = (await this.supervisor.start({})).id;
      this.log(`dissolved the cluster (retired ${retired.join(', ')})`);
      this.emit();
      return { retired, started };
    } finally {
      this.busy = false;
    }
  }

  /**
   * Level 6: follows each shard's leader through the nodes' role changes (the monitor's
   * scrape and /healthz polls set them): a leader killed, paused or stepped down is a loss,
   * and the next node seen leading in a later term ends it as a failover.
   */
  private observeLeadership(node: NodeInfo): void {
    if (!this.replicated || node.shard === null || typeof node.dataDir !== 'string') return;
    const shard = node.shard;
    const term = node.term ?? 0;
    const now = Date.now();
    const leading = node.status === 'up' && node.role === 'leader';
    const current = this.leaders.get(shard);
    if (current?.id === node.id && !leading) {
      const signalled = this.signalledAt.get(node.id);
      this.signalledAt.delete(node.id);
      const byUs = node.status !== 'up';
      const at = byUs && signalled !== undefined && now - signalled < 5000 ? signalled : now;
      const cause =
        node.status === 'up' ? 'stepped-down' : node.status === 'paused' ? 'paused' : 'killed';
      this.leaders.delete(shard);
      this.lost.set(shard, {
        id: node.id,
        term: current.term,
        at,
        cause,
        resolutionMs: byUs ? FAILOVER_POLL_MS : 1000,
      });
      this.endLeadership(shard, at);
      this.emit();
      if (byUs) void this.pollForLeader(shard);
      return;
    }
    if (!leading) return;
    if (current !== undefined && (current.id === node.id || term <= current.term)) return;
    const lost = this.lost.get(shard);
    if (current === undefined && lost !== undefined && term <= lost.term) {
      // The lost leader itself, resumed before anyone else was elected, or a stale reading.
      if (lost.id !== node.id || term < lost.term) return;
      this.lost.delete(shard);
      this.leaders.set(shard, { id: node.id, term });
      this.pushLeadership({ shard, leader: node.id, term, since: now, until: null });
      this.emit();
      return;
    }
    this.leaders.set(shard, { id: node.id, term });
    if (current !== undefined) {
      // A new leader seen before the old one was seen to stop: when it stopped is unknown.
      this.endLeadership(shard, now);
      this.pushFailover({
        shard,
        oldLeader: current.id,
        oldTerm: current.term,
        newLeader: node.id,
        term,
        lostAt: null,
        electedAt: now,
        ms: null,
        cause: 'unseen',
        resolutionMs: 1000,
      });
    } else if (lost !== undefined) {
      this.lost.delete(shard);
      this.pushFailover({
        shard,
        oldLeader: lost.id,
        oldTerm: lost.term,
        newLeader: node.id,
        term,
        lostAt: lost.at,
        electedAt: now,
        ms: now - lost.at,
        cause: lost.cause,
        resolutionMs: lost.resolutionMs,
      });
    }
    this.pushLeadership({ shard, leader: node.id, term, since: now, until: null });
    this.emit();
  }

  /**
   * Reads the shard's replicas' /healthz every FAILOVER_POLL_MS (each reading updates the
   * supervisor, and so observeLeadership) until the shard has a leader again, at most
   * FAILOVER_POLL_LIMIT_MS; then the monitor's scrape is left to see it.
   */
  private async pollForLeader(shard: string): Promise<void> {
    const deadline = Date.now() + FAILOVER_POLL_LIMIT_MS;
    while (this.lost.has(shard) && Date.now() < deadline) {
      try {
        await this.shardHealth(shard);
      } catch {
        return; // the cluster was dissolved
      }
      if (!this.lost.has(shard)) return;
      await sleep(FAILOVER_POLL_MS);
    }
    const lost = this.lost.get(shard);
    if (lost !== undefined) this.lost.set(shard, { ...lost, resolutionMs: 1000 });
  }

  private endLeadership(shard: string, at: number): void {
    this.leaderships = this.leaderships.map((l) =>
      l.shard === shard && l.until === null ? { ...l, until: at } : l,
    );
  }

  private pushLeadership(leadership: Leadership): void {
    this.leaderships = [...this.leaderships, leadership].slice(-LEADERSHIPS_KEPT);
  }

  private pushFailover(failover: Failover): void {
    this.failovers = [...this.failovers, failover].slice(-FAILOVERS_KEPT);
    this.log(
      `${failover.shard}: ${failover.newLeader} leads in term ${failover.term} after ${failover.oldLeader} (${failover.ms === null ? 'time unknown' : `${failover.ms} ms`})`,
    );
  }

  subscribe(listener: ClusterListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Makes a cluster of the given nodes (s1, s2, ...): one shard each, or, with `replicas`,
   * each run of `replicas` ids one shard (Level 6: the ids are replicas with data dirs).
   */
  async form(ids: readonly string[], { replicas = 1 } = {}): Promise<ClusterState> {
    this.claim();
    try {
      if (ids.length === 0 || ids.length % replicas !== 0) {
        throw new ControlError(
          'invalid_config',
          `${ids.length} nodes do not make shards of ${replicas} node${replicas === 1 ? '' : 's'}.`,
        );
      }
      const nodes = ids.map((id) => this.supervisor.get(id));
      // A replica started on a kept data dir took up the map of its last run: the new map
      // must come after it, or the node keeps the old one (or refuses a different map of
      // the same epoch).
      const held = await Promise.all(nodes.map((n) => this.epochHeld(n.url)));
      this.lastEpoch = Math.max(this.lastEpoch, ...held);
      const groups = Array.from({ length: ids.length / replicas }, (_, i) =>
        nodes.slice(i * replicas, (i + 1) * replicas),
      );
      const map: ClusterMap = {
        epoch: this.nextEpoch(),
        vnodes: DEFAULT_VNODES,
        shards: groups.map((group, i) => ({
          id: `s${i + 1}`,
          nodes: group.map((n) => ({ id: n.id, url: n.url })),
        })),
        moving: null,
      };
      this.replicated = nodes.some((n) => typeof n.dataDir === 'string');
      await this.publish(map, ids);
      groups.forEach((group, i) => {
        for (const n of group) this.supervisor.setShard(n.id, `s${i + 1}`);
      });
      return this.state();
    } finally {
      this.busy = false;
    }
  }

  /**
   * Level 6: starts `shards` × `replicas` replicas (each with its data directory), publishes
   * one map whose shards list their replicas, and resolves once every shard has a leader.
   */
  async formReplicated(options: FormReplicatedOptions): Promise<{
    state: ClusterState;
    leaders: ShardLeader[];
  }> {
    const { shards, replicas, basePort = 0, onProgress = () => {} } = options;
    if (this.map !== null || this.busy) {
      throw new ControlError(
        'busy',
        'A cluster is already formed; a replicated one is made from new nodes only.',
      );
    }
    if (
      !Number.isInteger(replicas) ||
      replicas < 1 ||
      replicas > MAX_REPLICAS ||
      replicas % 2 === 0
    ) {
      throw new ControlError(
        'invalid_config',
        `replicas must be odd, 1 to ${MAX_REPLICAS} (a majority of an even group is no safer); got ${replicas}.`,
      );
    }
    const count = shards * replicas;
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) =>
        this.supervisor.start({}, basePort === 0 ? 0 : basePort + i, null, { replica: true }),
      ),
    );
    const ids = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(ids.map((id) => this.supervisor.retire(id).catch(() => undefined)));
      throw failed.reason;
    }
    for (const id of ids) {
      const node = this.supervisor.get(id);
      onProgress(`started ${node.id} at ${node.url} (data in ${node.dataDir})`);
    }
    try {
      await this.form(ids, { replicas });
      const leaders = await this.waitForLeaders(FIRST_ELECTION_TIMEOUT_MS, onProgress);
      return { state: this.state(), leaders };
    } catch (error) {
      if (this.map === null) {
        await Promise.all(ids.map((id) => this.supervisor.retire(id).catch(() => undefined)));
      }
      throw error;
    }
  }

  /** What each node of `shard` says of itself now (its /healthz), in map order. */
  async shardHealth(shard: string): Promise<ReplicaHealth[]> {
    const nodes = this.shardOf(shard).nodes.map(
      (n) => this.nodeOrNull(n.id) ?? { ...n, status: 'down' as const },
    );
    return Promise.all(
      nodes.map(async (node) => ({
        id: node.id,
        url: node.url,
        health: node.status === 'up' ? await this.health(node.id, node.url) : null,
      })),
    );
  }

  /**
   * The shard's leader now: the node that says it leads, in the highest term if two do (a
   * deposed leader that has not heard of the new term yet). Null between leaders.
   */
  async leaderOf(shard: string): Promise<ShardLeader | null> {
    let best: ShardLeader | null = null;
    for (const { id, url, health } of await this.shardHealth(shard)) {
      if (health?.role !== 'leader') continue;
      if (best === null || health.term > best.term) best = { shard, id, url, term: health.term };
    }
    return best;
  }

  /**
   * Polls until every shard has a leader; `onProgress` hears of each shard as it gets one.
   * Rejects with `no_leader` after `timeoutMs`, naming the shards without.
   */
  async waitForLeaders(
    timeoutMs: number,
    onProgress: (line: string) => void = () => {},
  ): Promise<ShardLeader[]> {
    const shards = (this.map?.shards ?? []).map((s) => s.id);
    const found = new Map<string, ShardLeader>();
    const deadline = Date.now() + timeoutMs;
    onProgress(
      `waiting for ${shards.length === 1 ? 'a leader' : 'leaders'} in ${shards.join(', ')}…`,
    );
    for (;;) {
      for (const shard of shards) {
        if (found.has(shard)) continue;
        const leader = await this.leaderOf(shard);
        if (leader === null) continue;
        found.set(shard, leader);
        onProgress(
          `${shard}: ${leader.id} leads (term ${leader.term}); ${found.size}/${shards.length} shards have a leader`,
        );
      }
      if (found.size === shards.length) return shards.map((s) => found.get(s)!);
      if (Date.now() > deadline) {
        const without = shards.filter((s) => !found.has(s));
        throw new ControlError(
          'no_leader',
          `No leader in ${without.join(', ')} after ${timeoutMs / 1000} s; see the nodes' logs.`,
        );
      }
      await sleep(HEALTH_POLL_MS);
    }
  }

  /**
   * Level 6: SIGKILLs the shard's current leader (the dashboard's "kill leader"); its other
   * replicas elect another. Resolves with the node killed and the term it led.
   */
  async killLeader(shard: string): Promise<{ killed: string; term: number }> {
    const nodes = this.shardOf(shard).nodes.map((n) => this.nodeOrNull(n.id));
    if (!nodes.some((n) => typeof n?.dataDir === 'string')) {
      throw new ControlError(
        'unsupported',
        `Shard ${shard} is one node without a Raft group, so it has no leader to kill; kill the node itself (node.kill).`,
      );
    }
    const leader = await this.findLeader(shard);
    this.signalled(leader.id);
    await this.supervisor.kill(leader.id);
    this.log(`killed ${leader.id}, leader of ${shard} in term ${leader.term}`);
    return { killed: leader.id, term: leader.term };
  }

  /**
   * Level 6: a new replica for `shard`'s Raft group. The node starts with an empty data dir
   * and the group's bootstrap voters (`--join`, read from the leader), the leader adds it (a
   * conf change), then the map lists it, so the leader reaches it and brings it up to date
   * from its log or a snapshot. Resolves once it has applied what the leader had committed
   * when it was added (or after CATCH_UP_TIMEOUT_MS, logged), with the node.
   */
  addReplica(shard: string): Promise<NodeInfo> {
    return this.exclusively(() => this.addReplicaNow(shard));
  }

  /**
   * Level 6: removes replica `id` from its shard's Raft group (a conf change on the leader,
   * which may be `id` itself: it steps down once the removal is applied), then drops it from
   * the map and retires it with its data dir. A dead replica can be removed: the others are a
   * majority of the group without it.
   */
  removeReplica(id: string): Promise<{ id: string; shard: string }> {
    return this.exclusively(() => this.removeReplicaNow(id));
  }

  /**
   * Level 6: replaces replica `id` (typically a dead one): removes it, then adds a new node,
   * which catches up from the leader. In that order, so the group is never larger than it was
   * with one member missing (adding first would make a group of R+1 with a dead member,
   * whose majority needs every live one).
   */
  replaceReplica(id: string): Promise<{ removed: string; added: NodeInfo }> {
    return this.exclusively(async () => {
      const { shard } = await this.removeReplicaNow(id);
      return { removed: id, added: await this.addReplicaNow(shard) };
    });
  }

  /** Runs `change` as the one change under way (claim), then frees the cluster and says so. */
  private async exclusively<T>(change: () => Promise<T>): Promise<T> {
    this.claim();
    try {
      return await change();
    } finally {
      this.busy = false;
      this.emit();
    }
  }

  private async addReplicaNow(shard: string): Promise<NodeInfo> {
    this.replicatedShard(shard);
    const leader = await this.findLeader(shard);
    const members = await readMembers(leader.url);
    if (members.voters.length >= MAX_REPLICAS) {
      throw new ControlError(
        'invalid_config',
        `Shard ${shard} has ${members.voters.length} replicas, the most a shard may have (${MAX_REPLICAS}).`,
      );
    }
    const config = this.supervisor.get(leader.id).config;
    const node = await this.supervisor.start(config, 0, null, {
      replica: true,
      join: members.bootstrap,
    });
    this.supervisor.setShard(node.id, shard);
    this.log(
      `${shard}: started ${node.id} at ${node.url} to join (voters ${members.voters.join(', ')})`,
    );
    let added: Members;
    try {
      added = await changeMembers(shard, { add: node.id }, this.leaderLookup(shard));
    } catch (error) {
      // Not a voter, or not known to be one: it goes, and the map never listed it.
      await this.supervisor.retire(node.id).catch(() => undefined);
      throw error;
    }
    const current = this.map!;
    const next: ClusterMap = {
      ...current,
      epoch: this.nextEpoch(),
      shards: current.shards.map((s) =>
        s.id === shard ? { ...s, nodes: [...s.nodes, { id: node.id, url: node.url }] } : s,
      ),
    };
    await this.publish(
      next,
      this.members(next).map((n) => n.id),
      { tolerant: true },
    );
    this.log(`${shard}: ${node.id} added; voters ${added.voters.join(', ')}`);
    const target = added.commit;
    const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
    for (;;) {
      const health = await this.health(node.id, node.url);
      if (health !== null && (health.applied ?? 0) >= target) break;
      if (Date.now() > deadline) {
        this.log(`${shard}: ${node.id} has not caught up to index ${target} yet`);
        break;
      }
      await sleep(HEALTH_POLL_MS);
    }
    return this.supervisor.get(node.id);
  }

  private async removeReplicaNow(id: string): Promise<{ id: string; shard: string }> {
    const node = this.nodeOrNull(id);
    const shard = node?.shard ?? null;
    if (node === null || shard === null) {
      throw new ControlError('unknown_node', `No replica ${id} in the cluster.`);
    }
    const group = this.replicatedShard(shard);
    if (group.nodes.length === 1) {
      throw new ControlError(
        'membership_refused',
        `${id} is the only replica of shard ${shard}; a group needs a member to hold its keys.`,
      );
    }
    await changeMembers(shard, { remove: id }, this.leaderLookup(shard));
    // Read the group once more while the map still lists `id`: a leader that removed itself
    // has stepped down, and the failover record says so.
    await this.shardHealth(shard);
    const current = this.map!;
    const next: ClusterMap = {
      ...current,
      epoch: this.nextEpoch(),
      shards: current.shards.map((s) =>
        s.id === shard ? { ...s, nodes: s.nodes.filter((n) => n.id !== id) } : s,
      ),
    };
    await this.publish(
      next,
      this.members(next).map((n) => n.id),
      { tolerant: true },
    );
    await this.supervisor.retire(id, node.status === 'up' ? RETIRE_DRAIN_MS : 0);
    this.log(`${shard}: ${id} removed and retired`);
    return { id, shard };
  }

  /** The shard's leader, waiting up to FIND_LEADER_TIMEOUT_MS for one. */
  private async findLeader(shard: string): Promise<ShardLeader> {
    const deadline = Date.now() + FIND_LEADER_TIMEOUT_MS;
    for (;;) {
      const leader = await this.leaderOf(shard);
      if (leader !== null) return leader;
      if (Date.now() > deadline) {
        throw new ControlError(
          'no_leader',
          `Shard ${shard} has no leader now (an election may be under way, or too few of its nodes are up); try again in a moment.`,
        );
      }
      await sleep(HEALTH_POLL_MS);
    }
  }

  private leaderLookup(shard: string): LeaderLookup {
    return {
      leader: () => this.leaderOf(shard),
      urlOf: (id) => {
        const node = this.nodeOrNull(id);
        return node !== null && node.status === 'up' ? node.url : null;
      },
    };
  }

  /** The map's shard `id`, which must be a Raft group (its nodes have data dirs). */
  private replicatedShard(id: string): ClusterShard {
    const shard = this.shardOf(id);
    if (!this.replicated) {
      throw new ControlError(
        'unsupported',
        `Shard ${id} is not a Raft group (the cluster was not made replicated), so it has no replicas to add or remove.`,
      );
    }
    return shard;
  }

  /**
   * Adds a shard served by a new node; resolves once its keys have started moving. Without
   * a cluster yet, the first node that is up becomes shard s1 and the new one s2.
   */
  async addShard(): Promise<{ shard: string }> {
    this.refuseIfReplicated('added');
    this.claim();
    try {
      let current = this.map;
      if (current === null) {
        const first = this.supervisor.list().find((n) => n.status === 'up');
        if (first === undefined) {
          throw new ControlError('node_down', 'No node is up to start the cluster from.');
        }
        current = {
          epoch: this.nextEpoch(),
          vnodes: DEFAULT_VNODES,
          shards: [{ id: 's1', nodes: [{ id: first.id, url: first.url }] }],
          moving: null,
        };
        await this.publish(current, [first.id]);
        this.supervisor.setShard(first.id, 's1');
      }
      const shard = nextShardId(current);
      const node = await this.supervisor.start({});
      // The map may have moved on while the node started (a node came back on a new port).
      current = this.map ?? current;
      const moving: ClusterMap = {
        epoch: this.nextEpoch(),
        vnodes: current.vnodes,
        shards: [...current.shards, { id: shard, nodes: [{ id: node.id, url: node.url }] }],
        moving: { fromRing: current.shards.map((s) => s.id), leaving: [] },
      };
      this.supervisor.setShard(node.id, shard);
      try {
        await this.startMove(current, moving, { toShard: shard });
      } catch (error) {
        // Nothing moved to it: the new node goes, and the cluster stays as it was.
        if (this.map === current) await this.supervisor.retire(node.id).catch(() => undefined);
        throw error;
      }
      return { shard };
    } catch (error) {
      this.busy = false;
      throw error;
    }
  }

  /** Removes a shard: its keys drain to the others, then its nodes stop. */
  async removeShard(shard: string): Promise<{ shard: string }> {
    this.refuseIfReplicated('removed');
    this.claim();
    try {
      const current = this.map;
      const leaving = current?.shards.find((s) => s.id === shard);
      if (current === null || leaving === undefined) {
        const known = current?.shards.map((s) => s.id).join(', ') || 'none';
        throw new ControlError('unknown_shard', `No shard ${shard}; the shards are ${known}.`);
      }
      if (current.shards.length === 1) {
        throw new ControlError(
          'busy',
          `Shard ${shard} is the only one; a cluster needs a shard to hold its keys.`,
        );
      }
      const moving: ClusterMap = {
        epoch: this.nextEpoch(),
        vnodes: current.vnodes,
        shards: current.shards.filter((s) => s.id !== shard),
        moving: { fromRing: current.shards.map((s) => s.id), leaving: [leaving] },
      };
      await this.startMove(current, moving, { fromShard: shard });
      return { shard };
    } catch (error) {
      this.busy = false;
      throw error;
    }
  }

  /** The pace of moves: keys a second each new owner copies, now and for later moves. */
  async throttle(keysPerSecond: number): Promise<ClusterState> {
    this.keysPerSecond = keysPerSecond;
    const receivers = this.map === null ? [] : this.receivers(this.map);
    await Promise.all(
      receivers.map((node) =>
        send(node.url, 'PATCH', '/v1/cluster', { keysPerSecond }).catch(() => undefined),
      ),
    );
    if (this.resharding !== null) this.resharding = { ...this.resharding, keysPerSecond };
    this.emit();
    return this.state();
  }

  /** The epoch of the map a node holds now (GET /v1/cluster); 0 for none or no answer. */
  private async epochHeld(url: string): Promise<number> {
    try {
      const info = JSON.parse(await fetchText(`${url}/v1/cluster`, HEALTH_TIMEOUT_MS)) as {
        map?: { epoch?: unknown } | null;
      };
      return typeof info.map?.epoch === 'number' ? info.map.epoch : 0;
    } catch {
      return 0;
    }
  }

  /** The next epoch: one counter for every map this control plane makes, so none repeats. */
  private nextEpoch(): number {
    this.lastEpoch = Math.max(this.lastEpoch, this.map?.epoch ?? 0) + 1;
    return this.lastEpoch;
  }

  /** Moving keys between Raft groups is not built yet (Level 6, a later step). */
  private refuseIfReplicated(what: 'added' | 'removed'): void {
    if (!this.replicated) return;
    throw new ControlError(
      'unsupported',
      `Shards of a replicated cluster cannot be ${what} yet: moving keys between Raft groups is not supported; form the cluster with the shards you need.`,
    );
  }

  /** The map's shard `id`, or unknown_shard naming the shards there are. */
  private shardOf(id: string): ClusterShard {
    const shard = this.map?.shards.find((s) => s.id === id);
    if (shard === undefined) {
      const known = this.map?.shards.map((s) => s.id).join(', ') || 'none';
      throw new ControlError('unknown_shard', `No shard ${id}; the shards are ${known}.`);
    }
    return shard;
  }

  private nodeOrNull(id: string): NodeInfo | null {
    return this.supervisor.list().find((n) => n.id === id) ?? null;
  }

  /** A replica's /healthz, noted in the supervisor (NodeInfo's role and term); null: none. */
  private async health(id: string, url: string): Promise<RaftHealth | null> {
    try {
      const health = raftFromHealth(await fetchText(`${url}/healthz`, HEALTH_TIMEOUT_MS));
      if (health !== null) {
        try {
          this.supervisor.setRaft(id, health);
        } catch {
          // Retired meanwhile.
        }
      }
      return health;
    } catch {
      return null;
    }
  }

  private claim(): void {
    if (this.busy || this.map?.moving != null) {
      throw new ControlError(
        'busy',
        'A shard is being added or removed; wait until its keys have moved.',
      );
    }
    this.busy = true;
  }

  /**
   * Publishes e+1, old owners first: from then on they send the moving keys' requests on to
   * the new owners, which (still at e) answer 421 and take e+1 from them. The other way
   * round, an old owner still at e could acknowledge a write after the new owner settled
   * the key, and the settled key would refuse that write's copy. Then it watches the move
   * until it can publish e+2. Once any node may hold e+1 the move runs to its end, even if
   * some node did not answer: its peers hand it the map when they next talk to it.
   */
  private async startMove(
    before: ClusterMap,
    moving: ClusterMap,
    which: { fromShard?: string; toShard?: string },
  ): Promise<void> {
    const receivers = this.receivers(moving);
    // Their pace first, so the first page already keeps it.
    await Promise.all(
      receivers.map((n) =>
        send(n.url, 'PATCH', '/v1/cluster', { keysPerSecond: this.keysPerSecond }),
      ),
    );
    await this.publishInTurn(moving, [this.othersThan(moving, receivers), receivers]);
    const movedShare = movedRanges(previousRingOf(moving)!, ringOf(moving)).reduce(
      (sum, r) => sum + (r.end - r.start) / 2 ** 32,
      0,
    );
    const startedAt = Date.now();
    this.resharding = {
      ...which,
      movedKeys: 0,
      totalKeys: 0,
      movedBytes: 0,
      keysPerSecond: this.keysPerSecond,
      movedShare,
      startedAt,
      rate: 0,
      etaSeconds: null,
    };
    this.emit();
    void this.watch(before, moving, which, receivers, movedShare).finally(() => {
      this.busy = false;
    });
  }

  private async watch(
    before: ClusterMap,
    moving: ClusterMap,
    which: { fromShard?: string; toShard?: string },
    receivers: readonly { id: string; url: string }[],
    movedShare: number,
  ): Promise<void> {
    const startedAt = this.resharding?.startedAt ?? Date.now();
    let lastProgress = Date.now();
    let lastMoved = -1;
    let error: string | null = null;
    let transfers: (TransferProgress | null)[] = [];
    for (;;) {
      await sleep(PROGRESS_INTERVAL_MS);
      transfers = await Promise.all(
        receivers.map(async (node) => {
          try {
            const info = JSON.parse(await fetchText(`${node.url}/v1/cluster`, 1000)) as {
              transfer: TransferProgress | null;
            };
            return info.transfer;
          } catch {
            return null;
          }
        }),
      );
      const moved = sum(transfers, (t) => t.movedKeys);
      const total = sum(transfers, (t) => t.totalKeys);
      const elapsed = (Date.now() - startedAt) / 1000;
      const rate = elapsed > 0 ? moved / elapsed : 0;
      this.resharding = {
        ...which,
        movedKeys: moved,
        totalKeys: Math.max(total, moved),
        movedBytes: sum(transfers, (t) => t.movedBytes),
        keysPerSecond: this.keysPerSecond,
        movedShare,
        startedAt,
        rate,
        etaSeconds: rate > 0 ? Math.max(0, (total - moved) / rate) : null,
      };
      this.emit();
      const failed = transfers.find((t) => t?.error != null);
      if (failed) {
        error = failed.error;
        break;
      }
      if (transfers.every((t) => t !== null && t.finishedAt !== null)) break;
      if (moved !== lastMoved) {
        lastMoved = moved;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > STALLED_MS) {
        error = `no keys moved for ${STALLED_MS / 1000} s`;
        break;
      }
    }
    // e+2: the move is over (or given up: the new owners keep what they have). New owners
    // first, so none reads through from an old owner that has already let the keys go.
    // Built from the map as it is now: a node may have come back on a new port meanwhile.
    const after: ClusterMap = { ...(this.map ?? moving), epoch: this.nextEpoch(), moving: null };
    await this.publishInTurn(after, [receivers, this.othersThan(after, receivers)]);
    const seconds = (Date.now() - startedAt) / 1000;
    // A removed shard's nodes have given their keys away: they are retired (no new request
    // goes to them) and stop once those on their way are answered.
    for (const shard of moving.moving?.leaving ?? []) {
      for (const node of shard.nodes) {
        await this.supervisor.retire(node.id, RETIRE_DRAIN_MS).catch(() => undefined);
      }
    }
    const stats = this.resharding;
    this.resharding = null;
    this.lastMove = {
      ...which,
      movedKeys: stats?.movedKeys ?? 0,
      movedBytes: stats?.movedBytes ?? 0,
      movedShare,
      seconds,
      before,
      error,
    };
    this.busy = false;
    this.emit();
  }

  /**
   * Sends `map` to the nodes `ids` (in parallel) and makes it the cluster's map. Throws if a
   * node did not take it, unless `tolerant`; then says which did not.
   */
  private async publish(
    map: ClusterMap,
    ids: readonly string[],
    { tolerant = false } = {},
  ): Promise<string[]> {
    this.map = map;
    const nodes = ids.map((id) => this.supervisor.get(id)).filter((n) => n.status === 'up');
    const failures = await Promise.all(
      nodes.map(async (node) => {
        try {
          await send(node.url, 'PUT', '/v1/cluster', map);
          return null;
        } catch (error) {
          return `${node.id}: ${String(error)}`;
        }
      }),
    );
    this.emit();
    const failed = failures.filter((f) => f !== null);
    if (failed.length > 0 && !tolerant) {
      throw new ControlError(
        'start_failed',
        `Nodes did not take cluster map epoch ${map.epoch}: ${failed.join('; ')}`,
      );
    }
    return failed;
  }

  /**
   * Sends `map` to one group of nodes after another. A node that does not answer is noted,
   * not waited for: its peers hand it the map when they next talk to it (a 421).
   */
  private async publishInTurn(
    map: ClusterMap,
    groups: readonly (readonly { id: string }[])[],
  ): Promise<void> {
    const unanswered: string[] = [];
    for (const group of groups) {
      const ids = group.map((n) => n.id);
      unanswered.push(...(await this.publish(map, ids, { tolerant: true })));
    }
    if (unanswered.length > 0) this.log(`epoch ${map.epoch} unanswered: ${unanswered.join('; ')}`);
  }

  /** The members of `map` that are not among `nodes`. */
  private othersThan(
    map: ClusterMap,
    nodes: readonly { id: string }[],
  ): { id: string; url: string }[] {
    return this.members(map).filter((n) => !nodes.some((r) => r.id === n.id));
  }

  /** The nodes that gain keys in `moving` (the first node of each shard that gains some). */
  private receivers(map: ClusterMap): { id: string; url: string }[] {
    const previous = previousRingOf(map);
    if (previous === null) return [];
    const gaining = new Set(movedRanges(previous, ringOf(map)).map((r) => r.to));
    return map.shards
      .filter((s) => gaining.has(s.id))
      .map((s) => s.nodes[0]!)
      .map((n) => ({ id: n.id, url: n.url }));
  }

  /** Every node the map lists, leaving ones included. */
  private members(map: ClusterMap): { id: string; url: string }[] {
    return [...map.shards, ...(map.moving?.leaving ?? [])].flatMap((s) => s.nodes);
  }

  /** A cluster node came up again: the map goes to it, with its URL if that changed. */
  private async rejoin(node: NodeInfo): Promise<void> {
    const map = this.map;
    if (map === null || node.url === '') return;
    const listed = this.members(map).find((n) => n.id === node.id);
    if (listed === undefined) return;
    let next = map;
    if (listed.url !== node.url) {
      const moveUrl = (shards: readonly ClusterShard[]) =>
        shards.map((s) => ({
          ...s,
          nodes: s.nodes.map((n) => (n.id === node.id ? { ...n, url: node.url } : n)),
        }));
      next = {
        ...map,
        epoch: this.nextEpoch(),
        shards: moveUrl(map.shards),
        moving:
          map.moving === null ? null : { ...map.moving, leaving: moveUrl(map.moving.leaving) },
      };
      await this.publish(
        next,
        this.members(next).map((n) => n.id),
      ).catch(() => undefined);
      return;
    }
    await send(node.url, 'PUT', '/v1/cluster', next).catch(() => undefined);
  }

  private emit(): void {
    const state = this.state();
    for (const listener of this.listeners) listener(state);
  }
}

/** The lowest free shard id: s1, s2, ... */
function nextShardId(map: ClusterMap): string {
  const taken = new Set([...map.shards, ...(map.moving?.leaving ?? [])].map((s) => s.id));
  let i = 1;
  while (taken.has(`s${i}`)) i++;
  return `s${i}`;
}

function sum(list: readonly (TransferProgress | null)[], of: (t: TransferProgress) => number) {
  return list.reduce((total, t) => total + (t === null ? 0 : of(t)), 0);
}

/** One JSON request to a node; rejects unless it answers 2xx. */
async function send(url: string, method: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(PUBLISH_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}
