/**
 * Window TinyLFU, as in Caffeine (https://github.com/ben-manes/caffeine/wiki/Efficiency;
 * Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", 2017, §4),
 * weighted by bytes because the store is bounded in bytes.
 *
 * - New entries enter a small LRU *window* (1% of the bytes). It lets a burst of new keys
 *   build up frequency before they must compete (§4: W-TinyLFU).
 * - The rest is the *main* cache, a segmented LRU: *probation* (~20%) and *protected* (~80%).
 *   A hit in probation promotes to protected; protected overflow demotes its LRU entry back
 *   to the probation MRU end.
 * - When the window overflows, its LRU entries move to the probation MRU end as *candidates*.
 *   While the cache is over its bound, the oldest candidate meets main's victim (probation's
 *   LRU entry) and the sketch's frequency estimates decide: the candidate is admitted only if
 *   strictly more frequent; a tie evicts the candidate (§3: TinyLFU admission).
 * - Frequencies come from a count-min sketch (sketch.ts) fed by every write and every hit,
 *   sized from the entry count and grown with it.
 *
 * Deterministic: no random jitter (Caffeine adds some against hash flooding; keys here come
 * from clients of a cache they already control).
 */
import type { EvictionPolicy } from './policy.ts';
import { grow } from './policy.ts';
import { FrequencySketch, hashKey } from './sketch.ts';

const NONE = -1;
const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;

/** Caffeine's starting split: a 1% window, and 80% of main protected. */
export const WINDOW_SHARE = 0.01;
export const PROTECTED_SHARE = 0.8;

export class WTinyLfuPolicy implements EvictionPolicy {
  readonly name = 'wtinylfu' as const;
  private prev: Int32Array;
  private next: Int32Array;
  /** WINDOW, PROBATION or PROTECTED, per slot. */
  private queue: Uint8Array;
  /** The key's hash, kept so victims are compared without rehashing their keys. */
  private hash: Int32Array;
  private weight: Float64Array;
  /** Logical time of the last write or hit: the global recency order for `order()`. */
  private stamp: Float64Array;
  private clock = 0;

  private readonly head = new Int32Array([NONE, NONE, NONE]);
  private readonly tail = new Int32Array([NONE, NONE, NONE]);
  private readonly bytes = new Float64Array(3);
  private windowMaxBytes = 0;
  private protectedMaxBytes = 0;
  /**
   * The oldest window entry moved to probation since the last insert, or NONE. Candidates
   * run from here to probation's MRU end; the store's eviction loop works through them.
   */
  private candidate = NONE;
  private entries = 0;
  private readonly sketch = new FrequencySketch();

  constructor(slotCapacity: number, maxBytes: number) {
    this.prev = new Int32Array(slotCapacity);
    this.next = new Int32Array(slotCapacity);
    this.queue = new Uint8Array(slotCapacity);
    this.hash = new Int32Array(slotCapacity);
    this.weight = new Float64Array(slotCapacity);
    this.stamp = new Float64Array(slotCapacity);
    this.setMaxBytes(maxBytes);
  }

  resize(slotCapacity: number): void {
    this.prev = grow(this.prev, slotCapacity);
    this.next = grow(this.next, slotCapacity);
    this.queue = grow(this.queue, slotCapacity);
    this.hash = grow(this.hash, slotCapacity);
    this.weight = grow(this.weight, slotCapacity);
    this.stamp = grow(this.stamp, slotCapacity);
  }

  setMaxBytes(maxBytes: number): void {
    this.windowMaxBytes = Math.floor(maxBytes * WINDOW_SHARE);
    this.protectedMaxBytes = Math.floor((maxBytes - this.windowMaxBytes) * PROTECTED_SHARE);
    this.candidate = NONE;
    this.demoteProtectedOverflow();
    this.flushWindow();
  }

  onInsert(slot: number, key: string, bytes: number): void {
    const hash = hashKey(key);
    this.hash[slot] = hash;
    this.weight[slot] = bytes;
    this.stamp[slot] = ++this.clock;
    this.entries++;
    this.sketch.ensureCapacity(this.entries);
    this.sketch.increment(hash);
    this.candidate = NONE; // earlier candidates were admitted: the store fit after them
    this.linkAtTail(WINDOW, slot);
    this.flushWindow();
  }

  onAccess(slot: number): void {
    this.sketch.increment(this.hash[slot] as number);
    this.stamp[slot] = ++this.clock;
    const queue = this.queue[slot] as number;
    if (queue === PROBATION) {
      this.unlink(slot);
      this.linkAtTail(PROTECTED, slot);
      this.demoteProtectedOverflow();
    } else if (slot !== this.tail[queue]) {
      this.unlink(slot);
      this.linkAtTail(queue, slot);
    }
  }

  /**
   * A miss counts too (the sketch estimates the frequency of requests, §3): a key that is
   * asked for often but only written now and then must be able to beat what is cached.
   */
  onMiss(key: string): void {
    this.sketch.increment(hashKey(key));
  }

  onRemove(slot: number): void {
    this.unlink(slot);
    this.entries--;
  }

  victim(): number {
    const candidate = this.candidate;
    if (candidate === NONE) {
      // Nothing new is waiting for admission (a lowered bound): evict in SLRU order.
      if (this.head[PROBATION] !== NONE) return this.head[PROBATION] as number;
      if (this.head[PROTECTED] !== NONE) return this.head[PROTECTED] as number;
      return this.head[WINDOW] as number;
    }
    // Main's victim is probation's LRU entry; if probation holds only candidates, protected's.
    let victim = this.head[PROBATION] as number;
    if (victim === candidate) victim = this.head[PROTECTED] as number;
    if (victim === NONE) return candidate;
    const candidateFrequency = this.sketch.frequency(this.hash[candidate] as number);
    const victimFrequency = this.sketch.frequency(this.hash[victim] as number);
    return candidateFrequency > victimFrequency ? victim : candidate;
  }

  order(): number[] {
    const slots: number[] = [];
    for (let q = WINDOW; q <= PROTECTED; q++) {
      for (let s = this.head[q] as number; s !== NONE; s = this.next[s] as number) slots.push(s);
    }
    const stamp = this.stamp;
    return slots.sort((a, b) => (stamp[a] as number) - (stamp[b] as number));
  }

  /** Test and debugging view: bytes per region and the region bounds. */
  regions(): {
    windowBytes: number;
    probationBytes: number;
    protectedBytes: number;
    windowMaxBytes: number;
    protectedMaxBytes: number;
  } {
    return {
      windowBytes: this.bytes[WINDOW] as number,
      probationBytes: this.bytes[PROBATION] as number,
      protectedBytes: this.bytes[PROTECTED] as number,
      windowMaxBytes: this.windowMaxBytes,
      protectedMaxBytes: this.protectedMaxBytes,
    };
  }

  /** The sketch's estimate for a key (tests). */
  frequencyOf(key: string): number {
    return this.sketch.frequency(hashKey(key));
  }

  /** Moves the window's overflow, oldest first, to probation's MRU end as candidates. */
  private flushWindow(): void {
    while ((this.bytes[WINDOW] as number) > this.windowMaxBytes) {
      const slot = this.head[WINDOW] as number;
      this.unlink(slot);
      this.linkAtTail(PROBATION, slot);
      if (this.candidate === NONE) this.candidate = slot;
    }
  }

  private demoteProtectedOverflow(): void {
    while ((this.bytes[PROTECTED] as number) > this.protectedMaxBytes) {
      const slot = this.head[PROTECTED] as number;
      this.unlink(slot);
      this.linkAtTail(PROBATION, slot);
    }
  }

  private linkAtTail(queue: number, slot: number): void {
    const tail = this.tail[queue] as number;
    this.queue[slot] = queue;
    this.prev[slot] = tail;
    this.next[slot] = NONE;
    if (tail === NONE) this.head[queue] = slot;
    else this.next[tail] = slot;
    this.tail[queue] = slot;
    this.bytes[queue] = (this.bytes[queue] as number) + (this.weight[slot] as number);
  }

  private unlink(slot: number): void {
    const queue = this.queue[slot] as number;
    const p = this.prev[slot] as number;
    const n = this.next[slot] as number;
    // Candidates are a suffix of probation: when the oldest leaves, the next one is oldest.
    if (slot === this.candidate) this.candidate = n;
    if (p === NONE) this.head[queue] = n;
    else this.next[p] = n;
    if (n === NONE) this.tail[queue] = p;
    else this.prev[n] = p;
    this.bytes[queue] = (this.bytes[queue] as number) - (this.weight[slot] as number);
  }
}
