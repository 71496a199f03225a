/**
 * The maths of the ring picture (RingPicture.tsx), pure so it is tested without a browser:
 * positions to angles and points, a ring's ranges merged into arcs, arcs into SVG paths, and
 * what a move costs against what it ideally should.
 *
 * The circle is drawn as a clock: position 0 at twelve o'clock, positions growing clockwise,
 * the whole 2^32 of them once round.
 */
import { movedRanges, RING_SIZE, type Ring } from '../../core/ring/index.ts';
import { formatPercent } from '../format.ts';

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** A stretch of the circle: `length` positions clockwise from `start` (it may cross 0). */
export interface Arc {
  /** What the arc belongs to: a shard id (or, for moved arcs, the shard it moved from). */
  readonly key: string;
  /** In [0, RING_SIZE). */
  readonly start: number;
  /** In (0, RING_SIZE]; start + length > RING_SIZE means the arc crosses 0. */
  readonly length: number;
}

/** The angle of a position, in radians clockwise from twelve o'clock. */
export function angleOf(position: number): number {
  return (position / RING_SIZE) * 2 * Math.PI;
}

/** The point at `position` on the circle of radius `r` around (cx, cy), in SVG coordinates. */
export function pointAt(cx: number, cy: number, r: number, position: number): Point {
  const a = angleOf(position);
  return { x: cx + r * Math.sin(a), y: cy - r * Math.cos(a) };
}

/**
 * Ranges in position order (each [start, end) with start < end, none crossing 0) merged into
 * arcs: neighbours with the same key become one arc, and so do the last and the first when
 * they meet at 0. Ranges that do not touch stay apart, so this serves both a ring's ranges,
 * which cover the circle, and moved ranges, which do not.
 */
export function mergeArcs<R extends { readonly start: number; readonly end: number }>(
  ranges: readonly R[],
  keyOf: (range: R) => string,
): Arc[] {
  const out: { key: string; start: number; length: number }[] = [];
  for (const range of ranges) {
    const key = keyOf(range);
    const last = out[out.length - 1];
    if (last !== undefined && last.key === key && last.start + last.length === range.start) {
      last.length += range.end - range.start;
    } else if (range.end > range.start) {
      out.push({ key, start: range.start, length: range.end - range.start });
    }
  }
  const first = out[0];
  const last = out[out.length - 1];
  if (
    out.length > 1 &&
    first !== undefined &&
    last !== undefined &&
    first.key === last.key &&
    first.start === 0 &&
    last.start + last.length === RING_SIZE
  ) {
    last.length += first.length;
    out.shift();
  }
  return out;
}

/** Who owns what: the ring's ranges merged into one arc per run of one shard. */
export function ownershipArcs(ring: Ring): Arc[] {
  return mergeArcs(ring.ranges(), (r) => r.shard);
}

/** The arcs whose owner differs between `previous` and `ring`, keyed by their old owner. */
export function movedArcs(previous: Ring, ring: Ring): Arc[] {
  return mergeArcs(movedRanges(previous, ring), (r) => r.from);
}

/** The share of the key space whose owner differs between the two rings. */
export function movedFraction(previous: Ring, ring: Ring): number {
  let moved = 0;
  for (const r of movedRanges(previous, ring)) moved += r.end - r.start;
  return moved / RING_SIZE;
}

/** Coordinates to two decimals: a hundredth of a pixel is finer than any screen. */
function n(v: number): string {
  return String(Math.round(v * 100) / 100 + 0);
}

/**
 * An SVG path along the circle of radius `r` for `arc`, clockwise (sweep flag 1). Stroke it
 * to draw a band. A whole circle is two half circles, since an SVG arc whose two ends are the
 * same point draws nothing.
 */
export function arcPath(cx: number, cy: number, r: number, arc: Arc): string {
  if (arc.length <= 0) return '';
  const a = pointAt(cx, cy, r, arc.start);
  if (arc.length >= RING_SIZE) {
    const b = pointAt(cx, cy, r, arc.start + RING_SIZE / 2);
    return (
      `M${n(a.x)} ${n(a.y)}` +
      `A${n(r)} ${n(r)} 0 0 1 ${n(b.x)} ${n(b.y)}` +
      `A${n(r)} ${n(r)} 0 0 1 ${n(a.x)} ${n(a.y)}`
    );
  }
  const b = pointAt(cx, cy, r, arc.start + arc.length);
  const large = arc.length > RING_SIZE / 2 ? 1 : 0;
  return `M${n(a.x)} ${n(a.y)}A${n(r)} ${n(r)} 0 ${large} 1 ${n(b.x)} ${n(b.y)}`;
}

/** One path of radial ticks from radius `inner` to `outer`, one at each position. */
export function ticksPath(
  cx: number,
  cy: number,
  inner: number,
  outer: number,
  positions: Iterable<number>,
): string {
  let d = '';
  for (const p of positions) {
    const a = pointAt(cx, cy, inner, p);
    const b = pointAt(cx, cy, outer, p);
    d += `M${n(a.x)} ${n(a.y)}L${n(b.x)} ${n(b.y)}`;
  }
  return d;
}

/** Shard ids in reading order: `s2` before `s10`. */
export function byId(a: string, b: string): number {
  return ID_ORDER.compare(a, b);
}
const ID_ORDER = new Intl.Collator('en', { numeric: true });

/** What a move from `previous` to `ring` is, and the least it could move. */
export interface Move {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Shards on the ring before and after. */
  readonly shardsBefore: number;
  readonly shardsAfter: number;
  /** The share of the key space whose owner changed. */
  readonly moved: number;
  /**
   * The least a move to a balanced ring must hand over. Adding k shards to make N: the new
   * shards' fair share, k/N. Removing shards: exactly what they owned, since every one of
   * their keys needs a new home (about k/N of the old N when the ring is balanced). Both at
   * once: the larger of the two, as the removed keys can fill the new shards.
   */
  readonly ideal: number;
}

export function moveOf(previous: Ring, ring: Ring): Move {
  const added = ring.shards.filter((s) => !previous.has(s)).sort(byId);
  const removed = previous.shards.filter((s) => !ring.has(s)).sort(byId);
  const before = previous.shares();
  let removedShare = 0;
  for (const s of removed) removedShare += before.get(s) ?? 0;
  const addedShare = added.length / ring.shards.length;
  return {
    added,
    removed,
    shardsBefore: previous.shards.length,
    shardsAfter: ring.shards.length,
    moved: movedFraction(previous, ring),
    ideal: Math.max(removedShare, addedShare),
  };
}

/** `s3`, `s3 and s4`, `s3, s4 and s5`. */
function listOf(ids: readonly string[]): string {
  if (ids.length <= 1) return ids.join('');
  return `${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}`;
}

/**
 * The move in one line, its ideal said the way that is true for it:
 *   add      `moved 24.6 % of the key space, ideal 1/4 = 25.0 %`
 *   remove   `moved 24.1 % of the key space, ideal s3's share = 24.1 % (1/4 if balanced)`
 */
export function describeMove(move: Move): string {
  const moved = `moved ${formatPercent(move.moved)} of the key space`;
  const { added, removed, shardsBefore, shardsAfter } = move;
  if (added.length === 0 && removed.length === 0) return `${moved}: the shards are the same`;
  if (removed.length === 0) {
    return `${moved}, ideal ${added.length}/${shardsAfter} = ${formatPercent(move.ideal)}`;
  }
  const owner = `${listOf(removed)}'s share`;
  if (added.length === 0) {
    return (
      `${moved}, ideal ${owner} = ${formatPercent(move.ideal)}` +
      ` (${removed.length}/${shardsBefore} if balanced)`
    );
  }
  return `${moved}, ideal ${formatPercent(move.ideal)} (the larger of ${owner} and the new shards' fair share)`;
}
