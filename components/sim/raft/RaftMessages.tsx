'use client';
/**
 * Messages between replicas: the replicas on a circle, an arrow each way between two of them,
 * as thick as the messages it carried (by area); beside it, the message types grouped by what
 * they are for, each a button that shows only its family's arrows, in its colour. Under them,
 * messages delivered per 100 ms over the run (recharts, like the dashboard's charts), with the
 * moment faults stop marked.
 */
import { useMemo, useState } from 'react';
import { Area, CartesianGrid, ComposedChart, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import type { RaftSimReport } from '../../../sim/raft/types.ts';
import { formatCompact, formatCount } from '../../format.ts';
import {
  atLabel,
  arrowOf,
  bucketPoints,
  circleLayout,
  CLIENTS,
  edgeCounts,
  edgeLine,
  edgeWidth,
  familyTotals,
  tickLabel,
  timeTicks,
} from './geometry.ts';
import styles from './raft.module.css';

type Timeline = NonNullable<RaftSimReport['timeline']>;

const SIZE = 280;
const NODE_R = 20;
const CLIENTS_R = 17;
const ALL_INK = '#334155';

export interface RaftMessagesProps {
  readonly timeline: Timeline;
}

export function RaftMessages({ timeline }: RaftMessagesProps) {
  const [family, setFamily] = useState<string | null>(null);
  const families = useMemo(() => familyTotals(timeline.traffic), [timeline]);
  const total = families.reduce((sum, f) => sum + f.count, 0);
  const chosen = families.find((f) => f.family.id === family) ?? null;
  const ink = chosen?.family.color ?? ALL_INK;
  const edges = useMemo(
    () => edgeCounts(timeline.nodes, timeline.traffic, chosen === null ? null : chosen.family.id),
    [timeline, chosen],
  );
  const max = edges.reduce((m, e) => Math.max(m, e.count), 0);
  // With more replicas, more arrows meet at each one: thinner, so they stay apart.
  const maxWidth = timeline.nodes.length <= 3 ? 9 : 6;
  const at = useMemo(() => {
    const layout = circleLayout(timeline.nodes, SIZE / 2, SIZE / 2, SIZE / 2 - NODE_R - 14);
    layout.set(CLIENTS, { x: SIZE / 2, y: SIZE / 2 });
    return layout;
  }, [timeline.nodes]);
  const busiest = [...edges].sort((a, b) => b.count - a.count)[0];
  const label =
    `Messages between replicas${chosen === null ? '' : ` (${chosen.family.name})`}: ` +
    `${formatCount(chosen?.count ?? total)} delivered` +
    (busiest === undefined
      ? ''
      : `, most from ${busiest.from} to ${busiest.to} (${formatCount(busiest.count)})`);

  return (
    <div className={styles.messages}>
      <svg
        className={styles.circle}
        width={SIZE}
        height={SIZE}
        viewBox={`0 0 ${SIZE} ${SIZE}`}
        role="img"
        aria-label={label}
        data-testid="raft-messages"
      >
        <title>Messages between replicas</title>
        {edges.map((e) => {
          const a = at.get(e.from);
          const b = at.get(e.to);
          if (a === undefined || b === undefined) return null;
          const widthPx = edgeWidth(e.count, max, 1.25, maxWidth);
          const toClients = e.from === CLIENTS || e.to === CLIENTS;
          const line = edgeLine(a, b, widthPx / 2 + 2, (toClients ? CLIENTS_R : NODE_R) + 4);
          const { shaft, head } = arrowOf(line, 5 + widthPx * 1.2, 2.5 + widthPx * 0.8);
          return (
            <g
              key={`${e.from}-${e.to}`}
              data-edge={`${e.from}-${e.to}`}
              fill={ink}
              stroke={ink}
              opacity={toClients ? 0.45 : 0.8}
            >
              <title>{`${e.from} → ${e.to}: ${formatCount(e.count)} messages`}</title>
              <line {...shaft} strokeWidth={widthPx} strokeLinecap="butt" />
              <polygon points={head} stroke="none" />
            </g>
          );
        })}
        <g>
          <circle
            cx={SIZE / 2}
            cy={SIZE / 2}
            r={CLIENTS_R}
            fill="#f8fafc"
            stroke="#94a3b8"
            strokeDasharray="3 2"
          />
          <text x={SIZE / 2} y={SIZE / 2 + 3.5} className={styles.clientsName} textAnchor="middle">
            clients
          </text>
        </g>
        {timeline.nodes.map((node) => {
          const p = at.get(node);
          if (p === undefined) return null;
          return (
            <g key={node}>
              <circle cx={p.x} cy={p.y} r={NODE_R} fill="#fff" stroke="#1d4ed8" strokeWidth={2} />
              <text x={p.x} y={p.y + 4.5} className={styles.nodeName} textAnchor="middle">
                {node}
              </text>
            </g>
          );
        })}
      </svg>
      <div className={styles.types}>
        <p className={styles.typesTitle}>
          By type · {formatCount(total)} delivered{' '}
          <span className={styles.muted}>(choose one to draw only its arrows)</span>
        </p>
        <ul className={styles.typeList} aria-label="Message types">
          <li>
            <button
              type="button"
              className={styles.typeButton}
              aria-pressed={family === null}
              onClick={() => setFamily(null)}
            >
              <span className={styles.typeSwatch} style={{ background: ALL_INK }} aria-hidden />
              <span className={styles.typeName}>All types</span>
              <span className={styles.typeCount}>{formatCount(total)}</span>
              <span className={styles.typeBar} aria-hidden>
                <span style={{ width: '100%', background: ALL_INK }} />
              </span>
            </button>
          </li>
          {families.map((f) => (
            <li key={f.family.id}>
              <button
                type="button"
                className={styles.typeButton}
                aria-pressed={family === f.family.id}
                onClick={() => setFamily(family === f.family.id ? null : f.family.id)}
                data-family={f.family.id}
              >
                <span
                  className={styles.typeSwatch}
                  style={{ background: f.family.color }}
                  aria-hidden
                />
                <span className={styles.typeName}>
                  {f.family.name}
                  <span className={styles.typeTypes}>
                    {f.types.map((t) => `${t.type} ${formatCompact(t.count)}`).join(' · ')}
                  </span>
                </span>
                <span className={styles.typeCount}>{formatCount(f.count)}</span>
                <span className={styles.typeBar} aria-hidden>
                  <span
                    style={{
                      width: `${((f.count / Math.max(1, total)) * 100).toFixed(1)}%`,
                      background: f.family.color,
                    }}
                  />
                </span>
              </button>
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}

export interface MessagesChartProps {
  readonly perBucket: readonly number[];
  readonly faultMs: number;
  readonly endMs: number;
  readonly height?: number;
}

/** Messages delivered per 100 ms of virtual time, with the moment faults stop. */
export function MessagesChart({ perBucket, faultMs, endMs, height = 150 }: MessagesChartProps) {
  const points = useMemo(() => bucketPoints(perBucket), [perBucket]);
  const { ticks, stepMs } = timeTicks({ fromMs: 0, toMs: endMs }, 10);
  const peak = points.reduce((m, p) => Math.max(m, p.messages), 0);
  return (
    <figure
      className={styles.chart}
      aria-label={`Messages per 100 ms: at most ${formatCount(peak)}`}
      data-testid="raft-messages-chart"
    >
      <div style={{ height }}>
        <ComposedChart
          responsive
          style={{ width: '100%', height }}
          data={points}
          margin={{ top: 14, right: 16, bottom: 0, left: 0 }}
        >
          <CartesianGrid vertical={false} stroke="#e5e7eb" />
          <XAxis
            dataKey="t"
            type="number"
            domain={[0, endMs]}
            ticks={ticks}
            tickFormatter={(t: number) => tickLabel(t, stepMs)}
            tick={{ fontSize: 11, fill: '#6b7280' }}
            tickLine={false}
            axisLine={{ stroke: '#d1d5db' }}
            height={20}
          />
          <YAxis
            width={48}
            tickFormatter={formatCompact}
            tick={{ fontSize: 11, fill: '#6b7280' }}
            tickLine={false}
            axisLine={false}
            allowDecimals={false}
          />
          <Tooltip
            isAnimationActive={false}
            cursor={{ stroke: '#94a3b8', strokeWidth: 1 }}
            content={({ active, label: t, payload }) =>
              active === true && typeof t === 'number' ? (
                <div className={styles.tooltip}>
                  <div className={styles.tooltipTime}>
                    {atLabel(t)} – {atLabel(t + 100)}
                  </div>
                  <div>
                    <b>{formatCount(Number(payload?.[0]?.value ?? 0))}</b> messages delivered
                  </div>
                </div>
              ) : null
            }
          />
          <ReferenceLine
            x={faultMs}
            stroke="#111827"
            strokeDasharray="4 3"
            label={{
              value: 'faults stop',
              position: 'insideTopRight',
              fontSize: 11,
              fill: '#374151',
            }}
          />
          <Area
            dataKey="messages"
            name="messages"
            type="stepAfter"
            stroke="#2563eb"
            strokeWidth={1.25}
            fill="#2563eb"
            fillOpacity={0.16}
            isAnimationActive={false}
            dot={false}
            activeDot={{ r: 3 }}
          />
        </ComposedChart>
      </div>
    </figure>
  );
}
