/**
 * A replica of one shard in a node process: the shard's core/raft `RaftNode` over durable
 * storage and a real transport, with the shard's `ReplicatedCache` as its state machine.
 *
 * This is the same driver as the simulator's (sim/raft/run.ts, `Run.flush`), with real I/O:
 * ticks come from a timer, storage is asynchronous (DiskStorage: fsync with group commit) and
 * messages leave through a RaftTransport. It follows core/raft's Ready contract (types.ts):
 *
 * 1. persist the snapshot, entries and hard state (`await storage.save`), then
 * 2. send the messages (never before 1: a message may promise what 1 makes durable),
 * 3. restore the cache from the snapshot and apply the committed entries,
 * 4. serve the confirmed reads whose index is applied,
 * 5. advance.
 *
 * One Ready is in flight at a time. While its save is waiting for the disk, the node keeps
 * taking messages, ticks and proposals, and the next Ready carries all of them: group commit
 * falls out of the loop, one fsync for every write proposed during the previous one.
 *
 * What a client is told (thesis §6.3, Raft paper §8):
 * - A write is acknowledged only once its entry is applied here, which means it committed: a
 *   deposed or paused leader applies only what a quorum holds, so it can never acknowledge an
 *   entry a new leader replaced. A write is matched by its (index, term): an entry applied at
 *   its index with another term means it was replaced, and the write fails.
 * - When this node stops leading its term, every pending write and unconfirmed read fails at
 *   once with NotLeader. The entry may still commit; the client's retry carries the same
 *   (client, seq) and the session answers it with the first outcome, applying it once.
 * - Linearizable reads use ReadIndex (core/raft readIndex, thesis §6.4) on the leader; stale
 *   reads are served from this replica's cache, whatever its role.
 */
import {
  RaftNode,
  type ConfChange,
  type ConfChangeRefusal,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftTransport,
  type ReadState,
  type Role,
  type Snapshot,
  type Storage,
} from '../../../core/raft/index.ts';
import type { Rng } from '../../../core/random.ts';
import type { Entry as EngineEntry } from '../../../core/engine/index.ts';
import {
  encodeCommand,
  type Applied,
  type Command,
  type DeleteCommand,
  type ReplicatedCache,
  type SetCommand,
} from '../../../core/replicated/index.ts';
import { DurationHistogram } from './metrics.ts';

export type { RaftTransport };

/** What one Ready asks to be made durable, in this order: snapshot, entries, hard state. */
export interface PersistUpdate {
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

/**
 * Stable storage as a node process has it (DiskStorage's shape): Raft reads it synchronously,
 * the driver writes it asynchronously.
 */
export interface PersistentStorage extends Storage {
  /** Resolves once the update is durable (fsynced); updates are applied in call order. */
  save(update: PersistUpdate): Promise<void>;
  /**
   * Keeps `data` (the state machine after applying every entry up to `index`) as the
   * snapshot, and may then discard the entries it covers (§7). `index` is at most lastIndex().
   * Reads see the compaction at once (as after save); the promise resolves once durable.
   * `voters` is the membership as of `index`, kept in the snapshot (Snapshot.voters).
   */
  createSnapshot(index: number, data: Uint8Array, voters?: readonly NodeId[]): Promise<Snapshot>;
  /** Set by the Replica: called with each fsync's duration, seconds (the fsync metric). */
  onFsync?: ((seconds: number) => void) | undefined;
}

/** Arms a periodic timer calling `tick` every `ms`; returns how to disarm it. */
export type Ticker = (tick: () => void, ms: number) => () => void;

export interface ReplicaOptions {
  readonly id: NodeId;
  /**
   * The shard's bootstrap voters: the same list on every replica for the group's whole life
   * (a node joining later passes it too). A restarted node recovers term, vote, log and its
   * current membership from storage.
   */
  readonly peers: readonly NodeId[];
  readonly storage: PersistentStorage;
  readonly transport: RaftTransport;
  /** A fresh cache: the replica restores it from the storage's snapshot, if any. */
  readonly cache: ReplicatedCache;
  /** Wall clock, ms: the leader stamps writes with it, reads judge expiry by it. */
  readonly now: () => number;
  /** One Raft tick, ms. Default DEFAULT_TICK_MS. */
  readonly tickMs?: number;
  /** Default DEFAULT_ELECTION_TICKS. */
  readonly electionTicks?: number;
  /** Default DEFAULT_HEARTBEAT_TICKS. */
  readonly heartbeatTicks?: number;
  /** Snapshot and compact once this many entries are applied past the last snapshot. */
  readonly snapshotEvery?: number;
  /** A write or linearizable read not answered within this long fails with Unavailable. */
  readonly requestTimeoutMs?: number;
  /** Draws the randomized election timeouts. */
  readonly rng: Rng;
  /** Where ticks come from; default setInterval, unref'd. Tests pass one they can pause. */
  readonly ticker?: Ticker;
  /**
   * Storage failed: the replica has stopped (it cannot promise anything any more, as etcd
   * panics). Default: rethrown from a microtask, which ends the process.
   */
  readonly onFatal?: (error: unknown) => void;
}

/**
 * Timings for failover under 500 ms at the median. A follower campaigns after hearing nothing
 * for a random [electionTicks, 2 * electionTicks) ticks: [250, 500) ms. With two followers
 * the first one's timeout is the minimum of two draws (mean ~333 ms), minus up to one
 * heartbeat already elapsed when the leader died, plus a pre-vote and a vote round (two round
 * trips and one fsync of the vote, a few ms on a LAN) and the new leader's no-op commit.
 * Heartbeats every 2 ticks (50 ms) fit five into the shortest election timeout, so a lost
 * heartbeat or a GC pause of a few tens of ms does not start an election; checkQuorum steps a
 * cut-off leader down after one election timeout (250 ms), failing what it had pending.
 * Going lower trades spurious elections (event-loop stalls of 100+ ms under load happen) for
 * a faster failover.
 */
export const DEFAULT_TICK_MS = 25;
export const DEFAULT_ELECTION_TICKS = 10;
export const DEFAULT_HEARTBEAT_TICKS = 2;
export const DEFAULT_SNAPSHOT_EVERY = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;

/** This replica cannot serve the request: `leader` (if known) can. */
export class NotLeader extends Error {
  readonly code = 'not_leader';
  constructor(
    readonly leader: NodeId | null,
    message = leader === null
      ? 'No leader is known for this shard right now; retry shortly.'
      : `This replica is not the shard's leader; ${leader} is.`,
  ) {
    super(message);
    this.name = 'NotLeader';
  }
}

/** core/raft refused a membership change now (thesis §4.1's rules; see ConfChangeRefusal). */
export class MembershipRefused extends Error {
  readonly code = 'membership_refused';
  constructor(
    readonly change: ConfChange,
    readonly reason: ConfChangeRefusal,
  ) {
    super(`Cannot ${change.type} ${change.node} now: ${reason}.`);
    this.name = 'MembershipRefused';
  }
}

/** The request could not be answered in time, or the replica stopped: retry. */
export class Unavailable extends Error {
  readonly code = 'unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'Unavailable';
  }
}

/** A write as a client asks for it; the leader adds `at` and the absolute `expiresAt`. */
export type WriteRequest =
  | (Omit<SetCommand, 'at' | 'expiresAt'> & { readonly ttlMs: number | null })
  | (Omit<DeleteCommand, 'at'> & { readonly ttlMs?: null });

/**
 * A write's answer: what applying it told the client, and the times the leader stamped on it
 * (for the PUT answer's `expiresAt`). For a duplicate (a retry of a write already applied),
 * the stamps are this attempt's, not the first one's that the cache kept.
 */
export interface Written extends Applied {
  readonly at: number;
  readonly expiresAt: number | null;
}

export interface FollowerStatus {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  /** The leader's last index minus the follower's match. */
  readonly lagEntries: number;
}

export interface ReplicaStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly voters: readonly NodeId[];
  /** The index of the snapshot the log starts after (0: none yet). */
  readonly snapshotIndex: number;
  /** Snapshots received from a leader and installed (a replica far behind, or new). */
  readonly snapshotsInstalled: number;
  /** Leader only; empty elsewhere. */
  readonly followers: readonly FollowerStatus[];
}

export interface LeaderChange {
  readonly term: number;
  readonly leader: NodeId | null;
  /** Wall clock (options.now) when this replica learned of it, ms. */
  readonly at: number;
}

/** A proposal of this leader waiting for its entry to be applied here. */
interface PendingWrite {
  readonly index: number;
  readonly term: number;
  /** A membership change (applied as a no-op), not a command. */
  readonly conf: boolean;
  /** performance.now() at propose. */
  readonly startedMs: number;
  /** Its entry was applied: the command's Applied, or null for a membership change. */
  readonly applied: (applied: Applied | null) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

interface PendingRead {
  readonly key: string;
  /** Null until the leader confirmed it: the index to have applied before serving it. */
  index: number | null;
  /** Answered (served, failed or timed out): skipped wherever it still sits. */
  done: boolean;
  readonly resolve: (entry: EngineEntry | undefined) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

/** Reads asked of Raft with one ReadIndex (one heartbeat round confirms them all). */
interface ReadBatch {
  readonly ctx: string;
  readonly reads: readonly PendingRead[];
  /** performance.now() when asked. */
  readonly askedMs: number;
}

const intervalTicker: Ticker = (tick, ms) => {
  const handle = setInterval(tick, ms);
  handle.unref();
  return () => clearInterval(handle);
};

export class Replica {
  readonly id: NodeId;
  /** Propose → applied here, for writes acknowledged by this replica as leader. */
  readonly appendDurations = new DurationHistogram();
  /** Each fsync the storage made (reported through storage.onFsync). */
  readonly fsyncDurations = new DurationHistogram();

  readonly #o: ReplicaOptions;
  readonly #node: RaftNode;
  readonly #storage: PersistentStorage;
  readonly #cache: ReplicatedCache;
  readonly #tickMs: number;
  readonly #snapshotEvery: number;
  readonly #timeoutMs: number;

  /** Writes proposed here in this term, in index order. */
  #writes: PendingWrite[] = [];
  /**
   * Linearizable reads, as etcd's read loop batches them: reads that arrive while a ReadIndex
   * is in flight wait in #readQueue and go together in the next one (a ReadIndex must be asked
   * after the read arrived, so they cannot join the one in flight). One heartbeat round per
   * batch instead of one per read.
   */
  #readQueue: PendingRead[] = [];
  #readBatch: ReadBatch | null = null;
  /** Confirmed reads waiting for their index to be applied. */
  #confirmedReads: PendingRead[] = [];
  #nextReadBatch = 0;
  /** The term and role the pending requests were taken in. */
  #leadingTerm = -1;

  #stopTicking: (() => void) | null = null;
  #stopped = false;
  /** The Ready loop, while it runs; null when idle. */
  #loop: Promise<void> | null = null;
  #snapshotsInstalled = 0;
  /** A snapshot being written in the background; null when none. */
  #snapshotting: Promise<void> | null = null;

  #leader: NodeId | null = null;
  #voters: readonly NodeId[];
  readonly #votersListeners = new Set<(voters: readonly NodeId[]) => void>();
  #leaderChanges = 0;
  readonly #leaderListeners = new Set<(change: LeaderChange) => void>();

  constructor(options: ReplicaOptions) {
    this.#o = options;
    this.id = options.id;
    this.#storage = options.storage;
    this.#cache = options.cache;
    this.#tickMs = positive('tickMs', options.tickMs ?? DEFAULT_TICK_MS);
    this.#snapshotEvery = positive(
      'snapshotEvery',
      options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY,
    );
    this.#timeoutMs = positive(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    );
    // A restart: the cache starts from the stored snapshot, and Raft re-applies the
    // committed entries after it (what it persisted, nothing else).
    const snapshot = options.storage.snapshot();
    if (snapshot.index > 0) options.cache.restore(snapshot);
    options.storage.onFsync = (seconds) => this.fsyncDurations.observe(seconds);
    this.#node = new RaftNode({
      id: options.id,
      peers: options.peers,
      storage: options.storage,
      rng: options.rng,
      electionTicks: options.electionTicks ?? DEFAULT_ELECTION_TICKS,
      heartbeatTicks: options.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS,
      applied: snapshot.index,
    });
    this.#voters = [...this.#node.peers];
  }

  /** Starts ticking, and handles what the restored node has to do (re-apply, say). */
  start(): void {
    if (this.#stopped) throw new Error(`replica ${this.id} was stopped; make a new one`);
    if (this.#stopTicking !== null) return;
    const ticker = this.#o.ticker ?? intervalTicker;
    this.#stopTicking = ticker(() => this.#tick(), this.#tickMs);
    this.#kick();
  }

  /** A message from a peer, as the transport delivered it. */
  /**
   * The transport saw `peer`'s connection close from its end: if it led this follower, the
   * follower campaigns within a few ticks instead of a whole election timeout
   * (RaftNode.leaderLost). A crashed leader's sockets close at once, so this is what makes a
   * `kill -9` fail over fast; a paused or cut-off leader still takes the election timeout.
   */
  peerGone(peer: NodeId): void {
    if (this.#stopped) return;
    this.#node.leaderLost(peer);
    this.#kick();
  }

  receive(message: Message): void {
    if (this.#stopped || message.to !== this.id) return;
    // Local message types are the driver's alone: a peer must not propose or campaign here.
    if (
      message.type === 'MsgHup' ||
      message.type === 'MsgProp' ||
      message.type === 'MsgTransferLeader' ||
      (message.type === 'MsgReadIndex' && message.term === 0)
    ) {
      return;
    }
    this.#node.step(message);
    this.#kick();
  }

  /**
   * Proposes a write (leader only) and resolves with what applying it told the client, once
   * it is applied here. Throws NotLeader on a follower (with the leader it knows) or when
   * leadership is lost before the write is applied; Unavailable after requestTimeoutMs or
   * when the replica stops.
   */
  write(request: WriteRequest): Promise<Written> {
    if (this.#stopped) return Promise.reject(new Unavailable(`replica ${this.id} is stopped`));
    const node = this.#node;
    if (node.role !== 'leader') return Promise.reject(new NotLeader(node.leader));
    const at = this.#o.now();
    let command: Command;
    if (request.kind === 'set') {
      const { ttlMs, ...rest } = request;
      command = { ...rest, at, expiresAt: ttlMs === null ? null : at + ttlMs };
    } else {
      const { ttlMs: _ttlMs, ...rest } = request;
      command = { ...rest, at };
    }
    const data = encodeCommand(command); // throws a TypeError on a malformed command
    const result = node.propose(data);
    if (!result.accepted) return Promise.reject(new NotLeader(result.leader));
    const expiresAt = command.kind === 'set' ? command.expiresAt : null;
    return this.#track(result, false, 'retry with the same client and seq').then((applied) => ({
      ...applied!,
      at,
      expiresAt,
    }));
  }

  /**
   * Leader only: adds or removes one voter (thesis §4.1, one change at a time) and resolves
   * once the change is applied here, when this leader counts the new membership. Throws
   * NotLeader as write() does; MembershipRefused when core/raft refuses the change now (a
   * change still pending, no commit yet in this term, already a voter, not a voter, the last
   * voter). A new member is started with the shard's bootstrap peers and empty storage; the
   * leader brings it up to date (by snapshot when the log is compacted).
   */
  changeMembership(change: ConfChange): Promise<void> {
    if (this.#stopped) return Promise.reject(new Unavailable(`replica ${this.id} is stopped`));
    const node = this.#node;
    if (node.role !== 'leader') return Promise.reject(new NotLeader(node.leader));
    const result = node.proposeConfChange(change);
    if (!result.accepted) {
      if ('refused' in result) return Promise.reject(new MembershipRefused(change, result.refused));
      return Promise.reject(new NotLeader(result.leader));
    }
    return this.#track(result, true, 'retry the change').then(() => undefined);
  }

  /** Waits for the entry proposed at (index, term) to be applied here. */
  #track(
    proposed: { readonly index: number; readonly term: number },
    conf: boolean,
    advice: string,
  ): Promise<Applied | null> {
    this.#noteLeadership();
    const promise = new Promise<Applied | null>((resolve, reject) => {
      const pending: PendingWrite = {
        index: proposed.index,
        term: proposed.term,
        conf,
        startedMs: performance.now(),
        applied: resolve,
        reject,
        timer: null,
      };
      pending.timer = setTimeout(() => {
        pending.timer = null;
        this.#writes = this.#writes.filter((w) => w !== pending);
        reject(
          new Unavailable(
            `entry ${proposed.index} not applied within ${this.#timeoutMs} ms; ${advice}`,
          ),
        );
      }, this.#timeoutMs);
      this.#writes.push(pending);
    });
    this.#kick();
    return promise;
  }

  /**
   * A read of `key`. 'linearizable': on the leader, through ReadIndex, served once this
   * replica has applied every write committed before the read began (NotLeader elsewhere).
   * 'stale': this replica's cache now, whatever its role; it may lag the leader.
   */
  read(key: string, consistency: 'linearizable' | 'stale'): Promise<EngineEntry | undefined> {
    if (this.#stopped) return Promise.reject(new Unavailable(`replica ${this.id} is stopped`));
    if (consistency === 'stale') return Promise.resolve(this.#cache.get(key, this.#o.now()));
    const node = this.#node;
    if (node.role !== 'leader') return Promise.reject(new NotLeader(node.leader));
    this.#noteLeadership();
    const promise = new Promise<EngineEntry | undefined>((resolve, reject) => {
      const read: PendingRead = { key, index: null, done: false, resolve, reject, timer: null };
      read.timer = setTimeout(() => {
        read.timer = null;
        this.#failRead(
          read,
          new Unavailable(`read not answered within ${this.#timeoutMs} ms; retry`),
        );
      }, this.#timeoutMs);
      this.#readQueue.push(read);
    });
    this.#askReads();
    this.#kick();
    return promise;
  }

  status(): ReplicaStatus {
    const node = this.#node;
    const lastIndex = node.log.lastIndex();
    const followers: FollowerStatus[] = [];
    if (node.role === 'leader') {
      for (const [id, progress] of node.progress) {
        if (id === this.id) continue;
        followers.push({
          id,
          match: progress.match,
          next: progress.next,
          lagEntries: lastIndex - progress.match,
        });
      }
    }
    return {
      id: this.id,
      role: node.role,
      term: node.term,
      leader: node.leader,
      commit: node.log.committed,
      applied: this.#cache.appliedIndex,
      lastIndex,
      voters: node.peers,
      snapshotIndex: this.#o.storage.snapshot().index,
      snapshotsInstalled: this.#snapshotsInstalled,
      followers,
    };
  }

  /** Leader changes seen by this replica (to a known leader), since it was made. */
  get leaderChanges(): number {
    return this.#leaderChanges;
  }

  /** Calls `listener` whenever the leader this replica knows changes; returns unsubscribe. */
  onLeaderChange(listener: (change: LeaderChange) => void): () => void {
    this.#leaderListeners.add(listener);
    return () => this.#leaderListeners.delete(listener);
  }

  /**
   * Calls `listener` with the shard's voters whenever a membership change is applied here
   * (connect to a new member: PeerTransport.setPeers); returns unsubscribe.
   */
  onVotersChange(listener: (voters: readonly NodeId[]) => void): () => void {
    this.#votersListeners.add(listener);
    return () => this.#votersListeners.delete(listener);
  }

  /** Leader only (ignored elsewhere): hands leadership to `to` (thesis §3.10). */
  transferLeadership(to: NodeId): void {
    if (this.#stopped) return;
    this.#node.transferLeader(to);
    this.#kick();
  }

  /**
   * Stops ticking and taking messages, finishes the Ready in flight (its save, sends and
   * applies), then fails whatever is still pending with Unavailable.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopTicking?.();
    this.#stopTicking = null;
    while (this.#loop !== null) await this.#loop;
    while (this.#snapshotting !== null) await this.#snapshotting;
    this.#failAll(() => new Unavailable(`replica ${this.id} stopped`));
  }

  // ---- The Ready loop --------------------------------------------------------------------

  #tick(): void {
    if (this.#stopped) return;
    this.#node.tick();
    this.#kick();
  }

  /** Runs the Ready loop unless it is running (it will see what was just added). */
  #kick(): void {
    if (this.#loop !== null || this.#stopped) return;
    if (!this.#node.hasReady()) return;
    this.#loop = this.#drive().then(
      () => {
        this.#loop = null;
        // A caller answered by the last Ready (a resolved write) may have proposed again
        // before this ran, and found the loop still running: look again.
        this.#kick();
      },
      (error: unknown) => {
        this.#loop = null;
        this.#fatal(error);
      },
    );
  }

  async #drive(): Promise<void> {
    const node = this.#node;
    const cache = this.#cache;
    while (node.hasReady()) {
      const ready = node.ready();
      // 1. Persist (group commit: everything since the last Ready, in one save).
      if (ready.snapshot !== null || ready.entries.length > 0 || ready.hardState !== null) {
        await this.#storage.save({
          snapshot: ready.snapshot,
          entries: ready.entries,
          hardState: ready.hardState,
        });
      }
      // 2. Send, only now that what the messages promise is durable.
      if (ready.messages.length > 0) this.#o.transport.send(ready.messages);
      // 3. Restore, then apply in order.
      if (ready.snapshot !== null) {
        this.#snapshotsInstalled++;
        cache.restore(ready.snapshot);
        // Writes at or below the snapshot can no longer be matched to their entries.
        this.#settleWritesUpTo(ready.snapshot.index, null);
      }
      for (const entry of ready.committedEntries) {
        // A membership change is Raft's: the cache counts it applied and changes nothing.
        const applied = cache.apply(entry);
        this.#settleWritesUpTo(entry.index, { entry, applied });
      }
      // 4. Reads confirmed by the leader, served once their index is applied.
      this.#confirmReads(ready.readStates);
      this.#serveReads();
      // 5. Advance.
      node.advance(ready);
      if (ready.softState !== null) this.#noteLeader();
      this.#noteLeadership();
      this.#noteVoters();
      this.#maybeCompact();
      if (this.#stopped) break;
    }
  }

  /**
   * §7: once snapshotEvery entries are applied past the stored snapshot, snapshot the cache
   * at its applied index and compact the log. The snapshot file is written in the background
   * (the storage orders it with later saves), so writes do not wait for it; one at a time.
   */
  #maybeCompact(): void {
    if (this.#snapshotting !== null || !this.#shouldCompact()) return;
    const index = this.#cache.appliedIndex;
    const data = this.#cache.snapshot();
    // The node has applied `index` too (advanced): its voters are those as of `index`.
    this.#snapshotting = this.#storage.createSnapshot(index, data, this.#node.peers).then(
      () => {
        this.#snapshotting = null;
      },
      (error: unknown) => {
        this.#snapshotting = null;
        this.#fatal(error);
      },
    );
  }

  #shouldCompact(): boolean {
    const applied = this.#cache.appliedIndex;
    if (applied - this.#storage.snapshot().index < this.#snapshotEvery) return false;
    return applied <= this.#storage.lastIndex();
  }

  /**
   * Settles the writes whose entries are at or below `index`: the one at `index` succeeded if
   * the applied entry is the one it proposed (same term); any other was replaced.
   */
  #settleWritesUpTo(index: number, at: { entry: Entry; applied: Applied | null } | null): void {
    while (this.#writes[0] !== undefined && this.#writes[0].index <= index) {
      const write = this.#writes.shift()!;
      if (write.timer !== null) clearTimeout(write.timer);
      // The same index and term: the same entry (Log Matching, §5.3).
      if (at !== null && write.index === at.entry.index && write.term === at.entry.term) {
        if (!write.conf) {
          this.appendDurations.observe((performance.now() - write.startedMs) / 1000);
        }
        write.applied(at.applied);
      } else {
        write.reject(new NotLeader(this.#node.leader, 'the write was replaced by a new leader'));
      }
    }
  }

  /**
   * Requests were taken while leading `#leadingTerm`. If this node no longer leads that term,
   * fail them now (NotLeader with the leader it knows): the client retries elsewhere, and the
   * session deduplicates a write that committed after all. Confirmed reads stay: the leader
   * confirmed them in its term, so serving them once applied is still linearizable.
   */
  #noteLeadership(): void {
    const node = this.#node;
    const leading = node.role === 'leader' ? node.term : -1;
    if (leading === this.#leadingTerm) return;
    const lost = this.#leadingTerm !== -1;
    this.#leadingTerm = leading;
    if (!lost) return;
    const leader = node.leader === this.id ? null : node.leader;
    const writes = this.#writes;
    this.#writes = [];
    for (const write of writes) {
      if (write.timer !== null) clearTimeout(write.timer);
      write.reject(new NotLeader(leader, 'leadership was lost before the write was applied'));
    }
    const unconfirmed = [...(this.#readBatch?.reads ?? []), ...this.#readQueue];
    this.#readBatch = null;
    this.#readQueue = [];
    for (const read of unconfirmed) {
      this.#failRead(
        read,
        new NotLeader(leader, 'leadership was lost before the read was confirmed'),
      );
    }
  }

  /** Asks Raft to confirm the queued reads, unless a batch is in flight (and not abandoned). */
  #askReads(): void {
    const batch = this.#readBatch;
    // A batch whose reads all timed out is abandoned (its confirmation may never come).
    if (batch !== null && performance.now() - batch.askedMs < this.#timeoutMs) return;
    const reads = this.#readQueue.filter((read) => !read.done);
    this.#readQueue = [];
    if (reads.length === 0 || this.#node.role !== 'leader') {
      this.#readBatch = null;
      return;
    }
    const ctx = `${this.id}/${++this.#nextReadBatch}`;
    this.#readBatch = { ctx, reads, askedMs: performance.now() };
    this.#node.readIndex(TEXT.encode(ctx));
  }

  #confirmReads(readStates: readonly ReadState[]): void {
    for (const state of readStates) {
      const batch = this.#readBatch;
      if (batch === null || TEXT_DECODER.decode(state.ctx) !== batch.ctx) continue;
      this.#readBatch = null;
      for (const read of batch.reads) {
        if (read.done) continue;
        read.index = state.index;
        this.#confirmedReads.push(read);
      }
    }
    // The next batch: the reads that arrived while this one was in flight.
    if (this.#readBatch === null && this.#readQueue.length > 0) this.#askReads();
  }

  #serveReads(): void {
    if (this.#confirmedReads.length === 0) return;
    const applied = this.#cache.appliedIndex;
    const waiting: PendingRead[] = [];
    for (const read of this.#confirmedReads) {
      if (read.done) continue;
      if (read.index! > applied) {
        waiting.push(read);
        continue;
      }
      read.done = true;
      if (read.timer !== null) clearTimeout(read.timer);
      read.resolve(this.#cache.get(read.key, this.#o.now()));
    }
    this.#confirmedReads = waiting;
  }

  #failRead(read: PendingRead, error: Error): void {
    if (read.done) return;
    read.done = true;
    if (read.timer !== null) clearTimeout(read.timer);
    read.reject(error);
  }

  #noteLeader(): void {
    const leader = this.#node.leader;
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (leader !== null) this.#leaderChanges++;
    const change: LeaderChange = { term: this.#node.term, leader, at: this.#o.now() };
    for (const listener of this.#leaderListeners) listener(change);
  }

  #noteVoters(): void {
    const voters = this.#node.peers;
    if (voters.length === this.#voters.length && voters.every((v, i) => v === this.#voters[i])) {
      return;
    }
    this.#voters = [...voters];
    for (const listener of this.#votersListeners) listener(this.#voters);
  }

  #failAll(error: () => Error): void {
    const writes = this.#writes;
    this.#writes = [];
    for (const write of writes) {
      if (write.timer !== null) clearTimeout(write.timer);
      write.reject(error());
    }
    const reads = [...(this.#readBatch?.reads ?? []), ...this.#readQueue, ...this.#confirmedReads];
    this.#readBatch = null;
    this.#readQueue = [];
    this.#confirmedReads = [];
    for (const read of reads) this.#failRead(read, error());
  }

  #fatal(error: unknown): void {
    this.#stopped = true;
    this.#stopTicking?.();
    this.#stopTicking = null;
    this.#failAll(() => new Unavailable(`replica ${this.id} failed: ${String(error)}`));
    const onFatal =
      this.#o.onFatal ??
      ((e: unknown) =>
        queueMicrotask(() => {
          throw e;
        }));
    onFatal(error);
  }
}

const TEXT = new TextEncoder();
const TEXT_DECODER = new TextDecoder();

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`ReplicaOptions.${name} must be a whole number >= 1, got ${value}`);
  }
  return value;
}
