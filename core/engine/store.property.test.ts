/**
 * Property tests: random operation sequences against a reference model.
 *
 * For `lru` the model is a plain Map-based, byte-accounted LRU (a Map's insertion order is
 * its recency order) and the store must agree with it after every operation: the same
 * visible contents, the same results, the same removals in the same order (so the same LRU
 * victims), the same counters, and memory within the bound. For `wtinylfu`, whose victims
 * depend on the sketch, the invariants are checked instead.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, utf8ByteLength } from './index.ts';
import type { Entry, PolicyName, RemovalReason, StoredValue } from './index.ts';
import { recordingStore, type Removal } from './testing.ts';

const RUNS = 10_000;
const MAX_KEY_BYTES = 8;
const MAX_VALUE_BYTES = 32;
/** From below one entry's size (refusals) to about five entries. */
const MEMORY = { min: ENTRY_OVERHEAD_BYTES + 20, max: 5 * (ENTRY_OVERHEAD_BYTES + 20) };
/** A small alphabet, so keys collide; multi-byte keys; one too long; one empty. */
const KEYS = ['a', 'b', 'c', 'd', 'e', 'ü', '日本', 'ééééé', ''] as const;

type Op =
  | { op: 'set'; key: string; size: number; compressed: boolean; ttl: number | null }
  | { op: 'get'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'advance'; ms: number }
  | { op: 'expireStep'; budget: number }
  | { op: 'configure'; maxMemoryBytes: number }
  | { op: 'switchPolicyAndBack' };

const key = fc.constantFrom(...KEYS);
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      key,
      size: fc.integer({ min: 0, max: MAX_VALUE_BYTES + 2 }),
      compressed: fc.boolean(),
      // Mostly no TTL; some short ones; a few not after now (refused).
      ttl: fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 40 }) },
        { weight: 1, arbitrary: fc.integer({ min: -5, max: 0 }) },
      ),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 25 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('expireStep' as const),
      budget: fc.integer({ min: 0, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('configure' as const),
      maxMemoryBytes: fc.integer(MEMORY),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('switchPolicyAndBack' as const) }) },
);
const scenario = fc.record({
  maxMemoryBytes: fc.integer(MEMORY),
  ops: fc.array(opArbitrary, { maxLength: 30, size: 'max' }),
});

function storedValue(size: number, compressed: boolean, fill: number): StoredValue {
  // A compressed value claims to have been 3x larger as sent (a raw size may exceed the limit).
  return {
    bytes: new Uint8Array(size).fill(fill & 0xff),
    contentType: `text/x-write-${fill}`, // tells every write apart, even empty values
    compressed,
    rawBytes: compressed ? size * 3 : size,
  };
}

interface ModelEntry {
  readonly value: StoredValue;
  readonly expiresAt: number | null;
  readonly size: number;
}

type SetResult = { created: boolean; entryBytes: number } | string;

/** The reference: a byte-accounted LRU over a Map, as simple as it can be. */
class LruModel {
  readonly entries = new Map<string, ModelEntry>(); // oldest first
  memoryBytes = 0;
  hits = 0;
  misses = 0;
  evictions = 0;
  expirations = 0;
  compressedEntries = 0;
  compressionSavedBytes = 0;
  removed: Removal[] = [];

  constructor(public maxMemoryBytes: number) {}

  static live(entry: ModelEntry, now: number): boolean {
    return entry.expiresAt === null || now < entry.expiresAt;
  }

  remove(key: string, reason: RemovalReason): void {
    const entry = this.entries.get(key);
    if (entry === undefined) throw new Error(`model: no ${key}`);
    this.entries.delete(key);
    this.memoryBytes -= entry.size;
    this.account(entry.value, -1);
    if (reason === 'evict') this.evictions++;
    if (reason === 'expire') this.expirations++;
    this.removed.push([key, reason, entry.size]);
  }

  set(key: string, value: StoredValue, expiresAt: number | null, now: number): SetResult {
    const keyBytes = utf8ByteLength(key);
    if (keyBytes === 0) return 'invalid_key';
    if (keyBytes > MAX_KEY_BYTES) return 'key_too_long';
    if (value.rawBytes > MAX_VALUE_BYTES) return 'value_too_large';
    if (expiresAt !== null && expiresAt <= now) return 'invalid_ttl';
    const size = keyBytes + value.bytes.length + ENTRY_OVERHEAD_BYTES;
    if (size > this.maxMemoryBytes) return 'out_of_memory';
    const old = this.entries.get(key);
    const created = old === undefined || !LruModel.live(old, now);
    if (old !== undefined) this.remove(key, created ? 'expire' : 'replace');
    this.entries.set(key, { value, expiresAt, size });
    this.memoryBytes += size;
    this.account(value, 1);
    this.evictToFit(now);
    return { created, entryBytes: size };
  }

  account(value: StoredValue, sign: 1 | -1): void {
    if (!value.compressed) return;
    this.compressedEntries += sign;
    this.compressionSavedBytes += sign * (value.rawBytes - value.bytes.length);
  }

  evictToFit(now: number): void {
    for (const [key, entry] of this.entries) {
      if (this.memoryBytes <= this.maxMemoryBytes) break;
      this.remove(key, LruModel.live(entry, now) ? 'evict' : 'expire');
    }
  }

  get(key: string, now: number): ModelEntry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && LruModel.live(entry, now)) {
      this.hits++;
      this.entries.delete(key);
      this.entries.set(key, entry);
      return entry;
    }
    if (entry !== undefined) this.remove(key, 'expire');
    this.misses++;
    return undefined;
  }

  delete(key: string, now: number): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    const live = LruModel.live(entry, now);
    this.remove(key, live ? 'delete' : 'expire');
    return live;
  }

  expiredKeys(now: number): string[] {
    return [...this.entries].filter(([, e]) => !LruModel.live(e, now)).map(([k]) => k);
  }
}

/** Plain data as text, a value's bytes by length and first byte (each write's fill differs). */
function canon(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) =>
    v instanceof Uint8Array ? `bytes(${v.length},${v[0]})` : v === undefined ? 'undefined' : v,
  );
}

/** A cheap comparison on every operation; vitest's diff only when they differ. */
function agree(actual: unknown, expected: unknown): void {
  if (canon(actual) !== canon(expected)) expect(actual).toEqual(expected);
}

function holds(condition: boolean, what: string): void {
  if (!condition) expect.fail(what);
}

const sortedKeys = (keys: Iterable<string>): string[] => [...keys].sort();

/** Sorts removals where only the set is specified (expiry batches), for comparison. */
const sorted = (removals: Removal[]): Removal[] =>
  [...removals].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

const storeUnderTest = (policy: PolicyName, maxMemoryBytes: number) =>
  recordingStore({
    maxMemoryBytes,
    maxKeyBytes: MAX_KEY_BYTES,
    maxValueBytes: MAX_VALUE_BYTES,
    policy,
  });

function view(entry: Entry | ModelEntry | undefined): unknown {
  if (entry === undefined) return undefined;
  if ('value' in entry) return { ...entry.value, expiresAt: entry.expiresAt };
  return { ...entry };
}

describe('Store against a reference LRU', () => {
  it(`agrees after every operation (${RUNS} random sequences)`, () => {
    fc.assert(
      fc.property(scenario, ({ maxMemoryBytes, ops }) => {
        const { store, removed } = storeUnderTest('lru', maxMemoryBytes);
        const model = new LruModel(maxMemoryBytes);
        let now = 1000;
        let fill = 0;
        for (const op of ops) {
          removed.length = 0;
          model.removed = [];
          switch (op.op) {
            case 'set': {
              const v = storedValue(op.size, op.compressed, ++fill);
              const expiresAt = op.ttl === null ? null : now + op.ttl;
              const result = store.set(op.key, v, expiresAt, now);
              const expected = model.set(op.key, v, expiresAt, now);
              agree(result.ok ? result.value : result.error.code, expected);
              agree(removed, model.removed);
              break;
            }
            case 'get':
              agree(view(store.get(op.key, now)), view(model.get(op.key, now)));
              agree(removed, model.removed);
              break;
            case 'delete':
              agree(store.delete(op.key, now), model.delete(op.key, now));
              agree(removed, model.removed);
              break;
            case 'advance':
              now += op.ms;
              break;
            case 'expireStep': {
              const expired = model.expiredKeys(now);
              const count = store.expireStep(now, op.budget);
              agree(count, Math.min(op.budget, expired.length));
              // Earliest expiry first: nothing left behind expires before what was taken.
              const taken = new Set(removed.map(([k]) => k));
              const expiryOf = (k: string): number => model.entries.get(k)?.expiresAt ?? NaN;
              const latestTaken = Math.max(...[...taken].map(expiryOf));
              for (const k of expired)
                holds(taken.has(k) || expiryOf(k) >= latestTaken, `${k} expires before one taken`);
              for (const k of taken) model.remove(k, 'expire');
              agree(removed, model.removed);
              break;
            }
            case 'configure': {
              const expired = model.expiredKeys(now);
              store.configure({ maxMemoryBytes: op.maxMemoryBytes }, now);
              const shrinking = op.maxMemoryBytes < model.memoryBytes;
              model.maxMemoryBytes = op.maxMemoryBytes;
              // Shrinking reclaims every expired entry (in expiry order), then evicts LRU.
              if (shrinking) for (const k of expired) model.remove(k, 'expire');
              const reclaimed = model.removed.length;
              model.evictToFit(now);
              agree(sorted(removed.slice(0, reclaimed)), sorted(model.removed.slice(0, reclaimed)));
              agree(removed.slice(reclaimed), model.removed.slice(reclaimed));
              break;
            }
            case 'switchPolicyAndBack':
              store.configure({ policy: 'wtinylfu' }, now);
              store.configure({ policy: 'lru' }, now);
              agree(removed, []);
              break;
          }
          const stats = store.stats();
          holds(stats.memoryBytes <= stats.maxMemoryBytes, 'memory above the bound');
          const { entries, memoryBytes, hits, misses, evictions, expirations } = stats;
          const { compressedEntries, compressionSavedBytes } = stats;
          agree(
            {
              entries,
              memoryBytes,
              hits,
              misses,
              evictions,
              expirations,
              compressedEntries,
              compressionSavedBytes,
            },
            {
              entries: model.entries.size,
              memoryBytes: model.memoryBytes,
              hits: model.hits,
              misses: model.misses,
              evictions: model.evictions,
              expirations: model.expirations,
              compressedEntries: model.compressedEntries,
              compressionSavedBytes: model.compressionSavedBytes,
            },
          );
          agree(sortedKeys(store.keys()), sortedKeys(model.entries.keys()));
          for (const k of KEYS) {
            const e = model.entries.get(k);
            agree(
              view(store.peek(k, now)),
              view(e !== undefined && LruModel.live(e, now) ? e : undefined),
            );
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('Store with W-TinyLFU', () => {
  it(`keeps its invariants (${RUNS} random sequences)`, () => {
    fc.assert(
      fc.property(scenario, ({ maxMemoryBytes, ops }) => {
        const { store, removed } = storeUnderTest('wtinylfu', maxMemoryBytes);
        /** The latest accepted write per key, dropped when the store reports it removed. */
        const written = new Map<string, { entry: Entry; bytes: number }>();
        let now = 1000;
        let fill = 0;
        for (const op of ops) {
          removed.length = 0;
          switch (op.op) {
            case 'set': {
              const v = storedValue(op.size, op.compressed, ++fill);
              const expiresAt = op.ttl === null ? null : now + op.ttl;
              const result = store.set(op.key, v, expiresAt, now);
              if (!result.ok) {
                agree(removed, []);
                break;
              }
              // Reported during the write: the old entry first ('replace', or 'expire' if it
              // had expired), then evictions, which may include the new entry itself when
              // admission prefers what is cached.
              let admitted = true;
              for (const [k, reason] of removed) {
                if (k === op.key && reason === 'evict') admitted = false;
                else if (k !== op.key) written.delete(k);
              }
              if (admitted) {
                written.set(op.key, { entry: { ...v, expiresAt }, bytes: result.value.entryBytes });
              } else {
                written.delete(op.key);
              }
              break;
            }
            case 'get': {
              const entry = store.get(op.key, now);
              const expected = written.get(op.key)?.entry;
              const live = expected && (expected.expiresAt === null || now < expected.expiresAt);
              agree(entry, live ? expected : undefined);
              break;
            }
            case 'delete':
              store.delete(op.key, now);
              break;
            case 'advance':
              now += op.ms;
              break;
            case 'expireStep':
              holds(store.expireStep(now, op.budget) <= op.budget, 'over budget');
              holds(
                removed.every(([, reason]) => reason === 'expire'),
                'not an expiry',
              );
              break;
            case 'configure':
              store.configure({ maxMemoryBytes: op.maxMemoryBytes }, now);
              break;
            case 'switchPolicyAndBack':
              store.configure({ policy: 'lru' }, now);
              store.configure({ policy: 'wtinylfu' }, now);
              agree(removed, []);
              break;
          }
          if (op.op !== 'set') for (const [k] of removed) written.delete(k);

          const stats = store.stats();
          holds(stats.memoryBytes <= stats.maxMemoryBytes, 'memory above the bound');
          // Contents are exactly the latest accepted writes not yet removed.
          agree(sortedKeys(store.keys()), sortedKeys(written.keys()));
          let sum = 0;
          for (const { bytes } of written.values()) sum += bytes;
          agree([stats.memoryBytes, stats.entries], [sum, written.size]);
          for (const k of KEYS) {
            const entry = store.peek(k, now);
            if (entry === undefined) continue;
            agree(entry, written.get(k)?.entry);
            holds(entry.expiresAt === null || now < entry.expiresAt, `${k} visible after expiry`);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});
