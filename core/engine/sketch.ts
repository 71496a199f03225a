/**
 * A count-min sketch of 4-bit counters that estimates how often a key was seen recently: the
 * frequency half of TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache
 * Admission Policy", 2017, §3), laid out as Caffeine's FrequencySketch.
 *
 * - Four rows; a key's counter in row i is picked by the i-th hash of its 32-bit key hash,
 *   and its estimate is the minimum of the four (count-min).
 * - Counters saturate at 15 (§3.3: a small cap suffices to tell hot from cold).
 * - Aging by "reset" (§3.3): after `sampleSize` increments every counter is halved, so old
 *   popularity fades; sampleSize is 10x the entry capacity, as in Caffeine.
 * - Eight counters share one 32-bit word; a key uses one counter group (half of the word) and
 *   row i takes counter i of that group, so its four counters sit in four words.
 */

/** Fewest entries the sketch is sized for; below this a cache is too small to matter. */
const MIN_CAPACITY = 16;
/** Words per entry of capacity: 16 counters, 4 per row, as Caffeine's one long per entry. */
const WORDS_PER_ENTRY = 2;
const SAMPLE_FACTOR = 10;
/** Each 4-bit counter's low bit, and the mask that keeps a halved counter in its 4 bits. */
const ONE_MASK = 0x11111111;
const RESET_MASK = 0x77777777;
const MAX_COUNT = 15;
/** Per-row seeds (the low words of Caffeine's: FNV-1a, CityHash and Murmur3 constants). */
const SEED0 = 0x97cb3127 | 0;
const SEED1 = 0xbe98f273 | 0;
const SEED2 = 0x2f90404f | 0;
const SEED3 = 0x84222325 | 0;

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

export class FrequencySketch {
  private table: Uint32Array;
  private mask: number;
  private capacity: number;
  /** Increments since the last reset. */
  private additions = 0;
  private sampleSize: number;

  constructor(expectedEntries = MIN_CAPACITY) {
    this.capacity = ceilingPowerOfTwo(Math.max(MIN_CAPACITY, expectedEntries));
    this.table = new Uint32Array(this.capacity * WORDS_PER_ENTRY);
    this.mask = this.table.length - 1;
    this.sampleSize = SAMPLE_FACTOR * this.capacity;
  }

  /** Entries the sketch is currently sized for. */
  get sizedFor(): number {
    return this.capacity;
  }

  /**
   * Grows the sketch to fit `entries` (it never shrinks). Counts survive: an index is the
   * hash masked to the table's width, so doubling the table and copying the old half into
   * the new one leaves every key's counters where they were, with the same values.
   */
  ensureCapacity(entries: number): void {
    if (entries <= this.capacity) return;
    const capacity = ceilingPowerOfTwo(entries);
    const table = new Uint32Array(capacity * WORDS_PER_ENTRY);
    for (let offset = 0; offset < table.length; offset += this.table.length) {
      table.set(this.table, offset);
    }
    this.table = table;
    this.mask = table.length - 1;
    this.capacity = capacity;
    this.sampleSize = SAMPLE_FACTOR * capacity;
  }

  /** The estimated recent frequency of a key hash, 0..15. */
  frequency(hash: number): number {
    const shift = (hash & 1) << 4; // counter group: bits 0-15 or 16-31
    const t = this.table;
    const m = this.mask;
    const c0 = ((t[index(hash, SEED0) & m] as number) >>> shift) & 0xf;
    const c1 = ((t[index(hash, SEED1) & m] as number) >>> (shift + 4)) & 0xf;
    const c2 = ((t[index(hash, SEED2) & m] as number) >>> (shift + 8)) & 0xf;
    const c3 = ((t[index(hash, SEED3) & m] as number) >>> (shift + 12)) & 0xf;
    return Math.min(c0, c1, c2, c3);
  }

  /** Counts one occurrence of a key hash; every `sampleSize` counted occurrences, ages all. */
  increment(hash: number): void {
    const shift = (hash & 1) << 4;
    const added =
      this.incrementAt(index(hash, SEED0) & this.mask, shift) |
      this.incrementAt(index(hash, SEED1) & this.mask, shift + 4) |
      this.incrementAt(index(hash, SEED2) & this.mask, shift + 8) |
      this.incrementAt(index(hash, SEED3) & this.mask, shift + 12);
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

/** The row's index for a hash, before masking (Caffeine's indexOf on 32-bit words). */
function index(hash: number, seed: number): number {
  const h = Math.imul((hash + seed) | 0, seed);
  return (h >>> 16) ^ h;
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
