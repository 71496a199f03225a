/**
 * A consistent-hash ring with virtual nodes, in the spirit of golang/groupcache's
 * consistenthash (Karger et al., "Consistent Hashing and Random Trees", STOC 1997).
 *
 * The circle is the 2^32 unsigned 32-bit positions. Shard `s` places `vnodes` points on it,
 * at hash(`${s}#${i}`) for i in [0, vnodes). A key at position h = hash(key) belongs to the
 * vnode at the greatest position <= h, wrapping around to the last vnode when h is before the
 * first one; so a vnode at p owns the half-open arc [p, next vnode's position). This rule and
 * the vnode names are part of the wire contract: a smart client reproduces them exactly.
 *
 * Two vnodes at the same position (possible with 32-bit positions, see hash.ts) are ordered
 * by shard id, then replica index; the last one owns the arc and the others own nothing. The
 * order between any two shards never depends on the other shards, so adding a shard only
 * moves keys to it and removing one only moves its own keys, even through a collision.
 *
 * A ring is immutable: `withShard` and `withoutShard` build new ones. Lookups do not
 * allocate: a binary search over a sorted Uint32Array.
 */
import { xxh32, type HashFn } from './hash.ts';

/** The number of positions on the circle. */
export const RING_SIZE = 2 ** 32;
/**
 * Vnodes per shard unless told otherwise. bench/ring.ts measured the most loaded shard's
 * share of the circle / mean share, mean (worst) of 20 differently named clusters:
 *
 *   vnodes   3 shards      10 shards     100 shards    memory, 100 shards
 *   64       1.10 (1.19)   1.19 (1.34)   1.34 (1.51)    82 KiB
 *   128      1.10 (1.18)   1.14 (1.21)   1.24 (1.30)   164 KiB
 *   256      1.06 (1.12)   1.10 (1.14)   1.16 (1.21)   328 KiB
 *   512      1.04 (1.12)   1.07 (1.15)   1.12 (1.17)   656 KiB
 *
 * The spread of a shard's share falls as 1/sqrt(vnodes): 256 is where doubling again buys
 * 4 points at 100 shards for twice the memory, build time (6 ms) and points to draw.
 */
export const DEFAULT_VNODES = 256;
/** More vnodes than this per shard buys no balance worth the memory and build time. */
export const MAX_VNODES = 4096;
/** Vnodes are sorted by a composite key `position * 2^21 + index`, exact in a double. */
const INDEX_BITS = 21;
export const MAX_TOTAL_VNODES = 2 ** INDEX_BITS;
/** Shard indexes are stored in a Uint16Array. */
export const MAX_SHARDS = 2 ** 16;

export interface RingOptions {
  /** Points per shard on the circle (default DEFAULT_VNODES). */
  readonly vnodes?: number;
  /** Key -> unsigned 32-bit position (default xxh32 over UTF-8). Tests pass a readable one. */
  readonly hash?: HashFn;
}

/** Keys whose position is in [start, end) belong to `shard`. */
export interface Range {
  readonly shard: string;
  readonly start: number;
  readonly end: number;
}

/** Keys in [start, end) belonged to `from` and belong to `to`. */
export interface MovedRange {
  readonly from: string;
  readonly to: string;
  readonly start: number;
  readonly end: number;
}

/** One point of a shard on the circle; `fraction` is position / RING_SIZE, for drawing. */
export interface Vnode {
  readonly shard: string;
  readonly replica: number;
  readonly position: number;
  readonly fraction: number;
}

/** The name hashed to place vnode `replica` of `shard`. */
export function vnodeName(shard: string, replica: number): string {
  return `${shard}#${replica}`;
}

export class Ring {
  /** Shard ids in code-unit order: the tie-break order of colliding vnodes. */
  readonly shards: readonly string[];
  readonly vnodesPerShard: number;
  readonly hash: HashFn;
  /** Vnode positions, ascending. */
  readonly #positions: Uint32Array;
  /** For each vnode (same order as #positions): its shard's index in `shards`. */
  readonly #owners: Uint16Array;
  /** For each vnode: its replica index, for drawing. */
  readonly #replicas: Uint16Array;
  /**
   * A lookup table over the top bits of a position: vnodes [#buckets[b], #buckets[b + 1])
   * lie in bucket b. With at least as many buckets as vnodes a lookup searches about one
   * vnode instead of log2(vnodes) scattered ones (2-3x faster at 100 shards).
   */
  readonly #buckets: Uint32Array;
  readonly #bucketShift: number;

  constructor(shards: Iterable<string>, options: RingOptions = {}) {
    const vnodes = options.vnodes ?? DEFAULT_VNODES;
    const hash = options.hash ?? xxh32;
    if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
      throw new TypeError(`vnodes must be a whole number from 1 to ${MAX_VNODES}, got ${vnodes}`);
    }
    if (typeof hash !== 'function') throw new TypeError('hash must be a function');
    const ids = [...shards];
    for (const id of ids) {
      if (typeof id !== 'string' || id.length === 0) {
        throw new TypeError(`shard ids must be non-empty strings, got ${JSON.stringify(id)}`);
      }
    }
    ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let s = 1; s < ids.length; s++) {
      if (ids[s] === ids[s - 1]) throw new TypeError(`shard ${ids[s]} is given twice`);
    }
    if (ids.length === 0) throw new TypeError('a ring needs at least one shard');
    if (ids.length > MAX_SHARDS) {
      throw new TypeError(`a ring holds at most ${MAX_SHARDS} shards, got ${ids.length}`);
    }
    if (ids.length * vnodes > MAX_TOTAL_VNODES) {
      throw new TypeError(
        `shards x vnodes must be at most ${MAX_TOTAL_VNODES}, got ${ids.length} x ${vnodes}`,
      );
    }
    this.shards = ids;
    this.vnodesPerShard = vnodes;
    this.hash = hash;

    // Sort (position, shard, replica) at once: index = shard * vnodes + replica, and shards
    // are in id order, so the composite key orders ties by shard id, then replica.
    const total = ids.length * vnodes;
    const keys = new Float64Array(total);
    for (let s = 0; s < ids.length; s++) {
      for (let r = 0; r < vnodes; r++) {
        const index = s * vnodes + r;
        keys[index] = (hash(vnodeName(ids[s]!, r)) >>> 0) * 2 ** INDEX_BITS + index;
      }
    }
    keys.sort();
    this.#positions = new Uint32Array(total);
    this.#owners = new Uint16Array(total);
    this.#replicas = new Uint16Array(total);
    for (let v = 0; v < total; v++) {
      const key = keys[v]!;
      const index = key % 2 ** INDEX_BITS;
      this.#positions[v] = (key - index) / 2 ** INDEX_BITS;
      this.#owners[v] = Math.floor(index / vnodes);
      this.#replicas[v] = index % vnodes;
    }

    const bucketBits = Math.min(24, Math.max(1, Math.ceil(Math.log2(total))));
    this.#bucketShift = 32 - bucketBits;
    this.#buckets = new Uint32Array((1 << bucketBits) + 1);
    let v = 0;
    for (let b = 0; b < 1 << bucketBits; b++) {
      this.#buckets[b] = v;
      const bucketEnd = (b + 1) * 2 ** this.#bucketShift;
      while (v < total && this.#positions[v]! < bucketEnd) v++;
    }
    this.#buckets[1 << bucketBits] = total;
  }

  /** The key's position on the circle. */
  position(key: string): number {
    return this.hash(key) >>> 0;
  }

  /** The shard that owns `key`. */
  owner(key: string): string {
    return this.ownerAt(this.hash(key) >>> 0);
  }

  /** The shard that owns position `h` (an unsigned 32-bit number). */
  ownerAt(h: number): string {
    return this.shards[this.#owners[this.#vnodeAt(h)]!]!;
  }

  /** Index of the vnode owning `h`: the last one at a position <= h, else the last of all. */
  #vnodeAt(h: number): number {
    const positions = this.#positions;
    // Vnodes before h's bucket are below h and those after it above: search the bucket.
    const bucket = h >>> this.#bucketShift;
    let lo = this.#buckets[bucket]!;
    let hi = this.#buckets[bucket + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (positions[mid]! <= h) lo = mid + 1;
      else hi = mid;
    }
    return (lo === 0 ? positions.length : lo) - 1;
  }

  /** Bytes of the lookup structures (positions, owners, replicas, buckets). */
  get byteLength(): number {
    return (
      this.#positions.byteLength +
      this.#owners.byteLength +
      this.#replicas.byteLength +
      this.#buckets.byteLength
    );
  }

  has(shard: string): boolean {
    return this.shards.includes(shard);
  }

  /** This ring plus `shard`, with the same vnodes and hash. */
  withShard(shard: string): Ring {
    if (this.has(shard)) throw new TypeError(`shard ${shard} is already on the ring`);
    return new Ring([...this.shards, shard], { vnodes: this.vnodesPerShard, hash: this.hash });
  }

  /** This ring without `shard`, with the same vnodes and hash. */
  withoutShard(shard: string): Ring {
    if (!this.has(shard)) throw new TypeError(`shard ${shard} is not on the ring`);
    return new Ring(
      this.shards.filter((s) => s !== shard),
      { vnodes: this.vnodesPerShard, hash: this.hash },
    );
  }

  /**
   * The arcs, in position order, covering [0, RING_SIZE) exactly once. The arc that wraps
   * around zero is given as two ranges ([0, first) and [last, RING_SIZE)), so start < end
   * always; empty arcs (collided vnodes) are left out.
   */
  ranges(): Range[] {
    const positions = this.#positions;
    const n = positions.length;
    const out: Range[] = [];
    const last = this.shards[this.#owners[n - 1]!]!;
    if (positions[0]! > 0) out.push({ shard: last, start: 0, end: positions[0]! });
    for (let v = 0; v < n; v++) {
      const start = positions[v]!;
      const end = v + 1 < n ? positions[v + 1]! : RING_SIZE;
      if (start < end) out.push({ shard: this.shards[this.#owners[v]!]!, start, end });
    }
    return out;
  }

  /** Every vnode in position order, for drawing the ring as a circle. */
  vnodes(): Vnode[] {
    const out: Vnode[] = [];
    for (let v = 0; v < this.#positions.length; v++) {
      const position = this.#positions[v]!;
      out.push({
        shard: this.shards[this.#owners[v]!]!,
        replica: this.#replicas[v]!,
        position,
        fraction: position / RING_SIZE,
      });
    }
    return out;
  }

  /** Each shard's share of the circle (sums to 1): the share of keys it should expect. */
  shares(): Map<string, number> {
    const out = new Map<string, number>(this.shards.map((s) => [s, 0]));
    for (const r of this.ranges())
      out.set(r.shard, out.get(r.shard)! + (r.end - r.start) / RING_SIZE);
    return out;
  }
}

/**
 * The position ranges whose owner differs between two rings of the same hash: what a
 * resharding step must copy, from whom, to whom. Adjacent ranges with the same move are
 * merged; the result is in position order.
 */
export function movedRanges(from: Ring, to: Ring): MovedRange[] {
  if (from.hash !== to.hash) throw new TypeError('movedRanges needs two rings with one hash');
  const a = from.ranges();
  const b = to.ranges();
  const out: MovedRange[] = [];
  let i = 0;
  let j = 0;
  let start = 0;
  while (start < RING_SIZE) {
    const ra = a[i]!;
    const rb = b[j]!;
    const end = Math.min(ra.end, rb.end);
    if (ra.shard !== rb.shard) {
      const prev = out[out.length - 1];
      if (prev && prev.end === start && prev.from === ra.shard && prev.to === rb.shard) {
        out[out.length - 1] = { ...prev, end };
      } else {
        out.push({ from: ra.shard, to: rb.shard, start, end });
      }
    }
    if (ra.end === end) i++;
    if (rb.end === end) j++;
    start = end;
  }
  return out;
}
