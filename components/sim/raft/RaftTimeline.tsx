'use client';
/**
 * The timeline of terms and leaders: one lane per replica over virtual time, each span in the
 * colour of the replica's role (a leader strong, a candidate hatched, a follower pale, a
 * crashed replica striped grey), the term written on leader spans wide enough for it; above
 * the lanes, the faults as they happened (a <title> on each gives the detail) and each
 * partition as a band until its heal; a dashed line where faults stop.
 *
 *   <RaftTimeline timeline={report.timeline} faultMs={…} endMs={…} window={…} />
 *
 * Pure SVG on a fixed-width viewBox that scales to its box; the x scale (TIMELINE_X) is shared
 * with the client history below it, so the two line up.
 */
import { useId, useMemo } from 'react';
import type { FaultEvent, RaftSimReport } from '../../../sim/raft/types.ts';
import {
  atLabel,
  leadersOf,
  partitionSpans,
  roleBoxes,
  stackMarkers,
  tickLabel,
  timeScale,
  timeTicks,
  type Role,
  type TimeWindow,
} from './geometry.ts';
import styles from './raft.module.css';

type Timeline = NonNullable<RaftSimReport['timeline']>;

/** The drawings' shared horizontal layout (viewBox px): lane labels left, time right. */
export const TIMELINE_X = { width: 1160, left: 52, right: 16 } as const;

const MARKER_ROWS = 2;
const MARKER_ROW_PX = 16;
const TOP = 18;
const LANE_PX = 22;
const LANE_GAP = 6;
const AXIS_PX = 22;

export const ROLE_STYLE: Readonly<
  Record<Role, { readonly name: string; readonly fill: string; readonly ink: string }>
> = {
  leader: { name: 'leader', fill: '#1d4ed8', ink: '#1d4ed8' },
  candidate: { name: 'candidate', fill: '#fde68a', ink: '#d97706' },
  'pre-candidate': { name: 'pre-candidate', fill: '#fef9c3', ink: '#eab308' },
  follower: { name: 'follower', fill: '#dbeafe', ink: '#93c5fd' },
  down: { name: 'down (crashed)', fill: '#f3f4f6', ink: '#9ca3af' },
};

export const FAULT_STYLE: Readonly<
  Record<
    FaultEvent['kind'],
    { readonly glyph: string; readonly color: string; readonly name: string }
  >
> = {
  crash: { glyph: '✕', color: '#dc2626', name: 'crash' },
  restart: { glyph: '↻', color: '#16a34a', name: 'restart' },
  partition: { glyph: '⟂', color: '#d97706', name: 'partition' },
  heal: { glyph: '∞', color: '#0d9488', name: 'heal' },
  transfer: { glyph: '→', color: '#1d4ed8', name: 'leader transfer' },
};

export interface RaftTimelineProps {
  readonly timeline: Timeline;
  /** Faults stop here (the liveness bound starts), ms. */
  readonly faultMs: number;
  /** The run's end, ms. */
  readonly endMs: number;
  /** The stretch of time drawn; the whole run by default. */
  readonly window?: TimeWindow;
}

export function RaftTimeline({ timeline, faultMs, endMs, window }: RaftTimelineProps) {
  const id = useId().replaceAll(':', '');
  const w = useMemo(() => window ?? { fromMs: 0, toMs: endMs }, [window, endMs]);
  const { width, left, right } = TIMELINE_X;
  const x = useMemo(() => timeScale(w, left, width - right), [w, left, width, right]);
  const nodes = timeline.nodes;
  const lanesTop = TOP + MARKER_ROWS * MARKER_ROW_PX + 8;
  const lanesBottom = lanesTop + nodes.length * (LANE_PX + LANE_GAP) - LANE_GAP;
  const height = lanesBottom + AXIS_PX;

  const boxes = useMemo(() => roleBoxes(nodes, timeline.roles, w, x), [nodes, timeline, w, x]);
  const markers = useMemo(
    () => stackMarkers(timeline.faults, w, x, 14, MARKER_ROWS),
    [timeline, w, x],
  );
  const partitions = useMemo(() => partitionSpans(timeline.faults, endMs), [timeline, endMs]);
  const { ticks, stepMs } = timeTicks(w, 10);
  const leaders = useMemo(() => leadersOf(timeline.roles), [timeline]);
  const laneY = (lane: number) => lanesTop + lane * (LANE_PX + LANE_GAP);

  const fill = (role: Role) =>
    role === 'candidate' || role === 'pre-candidate' || role === 'down'
      ? `url(#${id}-${role})`
      : ROLE_STYLE[role].fill;

  const count = (kind: FaultEvent['kind']) => timeline.faults.filter((f) => f.kind === kind).length;
  const label =
    `Timeline of terms and leaders: ${nodes.length} replicas, ${leaders.length} leaders` +
    (leaders.length > 0
      ? ` (${leaders
          .slice(0, 12)
          .map((l) => `${l.node} in term ${l.term}`)
          .join(', ')}${leaders.length > 12 ? ', …' : ''})`
      : '') +
    `, ${count('crash')} crashes, ${count('partition')} partitions; faults stop at ${atLabel(faultMs)}`;

  const stopX = x(faultMs);
  const stopShown = faultMs >= w.fromMs && faultMs <= w.toMs;

  return (
    <svg
      className={styles.svg}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={label}
      data-testid="raft-timeline"
    >
      <title>Timeline of terms and leaders</title>
      <defs>
        <Hatch
          id={`${id}-candidate`}
          back={ROLE_STYLE.candidate.fill}
          ink={ROLE_STYLE.candidate.ink}
        />
        <Hatch
          id={`${id}-pre-candidate`}
          back={ROLE_STYLE['pre-candidate'].fill}
          ink={ROLE_STYLE['pre-candidate'].ink}
        />
        <Hatch id={`${id}-down`} back={ROLE_STYLE.down.fill} ink={ROLE_STYLE.down.ink} wide />
      </defs>

      {/* The time grid, under everything */}
      {ticks.map((t) => (
        <g key={t}>
          <line
            x1={x(t)}
            x2={x(t)}
            y1={TOP}
            y2={lanesBottom + 4}
            stroke="#eef0f3"
            strokeWidth={1}
          />
          <text x={x(t)} y={lanesBottom + 16} className={styles.tick} textAnchor="middle">
            {tickLabel(t, stepMs)}
          </text>
        </g>
      ))}

      {/* The fault row: partitions as bands, then each fault a glyph */}
      <text x={left - 8} y={TOP + MARKER_ROW_PX} className={styles.laneLabel} textAnchor="end">
        faults
      </text>
      {partitions.map((p) => {
        const from = Math.max(p.fromMs, w.fromMs);
        const to = Math.min(p.toMs, w.toMs);
        if (to <= from) return null;
        return (
          <rect
            key={`p-${p.fromMs}`}
            x={x(from)}
            width={Math.max(1, x(to) - x(from))}
            y={TOP}
            height={MARKER_ROWS * MARKER_ROW_PX}
            rx={3}
            fill="#fef3c7"
            data-partition=""
          >
            <title>{`Partitioned ${atLabel(p.fromMs)} → ${atLabel(p.toMs)}: ${p.detail}`}</title>
          </rect>
        );
      })}
      {markers.map(({ fault, x: mx, row }) => {
        const style = FAULT_STYLE[fault.kind];
        const cy = TOP + row * MARKER_ROW_PX + MARKER_ROW_PX / 2;
        return (
          <g key={`${fault.atMs}-${fault.kind}-${fault.detail}`} data-fault={fault.kind}>
            <title>{`${atLabel(fault.atMs)} ${style.name}: ${fault.detail}`}</title>
            <line
              x1={mx}
              x2={mx}
              y1={cy}
              y2={lanesBottom}
              stroke={style.color}
              strokeOpacity={0.25}
              strokeWidth={1}
            />
            <circle cx={mx} cy={cy} r={6.5} fill="#fff" stroke={style.color} strokeWidth={1.5} />
            <text
              x={mx}
              y={cy + 3.5}
              className={styles.glyph}
              fill={style.color}
              textAnchor="middle"
            >
              {style.glyph}
            </text>
          </g>
        );
      })}

      {/* One lane per replica */}
      {nodes.map((node, lane) => (
        <g key={node}>
          <rect
            x={left}
            y={laneY(lane)}
            width={width - left - right}
            height={LANE_PX}
            fill="#f9fafb"
          />
          <text
            x={left - 8}
            y={laneY(lane) + LANE_PX / 2 + 4}
            className={styles.laneLabel}
            textAnchor="end"
          >
            {node}
          </text>
        </g>
      ))}
      {boxes.map((box) => {
        const s = box.span;
        const y = laneY(box.lane) + (s.role === 'follower' ? 4 : 0);
        const h = s.role === 'follower' ? LANE_PX - 8 : LANE_PX;
        return (
          <g key={`${s.node}-${s.fromMs}-${s.role}`} data-role={s.role}>
            <title>{`${s.node} ${ROLE_STYLE[s.role].name}${s.role === 'down' ? '' : `, term ${s.term}`}: ${atLabel(s.fromMs)} → ${atLabel(s.toMs)}`}</title>
            <rect
              x={box.x}
              y={y}
              width={box.width}
              height={h}
              fill={fill(s.role)}
              stroke={s.role === 'leader' ? '#fff' : 'none'}
              strokeWidth={s.role === 'leader' ? 0.75 : 0}
            />
            {box.label !== null && (
              <text
                x={box.x + box.width / 2}
                y={y + h / 2 + 4}
                className={styles.term}
                textAnchor="middle"
              >
                {box.label}
              </text>
            )}
          </g>
        );
      })}

      {/* Where the faults stop and the liveness bound starts */}
      {stopShown && (
        <g data-testid="faults-stop">
          <line
            x1={stopX}
            x2={stopX}
            y1={TOP - 12}
            y2={lanesBottom + 4}
            stroke="#111827"
            strokeDasharray="4 3"
            strokeWidth={1.25}
          />
          <text
            x={stopX + 5}
            y={TOP - 4}
            className={styles.stop}
            textAnchor={stopX > width - 120 ? 'end' : 'start'}
            dx={stopX > width - 120 ? -10 : 0}
          >
            faults stop · {atLabel(faultMs)}
          </text>
        </g>
      )}
    </svg>
  );
}

/** A diagonal hatch: `ink` lines on `back`. */
function Hatch({
  id,
  back,
  ink,
  wide = false,
}: {
  id: string;
  back: string;
  ink: string;
  wide?: boolean;
}) {
  const size = wide ? 7 : 5;
  return (
    <pattern
      id={id}
      width={size}
      height={size}
      patternUnits="userSpaceOnUse"
      patternTransform="rotate(45)"
    >
      <rect width={size} height={size} fill={back} />
      <line x1={0} y1={0} x2={0} y2={size} stroke={ink} strokeWidth={wide ? 2 : 2.5} />
    </pattern>
  );
}
