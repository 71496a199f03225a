/**
 * Benchmark 3: hit rate of `lru` and `wtinylfu` (and lru-cache as a reference) at several
 * cache sizes, on Zipf and on Zipf mixed with scans. Read-through: a miss is followed by a
 * set, as a cache in front of a database sees it. Deterministic (seeded), so one run suffices.
 */
import { LRUCache } from 'lru-cache';
import type { PolicyName } from '../core/config.ts';
import { ENTRY_OVERHEAD_BYTES, Store, type StoredValue } from '../core/engine/index.ts';
import { createRng } from '../core/random.ts';
import { keyName } from '../core/workload/keys.ts';
import { createKeySampler, type KeyDistribution } from '../core/workload/samplers.ts';
import { progress, table } from './lib.ts';

const KEYS = 100_000;
const OPS = 2_000_000;
const VALUE_BYTES = 64;
/** Cache sizes as a share of the Zipf key space. */
const SIZES = [0.005, 0.01, 0.05, 0.1, 0.25];

const WORKLOADS: Record<string, KeyDistribution> = {
  'Zipf 0.99': { kind: 'zipf', s: 0.99 },
  // After every 10,000 Zipf reads, a scan of 5,000 keys never seen before: a third of all
  // reads are scan keys, which always miss, so no cache can pass 66.7% here.
  'Zipf 0.99 + scans': { kind: 'zipf-scan', s: 0.99, scanEvery: 10_000, scanLength: 5_000 },
};

function stream(distribution: KeyDistribution): Int32Array {
  const sampler = createKeySampler(KEYS, distribution, createRng(7));
  const ids = new Int32Array(OPS);
  for (let i = 0; i < OPS; i++) ids[i] = sampler.next();
  return ids;
}

const entryBytes = (key: string) => key.length + VALUE_BYTES + ENTRY_OVERHEAD_BYTES;

function storeHitRate(ids: Int32Array, entries: number, policy: PolicyName): number {
  const store = new Store({
    maxMemoryBytes: entries * entryBytes(keyName(0)),
    maxKeyBytes: 1024,
    maxValueBytes: 1024,
    policy,
  });
  const value: StoredValue = {
    bytes: new Uint8Array(VALUE_BYTES),
    contentType: 'application/octet-stream',
    compressed: false,
    rawBytes: VALUE_BYTES,
  };
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const key = keyName(ids[i]!);
    if (store.get(key, 0) !== undefined) hits++;
    else store.set(key, value, null, 0);
  }
  return hits / ids.length;
}

function lruCacheHitRate(ids: Int32Array, entries: number): number {
  const cache = new LRUCache<string, Uint8Array>({ max: entries });
  const value = new Uint8Array(VALUE_BYTES);
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const key = keyName(ids[i]!);
    if (cache.get(key) !== undefined) hits++;
    else cache.set(key, value);
  }
  return hits / ids.length;
}

export function hitRateBench(): string {
  const sections: string[] = [];
  for (const [name, distribution] of Object.entries(WORKLOADS)) {
    progress(`hit rates on ${name}`);
    const ids = stream(distribution);
    const rows = [['cache size', 'lru-cache', 'engine lru', 'engine wtinylfu', 'wtinylfu - lru']];
    for (const share of SIZES) {
      const entries = Math.round(KEYS * share);
      const lru = storeHitRate(ids, entries, 'lru');
      const tiny = storeHitRate(ids, entries, 'wtinylfu');
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      rows.push([
        `${entries.toLocaleString('en-US')} (${(share * 100).toFixed(1)}%)`,
        pct(lruCacheHitRate(ids, entries)),
        pct(lru),
        pct(tiny),
        `${(tiny - lru) * 100 >= 0 ? '+' : ''}${((tiny - lru) * 100).toFixed(1)}`,
      ]);
    }
    sections.push(
      `${name}, ${KEYS.toLocaleString('en-US')} keys, ${OPS.toLocaleString('en-US')} reads (read-through)\n${table(rows)}`,
    );
  }
  return [
    `Hit rate (deterministic, seed 7)`,
    ...sections,
    '  (Zipf + scans: every 10,000 Zipf reads, a scan of 5,000 never-seen keys; scans always miss, so the ceiling is 66.7%)',
  ].join('\n');
}
