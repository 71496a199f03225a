'use client';
/**
 * The consistent-hash ring as a picture, for Level 5 (sharding): a circle with position 0 at
 * twelve o'clock; a band just inside it in the colour of the shard that owns each arc; each
 * vnode as a tick (while there are few enough to tell apart); during or after a move, a dark
 * band outside the circle over every arc whose owner changed, and under the picture
 * how much of the key space moved against the least a move could, and the keys streamed so far.
 *
 *   <RingPicture ring={ringOf(map)} previous={previousRingOf(map)} resharding={…} />
 *
 * Pure SVG, no animation. The box has a fixed size for a given `size`, and its two caption
 * lines are always there, so nothing around it moves when a move starts or ends. Colours are
 * SVG attributes (one per shard, palette.ts), so the picture also renders without the CSS.
 */
import { type CSSProperties, useMemo } from 'react';
import type { Ring } from '../../core/ring/index.ts';
import { formatCount, formatPercent } from '../format.ts';
import { shardColor } from '../palette.ts';
import {
  arcPath,
  byId,
  describeMove,
  moveOf,
  movedArcs,
  ownershipArcs,
  ticksPath,
  type Arc,
} from './geometry.ts';
import styles from './ring-picture.module.css';

export interface RingPictureProps {
  readonly ring: Ring;
  /** The ring before a move in progress or just done: arcs that changed owner are marked. */
  readonly previous?: Ring | null;
  /** Width and height of the circle's square, in px. Default 280. */
  readonly size?: number;
  /** Keys streamed to their new owners so far, out of those that must move. */
  readonly resharding?: { readonly movedKeys: number; readonly totalKeys: number } | null;
  /** The picture's accessible title. Default "Consistent-hash ring". */
  readonly title?: string;
}

export const DEFAULT_RING_SIZE = 280;
/** The colour of "moved": the band over moved arcs and the progress of the stream. */
const MOVED_INK = '#111827';
const CIRCLE_INK = '#d1d5db';
/** Under the moved band, so its gaps read as "stayed". */
const MOVED_TRACK = '#f3f4f6';
/** Past this many merged arcs, each shard's arcs are one path (thousands of sub-pixel arcs). */
const MAX_BAND_PATHS = 3000;
/** Ticks are drawn while there are at least this many px of circle per vnode. */
const MIN_PX_PER_TICK = 2.5;

export function RingPicture({
  ring,
  previous = null,
  size = DEFAULT_RING_SIZE,
  resharding = null,
  title = 'Consistent-hash ring',
}: RingPictureProps) {
  const k = size / DEFAULT_RING_SIZE;
  const c = size / 2;
  // Radii from the outside in: the moved band, the circle with its ticks, the owners' band.
  const movedWidth = 7 * k;
  const movedR = c - 1 - movedWidth / 2;
  const circleR = c - 14 * k;
  const tick = 4.5 * k;
  const bandWidth = 14 * k;
  const bandR = circleR - 2 * k - bandWidth / 2;

  const arcs = useMemo(() => ownershipArcs(ring), [ring]);
  const shares = useMemo(() => ring.shares(), [ring]);
  const before = useMemo(() => previous?.shares() ?? null, [previous]);
  const move = useMemo(() => (previous === null ? null : moveOf(previous, ring)), [previous, ring]);
  const moved = useMemo(
    () => (previous === null ? [] : movedArcs(previous, ring)),
    [previous, ring],
  );

  const bands = useMemo(() => bandPaths(arcs, c, bandR), [arcs, c, bandR]);
  // Arcs narrower than a pixel on average: anti-aliasing would blend their colours into one
  // muddy hue, so each pixel takes one arc's colour instead.
  const crisp = arcs.length > 2 * Math.PI * bandR;
  const ticks = useMemo(() => {
    const vnodes = ring.shards.length * ring.vnodesPerShard;
    if ((2 * Math.PI * circleR) / vnodes < MIN_PX_PER_TICK) return [];
    const byShard = new Map<string, number[]>(ring.shards.map((s) => [s, []]));
    for (const v of ring.vnodes()) byShard.get(v.shard)!.push(v.position);
    return [...byShard].map(([shard, positions]) => ({
      shard,
      d: ticksPath(c, c, circleR - tick, circleR + tick, positions),
    }));
  }, [ring, c, circleR, tick]);

  const ids = useMemo(
    () => [...new Set([...ring.shards, ...(previous?.shards ?? [])])].sort(byId),
    [ring, previous],
  );
  const fair = 1 / ring.shards.length;
  const legend = legendBox(ids, size);
  const moveLine = move === null ? null : describeMove(move);
  const label =
    `${title}: ${ring.shards.length} shard${ring.shards.length === 1 ? '' : 's'}, ` +
    ring.shards
      .slice()
      .sort(byId)
      .map((s) => `${s} ${formatPercent(shares.get(s))}`)
      .join(', ') +
    (moveLine === null ? '' : `; ${moveLine}`);
  const progress =
    resharding === null
      ? null
      : {
          text: `${formatCount(resharding.movedKeys)} of ${formatCount(resharding.totalKeys)} keys moved`,
          share:
            resharding.totalKeys > 0
              ? Math.min(1, Math.max(0, resharding.movedKeys / resharding.totalKeys))
              : 0,
        };

  return (
    <figure className={styles.picture} style={{ width: size + BODY_GAP + legend.width }}>
      <div className={styles.body}>
        <svg
          className={styles.svg}
          role="img"
          aria-label={label}
          width={size}
          height={size}
          viewBox={`0 0 ${size} ${size}`}
        >
          <title>{title}</title>
          <circle cx={c} cy={c} r={circleR} fill="none" stroke={CIRCLE_INK} strokeWidth={1} />
          <g
            fill="none"
            strokeWidth={bandWidth}
            strokeLinecap="butt"
            shapeRendering={crisp ? 'crispEdges' : undefined}
          >
            {bands.map((band, i) => (
              <path key={i} data-band={band.shard} d={band.d} stroke={shardColor(band.shard)} />
            ))}
          </g>
          {ticks.length > 0 && (
            <g fill="none" strokeWidth={Math.max(1, k)} strokeLinecap="butt">
              {ticks.map((t) => (
                <path key={t.shard} data-ticks={t.shard} d={t.d} stroke={shardColor(t.shard)} />
              ))}
            </g>
          )}
          {previous !== null && (
            <circle
              cx={c}
              cy={c}
              r={movedR}
              fill="none"
              stroke={MOVED_TRACK}
              strokeWidth={movedWidth}
            />
          )}
          {moved.length > 0 && (
            <g fill="none" strokeWidth={movedWidth} stroke={MOVED_INK}>
              {moved.map((arc, i) => (
                <path key={i} data-moved={arc.key} d={arcPath(c, c, movedR, arc)} />
              ))}
            </g>
          )}
          <text
            x={c}
            y={c - 4 * k}
            textAnchor="middle"
            fontSize={20 * k}
            fontWeight={600}
            fill="#111827"
          >
            {move === null || move.shardsBefore === move.shardsAfter
              ? `${ring.shards.length} shard${ring.shards.length === 1 ? '' : 's'}`
              : `${move.shardsBefore} → ${move.shardsAfter} shards`}
          </text>
          <text x={c} y={c + 16 * k} textAnchor="middle" fontSize={12 * k} fill="#6b7280">
            {`${formatCount(ring.vnodesPerShard)} vnodes each`}
          </text>
        </svg>
        <ul
          className={styles.legend}
          style={
            {
              width: legend.width,
              maxHeight: size,
              '--name-width': `${legend.nameWidth}px`,
              '--item-width': `${legend.itemWidth}px`,
            } as CSSProperties
          }
          aria-label="Shards"
        >
          {ids.map((id) => {
            const share = shares.get(id);
            const was = before?.get(id);
            return (
              <li key={id} className={styles.legendItem} data-shard={id}>
                <span className={styles.swatch} style={{ background: shardColor(id) }} />
                <span className={styles.id}>{id}</span>
                <span className={styles.share}>
                  {share === undefined
                    ? resharding === null
                      ? 'left'
                      : 'leaving'
                    : formatPercent(share)}
                </span>
                <span className={styles.bar} title="Share of the ring; the mark is a fair share">
                  <span
                    className={styles.barFill}
                    style={{
                      width: `${(Math.min(1, (share ?? 0) / (2 * fair)) * 100).toFixed(1)}%`,
                      background: shardColor(id),
                    }}
                  />
                </span>
                {before !== null && (
                  <span className={styles.note}>
                    {was === undefined ? 'new' : `was ${formatPercent(was)}`}
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      </div>
      <figcaption className={styles.caption}>
        <span className={styles.moveLine}>
          {moveLine === null ? (
            'No keys moving: each shard owns the arcs in its colour.'
          ) : (
            <>
              <span className={styles.movedSwatch} style={{ background: MOVED_INK }} />
              {moveLine}
            </>
          )}
        </span>
        <span className={styles.line}>
          {progress !== null && (
            <>
              <span className={styles.progressText}>{progress.text}</span>
              <span
                className={styles.progress}
                role="progressbar"
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={Math.round(progress.share * 100)}
                aria-label="Keys moved"
              >
                <span
                  className={styles.progressFill}
                  style={{ width: `${(progress.share * 100).toFixed(1)}%`, background: MOVED_INK }}
                />
              </span>
            </>
          )}
        </span>
      </figcaption>
    </figure>
  );
}

/** Legend rows and columns, as ring-picture.module.css sizes them. */
const BODY_GAP = 20;
const LEGEND_ROW = 22;
const LEGEND_ITEM_WIDTH = 216;
/** The name column, for ids as short as `s12`; wider ids widen it at about this per character. */
const LEGEND_NAME_WIDTH = 28;
const LEGEND_CHAR_WIDTH = 7.5;
const LEGEND_COLUMN_GAP = 16;

/** The legend's width: one column of shards, and another for each circle's height more. */
/** The legend's columns; the name column fits the longest id (`s12`, `shard-19`). */
function legendBox(
  ids: readonly string[],
  size: number,
): { width: number; itemWidth: number; nameWidth: number } {
  const rows = Math.max(1, Math.floor(size / LEGEND_ROW));
  const columns = Math.max(1, Math.ceil(ids.length / rows));
  const longest = Math.max(0, ...ids.map((id) => id.length));
  const nameWidth = Math.max(LEGEND_NAME_WIDTH, Math.ceil(longest * LEGEND_CHAR_WIDTH));
  const itemWidth = LEGEND_ITEM_WIDTH - LEGEND_NAME_WIDTH + nameWidth;
  return {
    width: columns * itemWidth + (columns - 1) * LEGEND_COLUMN_GAP,
    itemWidth,
    nameWidth,
  };
}

interface Band {
  readonly shard: string;
  readonly d: string;
}

/** One path per arc; past MAX_BAND_PATHS, one per shard holding all its arcs. */
function bandPaths(arcs: readonly Arc[], c: number, r: number): Band[] {
  if (arcs.length <= MAX_BAND_PATHS) {
    return arcs.map((arc) => ({ shard: arc.key, d: arcPath(c, c, r, arc) }));
  }
  const byShard = new Map<string, string>();
  for (const arc of arcs)
    byShard.set(arc.key, (byShard.get(arc.key) ?? '') + arcPath(c, c, r, arc));
  return [...byShard].map(([shard, d]) => ({ shard, d }));
}
