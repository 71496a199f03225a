/** Consistent hashing with virtual nodes: the ring, its default hash and what moves. */
export {
  DEFAULT_VNODES,
  MAX_SHARDS,
  MAX_TOTAL_VNODES,
  MAX_VNODES,
  movedRanges,
  Ring,
  RING_SIZE,
  vnodeName,
} from './ring.ts';
export type { MovedRange, Range, RingOptions, Vnode } from './ring.ts';
export { xxh32 } from './hash.ts';
export type { HashFn } from './hash.ts';
