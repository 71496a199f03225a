/**
 * The replicated cache's state machine: a Store (core/engine) that changes only through
 * committed Raft entries, applied in log order, plus the client sessions that make retries
 * safe. A node process and the simulator drive it the same way: every entry of
 * `Ready.committedEntries` goes through `apply`, in order; `snapshot` and `restore` carry the
 * whole state through a Raft snapshot.
 *
 * Rules every replica follows, so that replicas applying the same log agree:
 *
 * - Time. A command is applied with `now = command.at`, the leader's clock when it proposed
 *   it, never the replica's clock. Expiry times are absolute (`expiresAt`, chosen by the
 *   leader). The log clock is the highest `at` applied so far (`at` can step back after a
 *   failover, when the new leader's clock is behind): each time it advances, every entry
 *   expired by it is reclaimed (Store.expireStep) and expired sessions leave. So what a
 *   replica holds depends on the log alone, apart from evictions.
 *
 * - Reads (`get`) judge expiry by the replica's own clock, as a read must, but never reclaim
 *   anything: an entry expired on this replica's clock is a miss, and stays until the log
 *   clock passes its expiry. A replica whose clock runs ahead misses early; one behind may
 *   serve a value its leader already considers expired, for as long as the clocks differ.
 *
 * - Sessions (Raft paper §8; Ongaro's thesis §6.3, "Implementing linearizable semantics").
 *   Each write carries (client, seq); a replica keeps, per client, the highest seq applied and
 *   what it answered. seq above it: apply, and record. seq equal: a retry of the latest
 *   request; answer the recorded outcome again with `duplicate: true`, and change nothing.
 *   seq below: a retry of an older request that arrived late (its client has moved on); change
 *   nothing, and answer `bad_request` with `duplicate: true`. The table is bounded without a
 *   clock of its own (thesis §6.3 expires sessions by the leader's time in the log): a session
 *   leaves when its last write is more than SESSION_TTL_MS behind the log clock, and beyond
 *   MAX_SESSIONS the least recently written (in log order) leaves. Each session records the
 *   log clock when its write was applied (not its own `at`, which may be lower after a
 *   failover), so the table is ordered by that time too and expiry only looks at its front.
 *   Trade-off: a client whose session left is treated as new, whatever its seq; a retry that
 *   arrives more than an hour after the request was applied (or after 100 000 other clients
 *   have written) is applied a second time. For a cache that is a rewrite of the same value,
 *   unless another client wrote the key in between.
 *
 * - Evictions are local. Each replica evicts on its own, by its own memory bound and policy,
 *   instead of the leader deciding evictions and logging them. Eviction only removes, so a
 *   read may miss where another replica would hit, but never returns a value older than the
 *   latest write its log holds for the key. What this costs: after a failover the new leader
 *   holds what it chose to keep, so the hit rate can drop for a while; what it saves: no log
 *   traffic for evictions, and replicas may have different memory bounds (a small replica
 *   simply misses more). For the same reason a set that this replica refuses (its value or
 *   entry is too large for this replica's limits, or any other refusal) also drops the old
 *   entry under the key: another replica with larger limits may hold the new value, and this
 *   one must not serve the older one. The refusal is recorded and answered as the outcome.
 *   `created` and `existed` are what this replica held, so they can differ between replicas
 *   after evictions.
 *
 * - Snapshots hold the entries (sorted by key, expired ones not yet reclaimed included, so
 *   that a restored replica holds exactly what a replaying one holds), the sessions in their
 *   order, the log clock and the applied index. The same state gives the same bytes. Restoring
 *   and then applying later entries gives the same state as applying everything, except that
 *   a policy's recency is not in the snapshot, so later evictions may choose differently.
 */
import { Store, type Entry, type StoreStats } from '../engine/index.ts';
import type { Entry as RaftEntry, Snapshot as RaftSnapshot } from '../raft/index.ts';
import { decodeCommand } from './command.ts';
import { decodeSnapshot, encodeSnapshot, type Session, type SnapshotState } from './snapshot.ts';
import type { Applied, Command, Outcome, ReplicatedCacheOptions } from './types.ts';

/** A session leaves once its last write is this far behind the log clock (1 hour). */
export const SESSION_TTL_MS = 60 * 60 * 1000;
/** Sessions kept at most; beyond it the least recently written leaves. */
export const MAX_SESSIONS = 100_000;

export class ReplicatedCache {
  private readonly store: Store;
  private readonly maxSessions: number;
  private readonly sessionTtlMs: number;
  /** By client, least recently written first (a Map keeps insertion order). */
  private sessions = new Map<string, Session>();
  private applied = 0;
  /** The highest `at` applied: the log's clock. */
  private clock = -Infinity;
  /** Reads of entries expired on this replica's clock but not yet reclaimed by the log's. */
  private expiredReads = 0;

  /**
   * Throws a TypeError naming the option when one is malformed (the Store checks its own).
   * Every replica of a shard must use the same session bounds.
   */
  constructor(options: ReplicatedCacheOptions) {
    this.store = new Store(options);
    const maxSessions = options.maxSessions ?? MAX_SESSIONS;
    if (!Number.isSafeInteger(maxSessions) || maxSessions < 1) {
      throw new TypeError(`maxSessions must be a whole number >= 1 (got ${String(maxSessions)}).`);
    }
    const sessionTtlMs = options.sessionTtlMs ?? SESSION_TTL_MS;
    if (typeof sessionTtlMs !== 'number' || !(sessionTtlMs > 0)) {
      throw new TypeError(`sessionTtlMs must be a number of ms > 0 (got ${String(sessionTtlMs)}).`);
    }
    this.maxSessions = maxSessions;
    this.sessionTtlMs = sessionTtlMs;
  }

  /**
   * The Store this cache owns, for its node process: its stats, its memory limit and policy
   * (`Store.configure`: evictions are local), `check` of a write before it is proposed, and
   * `peek`. Never `set` or `delete` through it: the state changes only through `apply`.
   */
  get engine(): Store {
    return this.store;
  }

  /** The index of the last entry applied (or restored from a snapshot); 0 before any. */
  get appliedIndex(): number {
    return this.applied;
  }

  /**
   * Applies one committed Raft entry in log order. Empty data (a new leader's no-op) returns
   * null. Index must be appliedIndex+1 (else throw: a driver bug). Data that is not a command
   * throws too (decodeCommand's Error), and the entry is not applied: only encodeCommand's
   * bytes may reach the log.
   */
  apply(entry: RaftEntry): Applied | null {
    if (entry.index !== this.applied + 1) {
      throw new Error(
        `Entry ${entry.index} cannot be applied after entry ${this.applied}: entries are applied in log order, each once (a driver bug).`,
      );
    }
    // A new leader's no-op, or a membership change: Raft's, not the cache's (thesis §4.1).
    if (entry.data.length === 0 || entry.type === 'conf-change') {
      this.applied = entry.index;
      return null;
    }
    const command = decodeCommand(entry.data);
    this.applied = entry.index;
    if (command.at > this.clock) {
      this.clock = command.at;
      this.expireSessions();
      this.store.expireStep(this.clock, Infinity);
    }
    const { client, seq } = command;
    const session = this.sessions.get(client);
    if (session !== undefined && seq <= session.seq) {
      const outcome = seq === session.seq ? session.outcome : staleOutcome(command, session.seq);
      return { index: entry.index, client, seq, outcome, duplicate: true };
    }
    const outcome = this.run(command);
    this.sessions.delete(client); // to the most recent end
    this.sessions.set(client, { seq, outcome, lastAt: this.clock });
    if (this.sessions.size > this.maxSessions) this.dropOldestSessions();
    return { index: entry.index, client, seq, outcome, duplicate: false };
  }

  /**
   * A read served by this replica, `now` on the replica's own clock (expiry judged by it). A
   * hit counts as a hit and tells the eviction policy; an entry expired by `now` is a miss and
   * is left for the log clock to reclaim (so that replicas hold the same entries).
   */
  get(key: string, now: number): Entry | undefined {
    const store = this.store;
    if (store.peek(key, now) === undefined && store.peek(key, -Infinity) !== undefined) {
      this.expiredReads++;
      return undefined;
    }
    return store.get(key, now); // live, or absent: the store counts it and cannot reclaim
  }

  /**
   * The whole state (entries with expiry and content type, sessions, appliedIndex) as bytes,
   * for a Raft snapshot. The same state gives the same bytes.
   */
  snapshot(): Uint8Array {
    const keys = [...this.store.keys()].sort();
    const entries = keys.map((key) => {
      // -Infinity: every entry held, expired or not (none is expired by the log clock).
      const entry = this.store.peek(key, -Infinity) as Entry;
      return [key, entry, entry.expiresAt] as const;
    });
    return encodeSnapshot({
      appliedIndex: this.applied,
      clock: this.clock,
      entries,
      sessions: [...this.sessions],
    });
  }

  /**
   * Replaces all state with a snapshot's (as Raft hands it: core/raft Snapshot {index, term,
   * data}); appliedIndex becomes snapshot.index. Empty data with index 0 (EMPTY_SNAPSHOT) is
   * the empty state. Throws, changing nothing, when the data is malformed or was taken at
   * another index. Entries this replica cannot hold (its limits are smaller) are left out, as
   * evictions; sessions beyond its bound leave, oldest first. Removed entries are reported to
   * `onRemove` as 'delete'; the store's counters carry on.
   */
  restore(snapshot: RaftSnapshot): void {
    const state: SnapshotState =
      snapshot.data.length === 0 && snapshot.index === 0
        ? { appliedIndex: 0, clock: -Infinity, entries: [], sessions: [] }
        : decodeSnapshot(snapshot.data);
    if (state.appliedIndex !== snapshot.index) {
      throw new Error(
        `The snapshot's data was taken at index ${state.appliedIndex}, but the snapshot is at index ${snapshot.index} (a driver bug).`,
      );
    }
    const store = this.store;
    for (const key of [...store.keys()]) store.delete(key, -Infinity);
    // now = -Infinity: restore every entry as it was, expired or not; the log clock reclaims.
    for (const [key, value, expiresAt] of state.entries)
      store.set(key, value, expiresAt, -Infinity);
    this.sessions = new Map(state.sessions);
    this.applied = state.appliedIndex;
    this.clock = state.clock;
    this.dropOldestSessions();
    this.expireSessions();
  }

  /** The store's counters; a read of an entry expired on this replica's clock is a miss. */
  stats(): StoreStats {
    const stats = this.store.stats();
    return { ...stats, misses: stats.misses + this.expiredReads };
  }

  private run(command: Command): Outcome {
    const { key, at } = command;
    if (command.kind === 'delete') {
      return { ok: true, kind: 'delete', existed: this.store.delete(key, at) };
    }
    const result = this.store.set(key, command, command.expiresAt, at);
    if (result.ok) return { ok: true, kind: 'set', created: result.value.created };
    // Refused here; another replica may hold the new value, so this one must not keep the old.
    this.store.delete(key, at);
    return { ok: false, code: result.error.code, message: result.error.message };
  }

  /** Drops sessions whose last write is more than the TTL behind the log clock. */
  private expireSessions(): void {
    for (const [client, session] of this.sessions) {
      if (!(this.clock - session.lastAt > this.sessionTtlMs)) break; // ordered by lastAt
      this.sessions.delete(client);
    }
  }

  private dropOldestSessions(): void {
    for (const client of this.sessions.keys()) {
      if (this.sessions.size <= this.maxSessions) break;
      this.sessions.delete(client);
    }
  }
}

function staleOutcome(command: Command, latestSeq: number): Outcome {
  return {
    ok: false,
    code: 'bad_request',
    message: `Request ${command.seq} of client ${JSON.stringify(command.client)} came after its request ${latestSeq} was applied: an older request of this client, retried late; it was not applied again.`,
  };
}
