import { describe, expect, it } from 'vitest';
import { movedRanges, Ring, RING_SIZE, type Range } from '../../core/ring/index.ts';
import {
  angleOf,
  arcPath,
  byId,
  describeMove,
  mergeArcs,
  moveOf,
  movedArcs,
  movedFraction,
  ownershipArcs,
  pointAt,
  ticksPath,
  type Arc,
} from './geometry.ts';

const Q = RING_SIZE / 4;

/** The arc holding position p, or undefined. */
function arcAt(arcs: readonly Arc[], p: number): Arc | undefined {
  return arcs.find((a) => (p - a.start + RING_SIZE) % RING_SIZE < a.length);
}

/** The numbers of an SVG path, in order. */
function numbers(d: string): number[] {
  return (d.match(/-?\d+(\.\d+)?/g) ?? []).map(Number);
}

describe('positions on the clock face', () => {
  it('puts 0 at twelve o clock and goes clockwise', () => {
    expect(angleOf(0)).toBe(0);
    expect(angleOf(Q)).toBeCloseTo(Math.PI / 2);
    const top = pointAt(100, 100, 50, 0);
    const right = pointAt(100, 100, 50, Q);
    const bottom = pointAt(100, 100, 50, 2 * Q);
    const left = pointAt(100, 100, 50, 3 * Q);
    expect([top.x, top.y]).toEqual([100, 50]);
    expect(right.x).toBeCloseTo(150);
    expect(right.y).toBeCloseTo(100);
    expect(bottom.x).toBeCloseTo(100);
    expect(bottom.y).toBeCloseTo(150);
    expect(left.x).toBeCloseTo(50);
    expect(left.y).toBeCloseTo(100);
  });
});

describe('mergeArcs', () => {
  for (const [name, ring] of [
    ['5 shards x 64 vnodes', new Ring(['s1', 's2', 's3', 's4', 's5'], { vnodes: 64 })],
    ['10 shards x 256 vnodes', new Ring(Array.from({ length: 10 }, (_, i) => `s${i + 1}`))],
    ['2 shards x 1 vnode', new Ring(['a', 'b'], { vnodes: 1 })],
  ] as const) {
    it(`covers the circle exactly once, one arc per run of an owner (${name})`, () => {
      const arcs = ownershipArcs(ring);
      expect(arcs.reduce((sum, a) => sum + a.length, 0)).toBe(RING_SIZE);
      for (let i = 0; i < arcs.length; i++) {
        const arc = arcs[i]!;
        const next = arcs[(i + 1) % arcs.length]!;
        expect(arc.start).toBeGreaterThanOrEqual(0);
        expect(arc.start).toBeLessThan(RING_SIZE);
        expect(arc.length).toBeGreaterThan(0);
        // Each arc ends where the next begins, the last one where the first begins.
        expect((arc.start + arc.length) % RING_SIZE).toBe(next.start);
        // Merged: two neighbours never have the same owner.
        expect(next.key).not.toBe(arc.key);
      }
      expect(arcs.length).toBeLessThan(ring.ranges().length + 1);
      // The arc under any position is its owner's.
      for (let i = 0; i < 2000; i++) {
        const p = Math.floor(((i + 0.5) / 2000) * RING_SIZE);
        expect(arcAt(arcs, p)?.key).toBe(ring.ownerAt(p));
      }
    });
  }

  it('draws one shard as one arc round the whole circle', () => {
    expect(ownershipArcs(new Ring(['s1'], { vnodes: 16 }))).toEqual([
      { key: 's1', start: expect.any(Number), length: RING_SIZE },
    ]);
  });

  it('joins the last and the first range of one owner into an arc across 0', () => {
    const ranges: Range[] = [
      { shard: 'a', start: 0, end: 10 },
      { shard: 'a', start: 10, end: Q },
      { shard: 'b', start: Q, end: 3 * Q },
      { shard: 'a', start: 3 * Q, end: RING_SIZE },
    ];
    expect(mergeArcs(ranges, (r) => r.shard)).toEqual([
      { key: 'b', start: Q, length: 2 * Q },
      { key: 'a', start: 3 * Q, length: 2 * Q },
    ]);
  });

  it('keeps ranges that do not touch apart, even with one key', () => {
    const ranges = [
      { start: 0, end: 10 },
      { start: 20, end: 30 },
      { start: RING_SIZE - 5, end: RING_SIZE },
    ];
    expect(mergeArcs(ranges, () => 'x')).toEqual([
      { key: 'x', start: 20, length: 10 },
      { key: 'x', start: RING_SIZE - 5, length: 15 },
    ]);
    expect(mergeArcs(ranges.slice(0, 2), () => 'x')).toEqual([
      { key: 'x', start: 0, length: 10 },
      { key: 'x', start: 20, length: 10 },
    ]);
  });
});

describe('arcPath', () => {
  it('draws an arc across 0 clockwise from its start to its end', () => {
    // From nine o'clock over twelve to three o'clock: a half circle, the upper one.
    const d = arcPath(100, 100, 50, { key: 'a', start: 3 * Q, length: 2 * Q });
    expect(d.startsWith('M')).toBe(true);
    expect(numbers(d)).toEqual([50, 100, 50, 50, 0, 0, 1, 150, 100]);
    // From nine o'clock round to six: three quarters, so the large arc.
    expect(numbers(arcPath(100, 100, 50, { key: 'a', start: 3 * Q, length: 3 * Q }))).toEqual([
      50, 100, 50, 50, 0, 1, 1, 100, 150,
    ]);
    // A small arc across 0 stays small: from just before twelve to just after.
    const small = numbers(
      arcPath(100, 100, 50, { key: 'a', start: RING_SIZE - Q / 9, length: (2 * Q) / 9 }),
    );
    expect(small[0]).toBeLessThan(100);
    expect(small[7]).toBeGreaterThan(100);
    expect(small[1]).toBeCloseTo(small[8]!);
    expect(small.slice(4, 7)).toEqual([0, 0, 1]);
  });

  it('draws a whole circle as two half circles (an SVG arc to its own start draws nothing)', () => {
    const d = arcPath(100, 100, 50, { key: 'a', start: 0, length: RING_SIZE });
    expect(numbers(d)).toEqual([100, 50, 50, 50, 0, 0, 1, 100, 150, 50, 50, 0, 0, 1, 100, 50]);
  });

  it('draws nothing for an empty arc', () => {
    expect(arcPath(100, 100, 50, { key: 'a', start: 5, length: 0 })).toBe('');
  });
});

describe('ticksPath', () => {
  it('draws one radial segment per position', () => {
    const d = ticksPath(100, 100, 40, 50, [0, Q]);
    expect(numbers(d)).toEqual([100, 60, 100, 50, 140, 100, 150, 100]);
    expect(d.match(/M/g)).toHaveLength(2);
  });
});

describe('what a move costs', () => {
  const three = new Ring(['s1', 's2', 's3']);
  const four = three.withShard('s4');

  it('measures the moved share as the share of keys whose owner changed', () => {
    const keys = 20_000;
    let changed = 0;
    for (let i = 0; i < keys; i++) {
      const key = `user:${i}`;
      if (three.owner(key) !== four.owner(key)) changed++;
    }
    expect(Math.abs(movedFraction(three, four) - changed / keys)).toBeLessThan(0.01);
  });

  it('moves exactly what the new shard owns on an add, and the old one owned on a removal', () => {
    expect(movedFraction(three, four)).toBeCloseTo(four.shares().get('s4')!, 12);
    expect(movedFraction(four, three)).toBeCloseTo(four.shares().get('s4')!, 12);
    expect(movedFraction(four, four)).toBe(0);
  });

  it('marks every moved range, keyed by its old owner', () => {
    const arcs = movedArcs(four.withoutShard('s2'), four);
    const total = arcs.reduce((sum, a) => sum + a.length, 0);
    expect(total / RING_SIZE).toBeCloseTo(movedFraction(four.withoutShard('s2'), four), 12);
    for (const r of movedRanges(four.withoutShard('s2'), four)) {
      expect(arcAt(arcs, r.start)?.key).toBe(r.from);
    }
  });

  it('says an add of one shard to N-1 ideally moves 1/N', () => {
    const move = moveOf(three, four);
    expect(move.added).toEqual(['s4']);
    expect(move.removed).toEqual([]);
    expect(move.ideal).toBe(1 / 4);
    expect(describeMove(move)).toBe(
      `moved ${(move.moved * 100).toFixed(1)} % of the key space, ideal 1/4 = 25.0 %`,
    );
    expect(moveOf(three, four.withShard('s5')).ideal).toBe(2 / 5);
    expect(describeMove(moveOf(three, four.withShard('s5')))).toContain('ideal 2/5 = 40.0 %');
  });

  it("says a removal ideally moves the removed shard's share, about 1/N", () => {
    const move = moveOf(four, three);
    const share = four.shares().get('s4')!;
    expect(move.removed).toEqual(['s4']);
    expect(move.ideal).toBe(share);
    expect(move.moved).toBeCloseTo(share, 12);
    expect(describeMove(move)).toBe(
      `moved ${(share * 100).toFixed(1)} % of the key space, ideal s4's share = ` +
        `${(share * 100).toFixed(1)} % (1/4 if balanced)`,
    );
    const two = moveOf(four, new Ring(['s1', 's2']));
    expect(two.ideal).toBeCloseTo(four.shares().get('s3')! + share, 12);
    expect(describeMove(two)).toContain("ideal s3 and s4's share");
    expect(describeMove(two)).toContain('(2/4 if balanced)');
  });

  it('takes the larger of the two for a replacement, and says when nothing changed', () => {
    const replaced = new Ring(['s1', 's2', 's3', 's5']);
    const move = moveOf(four, replaced);
    expect(move.ideal).toBe(Math.max(four.shares().get('s4')!, 1 / 4));
    expect(describeMove(move)).toContain('the larger of');
    expect(describeMove(moveOf(four, four))).toBe(
      'moved 0.0 % of the key space: the shards are the same',
    );
  });
});

describe('byId', () => {
  it('orders shard ids as people read them', () => {
    expect(['s10', 's2', 's1', 'b', 'a'].sort(byId)).toEqual(['a', 'b', 's1', 's2', 's10']);
  });
});
