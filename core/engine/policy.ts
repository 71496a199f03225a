/**
 * The eviction policy seen from the store: a few calls about slots, nothing about values.
 *
 * The store owns entries in slot arrays (cf. isaacs/node-lru-cache); a policy keeps its own
 * per-slot bookkeeping in typed arrays indexed by the same slots and answers one question:
 * which slot goes next. The store does every removal itself (accounting, callbacks) and tells
 * the policy through `onRemove`, so a policy never frees anything on its own.
 */
import type { PolicyName } from '../config.ts';
import { LruPolicy } from './lru.ts';
import { WTinyLfuPolicy } from './wtinylfu.ts';

export interface EvictionPolicy {
  readonly name: PolicyName;
  /** The store's slot arrays grew to `slotCapacity`; grow the per-slot arrays to match. */
  resize(slotCapacity: number): void;
  /** The byte bound changed (policies that split the cache into regions resize them). */
  setMaxBytes(maxBytes: number): void;
  /** A new entry of `bytes` accounted bytes now lives in `slot`. */
  onInsert(slot: number, key: string, bytes: number): void;
  /** The entry in `slot` was read (a hit). */
  onAccess(slot: number): void;
  /** `key` was read and is absent: demand that a frequency-based policy counts. */
  onMiss(key: string): void;
  /** The entry in `slot` left the store, for any reason. */
  onRemove(slot: number): void;
  /**
   * The slot to evict next, or -1 when the policy tracks none. The store calls it only right
   * after `onInsert` or `setMaxBytes`, repeatedly, removing each answer, until it fits.
   */
  victim(): number;
  /**
   * Every tracked slot, first to be evicted first (for LRU, least recently used first): a
   * switch seeds the new policy in this order, so it starts with the old one's judgement.
   */
  order(): number[];
}

export function createPolicy(
  name: PolicyName,
  slotCapacity: number,
  maxBytes: number,
): EvictionPolicy {
  switch (name) {
    case 'lru':
      return new LruPolicy(slotCapacity);
    case 'wtinylfu':
      return new WTinyLfuPolicy(slotCapacity, maxBytes);
  }
}
