/**
 * Stable storage as Raft reads it, and an in-memory implementation the driver owns.
 *
 * Raft never writes storage itself: the driver persists what a Ready hands it (types.ts) and
 * Raft reads back through `Storage`. A node restarted on the same storage recovers its term,
 * vote and log (Figure 2, "Persistent state on all servers"). `MemoryStorage` is what the
 * tests and the simulator use; a node process would put a file behind the same interface.
 */
import {
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  type Entry,
  type HardState,
  type NodeId,
  type Snapshot,
} from './types.ts';

/** What Raft reads from stable storage. Indexes start at 1; index 0 has term 0. */
export interface Storage {
  /** The last persisted HardState (EMPTY_HARD_STATE for a new node). */
  hardState(): HardState;
  /** The latest snapshot (EMPTY_SNAPSHOT before any); it covers every index below firstIndex(). */
  snapshot(): Snapshot;
  /** The first index with an entry: the snapshot's index + 1 (1 for a log never compacted). */
  firstIndex(): number;
  /** The last index with an entry, or firstIndex() - 1 when there is none. */
  lastIndex(): number;
  /** The term of the entry at `index`, for firstIndex() - 1 <= index <= lastIndex(). */
  term(index: number): number;
  /** Entries in [low, high), firstIndex() <= low <= high <= lastIndex() + 1. */
  entries(low: number, high: number): readonly Entry[];
}

export class MemoryStorage implements Storage {
  #hardState: HardState = EMPTY_HARD_STATE;
  /**
   * entries[0] is a placeholder for the entry before firstIndex() (index 0, term 0 until
   * snapshots compact the log), so term(firstIndex() - 1) is always known, as in etcd's
   * MemoryStorage.
   */
  #entries: Entry[] = [{ term: 0, index: 0, data: new Uint8Array(0) }];
  #snapshot: Snapshot = EMPTY_SNAPSHOT;

  hardState(): HardState {
    return this.#hardState;
  }

  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /**
   * The driver's state machine has applied everything up to `index` and `data` is its state:
   * keep it as the snapshot (§7), with the members as of `index` (the node's `voters()` when
   * it has applied `index`; omitted: RaftConfig.peers). The log is not compacted yet;
   * compact() does that.
   */
  createSnapshot(index: number, data: Uint8Array, voters?: readonly NodeId[]): Snapshot {
    if (index <= this.#snapshot.index || index > this.lastIndex()) {
      throw new RangeError(
        `createSnapshot(${index}): must be in (${this.#snapshot.index}, ${this.lastIndex()}]`,
      );
    }
    const term = this.term(index);
    this.#snapshot = voters === undefined ? { index, term, data } : { index, term, data, voters };
    return this.#snapshot;
  }

  /**
   * Discards every entry up to and including `index` (§7); the entry at `index` stays as the
   * placeholder whose term answers term(firstIndex() - 1). Only entries a snapshot covers may
   * go, so a follower that needs them can still be sent the snapshot.
   */
  compact(index: number): void {
    if (index <= this.#offset()) return;
    if (index > this.#snapshot.index) {
      throw new RangeError(`compact(${index}): past the snapshot's index ${this.#snapshot.index}`);
    }
    this.#entries = this.#entries.slice(index - this.#offset());
    const placeholder = this.#entries[0]!;
    this.#entries[0] = { term: placeholder.term, index, data: new Uint8Array(0) };
  }

  /**
   * Installs a snapshot from the leader (a Ready's `snapshot`): it replaces the whole log,
   * since the log cannot be known to match the leader's anywhere else (§7).
   */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.index < this.#snapshot.index) {
      throw new RangeError(
        `applySnapshot(${snapshot.index}): older than the stored ${this.#snapshot.index}`,
      );
    }
    this.#snapshot = snapshot;
    this.#entries = [{ term: snapshot.term, index: snapshot.index, data: new Uint8Array(0) }];
  }

  firstIndex(): number {
    return this.#offset() + 1;
  }

  lastIndex(): number {
    return this.#offset() + this.#entries.length - 1;
  }

  term(index: number): number {
    const entry = this.#entries[index - this.#offset()];
    if (entry === undefined) {
      throw new RangeError(`term(${index}): outside [${this.#offset()}, ${this.lastIndex()}]`);
    }
    return entry.term;
  }

  entries(low: number, high: number): readonly Entry[] {
    if (low < this.firstIndex() || high > this.lastIndex() + 1 || low > high) {
      throw new RangeError(
        `entries(${low}, ${high}): outside [${this.firstIndex()}, ${this.lastIndex() + 1}]`,
      );
    }
    return this.#entries.slice(low - this.#offset(), high - this.#offset());
  }

  /**
   * Appends `entries` (consecutive indexes), first dropping every stored entry at or after
   * the first one's index: a Ready's entries replace a conflicting suffix (§5.3).
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.#offset() || first.index > this.lastIndex() + 1) {
      throw new RangeError(
        `append at ${first.index}: must be in [${this.firstIndex()}, ${this.lastIndex() + 1}]`,
      );
    }
    this.#entries.length = first.index - this.#offset();
    for (const entry of entries) this.#entries.push(entry);
  }

  #offset(): number {
    return this.#entries[0]!.index;
  }
}
