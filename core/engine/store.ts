/**
 * The byte-accounted key-value store: entries, TTL, size limits and eviction behind a small
 * policy interface (policy.ts).
 *
 * Layout, as in isaacs/node-lru-cache: a Map from key to slot, and per-slot arrays (typed
 * arrays for numbers) with a free list of slots, so the hot paths touch a Map and a few array
 * elements and allocate nothing on a read. Time comes in as `now` (ms on the caller's clock);
 * an entry with `expiresAt <= now` is expired and is never returned.
 *
 * Expired entries leave in three ways, all counted as expirations with reason 'expire':
 * lazily when a read, write or delete finds them; when the policy picks one as its victim;
 * and actively through `expireStep` (see expiry.ts for why a heap).
 */
import { POLICIES, type PolicyName } from '../config.ts';
import { type CacheError, cacheError, ok, type Result } from '../errors.ts';
import { ExpiryQueue } from './expiry.ts';
import { LruPolicy } from './lru.ts';
import { grow } from './grow.ts';
import { createPolicy, type EvictionPolicy } from './policy.ts';
import type {
  Entry,
  RemovalReason,
  SetOutcome,
  StoredValue,
  StoreOptions,
  StoreStats,
} from './types.ts';
import { utf8ByteLength } from './utf8.ts';

/**
 * Why a key of `keyBytes` UTF-8 bytes cannot be stored, or undefined when it can. One rule
 * for the store and for the node, which checks a key before reading the body that goes with it.
 */
export function keyRefusal(keyBytes: number, maxKeyBytes: number): CacheError | undefined {
  if (keyBytes === 0) {
    return cacheError(
      'invalid_key',
      `The key is empty; use a key of 1 to ${maxKeyBytes} bytes (max-key-bytes).`,
    );
  }
  if (keyBytes > maxKeyBytes) {
    return cacheError(
      'key_too_long',
      `The key is ${keyBytes} bytes; the limit is ${maxKeyBytes} bytes (max-key-bytes).`,
    );
  }
  return undefined;
}

/**
 * What one entry costs beyond its key and value bytes, so that `maxMemoryBytes` tracks the
 * heap the store really holds. Estimated for Node 20 / V8 x64 (8-byte pointers):
 * - the Entry object: a 3-word header and 5 in-object fields: 64 B;
 * - the value's Uint8Array object (~88 B) and, when it owns its bytes as a node's values do,
 *   its ArrayBuffer object and allocation header (~40 B); the bytes count as the value;
 * - the slot arrays: key and entry pointers (16 B), the numbers (32 B), the free list (4 B),
 *   the LRU links (8 B), with growth slack: ~63 B (W-TinyLFU: +24 B, and its sketch 8 B);
 * - the Map entry: key, value and chain words plus a share of the buckets: ~35 B;
 * - the key string's header and padding: ~20 B.
 * Measured with 1M entries (12-byte keys, 64-byte values; heap plus external memory per
 * entry, minus key and value bytes): 293 B with LRU and values owning their buffers (a
 * node's case), 253 B when values view one shared buffer, 318 B with W-TinyLFU; a TTL adds
 * 16 B (the expiry heap). The constant is the worst of these, W-TinyLFU with a TTL (334 B),
 * rounded up, so that `maxMemoryBytes` is not exceeded whatever the policy. For scale: Redis
 * spends ~50-90 B per key.
 */
export const ENTRY_OVERHEAD_BYTES = 336;

const INITIAL_SLOTS = 16;
/** Reads W-TinyLFU records before applying them in one batch. */
const PENDING_READS = 64;
const NONE = -1;

/**
 * A slot's numbers sit side by side in one Float64Array, four to a slot (32 bytes, so one
 * cache line): eviction reads them all without touching the cold Entry object.
 */
const META = 4;
/** Accounted bytes. */
const SIZE = 0;
/** expiresAt, or Infinity for none. */
const EXPIRES = 1;
/** 1 when the stored bytes are compressed, else 0. */
const COMPRESSED = 2;
/** rawBytes - stored bytes, when compressed. */
const SAVED = 3;

export class Store {
  private readonly slotOf = new Map<string, number>();
  /** By slot: the key, the entry, and its numbers (META per slot). */
  private keyAt: (string | undefined)[];
  private entryAt: (Entry | undefined)[];
  private meta: Float64Array;
  /** Slots freed by removals, reused before new ones (a stack). */
  private freeSlots: Int32Array;
  private freeCount = 0;
  /** Slots [0, usedSlots) have been handed out at least once. */
  private usedSlots = 0;
  private capacity = INITIAL_SLOTS;

  private policy: EvictionPolicy;
  /**
   * The same object as `policy` when it is LRU, else null. The hot paths call LRU through
   * this field, so each call site sees one class and V8 inlines it; with one shared site a
   * process that also runs a W-TinyLFU store (a benchmark, the simulator) would make every
   * call polymorphic and slow LRU's hits and writes down.
   */
  private lru: LruPolicy | null;
  /**
   * Other policies' reads wait here and are applied in a batch before the policy is next
   * consulted or changed (Caffeine's read buffer, without the loss): a W-TinyLFU hit is then a
   * store into an array, and `get` stays small enough for V8 to inline wherever it is called.
   * Nothing but reads happens between recording and applying, so the outcome is the same.
   */
  private readonly pendingHits = new Int32Array(PENDING_READS);
  private pendingHitCount = 0;
  private readonly pendingMisses: string[] = [];
  private readonly expiry: ExpiryQueue;
  private readonly onRemove: StoreOptions['onRemove'];

  private maxMemoryBytes: number;
  private maxKeyBytes: number;
  private maxValueBytes: number;

  private memoryBytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  /** Evictions by the policy that chose them (the policy can change at run time). */
  private readonly evictionsByPolicy: Record<PolicyName, number> = { lru: 0, wtinylfu: 0 };
  private expirations = 0;
  private compressedEntries = 0;
  private compressionSavedBytes = 0;

  /**
   * Throws a TypeError naming the option when one is missing or malformed: a store without a
   * sane bound is a bug, not a configuration.
   *
   * `onRemove` is called synchronously for every entry that leaves, once the store has
   * accounted for it; it must not throw or call back into the store.
   */
  constructor(options: StoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('Store options must be an object.');
    }
    this.maxMemoryBytes = checkBytes('maxMemoryBytes', options.maxMemoryBytes);
    this.maxKeyBytes = checkBytes('maxKeyBytes', options.maxKeyBytes);
    this.maxValueBytes = checkBytes('maxValueBytes', options.maxValueBytes);
    const policy = checkPolicy(options.policy);
    if (options.onRemove !== undefined && typeof options.onRemove !== 'function') {
      throw new TypeError('onRemove must be a function when given.');
    }
    this.onRemove = options.onRemove;

    this.keyAt = new Array<string | undefined>(INITIAL_SLOTS).fill(undefined);
    this.entryAt = new Array<Entry | undefined>(INITIAL_SLOTS).fill(undefined);
    this.meta = new Float64Array(INITIAL_SLOTS * META);
    this.freeSlots = new Int32Array(INITIAL_SLOTS);
    this.policy = createPolicy(policy, INITIAL_SLOTS, this.maxMemoryBytes);
    this.lru = this.policy instanceof LruPolicy ? this.policy : null;
    this.expiry = new ExpiryQueue(INITIAL_SLOTS);
  }

  /** Entries held, including expired ones not reclaimed yet. */
  get size(): number {
    return this.slotOf.size;
  }

  /**
   * The live entry for `key`, counting a hit or a miss and telling the policy of the hit.
   * An expired entry is reclaimed on the spot. Returns the same object on every hit.
   */
  get(key: string, now: number): Entry | undefined {
    const slot = this.slotOf.get(key);
    if (slot !== undefined) {
      // Skip the expiry read (a likely cache miss) while no entry has a TTL. Written as
      // !(now >= …) so that a NaN clock reads as "not expired", never as "expired".
      if (this.expiry.size === 0 || !(now >= (this.meta[slot * META + EXPIRES] as number))) {
        this.hits++;
        const lru = this.lru;
        if (lru !== null) lru.onAccess(slot);
        else this.recordHit(slot);
        return this.entryAt[slot];
      }
      this.removeSlot(slot, 'expire');
    }
    this.misses++;
    if (this.lru === null && this.pendingMisses.push(key) === PENDING_READS) this.applyReads();
    return undefined;
  }

  /** As `get`, but changes nothing: no hit or miss, no recency, no reclaiming. */
  peek(key: string, now: number): Entry | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined || now >= (this.meta[slot * META + EXPIRES] as number)) return undefined;
    return this.entryAt[slot];
  }

  /**
   * Writes `value` under `key`, expiring at `expiresAt` (ms, or null for never). A refused
   * write changes nothing. An accepted one replaces any old entry (reason 'replace', or
   * 'expire' if it had expired) and then evicts others until the store fits its bound; under
   * W-TinyLFU that may be the new entry itself, when admission prefers what is cached.
   */
  set(key: string, value: StoredValue, expiresAt: number | null, now: number): Result<SetOutcome> {
    // Kept this small so that it inlines into its caller, where V8 can then drop the result
    // objects when the caller only looks inside them (a write's only other allocation is its
    // Entry).
    const written = this.write(key, value, expiresAt, now);
    if (typeof written !== 'number') return written;
    return ok({ created: written > 0, entryBytes: written > 0 ? written : -written });
  }

  /**
   * Why set() would refuse this write, or undefined when it would take it: the same checks,
   * without writing (a write-through node asks before the database commits).
   */
  check(
    key: string,
    value: StoredValue,
    expiresAt: number | null,
    now: number,
  ): CacheError | undefined {
    return this.refusal(key, utf8ByteLength(key), value, expiresAt, now);
  }

  private refusal(
    key: string,
    keyBytes: number,
    value: StoredValue,
    expiresAt: number | null,
    now: number,
  ): CacheError | undefined {
    const refusal = keyRefusal(keyBytes, this.maxKeyBytes);
    if (refusal !== undefined) return refusal;
    if (value.rawBytes > this.maxValueBytes) {
      return cacheError(
        'value_too_large',
        `Value is ${value.rawBytes} bytes; the limit is ${this.maxValueBytes} bytes (max-value-bytes).`,
      );
    }
    if (expiresAt !== null && !(expiresAt > now)) {
      return cacheError(
        'invalid_ttl',
        `The expiry time ${expiresAt} is not after now (${now}); give a TTL greater than 0.`,
      );
    }
    const entryBytes = keyBytes + value.bytes.length + ENTRY_OVERHEAD_BYTES;
    if (entryBytes > this.maxMemoryBytes) {
      return cacheError(
        'out_of_memory',
        `The entry needs ${entryBytes} bytes (key, value and ${ENTRY_OVERHEAD_BYTES} bytes of overhead); the memory limit is ${this.maxMemoryBytes} bytes (max-memory).`,
      );
    }
    return undefined;
  }

  /** Does the write: the entry's size, negated for a replacement; or why it was refused. */
  private write(
    key: string,
    value: StoredValue,
    expiresAt: number | null,
    now: number,
  ): number | Result<never> {
    const keyBytes = utf8ByteLength(key);
    const refusal = this.refusal(key, keyBytes, value, expiresAt, now);
    if (refusal !== undefined) return { ok: false, error: refusal };
    const entryBytes = keyBytes + value.bytes.length + ENTRY_OVERHEAD_BYTES;

    const entry: Entry = {
      bytes: value.bytes,
      contentType: value.contentType,
      compressed: value.compressed,
      rawBytes: value.rawBytes,
      expiresAt,
    };
    this.settleReads();
    let slot = this.slotOf.get(key);
    let created = true;
    // Why the old entry under this key left, if there was one.
    let reason: 'replace' | 'expire' | undefined;
    if (slot === undefined) {
      slot = this.allocateSlot();
      this.slotOf.set(key, slot);
      this.keyAt[slot] = key;
    } else {
      // Reuse the slot: the old entry leaves (and is reported) but the key keeps its place.
      reason = now >= (this.meta[slot * META + EXPIRES] as number) ? 'expire' : 'replace';
      created = reason === 'expire';
      const oldBytes = this.release(slot, reason);
      this.onRemove?.(key, reason, oldBytes);
    }
    this.entryAt[slot] = entry;
    const m = slot * META;
    const meta = this.meta;
    meta[m + SIZE] = entryBytes;
    this.memoryBytes += entryBytes;
    if (value.compressed) {
      const saved = value.rawBytes - value.bytes.length;
      meta[m + COMPRESSED] = 1;
      meta[m + SAVED] = saved;
      this.compressedEntries++;
      this.compressionSavedBytes += saved;
    } else {
      meta[m + COMPRESSED] = 0;
    }
    if (expiresAt === null) {
      meta[m + EXPIRES] = Infinity;
    } else {
      meta[m + EXPIRES] = expiresAt;
      this.expiry.add(slot, expiresAt);
    }
    // A replacement is, to the policy, the old entry leaving and a new one arriving; for LRU
    // that is a move to the most recent end.
    const lru = this.lru;
    if (lru !== null) {
      if (reason === undefined) lru.onInsert(slot);
      else lru.onAccess(slot);
    } else {
      if (reason !== undefined) this.policy.onRemove(slot);
      this.policy.onInsert(slot, key, entryBytes);
    }
    if (this.memoryBytes > this.maxMemoryBytes) this.evictToFit(now);
    return created ? entryBytes : -entryBytes;
  }

  /** Removes a live entry (reason 'delete') and says so; an expired one is reclaimed, false. */
  delete(key: string, now: number): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    if (now >= (this.meta[slot * META + EXPIRES] as number)) {
      this.removeSlot(slot, 'expire');
      return false;
    }
    this.removeSlot(slot, 'delete');
    return true;
  }

  /**
   * Active expiry: examines at most `budget` entries, earliest expiry first, and removes the
   * expired ones; returns how many it removed. Only entries with a TTL are examined, in
   * expiry order, so a step stops at the first live one and a caller can loop while a step
   * removes a good share of its budget (as Redis's expire cycle does). `Infinity` reclaims all.
   */
  expireStep(now: number, budget: number): number {
    if (typeof budget !== 'number' || !(budget >= 0)) {
      throw new TypeError(`budget must be a number >= 0 (got ${String(budget)}).`);
    }
    let removed = 0;
    for (let examined = 0; examined < budget; examined++) {
      if (!(now >= this.expiry.peekTime())) break;
      this.removeSlot(this.expiry.peekSlot(), 'expire');
      removed++;
    }
    return removed;
  }

  /**
   * Applies new limits or a new policy at once. Lower key and value limits apply to later
   * writes. A lower memory bound first reclaims every expired entry, then evicts in policy
   * order down to it. A new policy keeps every entry, seeded in the old policy's recency order.
   * A malformed value throws a TypeError naming it, and nothing changes.
   */
  configure(
    patch: {
      maxMemoryBytes?: number;
      maxKeyBytes?: number;
      maxValueBytes?: number;
      policy?: PolicyName;
    },
    now: number,
  ): void {
    const maxMemoryBytes =
      patch.maxMemoryBytes === undefined
        ? this.maxMemoryBytes
        : checkBytes('maxMemoryBytes', patch.maxMemoryBytes);
    const maxKeyBytes =
      patch.maxKeyBytes === undefined
        ? this.maxKeyBytes
        : checkBytes('maxKeyBytes', patch.maxKeyBytes);
    const maxValueBytes =
      patch.maxValueBytes === undefined
        ? this.maxValueBytes
        : checkBytes('maxValueBytes', patch.maxValueBytes);
    const policy = patch.policy === undefined ? this.policy.name : checkPolicy(patch.policy);
    this.settleReads();

    this.maxKeyBytes = maxKeyBytes;
    this.maxValueBytes = maxValueBytes;
    if (policy !== this.policy.name) this.switchPolicy(policy);
    if (maxMemoryBytes !== this.maxMemoryBytes) {
      this.maxMemoryBytes = maxMemoryBytes;
      this.policy.setMaxBytes(maxMemoryBytes);
      if (this.memoryBytes > maxMemoryBytes) {
        this.expireStep(now, Infinity);
        this.evictToFit(now);
      }
    }
  }

  stats(): StoreStats {
    return {
      entries: this.slotOf.size,
      memoryBytes: this.memoryBytes,
      maxMemoryBytes: this.maxMemoryBytes,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      evictionsByPolicy: { ...this.evictionsByPolicy },
      expirations: this.expirations,
      compressedEntries: this.compressedEntries,
      compressionSavedBytes: this.compressionSavedBytes,
      policy: this.policy.name,
    };
  }

  /** Every key held, live or expired but not yet reclaimed (tests and debugging). */
  keys(): IterableIterator<string> {
    return this.slotOf.keys();
  }

  /** The policy object, for tests that look inside it. */
  get evictionPolicy(): EvictionPolicy {
    this.settleReads();
    return this.policy;
  }

  private recordHit(slot: number): void {
    const n = this.pendingHitCount;
    this.pendingHits[n] = slot;
    this.pendingHitCount = n + 1;
    if (n + 1 === PENDING_READS) this.applyReads();
  }

  private settleReads(): void {
    if (this.pendingHitCount !== 0 || this.pendingMisses.length !== 0) this.applyReads();
  }

  private applyReads(): void {
    const policy = this.policy;
    for (let i = 0; i < this.pendingHitCount; i++) policy.onAccess(this.pendingHits[i] as number);
    this.pendingHitCount = 0;
    for (const key of this.pendingMisses) policy.onMiss(key);
    this.pendingMisses.length = 0;
  }

  private evictToFit(now: number): void {
    while (this.memoryBytes > this.maxMemoryBytes) {
      const slot = this.lru !== null ? this.lru.victim() : this.policy.victim();
      if (slot === NONE) break; // unreachable: a non-empty store always has a victim
      this.removeSlot(
        slot,
        now >= (this.meta[slot * META + EXPIRES] as number) ? 'expire' : 'evict',
      );
    }
  }

  /** Removes the entry in `slot` entirely and reports it. */
  private removeSlot(slot: number, reason: RemovalReason): void {
    this.settleReads();
    const key = this.keyAt[slot] as string;
    const bytes = this.release(slot, reason);
    const lru = this.lru;
    if (lru !== null) lru.onRemove(slot);
    else this.policy.onRemove(slot);
    this.slotOf.delete(key);
    this.keyAt[slot] = undefined;
    this.entryAt[slot] = undefined;
    this.freeSlots[this.freeCount++] = slot;
    this.onRemove?.(key, reason, bytes);
  }

  /** Takes the entry in `slot` out of accounting and the expiry heap (not the policy). */
  private release(slot: number, reason: RemovalReason): number {
    const m = slot * META;
    const meta = this.meta;
    const bytes = meta[m + SIZE] as number;
    this.memoryBytes -= bytes;
    if (meta[m + COMPRESSED] === 1) {
      this.compressedEntries--;
      this.compressionSavedBytes -= meta[m + SAVED] as number;
    }
    if (meta[m + EXPIRES] !== Infinity) this.expiry.remove(slot);
    if (reason === 'evict') {
      this.evictions++;
      this.evictionsByPolicy[this.policy.name]++;
    } else if (reason === 'expire') this.expirations++;
    return bytes;
  }

  private allocateSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount] as number;
    if (this.usedSlots === this.capacity) this.growSlots(this.capacity * 2);
    return this.usedSlots++;
  }

  private growSlots(capacity: number): void {
    for (let i = this.capacity; i < capacity; i++) {
      this.keyAt.push(undefined);
      this.entryAt.push(undefined);
    }
    this.meta = grow(this.meta, capacity * META);
    this.freeSlots = grow(this.freeSlots, capacity);
    this.policy.resize(capacity);
    this.expiry.resize(capacity);
    this.capacity = capacity;
  }

  private switchPolicy(name: PolicyName): void {
    const next = createPolicy(name, this.capacity, this.maxMemoryBytes);
    for (const slot of this.policy.order()) {
      next.onInsert(slot, this.keyAt[slot] as string, this.meta[slot * META + SIZE] as number);
    }
    this.policy = next;
    this.lru = next instanceof LruPolicy ? next : null;
  }
}

function checkBytes(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a whole number of bytes >= 1 (got ${String(value)}).`);
  }
  return value;
}

function checkPolicy(value: unknown): PolicyName {
  if (!POLICIES.includes(value as PolicyName)) {
    throw new TypeError(
      `policy must be one of ${POLICIES.join(', ')} (got ${JSON.stringify(value)}).`,
    );
  }
  return value as PolicyName;
}
