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
 * - Frequencies come from a count-min sketch (sketch.ts) fed by every write, hit and miss,
 *   sized from the entry count and grown with it.
 *
 * Simpler than Caffeine in two ways: the split is fixed at Caffeine's starting point (it
 * tunes the window by hill climbing), and there is no random jitter in admission (Caffeine's
 * defence against hash flooding), so a run is deterministic.
 */
import { grow } from './grow.ts';
import type { EvictionPolicy } from './policy.ts';
import { FrequencySketch, hashKey } from './sketch.ts';

const NONE = -1;
const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;

/** Caffeine's starting split: a 1% window, and 80% of main protected. */
export const WINDOW_SHARE = 0.01;
export const PROTECTED_SHARE = 0.8;

/**
 * Per slot, side by side so a hit touches one cache line: the previous and next slots in its
 * list, its key's hash (kept so victims are compared without rehashing their keys) and its
 * list (WINDOW, PROBATION or PROTECTED).
 */
const NODE = 4;
const PREV = 0;
const NEXT = 1;
const HASH = 2;
const QUEUE = 3;

export class WTinyLfuPolicy implements EvictionPolicy {
  readonly name = 'wtinylfu' as const;
  private node: Int32Array;
  private weight: Float64Array;

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
    this.node = new Int32Array(slotCapacity * NODE);
    this.weight = new Float64Array(slotCapacity);
    this.setMaxBytes(maxBytes);
  }

  resize(slotCapacity: number): void {
    this.node = grow(this.node, slotCapacity * NODE);
    this.weight = grow(this.weight, slotCapacity);
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
    this.node[slot * NODE + HASH] = hash;
    this.weight[slot] = bytes;
    this.entries++;
    this.sketch.ensureCapacity(this.entries);
    this.sketch.increment(hash);
    this.candidate = NONE; // earlier candidates were admitted: the store fit after them
    this.linkAtTail(WINDOW, slot);
    this.flushWindow();
  }

  onAccess(slot: number): void {
    const n = slot * NODE;
    this.sketch.increment(this.node[n + HASH] as number);
    const queue = this.node[n + QUEUE] as number;
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
    const candidateFrequency = this.sketch.frequency(this.node[candidate * NODE + HASH] as number);
    const victimFrequency = this.sketch.frequency(this.node[victim * NODE + HASH] as number);
    return candidateFrequency > victimFrequency ? victim : candidate;
  }

  /**
   * The order this policy would evict in when no candidate is waiting: probation, then
   * protected, then the window, each least recently used first. (W-TinyLFU keeps no recency
   * order across its lists; this one puts cold before hot and old before new.)
   */
  order(): number[] {
    const slots: number[] = [];
    for (const queue of [PROBATION, PROTECTED, WINDOW]) {
      for (
        let s = this.head[queue] as number;
        s !== NONE;
        s = this.node[s * NODE + NEXT] as number
      ) {
        slots.push(s);
      }
    }
    return slots;
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
    const node = this.node;
    const tail = this.tail[queue] as number;
    const n = slot * NODE;
    node[n + QUEUE] = queue;
    node[n + PREV] = tail;
    node[n + NEXT] = NONE;
    if (tail === NONE) this.head[queue] = slot;
    else node[tail * NODE + NEXT] = slot;
    this.tail[queue] = slot;
    this.bytes[queue] = (this.bytes[queue] as number) + (this.weight[slot] as number);
  }

  private unlink(slot: number): void {
    const node = this.node;
    const n = slot * NODE;
    const queue = node[n + QUEUE] as number;
    const p = node[n + PREV] as number;
    const next = node[n + NEXT] as number;
    // Candidates are a suffix of probation: when the oldest leaves, the next one is oldest.
    if (slot === this.candidate) this.candidate = next;
    if (p === NONE) this.head[queue] = next;
    else node[p * NODE + NEXT] = next;
    if (next === NONE) this.tail[queue] = p;
    else node[next * NODE + PREV] = p;
    this.bytes[queue] = (this.bytes[queue] as number) - (this.weight[slot] as number);
  }
}
