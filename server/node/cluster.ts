/**
 * A node's part in a cluster (Level 5): the cluster map it holds, the routing decision for
 * each key (core/cluster's `decide`), forwarding to the owner over pooled keep-alive
 * connections, swapping maps with peers, and moving keys when shards are added or removed.
 *
 * The rules of a move are core/cluster's (cluster-map.ts, rules 1-5); this file is their
 * I/O. The new owner pulls the ranges it gains from each old owner, page by page, at a
 * throttled rate, and applies a copy only when its Handoff says so. The old owner answers
 * from a snapshot of the keys in those ranges, and serves transfer reads of single keys for
 * the new owner. When the map leaves `moving`, the old owner drops the keys it gave away.
 *
 * A node without a map is a lone cache: it serves every key and adds no headers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  type Arrival,
  type ClusterMap,
  type ClusterShard,
  type Decision,
  FROM_CLIENT,
  Handoff,
  type Target,
  adopt as adoptMap,
  decide as decideRoute,
  parseClusterMap,
  previousRingOf,
  ringOf,
} from '../../core/cluster/index.ts';
import type { Store } from '../../core/engine/store.ts';
import type { Entry, StoredValue } from '../../core/engine/types.ts';
import { type CacheError, type Result, cacheError, ok } from '../../core/errors.ts';
import { movedRanges, type Ring } from '../../core/ring/index.ts';
import { type PeerAnswer, PeerClient, type PeerRequest, PeerUnreachable } from './peer-client.ts';

/** Request and answer headers of the cluster (API.md §2). */
export const CLUSTER_HEADERS = {
  /** On every key answer of a node in a cluster: the shard that served it. */
  shard: 'x-tinycache-shard',
  /** On a forwarded request and its answer: the node that forwarded it. */
  forwardedBy: 'x-tinycache-forwarded-by',
  /** On a forwarded request: the times it was forwarded. */
  hops: 'x-tinycache-hops',
  /** On a node's request to a peer, and on a 421: the sender's (or refuser's) map epoch. */
  epoch: 'x-tinycache-epoch',
  /**
   * Level 6, on a request a replica sent on to its shard's leader: serve or refuse, never
   * forward again (core/cluster `leaderStep`).
   */
  toLeader: 'x-tinycache-to-leader',
  /** Level 6, on every key answer of a replicated shard: the leader that served it (or known). */
  leader: 'x-tinycache-leader',
  /** Level 6, on every key answer of a replicated shard: the Raft term it was served in. */
  term: 'x-tinycache-term',
} as const;

/** Keys per page of a transfer at most; a slow pace takes smaller pages (ten a second). */
export const TRANSFER_PAGE_KEYS = 500;
/** Stored bytes per page of a transfer at most (one value larger than this goes alone). */
export const TRANSFER_PAGE_BYTES = 4 * 1024 * 1024;
/** Keys a new owner copies per second at most, unless told otherwise. */
export const DEFAULT_TRANSFER_KEYS_PER_SECOND = 50_000;
/** Keys looked at per turn of the event loop while a snapshot is taken. */
const SNAPSHOT_SLICE_KEYS = 20_000;
/** A snapshot nobody has read for this long is dropped. */
const SNAPSHOT_IDLE_MS = 60_000;
/** Attempts at one page of a transfer before the move is reported failed. */
const TRANSFER_ATTEMPTS = 20;

/** A key as it travels between nodes: its stored bytes, type, compression and expiry. */
export interface WireEntry {
  readonly key: string;
  /** Base64 of the stored bytes (gzip bytes when `compressed`). */
  readonly value: string;
  readonly contentType: string;
  readonly compressed: boolean;
  readonly rawBytes: number;
  /** Absolute, epoch ms; null for none. */
  readonly expiresAt: number | null;
}

/** A new owner's view of the move it takes part in. */
export interface TransferProgress {
  /** The map epoch of the move. */
  readonly epoch: number;
  /** The shards keys come from. */
  readonly from: readonly string[];
  /** Keys in the ranges this node gains, as the old owners counted them (grows per source). */
  readonly totalKeys: number;
  /** Keys received so far (applied or not). */
  readonly movedKeys: number;
  /** Received keys not applied: written, deleted or already copied here during the move. */
  readonly skippedKeys: number;
  readonly movedBytes: number;
  readonly keysPerSecond: number;
  readonly startedAt: number;
  /** Null while keys still move. */
  readonly finishedAt: number | null;
  readonly error: string | null;
}

export interface ClusterInfo {
  readonly node: string;
  /** The shard that lists this node in the map; null without a map or when none does. */
  readonly shard: string | null;
  readonly map: ClusterMap | null;
  readonly transfer: TransferProgress | null;
}

/** What a node counts about its cluster work (read by its metrics at scrape time). */
export interface ClusterCounters {
  transferredKeys: number;
  transferredBytes: number;
  servedKeys: number;
  droppedKeys: number;
}

interface Snapshot {
  readonly keys: readonly string[];
  lastUsed: number;
}

interface Move {
  readonly signature: string;
  readonly handoff: Handoff;
  progress: TransferProgress;
  cancelled: boolean;
}

export interface ClusterRoleOptions {
  readonly nodeId: string;
  readonly store: Store;
  /** Called for every forwarded request, with the owner's shard and the round trip. */
  readonly onForward?: (shard: string, seconds: number) => void;
  readonly clock: () => number;
  readonly log?: (line: string) => void;
  readonly peers?: PeerClient;
  readonly keysPerSecond?: number;
  /** Why this node takes no cluster map (a refusal every `adopt` answers), or null. */
  readonly joinRefusal?: string | null;
  /**
   * Level 6: this node is a replica of its shard's Raft group (server/node/replication.ts).
   * It may refuse a map (`refusal`), is told of every adopted one (`onMap`, with this node's
   * shard), and no keys move here: its store changes only through Raft.
   */
  readonly replication?: MapListener | null;
}

/** What a replicated node's Raft side needs from map adoption (Replication has this shape). */
export interface MapListener {
  refusal(current: ClusterMap | null, next: ClusterMap): string | null;
  /** An adopted map (`map`), with this node's shard in it. */
  onMap(shard: ClusterShard | null, map: ClusterMap): void;
}

export class ClusterRole {
  readonly nodeId: string;
  readonly counters: ClusterCounters = {
    transferredKeys: 0,
    transferredBytes: 0,
    servedKeys: 0,
    droppedKeys: 0,
  };
  private current: ClusterMap | null = null;
  /** This node's shard in `current` (cached per map). */
  private myShard: string | null = null;
  /** Who this node is to `decide`, set with the map (not built for every request). */
  private me = { shard: '', node: '' };
  private readonly onForward: (shard: string, seconds: number) => void;
  private move: Move | null = null;
  private readonly snapshots = new Map<string, Snapshot>();
  private nextSnapshot = 1;
  /** Snapshot ids differ across restarts, so a receiver never reads another's by mistake. */
  private readonly snapshotPrefix = randomUUID().slice(0, 8);
  private keysPerSecond: number;
  private readonly peers: PeerClient;
  private readonly store: Store;
  private readonly clock: () => number;
  private readonly log: (line: string) => void;
  private readonly janitor: NodeJS.Timeout;
  private sweeping = false;
  private sweepAgain = false;
  private readonly joinRefusal: string | null;
  private readonly replication: MapListener | null;
  /** Level 6: each other shard's leader, as its last forwarded answer named it. */
  private readonly leaders = new Map<string, string>();
  private closed = false;

  constructor(options: ClusterRoleOptions) {
    this.nodeId = options.nodeId;
    this.onForward = options.onForward ?? (() => {});
    this.store = options.store;
    this.clock = options.clock;
    this.log = options.log ?? (() => {});
    this.peers = options.peers ?? new PeerClient();
    this.keysPerSecond = options.keysPerSecond ?? DEFAULT_TRANSFER_KEYS_PER_SECOND;
    this.joinRefusal = options.joinRefusal ?? null;
    this.replication = options.replication ?? null;
    this.janitor = setInterval(() => this.dropIdleSnapshots(), SNAPSHOT_IDLE_MS / 2);
    this.janitor.unref();
  }

  get map(): ClusterMap | null {
    return this.current;
  }

  get epoch(): number {
    return this.current?.epoch ?? 0;
  }

  /** The shard that lists this node (on the ring, or leaving it); null when none does. */
  get shard(): string | null {
    return this.myShard;
  }

  info(): ClusterInfo {
    return {
      node: this.nodeId,
      shard: this.shard,
      map: this.current,
      transfer: this.move?.progress ?? null,
    };
  }

  /** Takes a map from the control plane or a peer: adopts it when newer. */
  adopt(input: unknown): Result<{ epoch: number; changed: boolean }> {
    if (this.joinRefusal !== null)
      return { ok: false, error: cacheError('bad_request', this.joinRefusal) };
    const parsed = parseClusterMap(input);
    if (!parsed.ok) return parsed;
    const adopted = adoptMap(this.current, parsed.value);
    if (!adopted.ok)
      return { ok: false, error: cacheError(adopted.error.code, adopted.error.message) };
    const refusal = adopted.changed ? this.replication?.refusal(this.current, adopted.map) : null;
    if (refusal != null) {
      this.log(`cluster map epoch ${adopted.map.epoch} refused: ${refusal}`);
      return { ok: false, error: cacheError('bad_request', refusal) };
    }
    if (adopted.changed) {
      this.current = adopted.map;
      const all = [...adopted.map.shards, ...(adopted.map.moving?.leaving ?? [])];
      this.myShard = all.find((s) => s.nodes.some((n) => n.id === this.nodeId))?.id ?? null;
      // A node the map does not list owns nothing: it forwards every key.
      this.me = { shard: this.myShard ?? '', node: this.nodeId };
      this.log(`cluster map epoch ${adopted.map.epoch}: ${describe(adopted.map)}`);
      this.onMapChanged(adopted.map);
    }
    return ok({ epoch: adopted.map.epoch, changed: adopted.changed });
  }

  /** What to do with a request for `key`; null for a lone node (serve it). */
  decide(key: string, arrival: Arrival): Decision | null {
    if (this.current === null) return null;
    return decideRoute(this.current, this.me, key, arrival);
  }

  /** The cluster headers of a request as it arrives. */
  arrival(req: IncomingMessage): Arrival {
    const by = req.headers[CLUSTER_HEADERS.forwardedBy];
    if (by === undefined) return FROM_CLIENT;
    const hops = Number(req.headers[CLUSTER_HEADERS.hops] ?? 1);
    const epoch = Number(req.headers[CLUSTER_HEADERS.epoch]);
    return {
      hops: Number.isInteger(hops) && hops >= 1 ? hops : 1,
      forwardedBy: String(by),
      senderEpoch: Number.isInteger(epoch) ? epoch : null,
      transfer: false,
      toLeader: req.headers[CLUSTER_HEADERS.toLeader] !== undefined,
    };
  }

  // -------------------------------------------------------------------------------------
  // The new owner's side of a move: what it settles, and reads of keys not yet copied.

  /** A write or delete of `key` landed here while it is in transit: it wins from now on. */
  settle(key: string): void {
    this.move?.handoff.settle(key);
  }

  /**
   * A read here found nothing for a key in transit from `fallback`: if the key is not
   * settled, read it from the old owner, keep it (as a copy) and return it.
   */
  async readThrough(key: string, fallback: Target): Promise<Entry | null> {
    const move = this.move;
    if (move === null || !move.handoff.readsThrough(key)) return null;
    const answer = await this.transferRead(fallback, key);
    if (answer.status === 421 && this.move !== move) {
      // The move ended meanwhile (the map moved on): every key was copied here, this one too
      // if it was still there.
      return this.store.get(key, this.clock()) ?? null;
    }
    if (answer.status === 404) return null;
    if (answer.status !== 200) {
      throw new PeerUnreachable(fallback.node.url, `HTTP ${answer.status}`);
    }
    const entry = fromWire(JSON.parse(answer.body.toString('utf8')) as WireEntry);
    if (move.handoff.readsThrough(key)) {
      // Settled only if kept: a copy this store refuses (too big here) is read through again.
      if (this.keep(key, entry)) move.handoff.settle(key);
      return entry;
    }
    // Settled here while the read was on its way (a write or delete): that is the truth now.
    return this.store.get(key, this.clock()) ?? null;
  }

  /**
   * Whether the old owner (`fallback`) still holds `key`, in transit and not settled here
   * (so not yet copied): a DELETE here must count that value as existing.
   */
  async oldOwnerHolds(key: string, fallback: Target): Promise<boolean> {
    const move = this.move;
    if (move === null || !move.handoff.readsThrough(key)) return false;
    const answer = await this.transferRead(fallback, key);
    if (answer.status === 421 && this.move !== move) return false; // copied here by now
    if (answer.status !== 200 && answer.status !== 404) {
      throw new PeerUnreachable(fallback.node.url, `HTTP ${answer.status}`);
    }
    return answer.status === 200;
  }

  /** Asks the old owner for its own entry of `key`, again once the maps agree after a 421. */
  private async transferRead(fallback: Target, key: string): Promise<PeerAnswer> {
    const request: PeerRequest = {
      method: 'GET',
      path: `/v1/transfer/keys/${encodeURIComponent(key)}`,
    };
    const answer = await this.exchange(fallback.node.url, request);
    return answer.status === 421 ? this.exchange(fallback.node.url, request) : answer;
  }

  // -------------------------------------------------------------------------------------
  // Forwarding.

  /**
   * Sends a key request to its owner and returns the owner's answer. A 421 from the owner
   * means one of the two maps is stale: the older side gets the newer map and the request
   * is decided again, once. `redecide` answers with the new decision; when it is to serve
   * here, that is the answer, for the caller to serve.
   */
  async forward(
    to: Target,
    req: PeerRequest,
    redecide: () => Decision | null,
  ): Promise<
    | PeerAnswer
    | { readonly refused: CacheError }
    | { readonly serveHere: Extract<Decision, { action: 'serve' }> }
  > {
    let target = to;
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const answer = await this.sendToShard(target, {
        ...req,
        headers: { ...req.headers, ...this.peerHeaders(), [CLUSTER_HEADERS.hops]: '1' },
      });
      this.countForward(target.shard, (performance.now() - started) / 1000);
      if (answer.status !== 421 || attempt > 0) return answer;
      const decision = redecide();
      // Under the newer map the key is this node's own: the caller serves it here.
      if (decision === null) return { serveHere: { action: 'serve', fallback: null } };
      if (decision.action === 'serve') return { serveHere: decision };
      if (decision.action === 'refuse') return { refused: decision.error };
      target = decision.to;
    }
  }

  /**
   * A cross-shard forward. Level 5: to `to`, the shard's serving node. Level 6 (this node is
   * a replica, so the shards are Raft groups whose every node takes any of its keys): first to
   * the shard's leader as its last answer named it (X-TinyCache-Leader), saving the hop from a
   * follower; then the map's node; and, when a node refuses the connection (down: it never
   * saw the request, so trying another one cannot apply a write twice), the shard's other
   * nodes in map order.
   */
  private async sendToShard(to: Target, req: PeerRequest): Promise<PeerAnswer> {
    if (this.replication === null) return this.exchange(to.node.url, req);
    const nodes = this.current?.shards.find((s) => s.id === to.shard)?.nodes ?? [];
    const hinted = nodes.find((n) => n.id === this.leaders.get(to.shard));
    const candidates = [...new Set([hinted, to.node, ...nodes].filter((n) => n !== undefined))];
    for (let i = 0; ; i++) {
      const node = candidates[i]!;
      let answer: PeerAnswer;
      try {
        answer = await this.exchange(node.url, req);
      } catch (error) {
        if (i + 1 < candidates.length && refusedConnection(error)) continue;
        throw error;
      }
      const leader = answer.headers[CLUSTER_HEADERS.leader];
      if (leader !== undefined) this.leaders.set(to.shard, leader);
      return answer;
    }
  }

  /**
   * Level 6: sends a key request to its shard's leader `to` (a node of this node's own shard),
   * marked so that it is not forwarded again (core/cluster `leaderStep`). A 421 (one of the
   * two maps is stale) brings the maps up to date and the request is sent once more.
   */
  async forwardToLeader(to: Target, req: PeerRequest): Promise<PeerAnswer> {
    const headers = {
      ...req.headers,
      ...this.peerHeaders(),
      [CLUSTER_HEADERS.hops]: '1',
      [CLUSTER_HEADERS.toLeader]: '1',
    };
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const answer = await this.exchange(to.node.url, { ...req, headers });
      this.countForward(to.shard, (performance.now() - started) / 1000);
      if (answer.status !== 421 || attempt > 0) return answer;
    }
  }

  /**
   * One request to a peer. A 421 naming a newer epoch fetches the peer's map; one naming an
   * older epoch sends ours; either way the 421 is returned for the caller to retry.
   */
  private async exchange(url: string, req: PeerRequest): Promise<PeerAnswer> {
    const answer = await this.peers.send(url, {
      ...req,
      headers: { ...this.peerHeaders(), ...req.headers },
    });
    if (answer.status === 421)
      await this.syncWith(url, Number(answer.headers[CLUSTER_HEADERS.epoch]));
    return answer;
  }

  /** Brings this node and the peer at `url` to the newer of their maps. */
  private async syncWith(url: string, peerEpoch: number): Promise<void> {
    if (!Number.isInteger(peerEpoch)) return;
    try {
      if (peerEpoch > this.epoch) {
        const answer = await this.peers.send(url, { method: 'GET', path: '/v1/cluster' });
        const info = JSON.parse(answer.body.toString('utf8')) as ClusterInfo;
        if (info.map !== null) this.adopt(info.map);
      } else if (peerEpoch < this.epoch && this.current !== null) {
        await this.peers.send(url, {
          method: 'PUT',
          path: '/v1/cluster',
          headers: { 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify(this.current)),
        });
      }
    } catch (error) {
      this.log(`cluster: could not exchange maps with ${url}: ${String(error)}`);
    }
  }

  private peerHeaders(): Record<string, string> {
    return {
      [CLUSTER_HEADERS.forwardedBy]: this.nodeId,
      [CLUSTER_HEADERS.epoch]: String(this.epoch),
    };
  }

  private countForward(shard: string, seconds: number): void {
    this.onForward(shard, seconds);
  }

  // -------------------------------------------------------------------------------------
  // The old owner's side: snapshots of ranges, pages of them, and single-key reads.

  /**
   * Starts a transfer of the keys whose ring position is in `ranges` ([start, end) pairs):
   * their names now, their values when each page is read.
   */
  async openSnapshot(ranges: readonly (readonly [number, number])[]): Promise<{
    id: string;
    keys: number;
    bytes: number;
  }> {
    const map = this.current;
    const ring = map === null ? null : (previousRingOf(map) ?? ringOf(map));
    const keys: string[] = [];
    let bytes = 0;
    const now = this.clock();
    if (ring !== null) {
      // In slices, yielding between them: a store of millions of keys must not stall this
      // node's clients (or outlast the new owner's request timeout in one go).
      const all = [...this.store.keys()];
      for (let i = 0; i < all.length; i += SNAPSHOT_SLICE_KEYS) {
        if (i > 0) await new Promise((resolve) => setImmediate(resolve));
        for (const key of all.slice(i, i + SNAPSHOT_SLICE_KEYS)) {
          const h = ring.position(key);
          if (!ranges.some(([start, end]) => h >= start && h < end)) continue;
          const entry = this.store.peek(key, now);
          if (entry === undefined) continue;
          keys.push(key);
          bytes += entry.bytes.length;
        }
      }
    }
    const id = `${this.snapshotPrefix}-${this.nextSnapshot++}`;
    this.snapshots.set(id, { keys, lastUsed: now });
    return { id, keys: keys.length, bytes };
  }

  /** Entries `offset` to `offset + limit` of snapshot `id`, as they are now. */
  readSnapshot(
    id: string,
    offset: number,
    limit: number,
  ): { entries: WireEntry[]; next: number | null } | null {
    const snapshot = this.snapshots.get(id);
    if (snapshot === undefined) return null;
    const now = this.clock();
    snapshot.lastUsed = now;
    const last = Math.min(snapshot.keys.length, offset + limit);
    const entries: WireEntry[] = [];
    let bytes = 0;
    let i = offset;
    // A page holds `limit` keys or TRANSFER_PAGE_BYTES of values, whichever comes first (at
    // least one key), so large values neither outgrow an answer nor block this node long.
    for (; i < last && (i === offset || bytes < TRANSFER_PAGE_BYTES); i++) {
      const key = snapshot.keys[i]!;
      const entry = this.store.peek(key, now);
      if (entry === undefined) continue;
      entries.push(toWire(key, entry));
      bytes += entry.bytes.length;
    }
    this.counters.servedKeys += entries.length;
    return { entries, next: i < snapshot.keys.length ? i : null };
  }

  closeSnapshot(id: string): boolean {
    return this.snapshots.delete(id);
  }

  /** A transfer read: the entry for `key` from this node's own store, or null. */
  readOwn(key: string): WireEntry | null {
    const entry = this.store.peek(key, this.clock());
    return entry === undefined ? null : toWire(key, entry);
  }

  private dropIdleSnapshots(): void {
    const now = this.clock();
    for (const [id, snapshot] of this.snapshots) {
      if (now - snapshot.lastUsed > SNAPSHOT_IDLE_MS) this.snapshots.delete(id);
    }
  }

  // -------------------------------------------------------------------------------------
  // A map change: start or stop a move, drop what is no longer ours.

  /** Pages of a tenth of a second's keys, so the pace is smooth and a change bites soon. */
  private pageKeys(): number {
    return Math.max(1, Math.min(TRANSFER_PAGE_KEYS, Math.floor(this.keysPerSecond / 10)));
  }

  setKeysPerSecond(keysPerSecond: number): void {
    this.keysPerSecond = keysPerSecond;
    if (this.move !== null) this.move.progress = { ...this.move.progress, keysPerSecond };
  }

  private onMapChanged(map: ClusterMap): void {
    if (this.replication !== null) {
      // A replica's store changes through Raft only: no keys are copied in or swept out
      // (a map that would move keys was refused).
      this.replication.onMap(map.shards.find((s) => s.id === this.myShard) ?? null, map);
      return;
    }
    if (map.moving === null) {
      if (this.move !== null && this.move.progress.finishedAt === null) {
        this.log('cluster: the move ended before this node had every key; it stops pulling');
      }
      if (this.move !== null) this.move.cancelled = true;
      this.move = null;
      void this.dropForeignKeys();
      return;
    }
    const previous = previousRingOf(map)!;
    const ring = ringOf(map);
    const signature = JSON.stringify([[...map.moving.fromRing].sort(), ring.shards]);
    if (this.move?.signature === signature) return; // the same move, a later epoch
    if (this.move !== null) this.move.cancelled = true;
    const incoming = movedRanges(previous, ring).filter((r) => r.to === this.myShard);
    if (incoming.length === 0) {
      this.move = null;
      return;
    }
    // Anything held here in the ranges it gains is a leftover from an earlier time it owned
    // them (a sweep cut short): older than the old owner's, so it goes before any read.
    this.dropInRanges(previous, incoming);
    const from = [...new Set(incoming.map((r) => r.from))].sort();
    const move: Move = {
      signature,
      handoff: new Handoff(),
      cancelled: false,
      progress: {
        epoch: map.epoch,
        from,
        totalKeys: 0,
        movedKeys: 0,
        skippedKeys: 0,
        movedBytes: 0,
        keysPerSecond: this.keysPerSecond,
        startedAt: this.clock(),
        finishedAt: null,
        error: null,
      },
    };
    this.move = move;
    void this.pull(move, map, incoming).catch((error: unknown) => {
      move.progress = { ...move.progress, error: String(error) };
      this.log(`cluster: the move stopped: ${String(error)}`);
    });
  }

  /** Copies every range this node gains, one old owner after another. */
  private async pull(
    move: Move,
    map: ClusterMap,
    incoming: readonly { from: string; start: number; end: number }[],
  ): Promise<void> {
    for (const source of move.progress.from) {
      const ranges = incoming.filter((r) => r.from === source).map((r) => [r.start, r.end]);
      const shard =
        map.shards.find((s) => s.id === source) ?? map.moving?.leaving.find((s) => s.id === source);
      const url = shard?.nodes[0]?.url;
      if (url === undefined) throw new Error(`the map has no node for shard ${source}`);
      const opened = await this.retrying(move, () =>
        this.exchange(url, {
          method: 'POST',
          path: '/v1/transfer',
          headers: { 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify({ ranges })),
        }),
      );
      if (opened === null) return;
      const { id, keys } = JSON.parse(opened.body.toString('utf8')) as { id: string; keys: number };
      move.progress = { ...move.progress, totalKeys: move.progress.totalKeys + keys };
      let offset: number | null = 0;
      while (offset !== null) {
        const started = performance.now();
        const page = await this.retrying(move, () =>
          this.exchange(url, {
            method: 'GET',
            path: `/v1/transfer/${id}?offset=${offset}&limit=${this.pageKeys()}`,
          }),
        );
        if (page === null) return;
        const { entries, next } = JSON.parse(page.body.toString('utf8')) as {
          entries: WireEntry[];
          next: number | null;
        };
        this.apply(move, entries);
        offset = next;
        // Throttle: a page of n keys takes at least n / keysPerSecond seconds.
        const minimumMs = (entries.length / this.keysPerSecond) * 1000;
        const waitMs = minimumMs - (performance.now() - started);
        if (waitMs > 0) await sleep(waitMs);
      }
      await this.peers.send(url, { method: 'DELETE', path: `/v1/transfer/${id}` }).catch(() => {});
    }
    move.progress = { ...move.progress, finishedAt: this.clock() };
    this.log(
      `cluster: moved ${move.progress.movedKeys} keys (${move.progress.skippedKeys} settled here first) from ${move.progress.from.join(', ')}`,
    );
  }

  /** Applies copied entries that the Handoff lets through (rule 3). */
  private apply(move: Move, entries: readonly WireEntry[]): void {
    let skipped = 0;
    let bytes = 0;
    for (const wire of entries) {
      bytes += wire.value.length;
      if (!move.handoff.readsThrough(wire.key)) {
        skipped++;
        continue;
      }
      if (this.keep(wire.key, fromWire(wire))) move.handoff.settle(wire.key);
    }
    const raw = Math.round((bytes * 3) / 4);
    this.counters.transferredKeys += entries.length;
    this.counters.transferredBytes += raw;
    const p = move.progress;
    move.progress = {
      ...p,
      movedKeys: p.movedKeys + entries.length,
      skippedKeys: p.skippedKeys + skipped,
      movedBytes: p.movedBytes + raw,
    };
  }

  /** Stores a copied entry; false when it expired on the way or the store refused it. */
  private keep(key: string, entry: Entry): boolean {
    const now = this.clock();
    if (entry.expiresAt !== null && entry.expiresAt <= now) return false;
    const value: StoredValue = entry;
    return this.store.set(key, value, entry.expiresAt, now).ok;
  }

  /** Runs `attempt` until it answers 200 or the move is cancelled; null when cancelled. */
  private async retrying(
    move: Move,
    attempt: () => Promise<PeerAnswer>,
  ): Promise<PeerAnswer | null> {
    let last = '';
    for (let i = 0; i < TRANSFER_ATTEMPTS; i++) {
      if (move.cancelled || this.closed) return null;
      try {
        const answer = await attempt();
        if (answer.status === 200) return answer;
        last = `HTTP ${answer.status}: ${answer.body.toString('utf8').slice(0, 200)}`;
        if (answer.status === 421) continue; // maps exchanged: try again at once
      } catch (error) {
        last = String(error);
      }
      await sleep(Math.min(2000, 50 * 2 ** i));
    }
    throw new Error(`a transfer request kept failing: ${last}`);
  }

  /** After a move: the keys this node no longer owns go, a batch per turn of the event loop. */
  private async dropForeignKeys(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true; // the sweep under way starts over under the newer map
      return;
    }
    this.sweeping = true;
    try {
      do {
        this.sweepAgain = false;
        await this.sweepOnce();
      } while (this.sweepAgain && !this.closed);
    } finally {
      this.sweeping = false;
    }
  }

  /** One pass over the store under the current map; stops early when the map changes. */
  private async sweepOnce(): Promise<void> {
    const map = this.current;
    const shard = this.myShard;
    if (map === null || shard === null || map.moving !== null) return;
    const ring = ringOf(map);
    const keys = [...this.store.keys()];
    for (let i = 0; i < keys.length; i += 1000) {
      if (this.current !== map || this.closed) return;
      const now = this.clock();
      for (const key of keys.slice(i, i + 1000)) {
        if (ring.owner(key) !== shard && this.store.delete(key, now)) this.counters.droppedKeys++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Deletes what this node holds at positions in `ranges` (of `ring`). */
  private dropInRanges(
    ring: Ring,
    ranges: readonly { readonly start: number; readonly end: number }[],
  ): void {
    const now = this.clock();
    for (const key of [...this.store.keys()]) {
      const h = ring.position(key);
      if (ranges.some((r) => h >= r.start && h < r.end) && this.store.delete(key, now)) {
        this.counters.droppedKeys++;
      }
    }
  }

  close(): void {
    this.closed = true;
    if (this.move !== null) this.move.cancelled = true;
    clearInterval(this.janitor);
    this.peers.close();
  }
}

/** The peer refused the connection: it is down, and never saw the request. */
export function refusedConnection(error: unknown): boolean {
  return error instanceof PeerUnreachable && /ECONNREFUSED/.test(error.message);
}

function describe(map: ClusterMap): string {
  const shards = map.shards.map((s) => `${s.id}=${s.nodes.map((n) => n.id).join('+')}`);
  const moving = map.moving === null ? '' : ` (moving from ${map.moving.fromRing.join(', ')})`;
  return `${shards.join(' ')}${moving}`;
}

export function toWire(key: string, entry: Entry): WireEntry {
  return {
    key,
    value: Buffer.from(entry.bytes.buffer, entry.bytes.byteOffset, entry.bytes.length).toString(
      'base64',
    ),
    contentType: entry.contentType,
    compressed: entry.compressed,
    rawBytes: entry.rawBytes,
    expiresAt: entry.expiresAt,
  };
}

export function fromWire(wire: WireEntry): Entry {
  const bytes = Buffer.from(wire.value, 'base64');
  return {
    bytes: new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
    contentType: wire.contentType,
    compressed: wire.compressed,
    rawBytes: wire.rawBytes,
    expiresAt: wire.expiresAt,
  };
}
