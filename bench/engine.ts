/**
 * Benchmark 2: the engine's get/set mix (90/10, Zipf 0.99 over 1M keys, 64 B values, bounded
 * memory) against lru-cache with the same byte bound. Goal: >= 1.0x lru-cache's ops/s.
 * Both see the same pre-drawn operation stream; on a miss neither refills (a set is a set).
 * Every set carries a fresh 64 B buffer, as every PUT does in a node.
 */
import { LRUCache } from 'lru-cache';
import { ENTRY_OVERHEAD_BYTES, Store, type StoredValue } from '../core/engine/index.ts';
import type { PolicyName } from '../core/config.ts';
import { createRng } from '../core/random.ts';
import { keyName } from '../core/workload/keys.ts';
import { zipfSampler } from '../core/workload/samplers.ts';
import { formatRate, formatRatio, median, progress, table } from './lib.ts';

const KEYS = 1_000_000;
const OPS = 4_000_000;
const READ_RATIO = 0.9;
const VALUE_BYTES = 64;
/** A bound that holds about a third of the key space, so eviction runs throughout. */
const MAX_MEMORY_BYTES = 64 * 1024 * 1024;

interface Workload {
  readonly keys: string[];
  readonly ids: Int32Array;
  readonly reads: Uint8Array;
}

function workload(seed: number): Workload {
  const rng = createRng(seed);
  const sampler = zipfSampler(KEYS, rng, { s: 0.99 });
  const ids = new Int32Array(OPS);
  const reads = new Uint8Array(OPS);
  for (let i = 0; i < OPS; i++) {
    ids[i] = sampler.next();
    reads[i] = rng.next() < READ_RATIO ? 1 : 0;
  }
  const keys = Array.from({ length: KEYS }, (_, i) => keyName(i));
  return { keys, ids, reads };
}

interface Round {
  readonly opsPerSecond: number;
  readonly hitRate: number;
}

function runStore(w: Workload, policy: PolicyName): Round {
  const store = new Store({
    maxMemoryBytes: MAX_MEMORY_BYTES,
    maxKeyBytes: 1024,
    maxValueBytes: 1024 * 1024,
    policy,
  });
  const { keys, ids, reads } = w;
  let hits = 0;
  let gets = 0;
  const now = 1;
  const start = performance.now();
  for (let i = 0; i < OPS; i++) {
    const key = keys[ids[i]!]!;
    if (reads[i] === 1) {
      gets++;
      if (store.get(key, now) !== undefined) hits++;
    } else {
      const value: StoredValue = {
        bytes: new Uint8Array(VALUE_BYTES),
        contentType: 'application/octet-stream',
        compressed: false,
        rawBytes: VALUE_BYTES,
      };
      store.set(key, value, null, now);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { opsPerSecond: OPS / seconds, hitRate: hits / gets };
}

function runLruCache(w: Workload): Round {
  // The same accounting as the engine: key bytes (ASCII here) + value bytes + overhead.
  const cache = new LRUCache<string, Uint8Array>({
    maxSize: MAX_MEMORY_BYTES,
    sizeCalculation: (v, k) => k.length + v.length + ENTRY_OVERHEAD_BYTES,
  });
  const { keys, ids, reads } = w;
  let hits = 0;
  let gets = 0;
  const start = performance.now();
  for (let i = 0; i < OPS; i++) {
    const key = keys[ids[i]!]!;
    if (reads[i] === 1) {
      gets++;
      if (cache.get(key) !== undefined) hits++;
    } else {
      cache.set(key, new Uint8Array(VALUE_BYTES));
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { opsPerSecond: OPS / seconds, hitRate: hits / gets };
}

export function engineBench(options: { rounds: number }): string {
  progress(
    `drawing ${OPS.toLocaleString('en-US')} operations over ${KEYS.toLocaleString('en-US')} keys`,
  );
  const w = workload(42);
  const contenders = {
    'lru-cache (anchor)': () => runLruCache(w),
    'engine lru': () => runStore(w, 'lru'),
    'engine wtinylfu': () => runStore(w, 'wtinylfu'),
  };
  const results = new Map<string, Round[]>(Object.keys(contenders).map((k) => [k, []]));
  // One warm-up pass each, then interleaved rounds.
  for (const run of Object.values(contenders)) run();
  for (let round = 1; round <= options.rounds; round++) {
    progress(`engine round ${round}/${options.rounds}`);
    for (const [name, run] of Object.entries(contenders)) results.get(name)!.push(run());
  }
  const anchor = median(results.get('lru-cache (anchor)')!.map((r) => r.opsPerSecond));
  const rows = [['cache', 'ops/s', 'get hit rate', 'vs lru-cache']];
  for (const [name, rounds] of results) {
    const ops = median(rounds.map((r) => r.opsPerSecond));
    rows.push([
      name,
      formatRate(ops),
      `${(median(rounds.map((r) => r.hitRate)) * 100).toFixed(1)}%`,
      formatRatio(ops, anchor),
    ]);
  }
  const lru = median(results.get('engine lru')!.map((r) => r.opsPerSecond));
  return [
    `Engine, ${READ_RATIO * 100}/${100 - READ_RATIO * 100} get/set, Zipf 0.99 over ${KEYS.toLocaleString('en-US')} keys, ` +
      `${VALUE_BYTES} B values, max ${MAX_MEMORY_BYTES / 1024 / 1024} MiB, ${OPS.toLocaleString('en-US')} ops x ${options.rounds} rounds, medians`,
    table(rows),
    `  engine lru vs lru-cache: ${formatRatio(lru, anchor)} (goal >= 1.00x)`,
  ].join('\n');
}
