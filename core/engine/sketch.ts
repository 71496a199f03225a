/**
 * A count-min sketch of 4-bit counters that estimates how often a key was seen recently: the
 * frequency half of TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache
 * Admission Policy", 2017, §3), laid out as Caffeine 3's FrequencySketch.
 *
 * - Four rows; a key's estimate is the minimum of its four counters (count-min).
 * - Counters saturate at 15 (§3.3: a small cap suffices to tell hot from cold).
 * - Aging by "reset" (§3.3): after `sampleSize` increments every counter is halved, so old
 *   popularity fades; sampleSize is 10x the entry capacity, as in Caffeine.
 * - Blocked: a key's four counters all lie in one 64-byte block (16 words of 8 counters),
 *   row i in word 4i + (0..3) of it, so a lookup or an increment touches one cache line.
 */

/** Fewest entries the sketch is sized for; below this a cache is too small to matter. */
const MIN_CAPACITY = 16;
/** Words per entry of capacity: 16 counters, 4 per row, as Caffeine's one long per entry. */
const WORDS_PER_ENTRY = 2;
/** A block is 16 words: 64 bytes, one cache line. */
const BLOCK_SHIFT = 4;
const SAMPLE_FACTOR = 10;
/** Each 4-bit counter's low bit, and the mask that keeps a halved counter in its 4 bits. */
const ONE_MASK = 0x11111111;
const RESET_MASK = 0x77777777;
const MAX_COUNT = 15;

/** FNV-1a over UTF-16 code units: fast, allocation-free, and good enough once spread. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return spread(h);
}

/** Mixes all bits into all bits (FNV-1a's low bits are weak); the finalizer Caffeine uses. */
function spread(x: number): number {
  x = Math.imul((x >>> 16) ^ x, 0x45d9f3b);
  x = Math.imul((x >>> 16) ^ x, 0x45d9f3b);
  return (x >>> 16) ^ x;
}

/** A second hash from the first, for the counters within a block (Caffeine's rehash). */
function rehash(x: number): number {
  x = Math.imul(x, 0x31848bab);
  return x ^ (x >>> 14);
}

export class FrequencySketch {
  private table: Uint32Array;
  private blockMask: number;
  private capacity: number;
  /** Increments since the last reset. */
  private additions = 0;
  private sampleSize: number;

  constructor(expectedEntries = MIN_CAPACITY) {
    this.capacity = ceilingPowerOfTwo(Math.max(MIN_CAPACITY, expectedEntries));
    this.table = new Uint32Array(this.capacity * WORDS_PER_ENTRY);
    this.blockMask = (this.table.length >>> BLOCK_SHIFT) - 1;
    this.sampleSize = SAMPLE_FACTOR * this.capacity;
  }

  /** Entries the sketch is currently sized for. */
  get sizedFor(): number {
    return this.capacity;
  }

  /**
   * Grows the sketch to fit `entries` (it never shrinks). Counts survive: a key's block is its
   * hash masked to the number of blocks, and its counters' places in the block do not depend
   * on the size, so doubling the table and copying the old half into the new one leaves every
   * key's counters where they were, with the same values.
   */
  ensureCapacity(entries: number): void {
    if (entries <= this.capacity) return;
    const capacity = ceilingPowerOfTwo(entries);
    const table = new Uint32Array(capacity * WORDS_PER_ENTRY);
    for (let offset = 0; offset < table.length; offset += this.table.length) {
      table.set(this.table, offset);
    }
    this.table = table;
    this.blockMask = (table.length >>> BLOCK_SHIFT) - 1;
    this.capacity = capacity;
    this.sampleSize = SAMPLE_FACTOR * capacity;
  }

  /** The estimated recent frequency of a key hash, 0..15. */
  frequency(hash: number): number {
    const t = this.table;
    const block = (hash & this.blockMask) << BLOCK_SHIFT;
    const h = rehash(hash);
    // Row i: byte i of h picks one of the row's 4 words (2 bits) and a counter in it (3 bits).
    const c0 = ((t[block + (h & 3)] as number) >>> (((h >>> 2) & 7) << 2)) & 0xf;
    const c1 = ((t[block + 4 + ((h >>> 8) & 3)] as number) >>> (((h >>> 10) & 7) << 2)) & 0xf;
    const c2 = ((t[block + 8 + ((h >>> 16) & 3)] as number) >>> (((h >>> 18) & 7) << 2)) & 0xf;
    const c3 = ((t[block + 12 + ((h >>> 24) & 3)] as number) >>> (((h >>> 26) & 7) << 2)) & 0xf;
    return Math.min(c0, c1, c2, c3);
  }

  /** Counts one occurrence of a key hash; every `sampleSize` counted occurrences, ages all. */
  increment(hash: number): void {
    const block = (hash & this.blockMask) << BLOCK_SHIFT;
    const h = rehash(hash);
    const added =
      this.incrementAt(block + (h & 3), ((h >>> 2) & 7) << 2) |
      this.incrementAt(block + 4 + ((h >>> 8) & 3), ((h >>> 10) & 7) << 2) |
      this.incrementAt(block + 8 + ((h >>> 16) & 3), ((h >>> 18) & 7) << 2) |
      this.incrementAt(block + 12 + ((h >>> 24) & 3), ((h >>> 26) & 7) << 2);
    // As in Caffeine, a key whose counters are all saturated does not advance the sample.
    if (added !== 0 && ++this.additions >= this.sampleSize) this.reset();
  }

  private incrementAt(i: number, shift: number): number {
    const word = this.table[i] as number;
    if (((word >>> shift) & 0xf) === MAX_COUNT) return 0;
    this.table[i] = word + (1 << shift);
    return 1;
  }

  /**
   * Halves every counter (§3.3). Each counter that was odd loses half a count to truncation;
   * a key owns four counters, so the sample count drops by a quarter of those, as in Caffeine.
   */
  private reset(): void {
    let odd = 0;
    const t = this.table;
    for (let i = 0; i < t.length; i++) {
      const word = t[i] as number;
      odd += bitCount(word & ONE_MASK);
      t[i] = (word >>> 1) & RESET_MASK;
    }
    this.additions = Math.max(0, (this.additions >>> 1) - (odd >>> 2));
  }
}

function bitCount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

function ceilingPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
