/**
 * A node's view of its log: the entries its driver has persisted (Storage) followed by the
 * unstable entries a Ready has not yet handed out and had acknowledged, as etcd's raftLog and
 * unstable do. Also the commit and applied indexes.
 *
 * Invariant: applied <= committed <= lastIndex(); entries at or after `unstableOffset` are read
 * from `unstable` (they replace whatever storage holds there), entries before it from storage.
 * A snapshot received from the leader and not yet persisted (`pendingSnapshot`) replaces the
 * whole stored log: while it is pending, storage is not read at all (§7).
 */
import type { Storage } from './storage.ts';
import type { Entry, Snapshot } from './types.ts';

export class RaftLog {
  readonly storage: Storage;
  #unstable: Entry[] = [];
  /** The index of #unstable[0]; storage.lastIndex() + 1 when nothing is unstable. */
  #unstableOffset: number;
  /** A snapshot to hand out in a Ready, persist and restore from; its index + 1 is the offset. */
  #pendingSnapshot: Snapshot | null = null;
  committed: number;
  applied: number;

  constructor(storage: Storage, applied: number) {
    this.storage = storage;
    this.#unstableOffset = storage.lastIndex() + 1;
    // Everything a snapshot covers was committed (§7), whatever the stored commit says.
    this.committed = Math.max(storage.hardState().commit, storage.firstIndex() - 1);
    if (this.committed > storage.lastIndex()) {
      throw new RangeError(
        `stored commit ${this.committed} is past the stored log's last index ${storage.lastIndex()}`,
      );
    }
    if (applied < storage.firstIndex() - 1 || applied > this.committed) {
      throw new RangeError(`applied ${applied} is outside [firstIndex - 1, commit]`);
    }
    this.applied = applied;
  }

  /** The first index with an entry: everything before it is in a snapshot. */
  firstIndex(): number {
    return this.#pendingSnapshot !== null
      ? this.#pendingSnapshot.index + 1
      : this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.#unstable.length > 0) return this.#unstableOffset + this.#unstable.length - 1;
    return this.#pendingSnapshot?.index ?? this.storage.lastIndex();
  }

  /** The snapshot a lagging follower is sent: the pending one, else the stored one. */
  snapshot(): Snapshot {
    return this.#pendingSnapshot ?? this.storage.snapshot();
  }

  /** The snapshot received and not yet persisted, if any. */
  pendingSnapshot(): Snapshot | null {
    return this.#pendingSnapshot;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  /** The term of the entry at `index`, or undefined when the log has no such entry. */
  term(index: number): number | undefined {
    if (index >= this.#unstableOffset) {
      return this.#unstable[index - this.#unstableOffset]?.term;
    }
    if (this.#pendingSnapshot !== null) {
      return index === this.#pendingSnapshot.index ? this.#pendingSnapshot.term : undefined;
    }
    if (index < this.storage.firstIndex() - 1 || index > this.storage.lastIndex()) {
      return undefined;
    }
    return this.storage.term(index);
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /**
   * §5.4.1: a candidate's log is at least as up to date as ours if its last term is later, or
   * the same with an index at least as large.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [low, high), at most `maxCount` of them. */
  slice(low: number, high: number, maxCount = Infinity): Entry[] {
    high = Math.min(high, this.lastIndex() + 1, low + maxCount);
    if (low >= high) return [];
    if (low < this.firstIndex()) {
      throw new RangeError(`slice(${low}, ${high}): compacted below ${this.firstIndex()}`);
    }
    const result: Entry[] = [];
    if (low < this.#unstableOffset) {
      result.push(...this.storage.entries(low, Math.min(high, this.#unstableOffset)));
    }
    if (high > this.#unstableOffset) {
      const from = Math.max(low, this.#unstableOffset) - this.#unstableOffset;
      result.push(...this.#unstable.slice(from, high - this.#unstableOffset));
    }
    return result;
  }

  /**
   * The follower's side of AppendEntries (§5.3, Figure 2 receiver rules 2-5): if our log has
   * (prevLogIndex, prevLogTerm), keep every entry that agrees, replace the log from the first
   * conflicting entry on, and raise the commit index to min(leaderCommit, last new entry).
   * Returns the last index now known to match the leader's, or null when prevLogIndex does
   * not match. An append that agrees with what we hold truncates nothing: a delayed, shorter
   * MsgApp must not cut entries a later one added.
   */
  maybeAppend(
    prevLogIndex: number,
    prevLogTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): number | null {
    if (!this.matchTerm(prevLogIndex, prevLogTerm)) return null;
    const lastNewIndex = prevLogIndex + entries.length;
    const conflict = entries.find((entry) => !this.matchTerm(entry.index, entry.term));
    if (conflict !== undefined) {
      if (conflict.index <= this.committed) {
        throw new Error(
          `entry ${conflict.index} conflicts with the committed log (commit ${this.committed})`,
        );
      }
      this.append(entries.slice(conflict.index - prevLogIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  /**
   * Appends entries whose first index is at most lastIndex() + 1, dropping every entry at or
   * after it (they conflict, §5.3). Returns the new last index.
   */
  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    if (first.index <= this.committed) {
      throw new Error(`append at ${first.index} would overwrite commit ${this.committed}`);
    }
    if (first.index > this.lastIndex() + 1) {
      throw new RangeError(`append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    }
    if (first.index === this.#unstableOffset + this.#unstable.length) {
      this.#unstable.push(...entries);
    } else if (first.index <= this.#unstableOffset) {
      this.#unstableOffset = first.index;
      this.#unstable = [...entries];
    } else {
      this.#unstable = this.#unstable.slice(0, first.index - this.#unstableOffset);
      this.#unstable.push(...entries);
    }
    return this.lastIndex();
  }

  /**
   * The follower's fast-backtracking hint (etcd's findConflictByTerm): the largest index <=
   * `index` whose term is <= `term`, and that term. Every entry after it has a later term than
   * the leader's probe, so none of them can match the leader's log.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      const ourTerm = this.term(index);
      // Unknown (compacted): assume it may match.
      if (ourTerm === undefined) return { index, term: 0 };
      if (ourTerm <= term) return { index, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new RangeError(`commit ${index} is past the last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  /**
   * §5.4.2: a leader commits `index` by counting replicas only if the entry there is from its
   * own term; earlier entries are then committed with it (Log Matching). Figure 8 shows an
   * older-term entry on a majority being overwritten.
   */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Entries not yet handed to the driver to persist (or handed and not acknowledged). */
  unstableEntries(): readonly Entry[] {
    return this.#unstable;
  }

  /**
   * The driver persisted entries up to (index, term). If the unstable log has since been
   * truncated and no longer holds that entry, nothing is stable yet: the next Ready hands out
   * the replacement, which overwrites what was written.
   */
  stableTo(index: number, term: number): void {
    const entry = this.#unstable[index - this.#unstableOffset];
    if (index < this.#unstableOffset || entry === undefined || entry.term !== term) return;
    this.#unstable = this.#unstable.slice(index + 1 - this.#unstableOffset);
    this.#unstableOffset = index + 1;
  }

  /** Committed entries not yet applied (after the pending snapshot, if one is). */
  nextCommittedEntries(): Entry[] {
    return this.slice(Math.max(this.applied + 1, this.firstIndex()), this.committed + 1);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed >= Math.max(this.applied + 1, this.firstIndex());
  }

  /**
   * Replaces the whole log with `snapshot` (§7, InstallSnapshot receiver rules 6-7: the
   * follower's log does not hold the snapshot's last entry, so none of it can be kept). The
   * caller has checked that the snapshot is past the commit index.
   */
  restore(snapshot: Snapshot): void {
    if (snapshot.index <= this.committed) {
      throw new Error(`restore(${snapshot.index}): not past commit ${this.committed}`);
    }
    this.#pendingSnapshot = snapshot;
    this.#unstable = [];
    this.#unstableOffset = snapshot.index + 1;
    this.committed = snapshot.index;
  }

  /** The driver persisted the snapshot at `index`: storage now holds it. */
  stableSnapshotTo(index: number): void {
    if (this.#pendingSnapshot?.index === index) this.#pendingSnapshot = null;
  }

  appliedTo(index: number): void {
    if (index < this.applied || index > this.committed) {
      throw new RangeError(`applied ${index} is outside [${this.applied}, ${this.committed}]`);
    }
    this.applied = index;
  }
}
