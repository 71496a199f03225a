import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyName } from '../workload/keys.ts';
import { xxh32 } from './hash.ts';
import { DEFAULT_VNODES, movedRanges, Ring, RING_SIZE, type MovedRange } from './ring.ts';

/**
 * A readable hash, as groupcache's tests use: a vnode `S#R` sits at R * 10 + S, and a key
 * that is a number sits at that number. Shards 2, 4, 6 with 3 vnodes each sit at
 * 2 4 6 12 14 16 22 24 26.
 */
function readable(key: string): number {
  const [shard, replica] = key.split('#');
  return replica === undefined ? Number(shard) : Number(replica) * 10 + Number(shard);
}

const KEYS = Array.from({ length: 20_000 }, (_, i) => keyName(i));
const POSITIONS = KEYS.map((k) => xxh32(k));

/** Distinct, non-empty shard ids. */
const shardSet = (min: number, max: number) =>
  fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: min, maxLength: max });

describe('Ring with a readable hash', () => {
  const ring = new Ring(['6', '4', '2'], { vnodes: 3, hash: readable });

  it('gives a key to the vnode at or before it, wrapping to the last vnode', () => {
    expect(ring.owner('2')).toBe('2');
    expect(ring.owner('11')).toBe('6');
    expect(ring.owner('23')).toBe('2');
    expect(ring.owner('27')).toBe('6');
    expect(ring.owner('0')).toBe('6');
    expect(ring.owner('1')).toBe('6');
  });

  it('lists the arcs, the wrap-around arc in two pieces', () => {
    expect(ring.ranges()).toEqual([
      { shard: '6', start: 0, end: 2 },
      { shard: '2', start: 2, end: 4 },
      { shard: '4', start: 4, end: 6 },
      { shard: '6', start: 6, end: 12 },
      { shard: '2', start: 12, end: 14 },
      { shard: '4', start: 14, end: 16 },
      { shard: '6', start: 16, end: 22 },
      { shard: '2', start: 22, end: 24 },
      { shard: '4', start: 24, end: 26 },
      { shard: '6', start: 26, end: RING_SIZE },
    ]);
  });

  it('adding shard 8 moves only the keys at 8-11, 18-21 and 28 onwards, to 8', () => {
    const grown = ring.withShard('8');
    expect(grown.owner('9')).toBe('8');
    expect(grown.owner('28')).toBe('8');
    expect(grown.owner('27')).toBe('6');
    expect(grown.owner('1')).toBe('8');
    expect(movedRanges(ring, grown)).toEqual([
      { from: '6', to: '8', start: 0, end: 2 },
      { from: '6', to: '8', start: 8, end: 12 },
      { from: '6', to: '8', start: 18, end: 22 },
      { from: '6', to: '8', start: 28, end: RING_SIZE },
    ]);
    expect(movedRanges(grown, ring)).toEqual(
      movedRanges(ring, grown).map((m) => ({ ...m, from: m.to, to: m.from })),
    );
  });

  it('draws vnodes in position order, with their fraction of the circle', () => {
    const vnodes = ring.vnodes();
    expect(vnodes.map((v) => v.position)).toEqual([2, 4, 6, 12, 14, 16, 22, 24, 26]);
    expect(vnodes[3]).toEqual({ shard: '2', replica: 1, position: 12, fraction: 12 / RING_SIZE });
  });

  it('is immutable: withShard and withoutShard return new rings', () => {
    const smaller = ring.withoutShard('4');
    expect(smaller.shards).toEqual(['2', '6']);
    expect(ring.shards).toEqual(['2', '4', '6']);
    expect(smaller.owner('5')).toBe('2');
    expect(ring.owner('5')).toBe('4');
  });
});

describe('Ring collisions', () => {
  // Every vnode of every shard at position 100 (a hash that collides on purpose).
  const flat = (key: string) => (key.includes('#') ? 100 : Number(key));

  it('breaks a tie by shard id: the greatest id owns the point, the others nothing', () => {
    const ring = new Ring(['b', 'c', 'a'], { vnodes: 2, hash: flat });
    expect(ring.owner('5')).toBe('c');
    expect(ring.owner('500')).toBe('c');
    expect(ring.ranges()).toEqual([
      { shard: 'c', start: 0, end: 100 },
      { shard: 'c', start: 100, end: RING_SIZE },
    ]);
    expect(ring.shares().get('a')).toBe(0);
  });

  it('removing the winner of a tie hands its arc to the next in id order, and only that', () => {
    const ring = new Ring(['a', 'b', 'c'], { vnodes: 2, hash: flat });
    expect(movedRanges(ring, ring.withoutShard('c'))).toEqual([
      { from: 'c', to: 'b', start: 0, end: RING_SIZE },
    ]);
    expect(movedRanges(ring, ring.withoutShard('a'))).toEqual([]);
  });
});

describe('Ring refuses what it cannot build', () => {
  it.each([
    [[], {}, /at least one shard/],
    [['a', 'a'], {}, /given twice/],
    [[''], {}, /non-empty/],
    [['a'], { vnodes: 0 }, /vnodes/],
    [['a'], { vnodes: 1.5 }, /vnodes/],
    [['a'], { vnodes: 5000 }, /vnodes/],
  ] as const)('%j %j', (shards, options, message) => {
    expect(() => new Ring(shards, options)).toThrow(message);
  });

  it('refuses more shards than its Uint16Array of owners can index', () => {
    const ids = Array.from({ length: 2 ** 16 + 1 }, (_, i) => `s${i}`);
    expect(() => new Ring(ids, { vnodes: 1 })).toThrow(/at most 65536 shards/);
  });

  it('adding a shard twice or removing a missing one is an error', () => {
    const ring = new Ring(['a', 'b']);
    expect(() => ring.withShard('a')).toThrow(/already/);
    expect(() => ring.withoutShard('z')).toThrow(/not on the ring/);
    expect(() => ring.withoutShard('a').withoutShard('b')).toThrow(/at least one shard/);
  });

  it('movedRanges refuses rings of different hashes', () => {
    expect(() => movedRanges(new Ring(['a']), new Ring(['a'], { hash: readable }))).toThrow();
  });
});

/** Where each key lands, for comparing rings key by key. */
function owners(ring: Ring): string[] {
  return POSITIONS.map((h) => ring.ownerAt(h));
}

/** The moved range holding position h, if any (ranges are sorted and disjoint). */
function movedAt(moves: readonly MovedRange[], h: number): MovedRange | undefined {
  let lo = 0;
  let hi = moves.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (moves[mid]!.end <= h) lo = mid + 1;
    else hi = mid;
  }
  const m = moves[lo];
  return m && m.start <= h ? m : undefined;
}

describe('Ring properties (xxh32)', () => {
  it('the same shards in any order, or reached by adding and removing, give the same ring', () => {
    fc.assert(
      fc.property(
        shardSet(1, 12),
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 64 }),
        (shards, extra, vnodes) => {
          fc.pre(!shards.includes(extra));
          const ring = new Ring(shards, { vnodes });
          expect(new Ring([...shards].reverse(), { vnodes }).ranges()).toEqual(ring.ranges());
          expect(ring.withShard(extra).withoutShard(extra).ranges()).toEqual(ring.ranges());
          expect(new Ring([...shards, extra], { vnodes }).ranges()).toEqual(
            ring.withShard(extra).ranges(),
          );
        },
      ),
      { numRuns: 50 },
    );
  });

  it('ranges cover the circle once, in order, each owned by the shard ownerAt names', () => {
    fc.assert(
      fc.property(shardSet(1, 20), fc.integer({ min: 1, max: 300 }), (shards, vnodes) => {
        const ring = new Ring(shards, { vnodes });
        const ranges = ring.ranges();
        expect(ranges[0]!.start).toBe(0);
        expect(ranges[ranges.length - 1]!.end).toBe(RING_SIZE);
        const wrong = ranges.filter(
          (r, i) =>
            !(r.start < r.end) ||
            (i > 0 && r.start !== ranges[i - 1]!.end) ||
            ring.ownerAt(r.start) !== r.shard ||
            ring.ownerAt(r.end - 1) !== r.shard,
        );
        expect(wrong).toEqual([]);
        const total = [...ring.shares().values()].reduce((a, b) => a + b, 0);
        expect(total).toBeCloseTo(1, 9);
      }),
      { numRuns: 50 },
    );
  });

  it('adding a shard moves keys only to it, and movedRanges names exactly those keys', () => {
    fc.assert(
      fc.property(shardSet(1, 20), fc.string({ minLength: 1, maxLength: 8 }), (shards, extra) => {
        fc.pre(!shards.includes(extra));
        const before = new Ring(shards, { vnodes: 32 });
        const after = before.withShard(extra);
        const moves = movedRanges(before, after);
        const a = owners(before);
        const b = owners(after);
        const wrong: string[] = [];
        for (let i = 0; i < KEYS.length; i++) {
          if (a[i] !== b[i] && b[i] !== extra) wrong.push(`${KEYS[i]} moved to ${b[i]}`);
          const m = movedAt(moves, POSITIONS[i]!);
          const said = m ? `${m.from}->${m.to}` : `${a[i]}->${a[i]}`;
          if (said !== `${a[i]}->${b[i]}`) wrong.push(`${KEYS[i]}: movedRanges says ${said}`);
        }
        expect(wrong).toEqual([]);
        expect(moves.filter((m) => m.to !== extra)).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it('removing a shard moves only its keys', () => {
    fc.assert(
      fc.property(shardSet(2, 20), fc.nat(), (shards, pick) => {
        const gone = shards[pick % shards.length]!;
        const before = new Ring(shards, { vnodes: 32 });
        const after = before.withoutShard(gone);
        const a = owners(before);
        const b = owners(after);
        const moved = KEYS.filter((_, i) => a[i] !== b[i] && a[i] !== gone);
        expect(moved).toEqual([]);
        expect(movedRanges(before, after).filter((m) => m.from !== gone)).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it('movedRanges agrees with owner changes between any two rings, at range edges too', () => {
    fc.assert(
      fc.property(shardSet(1, 8), shardSet(1, 8), (x, y) => {
        const before = new Ring(x, { vnodes: 16 });
        const after = new Ring(y, { vnodes: 16 });
        const moves = movedRanges(before, after);
        const edges = [...before.ranges(), ...after.ranges()].flatMap((r) => [r.start, r.end - 1]);
        const wrong = [...edges, ...POSITIONS.slice(0, 2000)].filter((h) => {
          const m = movedAt(moves, h);
          const from = before.ownerAt(h);
          const to = after.ownerAt(h);
          return m ? m.from !== from || m.to !== to : from !== to;
        });
        expect(wrong).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});

describe(`Ring balance at the default ${DEFAULT_VNODES} vnodes`, () => {
  // The most loaded shard's share of the circle / mean. With V vnodes a share's relative
  // spread is about 1/sqrt(V) (6% at 256); bench/ring.ts measured the mean (worst) over 20
  // namings as 1.06 (1.12), 1.10 (1.14), 1.16 (1.21) for 3, 10, 100 shards.
  const BOUNDS = [
    [3, 1.2],
    [10, 1.25],
    [100, 1.3],
  ] as const;

  it.each(BOUNDS)('%i shards: the most loaded shard gets at most %f x the mean', (n, bound) => {
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), (prefix) => {
        const ring = new Ring(Array.from({ length: n }, (_, i) => `${prefix}${i}`));
        expect(Math.max(...ring.shares().values()) * n).toBeLessThanOrEqual(bound);
      }),
      // A bound on a spread is statistical: one seed, so the namings tried are the same in
      // every run and the test cannot fail one day in fifty (1.21 was seen at 3 shards).
      { numRuns: n === 100 ? 10 : 30, seed: 20_261_128 },
    );
  });

  it.each(BOUNDS)(
    '%i shards named shard-i: keys keyName(i) spread within the bound',
    (n, bound) => {
      const ring = new Ring(Array.from({ length: n }, (_, i) => `shard-${i}`));
      const counts = new Map<string, number>();
      for (let i = 0; i < 200_000; i++) {
        const s = ring.owner(keyName(i));
        counts.set(s, (counts.get(s) ?? 0) + 1);
      }
      expect(counts.size).toBe(n);
      expect(Math.max(...counts.values()) / (200_000 / n)).toBeLessThanOrEqual(bound);
    },
  );

  it('adding a shard to N moves 1/(N+1) of keys: within 10% on average, 35% each time', () => {
    for (const n of [3, 10, 100]) {
      const ratios: number[] = [];
      for (let t = 0; t < 12; t++) {
        const ring = new Ring(Array.from({ length: n }, (_, i) => `t${t}-${i}`));
        const moved = movedRanges(ring, ring.withShard(`t${t}-new`));
        const share = moved.reduce((sum, m) => sum + (m.end - m.start), 0) / RING_SIZE;
        ratios.push(share * (n + 1));
      }
      for (const r of ratios) expect(Math.abs(r - 1)).toBeLessThan(0.35);
      const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
      expect(Math.abs(mean - 1)).toBeLessThan(0.1);
    }
  });
});
