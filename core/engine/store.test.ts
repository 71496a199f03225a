import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, Store } from './index.ts';
import { compressedValue, recordingStore, value } from './testing.ts';

const O = ENTRY_OVERHEAD_BYTES;
/** Accounted size of a one-character ASCII key with a value of `n` bytes. */
const entry = (n: number): number => 1 + n + O;

describe('options', () => {
  const good = { maxMemoryBytes: 10_000, maxKeyBytes: 64, maxValueBytes: 1000, policy: 'lru' };

  it.each([
    ['maxMemoryBytes', 0],
    ['maxMemoryBytes', -1],
    ['maxMemoryBytes', 1.5],
    ['maxMemoryBytes', Infinity],
    ['maxMemoryBytes', '64MiB'],
    ['maxMemoryBytes', undefined],
    ['maxKeyBytes', 0],
    ['maxValueBytes', NaN],
    ['policy', 'lfu'],
    ['onRemove', 'yes'],
  ])('refuses %s = %s with a TypeError naming the option', (name, bad) => {
    const options = { ...good, [name]: bad } as unknown as ConstructorParameters<typeof Store>[0];
    expect(() => new Store(options)).toThrow(TypeError);
    expect(() => new Store(options)).toThrow(name);
  });

  it('accepts both policies', () => {
    expect(new Store({ ...good, policy: 'lru' }).stats().policy).toBe('lru');
    expect(new Store({ ...good, policy: 'wtinylfu' }).stats().policy).toBe('wtinylfu');
  });
});

describe('reads and writes', () => {
  it('a written value reads back as the same Entry object every time', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    const v = value(5, 7);
    store.set('k', v, 1000, 0);
    const first = store.get('k', 1);
    expect(first).toEqual({ ...v, expiresAt: 1000 });
    expect(first?.bytes).toBe(v.bytes);
    expect(store.get('k', 2)).toBe(first);
    expect(store.peek('k', 3)).toBe(first);
  });

  it('get counts a hit or a miss; peek counts neither', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('k', value(1), null, 0);
    store.get('k', 0);
    store.get('k', 0);
    store.get('absent', 0);
    store.peek('k', 0);
    store.peek('absent', 0);
    expect(store.stats()).toMatchObject({ hits: 2, misses: 1 });
  });

  it('set reports created for a new key and not for a replacement, with the entry size', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    expect(store.set('k', value(10), null, 0)).toEqual({
      ok: true,
      value: { created: true, entryBytes: entry(10) },
    });
    expect(store.set('k', value(20), null, 0)).toEqual({
      ok: true,
      value: { created: false, entryBytes: entry(20) },
    });
  });

  it('an entry is accounted as key UTF-8 bytes + stored bytes + ENTRY_OVERHEAD_BYTES', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('é日', compressedValue(30, 100), null, 0); // 2 + 3 key bytes, 30 stored bytes
    expect(store.stats().memoryBytes).toBe(5 + 30 + O);
    store.set('k', value(0), null, 0);
    expect(store.stats().memoryBytes).toBe(5 + 30 + O + entry(0));
    store.delete('é日', 0);
    store.delete('k', 0);
    expect(store.stats()).toMatchObject({ memoryBytes: 0, entries: 0 });
  });

  it('replacing a key reports the old entry with reason replace and keeps one entry', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('k', value(1), null, 0);
    store.set('k', value(2, 9), null, 0);
    expect(removed).toEqual([['k', 'replace', entry(1)]]);
    expect(store.size).toBe(1);
    expect(store.get('k', 0)?.bytes).toEqual(new Uint8Array(2).fill(9));
    expect(store.stats().memoryBytes).toBe(entry(2));
  });

  it('delete removes a live entry with reason delete and says so; an absent key is false', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('k', value(1), null, 0);
    expect(store.delete('k', 0)).toBe(true);
    expect(store.delete('k', 0)).toBe(false);
    expect(store.get('k', 0)).toBeUndefined();
    expect(removed).toEqual([['k', 'delete', entry(1)]]);
  });

  it('keys() lists every key held and size counts them', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('a', value(1), null, 0);
    store.set('b', value(1), 10, 0);
    expect([...store.keys()].sort()).toEqual(['a', 'b']);
    expect(store.size).toBe(2);
    // An expired key not yet reclaimed is still listed (and invisible to reads).
    expect(store.peek('b', 10)).toBeUndefined();
    expect([...store.keys()].sort()).toEqual(['a', 'b']);
  });

  it('slots are reused and grown: thousands of writes and deletes stay consistent', () => {
    const { store } = recordingStore({ maxMemoryBytes: 100_000_000 });
    for (let i = 0; i < 5000; i++) store.set(`k${i}`, value(i % 7, i % 256), null, 0);
    for (let i = 0; i < 5000; i += 2) store.delete(`k${i}`, 0);
    for (let i = 0; i < 5000; i += 4) store.set(`k${i}`, value(3, 1), null, 0);
    expect(store.size).toBe(2500 + 1250);
    expect(store.get('k1', 0)?.bytes).toEqual(new Uint8Array(1).fill(1));
    expect(store.get('k4', 0)?.bytes).toEqual(new Uint8Array(3).fill(1));
    expect(store.get('k2', 0)).toBeUndefined();
  });
});

describe('refused writes', () => {
  const limits = { maxMemoryBytes: 3 * entry(10), maxKeyBytes: 4, maxValueBytes: 10 };

  it('check() names the refusal set() would give, and writes nothing', () => {
    const { store } = recordingStore(limits);
    const cases = [
      ['', value(1), null],
      ['ééé', value(1), null],
      ['k', compressedValue(5, 11), null],
      ['k', value(1), -1],
      ['k', value(3 * 10 + 40), null],
    ] as const;
    for (const [key, v, expiresAt] of cases) {
      const refusal = store.check(key, v, expiresAt, 0);
      expect(refusal).toBeDefined();
      expect(store.stats().entries).toBe(0);
      expect(store.set(key, v, expiresAt, 0)).toEqual({ ok: false, error: refusal });
    }
    expect(store.check('k', value(1), null, 0)).toBeUndefined();
    expect(store.stats().entries).toBe(0);
  });

  it('an empty key is invalid_key', () => {
    const { store } = recordingStore(limits);
    const result = store.set('', value(1), null, 0);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_key' } });
  });

  it('a key over maxKeyBytes in UTF-8 bytes is key_too_long, naming both sizes', () => {
    const { store } = recordingStore(limits);
    expect(store.set('ééé', value(1), null, 0)).toEqual({
      ok: false,
      error: {
        code: 'key_too_long',
        message: 'The key is 6 bytes; the limit is 4 bytes (max-key-bytes).',
      },
    });
    expect(store.set('éé', value(1), null, 0).ok).toBe(true); // exactly the limit
  });

  it('a value over maxValueBytes (as sent, before compression) is value_too_large', () => {
    const { store } = recordingStore(limits);
    expect(store.set('k', compressedValue(5, 11), null, 0)).toEqual({
      ok: false,
      error: {
        code: 'value_too_large',
        message: 'Value is 11 bytes; the limit is 10 bytes (max-value-bytes).',
      },
    });
    expect(store.set('k', value(10), null, 0).ok).toBe(true); // exactly the limit
  });

  it('an expiry that is not after now is invalid_ttl', () => {
    const { store } = recordingStore(limits);
    for (const expiresAt of [100, 99, NaN]) {
      const result = store.set('k', value(1), expiresAt, 100);
      expect(result).toMatchObject({ ok: false, error: { code: 'invalid_ttl' } });
    }
    expect(store.set('k', value(1), 101, 100).ok).toBe(true);
  });

  it('an entry larger than the whole memory bound is out_of_memory', () => {
    const { store } = recordingStore({ ...limits, maxMemoryBytes: entry(10) - 1 });
    const result = store.set('k', value(10), null, 0);
    expect(result).toMatchObject({ ok: false, error: { code: 'out_of_memory' } });
    if (!result.ok) expect(result.error.message).toContain(`${entry(10) - 1} bytes (max-memory)`);
    expect(store.set('k', value(9), null, 0).ok).toBe(true); // exactly the bound fits
  });

  it('a refused write leaves the old value in place and evicts nothing', () => {
    const { store, removed } = recordingStore(limits); // room for three entries
    store.set('a', value(10, 1), null, 0);
    store.set('b', value(10, 2), 50, 0);
    store.set('c', value(10, 3), null, 0);
    const before = store.stats();
    const refused = [
      store.set('', value(1), null, 0),
      store.set('bbbbb', value(1), null, 0),
      store.set('b', value(11), null, 0),
      store.set('b', value(1), 5, 5),
    ];
    expect(refused.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'invalid_key',
      'key_too_long',
      'value_too_large',
      'invalid_ttl',
    ]);
    expect(store.stats()).toEqual(before);
    expect(store.peek('b', 0)).toMatchObject({ bytes: new Uint8Array(10).fill(2), expiresAt: 50 });
    expect(removed).toEqual([]);

    // Too big even for an empty store: nothing is evicted trying.
    const full = recordingStore({ ...limits, maxMemoryBytes: entry(10) });
    full.store.set('b', value(10, 2), null, 0);
    expect(full.store.set('bb', value(10), null, 0)).toMatchObject({
      error: { code: 'out_of_memory' },
    });
    expect(full.store.peek('b', 0)?.bytes[0]).toBe(2);
    expect(full.removed).toEqual([]);
  });
});

describe('eviction (LRU)', () => {
  it('counts evictions by the policy that chose them, across a switch', () => {
    const { store } = recordingStore({ maxMemoryBytes: 3 * entry(10) });
    for (const k of ['a', 'b', 'c', 'd']) store.set(k, value(10), null, 0);
    store.configure({ policy: 'wtinylfu' }, 0);
    for (const k of ['e', 'f']) store.set(k, value(10), null, 0);
    const { evictions, evictionsByPolicy } = store.stats();
    expect(evictionsByPolicy.lru).toBe(1);
    expect(evictionsByPolicy.wtinylfu).toBe(2);
    expect(evictions).toBe(3);
  });

  it('evicts the least recently used entry first, reason evict', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 3 * entry(10) });
    store.set('a', value(10), null, 0);
    store.set('b', value(10), null, 0);
    store.set('c', value(10), null, 0);
    store.set('d', value(10), null, 0);
    expect(removed).toEqual([['a', 'evict', entry(10)]]);
    expect(store.stats().evictions).toBe(1);
  });

  it('a read refreshes recency; a peek does not', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 3 * entry(10) });
    store.set('a', value(10), null, 0);
    store.set('b', value(10), null, 0);
    store.set('c', value(10), null, 0);
    store.get('a', 0);
    store.peek('b', 0);
    store.set('d', value(10), null, 0);
    expect(removed.map(([key]) => key)).toEqual(['b']);
  });

  it('evicts as many entries as a large write needs, but never the entry being written', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 3 * entry(10) });
    store.set('a', value(10), null, 0);
    store.set('b', value(10), null, 0);
    store.set('c', value(10), null, 0);
    store.set('d', value(3 * entry(10) - 1 - O), null, 0); // fills the store alone
    expect(removed.map(([key, reason]) => `${key}:${reason}`)).toEqual([
      'a:evict',
      'b:evict',
      'c:evict',
    ]);
    expect([...store.keys()]).toEqual(['d']);
    expect(store.stats().memoryBytes).toBe(3 * entry(10));
  });

  it('maxMemoryBytes is never exceeded after a write', () => {
    const max = 5 * entry(20);
    const { store } = recordingStore({ maxMemoryBytes: max });
    for (let i = 0; i < 500; i++) {
      store.set(`k${i % 37}`, value((i * 7919) % 60), null, 0);
      expect(store.stats().memoryBytes).toBeLessThanOrEqual(max);
    }
  });

  it('an expired entry chosen as the victim is reported as expire, not evict', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 2 * entry(10) });
    store.set('a', value(10), 5, 0);
    store.set('b', value(10), null, 0);
    store.set('c', value(10), null, 10);
    expect(removed).toEqual([['a', 'expire', entry(10)]]);
    expect(store.stats()).toMatchObject({ evictions: 0, expirations: 1 });
  });
});

describe('expiry', () => {
  it('an expired key is invisible at once, from its expiry time on', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('k', value(1), 100, 0);
    expect(store.peek('k', 99)).toBeDefined();
    expect(store.peek('k', 100)).toBeUndefined();
    expect(store.get('k', 100)).toBeUndefined();
  });

  it('a read of an expired key reclaims it: reason expire, a miss and an expiration', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('k', value(1), 100, 0);
    expect(store.get('k', 150)).toBeUndefined();
    expect(removed).toEqual([['k', 'expire', entry(1)]]);
    expect(store.stats()).toMatchObject({
      misses: 1,
      hits: 0,
      expirations: 1,
      entries: 0,
      memoryBytes: 0,
    });
  });

  it('deleting an expired key returns false and reclaims it as expired', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('k', value(1), 100, 0);
    expect(store.delete('k', 100)).toBe(false);
    expect(removed).toEqual([['k', 'expire', entry(1)]]);
  });

  it('writing over an expired key counts as a creation and reports the old entry as expired', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('k', value(1), 100, 0);
    const result = store.set('k', value(2), null, 200);
    expect(result.ok && result.value.created).toBe(true);
    expect(removed).toEqual([['k', 'expire', entry(1)]]);
    expect(store.stats().expirations).toBe(1);
  });

  it('active expiry reclaims the memory of keys never read', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 100_000 });
    for (let i = 0; i < 10; i++) store.set(`t${i}`, value(10), 100 + i, 0);
    store.set('forever', value(10), null, 0);
    expect(store.expireStep(104, 100)).toBe(5);
    expect(removed.map(([key]) => key)).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(store.expireStep(1000, 100)).toBe(5);
    expect(store.stats()).toMatchObject({ entries: 1, memoryBytes: 7 + 10 + O, expirations: 10 });
  });

  it('an expiry step examines at most its budget, and repeated steps reclaim every expired key', () => {
    const { store } = recordingStore({ maxMemoryBytes: 1_000_000 });
    for (let i = 0; i < 100; i++) store.set(`k${i}`, value(1), 10 + ((i * 37) % 50), 0);
    expect(store.expireStep(1000, 0)).toBe(0);
    let steps = 0;
    while (store.size > 0) {
      expect(store.expireStep(1000, 7)).toBeLessThanOrEqual(7);
      steps++;
    }
    expect(steps).toBe(Math.ceil(100 / 7));
    expect(store.stats().expirations).toBe(100);
  });

  it('an expiry step leaves entries that are not due, and entries without a TTL', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('later', value(1), 500, 0);
    store.set('never', value(1), null, 0);
    expect(store.expireStep(499, Infinity)).toBe(0);
    expect(store.size).toBe(2);
  });

  it('a replaced or deleted entry with a TTL leaves the expiry index', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('a', value(1), 100, 0);
    store.set('a', value(1), null, 0); // the new value has no TTL
    store.set('b', value(1), 100, 0);
    store.delete('b', 0);
    store.set('c', value(1), 100, 0);
    store.set('c', value(1), 300, 0); // a later TTL
    expect(store.expireStep(200, 10)).toBe(0);
    expect([...store.keys()].sort()).toEqual(['a', 'c']);
    expect(store.expireStep(300, 10)).toBe(1);
  });

  it('an expiry step refuses a negative or NaN budget', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    expect(() => store.expireStep(0, -1)).toThrow(TypeError);
    expect(() => store.expireStep(0, NaN)).toThrow('budget');
  });
});

describe('configure', () => {
  it('lowering maxMemoryBytes evicts down to it, least recently used first', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 4 * entry(10) });
    for (const key of ['a', 'b', 'c', 'd']) store.set(key, value(10), null, 0);
    store.get('a', 0);
    store.configure({ maxMemoryBytes: 2 * entry(10) }, 0);
    expect(removed.map(([key, reason]) => `${key}:${reason}`)).toEqual(['b:evict', 'c:evict']);
    expect(store.stats()).toMatchObject({
      memoryBytes: 2 * entry(10),
      maxMemoryBytes: 2 * entry(10),
    });
  });

  it('lowering maxMemoryBytes reclaims expired entries before evicting live ones', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 4 * entry(10) });
    store.set('a', value(10), null, 0);
    store.set('b', value(10), null, 0);
    store.set('c', value(10), 50, 0);
    store.set('d', value(10), 60, 0);
    store.configure({ maxMemoryBytes: 3 * entry(10) }, 100);
    expect(removed.map(([key, reason]) => `${key}:${reason}`)).toEqual(['c:expire', 'd:expire']);
    expect(store.peek('a', 100)).toBeDefined();
  });

  it('raising maxMemoryBytes evicts nothing and makes room', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: entry(10) });
    store.set('a', value(10), null, 0);
    store.configure({ maxMemoryBytes: 2 * entry(10) }, 0);
    store.set('b', value(10), null, 0);
    expect(removed).toEqual([]);
    expect(store.size).toBe(2);
  });

  it('lower key and value limits apply to later writes and keep existing entries', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('long-key', value(100), null, 0);
    store.configure({ maxKeyBytes: 4, maxValueBytes: 50 }, 0);
    expect(store.peek('long-key', 0)).toBeDefined();
    expect(store.set('long-key', value(1), null, 0)).toMatchObject({
      error: { code: 'key_too_long' },
    });
    expect(store.set('k', value(51), null, 0)).toMatchObject({
      error: { code: 'value_too_large' },
    });
  });

  it('a malformed value throws a TypeError naming it, and nothing changes', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    expect(() => store.configure({ maxKeyBytes: 8, maxMemoryBytes: -5 }, 0)).toThrow(
      'maxMemoryBytes',
    );
    expect(() =>
      store.configure({ policy: 'fifo' as unknown as 'lru', maxKeyBytes: 8 }, 0),
    ).toThrow('policy');
    expect(store.set('long-key', value(1), null, 0).ok).toBe(true); // maxKeyBytes unchanged
    expect(store.stats()).toMatchObject({ maxMemoryBytes: 10_000, policy: 'lru' });
  });

  it('the same values again change nothing', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 3 * entry(10) });
    for (const key of ['a', 'b', 'c']) store.set(key, value(10), null, 0);
    store.configure({ maxMemoryBytes: 3 * entry(10), policy: 'lru' }, 0);
    store.set('d', value(10), null, 0);
    expect(removed.map(([key]) => key)).toEqual(['a']);
  });

  it('switching policy keeps every entry, and the accounting', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 100 * entry(10) });
    for (let i = 0; i < 60; i++) store.set(`k${i}`, value(i % 11), i % 3 ? null : 1000, 0);
    const before = store.stats();
    store.configure({ policy: 'wtinylfu' }, 0);
    expect(store.stats()).toEqual({ ...before, policy: 'wtinylfu' });
    store.configure({ policy: 'lru' }, 0);
    expect(store.stats()).toEqual(before);
    expect(removed).toEqual([]);
    for (let i = 0; i < 60; i++) expect(store.peek(`k${i}`, 0)?.bytes.length).toBe(i % 11);
  });

  it('switching policy carries the recency order over', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 4 * entry(10) });
    for (const key of ['a', 'b', 'c', 'd']) store.set(key, value(10), null, 0);
    store.get('a', 0);
    store.get('c', 0); // recency, oldest first: b d a c
    store.configure({ policy: 'wtinylfu' }, 0);
    store.configure({ policy: 'lru' }, 0);
    store.configure({ maxMemoryBytes: entry(10) }, 0);
    expect(removed.map(([key]) => key)).toEqual(['b', 'd', 'a']);
  });

  it('a switch applies to the next write: W-TinyLFU may refuse to admit a cold key', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 4 * entry(10) });
    for (const key of ['a', 'b', 'c', 'd']) store.set(key, value(10), null, 0);
    for (let i = 0; i < 5; i++) for (const key of ['a', 'b', 'c', 'd']) store.get(key, 0);
    store.configure({ policy: 'wtinylfu' }, 0);
    store.set('cold', value(10), null, 0);
    expect(removed).toEqual([['cold', 'evict', entry(10) + 3]]);
  });
});

describe('stats', () => {
  it('count compressed entries and the bytes compression saved, through replace and delete', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000 });
    store.set('a', compressedValue(100, 400), null, 0);
    store.set('b', compressedValue(10, 50), null, 0);
    expect(store.stats()).toMatchObject({ compressedEntries: 2, compressionSavedBytes: 340 });
    store.set('a', value(10), null, 0);
    expect(store.stats()).toMatchObject({ compressedEntries: 1, compressionSavedBytes: 40 });
    store.delete('b', 0);
    expect(store.stats()).toMatchObject({ compressedEntries: 0, compressionSavedBytes: 0 });
  });

  it('report entries, bounds and the policy', () => {
    const { store } = recordingStore({ maxMemoryBytes: 10_000, policy: 'wtinylfu' });
    store.set('a', value(1), null, 0);
    expect(store.stats()).toEqual({
      entries: 1,
      memoryBytes: entry(1),
      maxMemoryBytes: 10_000,
      hits: 0,
      misses: 0,
      evictions: 0,
      evictionsByPolicy: { lru: 0, wtinylfu: 0 },
      expirations: 0,
      compressedEntries: 0,
      compressionSavedBytes: 0,
      policy: 'wtinylfu',
    });
  });
});

describe('onRemove', () => {
  it('receives every removal once, with its reason and accounted size', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 2 * entry(10) });
    store.set('a', value(10), null, 0);
    store.set('a', value(5), null, 0); // replace
    store.set('b', value(10), 20, 0);
    store.set('c', value(10), null, 0); // evicts a
    store.get('b', 20); // lazy expiry
    store.delete('c', 20);
    expect(removed).toEqual([
      ['a', 'replace', entry(10)],
      ['a', 'evict', entry(5)],
      ['b', 'expire', entry(10)],
      ['c', 'delete', entry(10)],
    ]);
  });
});
