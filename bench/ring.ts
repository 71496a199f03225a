/**
 * The ring's figures: which hash, how many vnodes per shard, what a lookup costs.
 *
 * - Hash candidates over 1,000,000 keys named `keyName(i)`: hashes/s, a chi-square of the
 *   top 16 bits (65,536 buckets; chi2/df near 1 is uniform), and the balance a ring built
 *   with each one gives. xxh64 appears twice: in 32-bit halves (what core/ could run) and
 *   with BigInt (the plain way, to show why not).
 * - Balance: keys on the most loaded shard / mean keys per shard, for 3, 10 and 100 shards
 *   and 16 to 512 vnodes per shard, with the ring's build time and memory at 100 shards.
 * - Lookups/s of `ring.owner(key)` (hash + binary search) and `ring.ownerAt(position)`
 *   (search alone) beside `Map.get` on a Map of the same keys, measured in the same run.
 *
 * `npx tsx -e "import('./bench/ring.ts').then((m) => console.log(m.ringBench()))"`
 */
import { hashKey as fnv1aFmix } from '../core/engine/sketch.ts';
import { utf8Encode, utf8Scratch, xxh32, type HashFn } from '../core/ring/hash.ts';
import { DEFAULT_VNODES, Ring } from '../core/ring/index.ts';
import { keyName } from '../core/workload/keys.ts';
import { formatRate, formatRatio, median, progress, table } from './lib.ts';

const KEYS = 1_000_000;
const SHARD_COUNTS = [3, 10, 100] as const;
const VNODE_COUNTS = [16, 64, 128, 256, 512] as const;
const ROUNDS = 3;
/** Clusters with differently named shards, to average the balance over vnode placements. */
const NAMINGS = 20;

/** Shard ids as the cluster names them. */
function shardIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `shard-${i}`);
}

/**
 * The most loaded shard's share of the circle / mean share (what it should get of many keys),
 * averaged over NAMINGS clusters whose shards are named differently, and the worst of them.
 */
function shareBalance(n: number, vnodes: number): { mean: number; worst: number } {
  let sum = 0;
  let worst = 0;
  for (let t = 0; t < NAMINGS; t++) {
    const ring = new Ring(
      Array.from({ length: n }, (_, i) => `c${t}-shard-${i}`),
      { vnodes },
    );
    const max = Math.max(...ring.shares().values()) * n;
    sum += max;
    worst = Math.max(worst, max);
  }
  return { mean: sum / NAMINGS, worst };
}

/** Keys on the most loaded shard / mean, and on the least loaded / mean. */
function balance(ring: Ring, positions: Uint32Array): { max: number; min: number } {
  const counts = new Map<string, number>(ring.shards.map((s) => [s, 0]));
  for (let i = 0; i < positions.length; i++) {
    const s = ring.ownerAt(positions[i]!);
    counts.set(s, counts.get(s)! + 1);
  }
  const mean = positions.length / ring.shards.length;
  const values = [...counts.values()];
  return { max: Math.max(...values) / mean, min: Math.min(...values) / mean };
}

function positionsOf(keys: readonly string[], hash: HashFn): Uint32Array {
  const out = new Uint32Array(keys.length);
  for (let i = 0; i < keys.length; i++) out[i] = hash(keys[i]!) >>> 0;
  return out;
}

/** Operations per second of `run` over `n` items, the median of ROUNDS after a warm-up. */
function rate(n: number, run: () => number): number {
  let sink = run();
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    sink ^= run();
    rates.push(n / ((performance.now() - start) / 1000));
  }
  if (sink === 0.5) console.log(''); // keeps the work observable
  return median(rates);
}

/** Chi-square per degree of freedom of the top 16 bits over 65,536 buckets. */
function chiSquare(positions: Uint32Array): number {
  const buckets = new Float64Array(65_536);
  for (let i = 0; i < positions.length; i++) buckets[positions[i]! >>> 16]!++;
  const expected = positions.length / buckets.length;
  let chi = 0;
  for (let b = 0; b < buckets.length; b++) chi += (buckets[b]! - expected) ** 2 / expected;
  return chi / (buckets.length - 1);
}

export function ringBench(): string {
  const keys = Array.from({ length: KEYS }, (_, i) => keyName(i));
  const out: string[] = [];

  // 1. Hash candidates.
  progress('ring: hash candidates');
  const candidates: [string, HashFn][] = [
    ['xxh32, UTF-8 (chosen)', xxh32],
    ['murmur3 x86_32, UTF-8', murmur3],
    ['FNV-1a + fmix32, UTF-16 (engine sketch)', fnv1aFmix],
    ['xxh64 in 32-bit halves, UTF-8 (high 32)', xxh64High],
    ['xxh64 with BigInt, UTF-8 (high 32)', (k) => Number(xxh64BigInt(k) >> 32n)],
  ];
  const hashRows: string[][] = [
    ['hash', 'hashes/s', 'vs xxh32', 'chi2/df', `max/mean N=10`, `max/mean N=100`],
  ];
  let xxh32Rate = 0;
  for (const [name, hash] of candidates) {
    const n = name.includes('BigInt') ? KEYS / 10 : KEYS;
    const perSecond = rate(n, () => {
      let x = 0;
      for (let i = 0; i < n; i++) x ^= hash(keys[i]!);
      return x;
    });
    if (hash === xxh32) xxh32Rate = perSecond;
    const positions = positionsOf(keys, hash);
    hashRows.push([
      name,
      formatRate(perSecond),
      formatRatio(perSecond, xxh32Rate),
      chiSquare(positions).toFixed(3),
      balance(new Ring(shardIds(10), { hash }), positions).max.toFixed(3),
      balance(new Ring(shardIds(100), { hash }), positions).max.toFixed(3),
    ]);
  }
  out.push(
    `Ring hash candidates: ${KEYS.toLocaleString('en-US')} keys keyName(i), ` +
      `rings of ${DEFAULT_VNODES} vnodes per shard`,
    table(hashRows),
    '',
  );

  // 2. Balance by vnode count.
  progress('ring: balance by vnodes');
  const positions = positionsOf(keys, xxh32);
  const balanceRows: string[][] = [
    [
      'vnodes',
      ...SHARD_COUNTS.map((n) => `max/mean N=${n}`),
      'min/mean N=100',
      ...SHARD_COUNTS.map((n) => `share N=${n}`),
      'build N=100',
      'memory N=100',
      'ownerAt/s N=100',
    ],
  ];
  for (const vnodes of VNODE_COUNTS) {
    const cells: string[] = [String(vnodes)];
    let min100 = 0;
    for (const n of SHARD_COUNTS) {
      const b = balance(new Ring(shardIds(n), { vnodes }), positions);
      cells.push(b.max.toFixed(3));
      if (n === 100) min100 = b.min;
    }
    cells.push(min100.toFixed(3));
    for (const n of SHARD_COUNTS) {
      const b = shareBalance(n, vnodes);
      cells.push(`${b.mean.toFixed(3)} (${b.worst.toFixed(2)})`);
    }
    const start = performance.now();
    const ring = new Ring(shardIds(100), { vnodes });
    const buildMs = performance.now() - start;
    const memoryKiB = ring.byteLength / 1024;
    const searches = rate(KEYS, () => {
      let x = 0;
      for (let i = 0; i < KEYS; i++) x ^= ring.ownerAt(positions[i]!).length;
      return x;
    });
    cells.push(`${buildMs.toFixed(1)} ms`, `${memoryKiB.toFixed(0)} KiB`, formatRate(searches));
    balanceRows.push(cells);
  }
  out.push(
    `Ring balance: keys on the most (least) loaded shard / mean, xxh32, shards shard-0..N-1;\n` +
      `share: the most loaded shard's share of the circle / mean, mean (worst) of ` +
      `${NAMINGS} clusters named c{t}-shard-{i}`,
    table(balanceRows),
    '',
  );

  // 3. Lookups against Map.get.
  progress('ring: lookups');
  const map = new Map<string, string>();
  const ring3 = new Ring(shardIds(3));
  for (const k of keys) map.set(k, ring3.owner(k));
  const anchor = rate(KEYS, () => {
    let x = 0;
    for (let i = 0; i < KEYS; i++) x ^= map.get(keys[i]!)!.length;
    return x;
  });
  const lookupRows: string[][] = [
    ['lookup', 'ops/s', 'vs Map.get'],
    [`Map.get, ${KEYS.toLocaleString('en-US')} string keys (anchor)`, formatRate(anchor), '1.00x'],
  ];
  for (const n of SHARD_COUNTS) {
    const ring = new Ring(shardIds(n));
    const owners = rate(KEYS, () => {
      let x = 0;
      for (let i = 0; i < KEYS; i++) x ^= ring.owner(keys[i]!).length;
      return x;
    });
    lookupRows.push([
      `ring.owner(key), N=${n}, ${DEFAULT_VNODES} vnodes`,
      formatRate(owners),
      formatRatio(owners, anchor),
    ]);
  }
  out.push(`Ring lookups (median of ${ROUNDS} rounds)`, table(lookupRows));
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------
// Candidates that lost, kept here so the choice can be re-measured. Each checked against
// the reference implementations' test vectors while writing this bench.

/** MurmurHash3 x86_32 (Austin Appleby, SMHasher), seed 0, over UTF-8. */
function murmur3(key: string): number {
  const len = utf8Encode(key);
  const b = utf8Scratch();
  let h = 0;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    let k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // The tail, 1 to 3 bytes, little-endian.
  const tail = len & 3;
  if (tail > 0) {
    let k = b[i]!;
    if (tail > 1) k ^= b[i + 1]! << 8;
    if (tail > 2) k ^= b[i + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= len;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// XXH64 (seed 0) over UTF-8, as core/ would have to run it: 64-bit values as (high, low)
// 32-bit halves, multiplication in 16-bit limbs (as Long.js does); helpers leave their result in
// H and L so the hot path allocates nothing.
let H = 0;
let L = 0;

function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a48 = ah >>> 16,
    a32 = ah & 0xffff,
    a16 = al >>> 16,
    a00 = al & 0xffff;
  const b48 = bh >>> 16,
    b32 = bh & 0xffff,
    b16 = bl >>> 16,
    b00 = bl & 0xffff;
  let c00 = a00 * b00;
  let c16 = c00 >>> 16;
  c00 &= 0xffff;
  c16 += a16 * b00;
  let c32 = c16 >>> 16;
  c16 &= 0xffff;
  c16 += a00 * b16;
  c32 += c16 >>> 16;
  c16 &= 0xffff;
  c32 += a32 * b00;
  let c48 = c32 >>> 16;
  c32 &= 0xffff;
  c32 += a16 * b16;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c32 += a00 * b32;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c48 += a48 * b00 + a32 * b16 + a16 * b32 + a00 * b48;
  c48 &= 0xffff;
  H = (c48 << 16) | c32;
  L = (c16 << 16) | c00;
}
function add64(ah: number, al: number, bh: number, bl: number): void {
  const lo = (al >>> 0) + (bl >>> 0);
  L = lo | 0;
  H = (ah + bh + (lo > 0xffffffff ? 1 : 0)) | 0;
}
function rotl64(h: number, l: number, r: number): void {
  if (r === 32) {
    H = l;
    L = h;
  } else if (r < 32) {
    H = (h << r) | (l >>> (32 - r));
    L = (l << r) | (h >>> (32 - r));
  } else {
    r -= 32;
    H = (l << r) | (h >>> (32 - r));
    L = (h << r) | (l >>> (32 - r));
  }
}
const P1H = 0x9e3779b1,
  P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d,
  P2L = 0x27d4eb4f;
const P3H = 0x165667b1,
  P3L = 0x9e3779f9;
const P4H = 0x85ebca77,
  P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f,
  P5L = 0x165667c5;

function r32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}
/** round(acc, input): acc += input * P2; rotl 31; *= P1. Result in H, L. */
function round64(ah: number, al: number, ih: number, il: number): void {
  mul64(ih, il, P2H, P2L);
  add64(ah, al, H, L);
  rotl64(H, L, 31);
  mul64(H, L, P1H, P1L);
}
function mergeRound(ah: number, al: number, vh: number, vl: number): void {
  round64(0, 0, vh, vl);
  const xh = ah ^ H,
    xl = al ^ L;
  mul64(xh, xl, P1H, P1L);
  add64(H, L, P4H, P4L);
}

/** XXH64: the high 32 bits of the hash. */
function xxh64High(key: string): number {
  const len = utf8Encode(key);
  const b = utf8Scratch();
  let i = 0;
  let hh: number, hl: number;
  if (len >= 32) {
    let v1h = 0,
      v1l = 0,
      v2h = 0,
      v2l = 0,
      v3h = 0,
      v3l = 0,
      v4h = 0,
      v4l = 0;
    add64(P1H, P1L, P2H, P2L);
    v1h = H;
    v1l = L;
    v2h = P2H;
    v2l = P2L;
    // seed - P1 = two's complement of P1
    add64(~P1H, ~P1L, 0, 1);
    v4h = H;
    v4l = L;
    const limit = len - 32;
    do {
      round64(v1h, v1l, r32(b, i + 4), r32(b, i));
      v1h = H;
      v1l = L;
      round64(v2h, v2l, r32(b, i + 12), r32(b, i + 8));
      v2h = H;
      v2l = L;
      round64(v3h, v3l, r32(b, i + 20), r32(b, i + 16));
      v3h = H;
      v3l = L;
      round64(v4h, v4l, r32(b, i + 28), r32(b, i + 24));
      v4h = H;
      v4l = L;
      i += 32;
    } while (i <= limit);
    rotl64(v1h, v1l, 1);
    hh = H;
    hl = L;
    rotl64(v2h, v2l, 7);
    add64(hh, hl, H, L);
    hh = H;
    hl = L;
    rotl64(v3h, v3l, 12);
    add64(hh, hl, H, L);
    hh = H;
    hl = L;
    rotl64(v4h, v4l, 18);
    add64(hh, hl, H, L);
    hh = H;
    hl = L;
    mergeRound(hh, hl, v1h, v1l);
    hh = H;
    hl = L;
    mergeRound(hh, hl, v2h, v2l);
    hh = H;
    hl = L;
    mergeRound(hh, hl, v3h, v3l);
    hh = H;
    hl = L;
    mergeRound(hh, hl, v4h, v4l);
    hh = H;
    hl = L;
  } else {
    hh = P5H;
    hl = P5L;
  }
  add64(hh, hl, 0, len);
  hh = H;
  hl = L;
  for (; i + 8 <= len; i += 8) {
    round64(0, 0, r32(b, i + 4), r32(b, i));
    hh ^= H;
    hl ^= L;
    rotl64(hh, hl, 27);
    mul64(H, L, P1H, P1L);
    add64(H, L, P4H, P4L);
    hh = H;
    hl = L;
  }
  if (i + 4 <= len) {
    mul64(0, r32(b, i), P1H, P1L);
    hh ^= H;
    hl ^= L;
    rotl64(hh, hl, 23);
    mul64(H, L, P2H, P2L);
    add64(H, L, P3H, P3L);
    hh = H;
    hl = L;
    i += 4;
  }
  for (; i < len; i++) {
    mul64(0, b[i]!, P5H, P5L);
    hh ^= H;
    hl ^= L;
    rotl64(hh, hl, 11);
    mul64(H, L, P1H, P1L);
    hh = H;
    hl = L;
  }
  // avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
  hl ^= hh >>> 1;
  mul64(hh, hl, P2H, P2L);
  hh = H;
  hl = L;
  hl ^= (hl >>> 29) | (hh << 3);
  hh ^= hh >>> 29;
  mul64(hh, hl, P3H, P3L);
  hh = H;
  hl = L;
  hl ^= hh;
  H = hh;
  L = hl;
  return hh >>> 0;
}

/** XXH64 with BigInt: short, and slow (see the table). */
const M = (1n << 64n) - 1n;
const B1 = 0x9e3779b185ebca87n,
  B2 = 0xc2b2ae3d27d4eb4fn,
  B3 = 0x165667b19e3779f9n,
  B4 = 0x85ebca77c2b2ae63n,
  B5 = 0x27d4eb2f165667c5n;
const rot = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
const rnd = (acc: bigint, input: bigint) => (rot((acc + input * B2) & M, 31n) * B1) & M;
function xxh64BigInt(key: string): bigint {
  const len = utf8Encode(key);
  const b = utf8Scratch();
  const r64 = (i: number) => BigInt(r32(b, i) >>> 0) | (BigInt(r32(b, i + 4) >>> 0) << 32n);
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (B1 + B2) & M,
      v2 = B2,
      v3 = 0n,
      v4 = -B1 & M;
    do {
      v1 = rnd(v1, r64(i));
      v2 = rnd(v2, r64(i + 8));
      v3 = rnd(v3, r64(i + 16));
      v4 = rnd(v4, r64(i + 24));
      i += 32;
    } while (i <= len - 32);
    h = (rot(v1, 1n) + rot(v2, 7n) + rot(v3, 12n) + rot(v4, 18n)) & M;
    for (const v of [v1, v2, v3, v4]) h = ((h ^ rnd(0n, v)) * B1 + B4) & M;
  } else h = B5;
  h = (h + BigInt(len)) & M;
  for (; i + 8 <= len; i += 8) h = (rot(h ^ rnd(0n, r64(i)), 27n) * B1 + B4) & M;
  if (i + 4 <= len) {
    h = (rot(h ^ ((BigInt(r32(b, i) >>> 0) * B1) & M), 23n) * B2 + B3) & M;
    i += 4;
  }
  for (; i < len; i++) h = (rot(h ^ ((BigInt(b[i]!) * B5) & M), 11n) * B1) & M;
  h ^= h >> 33n;
  h = (h * B2) & M;
  h ^= h >> 29n;
  h = (h * B3) & M;
  h ^= h >> 32n;
  return h;
}
