/**
 * What a leader knows of one follower's log (Figure 2, "Volatile state on leaders":
 * nextIndex and matchIndex), and how fast it may send to it (etcd's tracker.Progress).
 *
 * - probe: the leader does not know where the follower's log matches its own. It sends one
 *   append at a time and waits for the answer (or a heartbeat's) before the next.
 * - replicate: the follower is known to match up to `match`. The leader streams appends
 *   optimistically, moving `next` past what it sent, with at most `maxInflight` appends
 *   unacknowledged.
 * - snapshot: the follower needs entries the leader has compacted (§7). The leader sent its
 *   snapshot at `pendingSnapshot` and sends nothing else until the follower acknowledges it.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** The highest index known to be replicated on the follower (matchIndex). */
  match = 0;
  /** The index of the next entry to send (nextIndex). */
  next: number;
  state: ProgressState = 'probe';
  /** No append may be sent until an answer (or a heartbeat's answer) arrives. */
  paused = false;
  /** The follower answered something since the last quorum check (checkQuorum). */
  recentActive = false;
  /** The highest commit index sent to the follower (in an append or a heartbeat). */
  sentCommit = 0;
  /** The last index of each append sent and not yet acknowledged, oldest first. */
  readonly inflight: number[] = [];
  /** In the snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  readonly maxInflight: number;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.maxInflight = maxInflight;
  }

  isPaused(): boolean {
    return this.paused || this.state === 'snapshot';
  }

  inflightFull(): boolean {
    return this.inflight.length >= this.maxInflight;
  }

  becomeProbe(): void {
    // After a snapshot, probe just past it (etcd): the follower most likely installed it.
    const after = this.state === 'snapshot' ? this.pendingSnapshot + 1 : 0;
    this.#reset('probe');
    this.next = Math.max(this.match + 1, after);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
  }

  /** The snapshot at `index` was sent; nothing more until the follower answers it. */
  becomeSnapshot(index: number): void {
    this.#reset('snapshot');
    this.pendingSnapshot = index;
    this.next = index + 1;
  }

  becomeReplicate(): void {
    this.#reset('replicate');
    this.next = this.match + 1;
  }

  /** An append of `count` entries starting at `next` was sent. */
  sentEntries(count: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next += count;
        this.inflight.push(this.next - 1);
      }
      this.paused = this.inflightFull();
    } else if (count > 0) {
      this.paused = true;
    }
  }

  /**
   * Whether sending `commit` could raise the follower's commit index: it has not been told
   * a commit covering everything it is known to hold (etcd's CanBumpCommit).
   */
  canBumpCommit(commit: number): boolean {
    return commit > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** The follower acknowledged `index`. False when the answer is stale. */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.paused = false;
    return true;
  }

  /** Frees the in-flight appends the acknowledgement of `index` covers. */
  freeInflightUpTo(index: number): void {
    let freed = 0;
    while (freed < this.inflight.length && this.inflight[freed]! <= index) freed++;
    this.inflight.splice(0, freed);
  }

  /**
   * The follower rejected an append whose prevLogIndex was `rejected`; `hintIndex` is where
   * the leader thinks the logs may match. False when the rejection is stale (etcd's
   * MaybeDecrTo): in replicate, one for an index already matched; in probe, one for any
   * append but the last probe.
   */
  maybeDecreaseTo(rejected: number, hintIndex: number): boolean {
    // A rejection in the snapshot state answers an append sent before the snapshot.
    if (this.state === 'snapshot') return false;
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
    } else {
      if (this.next - 1 !== rejected) return false;
      this.next = Math.max(Math.min(rejected, hintIndex + 1), this.match + 1);
      this.paused = false;
    }
    // What the follower was told may not hold for its log: a commit index is only ever
    // sent up to the entries an append carries.
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    return true;
  }

  #reset(state: ProgressState): void {
    this.state = state;
    this.pendingSnapshot = 0;
    this.paused = false;
    this.inflight.length = 0;
  }
}
