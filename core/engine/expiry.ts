/**
 * Active expiry's index: a binary min-heap of (expiresAt, slot) for the entries that have a
 * TTL, with each slot's heap position kept so a deleted or replaced entry leaves in O(log n).
 *
 * Why a heap and not a sweep over slots (Redis samples random keys; a cursor could walk the
 * slot arrays): the heap's top is always the next entry to expire, so `Store.expireStep`
 * examines only entries that are expired (plus one that is not, to stop), reclaims them in
 * expiry order, and does no work at all while nothing is due. A sweep spends its budget on
 * live and empty slots, so with a million keys a dead one could wait minutes. The price is
 * O(log n) on a write or delete of a key with a TTL; keys without one never enter the heap.
 * A hierarchical timer wheel (Caffeine, Kafka) would make that O(1) but rounds expiry times
 * to its ticks; a heap is exact and short.
 */
import { grow } from './grow.ts';

const NONE = -1;

export class ExpiryQueue {
  /** Heap order: slots[0] expires first. */
  private slots: Int32Array;
  private times: Float64Array;
  /** By slot: its index in the heap, or NONE. */
  private position: Int32Array;
  private length = 0;

  constructor(slotCapacity: number) {
    this.slots = new Int32Array(slotCapacity);
    this.times = new Float64Array(slotCapacity);
    this.position = new Int32Array(slotCapacity).fill(NONE);
  }

  get size(): number {
    return this.length;
  }

  resize(slotCapacity: number): void {
    const old = this.position.length;
    this.slots = grow(this.slots, slotCapacity);
    this.times = grow(this.times, slotCapacity);
    this.position = grow(this.position, slotCapacity);
    this.position.fill(NONE, old);
  }

  /** The earliest expiry time, or Infinity when no entry has a TTL. */
  peekTime(): number {
    return this.length === 0 ? Infinity : (this.times[0] as number);
  }

  /** The slot that expires first, or NONE. */
  peekSlot(): number {
    return this.length === 0 ? NONE : (this.slots[0] as number);
  }

  has(slot: number): boolean {
    return this.position[slot] !== NONE;
  }

  add(slot: number, time: number): void {
    const i = this.length++;
    this.place(i, slot, time);
    this.siftUp(i);
  }

  /** Takes `slot` out of the heap; a slot that is not in it is ignored. */
  remove(slot: number): void {
    const i = this.position[slot] as number;
    if (i === NONE) return;
    this.position[slot] = NONE;
    const last = --this.length;
    if (i === last) return;
    const lastSlot = this.slots[last] as number;
    const lastTime = this.times[last] as number;
    this.place(i, lastSlot, lastTime);
    if (i > 0 && lastTime < (this.times[(i - 1) >> 1] as number)) this.siftUp(i);
    else this.siftDown(i);
  }

  private place(i: number, slot: number, time: number): void {
    this.slots[i] = slot;
    this.times[i] = time;
    this.position[slot] = i;
  }

  private siftUp(i: number): void {
    const slot = this.slots[i] as number;
    const time = this.times[i] as number;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentTime = this.times[parent] as number;
      if (parentTime <= time) break;
      this.place(i, this.slots[parent] as number, parentTime);
      i = parent;
    }
    this.place(i, slot, time);
  }

  private siftDown(i: number): void {
    const slot = this.slots[i] as number;
    const time = this.times[i] as number;
    const n = this.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let childTime = this.times[child] as number;
      const right = child + 1;
      if (right < n && (this.times[right] as number) < childTime) {
        child = right;
        childTime = this.times[right] as number;
      }
      if (childTime >= time) break;
      this.place(i, this.slots[child] as number, childTime);
      i = child;
    }
    this.place(i, slot, time);
  }
}
