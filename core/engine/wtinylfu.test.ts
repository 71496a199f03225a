import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '../random.ts';
import { zipfScanSampler } from '../workload/samplers.ts';
import { ENTRY_OVERHEAD_BYTES, Store, type PolicyName } from './index.ts';
import { recordingStore, value } from './testing.ts';
import { WTinyLfuPolicy } from './wtinylfu.ts';

/** Accounted size of a two-character ASCII key with a 10-byte value. */
const ENTRY = 2 + 10 + ENTRY_OVERHEAD_BYTES;

function regions(store: Store): ReturnType<WTinyLfuPolicy['regions']> {
  const policy = store.evictionPolicy;
  if (!(policy instanceof WTinyLfuPolicy)) throw new Error('not W-TinyLFU');
  return policy.regions();
}

describe('W-TinyLFU', () => {
  it('keeps frequently used keys over a one-off scan (LRU loses them)', () => {
    const survivors = (policy: PolicyName): number => {
      const { store } = recordingStore({ maxMemoryBytes: 200 * ENTRY, policy });
      const hot = Array.from({ length: 20 }, (_, i) => `h${i}`.padEnd(2, '_'));
      for (const key of hot) store.set(key, value(10), null, 0);
      for (let round = 0; round < 5; round++) for (const key of hot) store.get(key, 0);
      for (let i = 0; i < 2000; i++) store.set(`s${i}`, value(10), null, 0); // a scan
      return hot.filter((key) => store.peek(key, 0) !== undefined).length;
    };
    expect(survivors('wtinylfu')).toBe(20);
    expect(survivors('lru')).toBe(0);
  });

  it('refuses to admit a new key no more frequent than main’s victim (reason evict)', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 4 * ENTRY, policy: 'wtinylfu' });
    for (const key of ['k1', 'k2', 'k3', 'k4']) store.set(key, value(10), null, 0);
    const result = store.set('k5', value(10), null, 0);
    expect(result.ok).toBe(true); // the write was valid; the cache chose not to keep it
    expect(removed).toEqual([['k5', 'evict', ENTRY]]);
    expect(store.peek('k1', 0)).toBeDefined();
  });

  it('admits a key asked for more often than main’s victim, evicting the victim', () => {
    const { store, removed } = recordingStore({ maxMemoryBytes: 4 * ENTRY, policy: 'wtinylfu' });
    for (const key of ['k1', 'k2', 'k3', 'k4']) store.set(key, value(10), null, 0);
    store.get('k5', 0); // misses count as demand
    store.get('k5', 0);
    store.set('k5', value(10), null, 0);
    expect(removed).toEqual([['k1', 'evict', ENTRY]]);
    expect(store.peek('k5', 0)).toBeDefined();
  });

  it('splits the bytes: a 1% window, and 80% of the rest protected', () => {
    const store = new Store({
      maxMemoryBytes: 100_000,
      maxKeyBytes: 64,
      maxValueBytes: 1000,
      policy: 'wtinylfu',
    });
    expect(regions(store)).toMatchObject({ windowMaxBytes: 1000, protectedMaxBytes: 79_200 });
    store.configure({ maxMemoryBytes: 200_000 }, 0);
    expect(regions(store)).toMatchObject({ windowMaxBytes: 2000, protectedMaxBytes: 158_400 });
  });

  it('new entries wait in the window; a hit in probation promotes; protected overflow demotes', () => {
    const { store } = recordingStore({ maxMemoryBytes: 400 * ENTRY, policy: 'wtinylfu' });
    store.set('k0', value(10), null, 0);
    expect(regions(store)).toMatchObject({ windowBytes: ENTRY, probationBytes: 0 });
    for (let i = 1; i < 10; i++) store.set(`k${i}`, value(10), null, 0);
    // The window holds 4 entries' worth of bytes; the oldest moved on to probation.
    const { windowBytes, probationBytes, windowMaxBytes } = regions(store);
    expect(windowBytes).toBeLessThanOrEqual(windowMaxBytes);
    expect(windowBytes + probationBytes).toBe(10 * ENTRY);
    store.get('k0', 0);
    expect(regions(store).protectedBytes).toBe(ENTRY);

    const small = recordingStore({ maxMemoryBytes: 4 * ENTRY, policy: 'wtinylfu' });
    for (let i = 0; i < 4; i++) small.store.set(`k${i}`, value(10), null, 0);
    for (let i = 0; i < 4; i++) small.store.get(`k${i}`, 0);
    const r = regions(small.store);
    expect(r.protectedBytes).toBeLessThanOrEqual(r.protectedMaxBytes);
    expect(r.probationBytes).toBeGreaterThan(0); // demoted from protected
    expect(r.windowBytes + r.probationBytes + r.protectedBytes).toBe(4 * ENTRY);
  });

  it('beats LRU’s hit rate on a Zipf workload with scans', () => {
    const hitRate = (policy: PolicyName): number => {
      const store = new Store({
        maxMemoryBytes: 1000 * (16 + ENTRY_OVERHEAD_BYTES),
        maxKeyBytes: 64,
        maxValueBytes: 64,
        policy,
      });
      const sampler = zipfScanSampler(
        { keys: 20_000, scanLength: 500, scanEvery: 2000 },
        createRng(7),
      );
      const v = value(8);
      let hits = 0;
      const ops = 100_000;
      for (let i = 0; i < ops; i++) {
        const key = `k${String(sampler.next()).padStart(7, '0')}`;
        if (store.get(key, 0)) hits++;
        else store.set(key, v, null, 0);
      }
      return hits / ops;
    };
    const lru = hitRate('lru');
    const wtinylfu = hitRate('wtinylfu');
    expect(wtinylfu).toBeGreaterThan(lru + 0.05);
  });

  it('keeps its lists and byte counts consistent under random inserts, hits and removals', () => {
    // Driven directly, with weights small against the bound, so the window holds many entries
    // and several candidates compete at once (a store's per-entry overhead prevents that in
    // short sequences).
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('insert' as const),
        key: fc.nat(60),
        bytes: fc.integer({ min: 1, max: 40 }),
      }),
      fc.record({ kind: fc.constant('access' as const), key: fc.nat(60) }),
      fc.record({ kind: fc.constant('remove' as const), key: fc.nat(60) }),
      fc.record({
        kind: fc.constant('resize' as const),
        maxBytes: fc.integer({ min: 40, max: 3000 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 40, max: 3000 }),
        fc.array(op, { maxLength: 150, size: 'max' }),
        (initialMax, ops) => {
          let maxBytes = initialMax;
          let capacity = 4;
          const policy = new WTinyLfuPolicy(capacity, maxBytes);
          const slotOf = new Map<number, number>();
          const weightAt = new Map<number, number>();
          const free: number[] = [];
          let next = 0;
          let total = 0;
          const drop = (slot: number): void => {
            policy.onRemove(slot);
            total -= weightAt.get(slot) ?? 0;
            weightAt.delete(slot);
            for (const [k, s] of slotOf) if (s === slot) slotOf.delete(k);
            free.push(slot);
          };
          const evictToFit = (): void => {
            while (total > maxBytes) {
              const victim = policy.victim();
              if (!weightAt.has(victim)) expect.fail(`victim ${victim} is not tracked`);
              drop(victim);
            }
          };
          for (const o of ops) {
            if (o.kind === 'insert') {
              const old = slotOf.get(o.key);
              if (old !== undefined) drop(old);
              if (o.bytes > maxBytes) continue;
              let slot = free.pop();
              if (slot === undefined) {
                slot = next++;
                if (slot === capacity) policy.resize((capacity *= 2));
              }
              slotOf.set(o.key, slot);
              weightAt.set(slot, o.bytes);
              total += o.bytes;
              policy.onInsert(slot, `key${o.key}`, o.bytes);
              evictToFit();
            } else if (o.kind === 'access') {
              const slot = slotOf.get(o.key);
              if (slot === undefined) policy.onMiss(`key${o.key}`);
              else policy.onAccess(slot);
            } else if (o.kind === 'remove') {
              const slot = slotOf.get(o.key);
              if (slot !== undefined) drop(slot);
            } else {
              maxBytes = o.maxBytes;
              policy.setMaxBytes(maxBytes);
              evictToFit();
            }
            // Every tracked slot is in exactly one list, and the byte counts add up. (Checked
            // by hand, and reported through expect only on failure: this runs ~10^5 times.)
            const tracked = policy.order().sort((a, b) => a - b);
            const expected = [...weightAt.keys()].sort((a, b) => a - b);
            const r = policy.regions();
            const consistent =
              tracked.join() === expected.join() &&
              r.windowBytes + r.probationBytes + r.protectedBytes === total &&
              r.windowBytes <= r.windowMaxBytes &&
              r.protectedBytes <= r.protectedMaxBytes &&
              total <= maxBytes;
            if (!consistent)
              expect({ tracked, total, maxBytes, ...r }).toEqual({ tracked: expected });
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
