'use client';
/**
 * The client history: a lane per key, each operation a bar from when its client sent it to
 * when the answer came (open-ended, fading out, when none came), coloured by what it was and
 * what came back; overlapping operations on one key take rows of their own. Hovering shows the
 * operation (a <title>): client, key, value, result, times, tries. At most `maxKeys` keys and
 * `maxOps` bars are drawn, and the caption under it says what was left out.
 *
 * Same horizontal layout as the timeline (TIMELINE_X), so an election above lines up with the
 * requests it held up.
 */
import { useId, useMemo } from 'react';
import type { ClientOperation } from '../../../sim/raft/types.ts';
import { formatCount } from '../../format.ts';
import {
  atLabel,
  describeOp,
  historyLayout,
  opClass,
  tickLabel,
  timeScale,
  timeTicks,
  type OpClass,
  type TimeWindow,
} from './geometry.ts';
import { TIMELINE_X } from './RaftTimeline.tsx';
import styles from './raft.module.css';

export const OP_STYLE: Readonly<
  Record<OpClass, { readonly name: string; readonly color: string }>
> = {
  set: { name: 'set', color: '#7c3aed' },
  'get-hit': { name: 'get: hit', color: '#16a34a' },
  'get-miss': { name: 'get: miss', color: '#86efac' },
  delete: { name: 'delete', color: '#475569' },
  error: { name: 'error', color: '#dc2626' },
  unanswered: { name: 'no answer', color: '#f97316' },
};

const ROW_PX = 7;
const ROW_GAP = 2;
const LANE_PAD = 4;
const AXIS_PX = 22;
/** Bars closer than this many px in one row would read as one: the next takes another row. */
const GAP_PX = 2;

export interface ClientHistoryProps {
  readonly history: readonly ClientOperation[];
  readonly endMs: number;
  readonly window?: TimeWindow;
  /** Default 12 keys. */
  readonly maxKeys?: number;
  /** Default 4,000 bars. */
  readonly maxOps?: number;
}

export function ClientHistory({
  history,
  endMs,
  window,
  maxKeys = 12,
  maxOps = 4000,
}: ClientHistoryProps) {
  const id = useId().replaceAll(':', '');
  const w = useMemo(() => window ?? { fromMs: 0, toMs: endMs }, [window, endMs]);
  const { width, left, right } = TIMELINE_X;
  const x = useMemo(() => timeScale(w, left, width - right), [w, left, width, right]);
  const layout = useMemo(
    () =>
      historyLayout(history, w, {
        endMs,
        maxKeys,
        maxOps,
        gapMs: (GAP_PX * (w.toMs - w.fromMs)) / (width - left - right),
      }),
    [history, w, endMs, maxKeys, maxOps, width, left, right],
  );
  const tops: number[] = [];
  let y = 6;
  for (const lane of layout.lanes) {
    tops.push(y);
    y += LANE_PAD * 2 + lane.rows * (ROW_PX + ROW_GAP) - ROW_GAP + 2;
  }
  const lanesBottom = y;
  const height = lanesBottom + AXIS_PX;
  const { ticks, stepMs } = timeTicks(w, 10);

  const counts = new Map<OpClass, number>();
  for (const op of history) counts.set(opClass(op), (counts.get(opClass(op)) ?? 0) + 1);
  const label =
    `Client history: ${formatCount(history.length)} operations on ${layout.totalKeys} keys` +
    [...counts].map(([c, n]) => `, ${formatCount(n)} ${OP_STYLE[c].name}`).join('');

  return (
    <figure className={styles.figure}>
      <svg
        className={styles.svg}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={label}
        data-testid="raft-history"
      >
        <title>Client history</title>
        <defs>
          <linearGradient id={`${id}-open`} x1="0" x2="1" y1="0" y2="0">
            <stop offset="0" stopColor={OP_STYLE.unanswered.color} stopOpacity={0.9} />
            <stop offset="1" stopColor={OP_STYLE.unanswered.color} stopOpacity={0.1} />
          </linearGradient>
        </defs>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={0} y2={lanesBottom} stroke="#eef0f3" />
            <text x={x(t)} y={lanesBottom + 16} className={styles.tick} textAnchor="middle">
              {tickLabel(t, stepMs)}
            </text>
          </g>
        ))}
        {layout.lanes.map((lane, i) => (
          <g key={lane.key}>
            <rect
              x={left}
              y={tops[i]}
              width={width - left - right}
              height={LANE_PAD * 2 + lane.rows * (ROW_PX + ROW_GAP) - ROW_GAP}
              fill={i % 2 === 0 ? '#f9fafb' : '#f3f4f6'}
            />
            <text
              x={left - 8}
              y={(tops[i] ?? 0) + LANE_PAD + 8}
              className={styles.laneLabel}
              textAnchor="end"
            >
              {lane.key}
            </text>
          </g>
        ))}
        {layout.bars.map((bar) => {
          const c = opClass(bar.op);
          const x0 = x(bar.fromMs);
          const x1 = Math.max(x(bar.toMs), x0 + 1.5);
          const top = (tops[bar.lane] ?? 0) + LANE_PAD + bar.row * (ROW_PX + ROW_GAP);
          return (
            <rect
              key={`${bar.op.client}-${bar.op.invokedMs}-${bar.op.key}-${bar.row}`}
              data-op={c}
              x={x0}
              y={top}
              width={x1 - x0}
              height={ROW_PX}
              rx={bar.open ? 0 : 1.5}
              fill={bar.open ? `url(#${id}-open)` : OP_STYLE[c].color}
            >
              <title>{describeOp(bar.op)}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption className={styles.caption} data-testid="raft-history-cap">
        {layout.lanes.length === 0
          ? 'No client operations in this stretch of time.'
          : `${formatCount(layout.drawnOps)} of ${formatCount(layout.totalOps)} operations` +
            (w.fromMs > 0 || w.toMs < endMs
              ? ` between ${atLabel(w.fromMs)} and ${atLabel(w.toMs)}`
              : '') +
            ' drawn' +
            (layout.lanes.length < layout.totalKeys
              ? `: the first ${layout.lanes.length} of ${layout.totalKeys} keys`
              : `, every key`) +
            (layout.drawnOps < layout.keptOps
              ? `, the earliest ${formatCount(layout.drawnOps)} (choose a shorter window to see the rest)`
              : '') +
            '.'}
      </figcaption>
    </figure>
  );
}
