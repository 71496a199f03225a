/**
 * Least recently used: an intrusive doubly-linked list threaded through one Int32Array
 * indexed by slot (the layout of isaacs/node-lru-cache, with a slot's two links side by side
 * so a move touches one cache line per entry). Every call is O(1) and allocates nothing; a
 * read is a few typed-array writes.
 */
import { grow } from './grow.ts';
import type { EvictionPolicy } from './policy.ts';

const NONE = -1;

export class LruPolicy implements EvictionPolicy {
  readonly name = 'lru' as const;
  /** links[2s] is slot s's previous (less recent) slot, links[2s + 1] its next. */
  private links: Int32Array;
  /** Least recently used; the next victim. */
  private head = NONE;
  /** Most recently used. */
  private tail = NONE;

  constructor(slotCapacity: number) {
    this.links = new Int32Array(2 * slotCapacity);
  }

  resize(slotCapacity: number): void {
    this.links = grow(this.links, 2 * slotCapacity);
  }

  setMaxBytes(): void {
    // One list for the whole cache: the bound does not change its shape.
  }

  onInsert(slot: number): void {
    this.linkAtTail(slot);
  }

  /** Moves `slot` to the most recent end: unlink and relink, fused (this runs on every hit). */
  onAccess(slot: number): void {
    const tail = this.tail;
    if (slot === tail) return;
    const links = this.links;
    const p = links[2 * slot] as number;
    const n = links[2 * slot + 1] as number; // not NONE: slot is not the tail
    if (p === NONE) this.head = n;
    else links[2 * p + 1] = n;
    links[2 * n] = p;
    links[2 * slot] = tail;
    links[2 * slot + 1] = NONE;
    links[2 * tail + 1] = slot;
    this.tail = slot;
  }

  onMiss(): void {
    // Recency only: a miss leaves nothing to reorder.
  }

  onRemove(slot: number): void {
    this.unlink(slot);
  }

  victim(): number {
    return this.head;
  }

  order(): number[] {
    const slots: number[] = [];
    for (let s = this.head; s !== NONE; s = this.links[2 * s + 1] as number) slots.push(s);
    return slots;
  }

  private linkAtTail(slot: number): void {
    const links = this.links;
    const tail = this.tail;
    links[2 * slot] = tail;
    links[2 * slot + 1] = NONE;
    if (tail === NONE) this.head = slot;
    else links[2 * tail + 1] = slot;
    this.tail = slot;
  }

  private unlink(slot: number): void {
    const links = this.links;
    const p = links[2 * slot] as number;
    const n = links[2 * slot + 1] as number;
    if (p === NONE) this.head = n;
    else links[2 * p + 1] = n;
    if (n === NONE) this.tail = p;
    else links[2 * n] = p;
  }
}
