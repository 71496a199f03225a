'use client';
/**
 * The live charts. Each reads the one `metrics.live` stream through `useLive` (never a stream or
 * a poll of its own) and draws the last `windowSeconds` of it: the cluster as a whole, or one
 * node with `nodeId`. Fixed height, no animation, so a page never jumps as samples arrive.
 *
 * Used by the dashboard and by the guided walkthroughs:
 *   <ThroughputChart />  <HitRateChart />  <LatencyChart />  <MemoryChart />  <EvictionsChart />
 *   <ReadPathChart /> (nodes with a database: a hit from memory against a miss read through)
 *   <KeysChart /> (entries per node, named with their shard: keys moving between shards)
 * each with props `{ windowSeconds?, height?, nodeId? }`.
 *
 * Inside `<ChartSamples samples={…}>` the same charts draw the samples given instead of the
 * stream: a simulated run (the /sim page) is drawn by these components, not by copies of them.
 */
import { createContext, type ReactNode, useContext, useMemo } from 'react';
import {
  Area,
  CartesianGrid,
  ComposedChart,
  Line,
  ReferenceLine,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import type { ClusterMap } from '../core/cluster/index.ts';
import type { LiveSample, NodeSample } from '../server/control/monitor.ts';
import type { NodeInfo } from '../server/control/supervisor.ts';
import {
  formatBytes,
  formatBytesShort,
  formatClock,
  formatCompact,
  formatCount,
  formatMs,
  formatPercent,
  formatPerSecond,
  formatRate,
} from './format.ts';
import { useLive } from './live-store.ts';
import { nodeColor, SERIES } from './palette.ts';
import { useOnScreen } from './use-on-screen.ts';
import styles from './charts.module.css';

export interface ChartProps {
  /** How much history to draw, in seconds (at most 600). Default 300. A run is drawn whole. */
  readonly windowSeconds?: number;
  /** Height of the plot in px; the legend above it adds 22 px (42 px: the cluster's latency). Default 180. */
  readonly height?: number;
  /** One node's series instead of the cluster's. */
  readonly nodeId?: string;
}

export const DEFAULT_WINDOW_SECONDS = 300;
export const DEFAULT_CHART_HEIGHT = 180;
/** Charts on one page show their tooltips at the same instant. */
const SYNC_ID = 'tinycache-live';

type Point = { readonly t: number } & Record<string, number | null>;
type Format = (value: number | null) => string;

interface Series {
  readonly key: string;
  readonly name: string;
  readonly color: string;
  readonly kind: 'area' | 'line';
  readonly dashed?: boolean;
  /** Areas with the same stack id are drawn on top of each other. */
  readonly stack?: string;
  /** Drawn thinner. */
  readonly thin?: boolean;
  /** Starts the legend's second row. */
  readonly newRow?: boolean;
  /** A 0 is drawn as nothing (an error line lies on the axis only while there are errors). */
  readonly zeroAsGap?: boolean;
}

interface Axis {
  readonly format: (value: number) => string;
  readonly domain?: readonly [number, number] | readonly [number, 'auto'];
  readonly ticks?: readonly number[];
  readonly log?: boolean;
  /** Values beyond the domain are cut off rather than stretching it. */
  readonly clip?: boolean;
}

interface View {
  readonly points: readonly Point[];
  readonly series: readonly Series[];
}

// ---------------------------------------------------------------------------------------------
// Where the samples come from

/**
 * How a chart reads its time axis. `wall`: `t` is ms since the epoch; the last `windowSeconds`
 * are drawn, labelled `-4m` … `now`. `run`: `t` is ms since a run's start (a simulation's
 * virtual time); the whole run is drawn, labelled `0s` … its length.
 */
export type ChartClock = 'wall' | 'run';

/** A moment worth a vertical line on every chart (`t` on the samples' clock). */
export interface ChartMark {
  readonly t: number;
  readonly label: string;
  /** Which side of the line its label sits (two marks close together: one each). Default right. */
  readonly side?: 'left' | 'right';
}

interface SampleSource {
  readonly samples: readonly LiveSample[];
  /** The nodes and the map before the last move, for the keys chart's shard names. */
  readonly nodes: readonly NodeInfo[];
  readonly previousMap: ClusterMap | null;
  readonly clock: ChartClock;
  readonly marks: readonly ChartMark[];
}

/** Null: the charts read the live store. */
const SamplesContext = createContext<SampleSource | null>(null);

export interface ChartSamplesProps {
  /** Oldest first, one a second, as the live stream sends them. */
  readonly samples: readonly LiveSample[];
  /** For the keys chart's shard names; none by default. */
  readonly nodes?: readonly NodeInfo[];
  readonly previousMap?: ClusterMap | null;
  /** Default `wall`, as the live stream's samples. */
  readonly clock?: ChartClock;
  readonly marks?: readonly ChartMark[];
  readonly children: ReactNode;
}

const NO_NODES: readonly NodeInfo[] = [];
const NO_MARKS: readonly ChartMark[] = [];

/** Every chart inside draws `samples` instead of the live stream. */
export function ChartSamples({
  samples,
  nodes = NO_NODES,
  previousMap = null,
  clock = 'wall',
  marks = NO_MARKS,
  children,
}: ChartSamplesProps) {
  const source = useMemo<SampleSource>(
    () => ({ samples, nodes, previousMap, clock, marks }),
    [samples, nodes, previousMap, clock, marks],
  );
  return <SamplesContext.Provider value={source}>{children}</SamplesContext.Provider>;
}

// ---------------------------------------------------------------------------------------------
// The charts

/** Requests per second served: stacked per node for the cluster, with errors. */
export function ThroughputChart(props: ChartProps) {
  const { samples, windowSeconds, nodeId } = useWindow(props);
  const shards = useShardOfNode();
  const view = useMemo<View>(() => {
    if (nodeId !== undefined) {
      return {
        series: [
          { key: 'rps', name: `${nodeId} served`, color: nodeColor(nodeId), kind: 'area' },
          {
            key: 'errors',
            name: 'errors',
            color: SERIES.errors,
            kind: 'line',
            zeroAsGap: true,
          },
        ],
        points: samples.map((s) => {
          const node = nodeOf(s, nodeId);
          return {
            t: s.t,
            rps: node === undefined ? null : (node.requestsPerSecond ?? 0),
            errors: node === undefined ? null : (node.errorsPerSecond ?? 0),
          };
        }),
      };
    }
    const ids = nodeIds(samples);
    return {
      series: [
        { key: 'total', name: 'cluster', color: '#0f172a', kind: 'line', thin: true },
        ...ids.map((id): Series => ({
          key: `node:${id}`,
          name: nodeLabel(id, shards),
          color: nodeColor(id),
          kind: 'area',
          stack: 'nodes',
        })),
        {
          key: 'errors',
          name: 'errors',
          color: SERIES.errors,
          kind: 'line',
          zeroAsGap: true,
          // In a cluster the node names are longer: the error lines take a row of their own.
          newRow: shards.size > 0,
        },
        {
          key: 'clientErrors',
          name: 'failed (client)',
          color: SERIES.clientErrors,
          kind: 'line',
          dashed: true,
          zeroAsGap: true,
        },
      ],
      points: samples.map((s) => {
        const point: Record<string, number | null> = {
          total: s.total.requestsPerSecond,
          errors: s.total.errorsPerSecond,
          clientErrors: s.load?.errors ?? null,
        };
        for (const id of ids) {
          const node = nodeOf(s, id);
          point[`node:${id}`] = node === undefined ? null : (node.requestsPerSecond ?? 0);
        }
        return { ...point, t: s.t };
      }),
    };
  }, [samples, nodeId, shards]);
  return (
    <TimeChart
      label={nodeId === undefined ? 'Throughput' : `Throughput of ${nodeId}`}
      legendLines={nodeId === undefined && shards.size > 0 ? 2 : 1}
      idle={{ text: 'No requests in this window. Start load to see traffic.', when: 'zero' }}
      view={view}
      windowSeconds={windowSeconds}
      height={props.height}
      value={(v) => (v === null ? '—' : formatRate(v, 'req/s'))}
      left={countAxis(view)}
    />
  );
}

/** Share of reads that found their key, as the nodes count them. */
export function HitRateChart(props: ChartProps) {
  const { samples, windowSeconds, nodeId } = useWindow(props);
  const shards = useShardOfNode();
  const view = useMemo<View>(() => {
    if (nodeId !== undefined) {
      return {
        series: [
          { key: 'hitRate', name: `${nodeId} hit rate`, color: SERIES.hitRate, kind: 'area' },
        ],
        points: samples.map((s) => ({ t: s.t, hitRate: nodeOf(s, nodeId)?.hitRate ?? null })),
      };
    }
    // The cluster's rate, and each node's as a line when there are several, so two nodes
    // with different settings (LRU beside W-TinyLFU) compare on one plot.
    const ids = nodeIds(samples);
    const perNode = ids.length > 1 ? ids : [];
    return {
      series: [
        { key: 'hitRate', name: 'cluster', color: SERIES.hitRate, kind: 'area' },
        ...perNode.map((id, i): Series => ({
          key: `node:${id}`,
          name: nodeLabel(id, shards),
          color: nodeColor(id),
          kind: 'line',
          // Past two nodes the legend takes a second row, so every node's figure shows.
          newRow: i === 2,
        })),
      ],
      points: samples.map((s) => {
        const point: Point = { t: s.t, hitRate: s.total.hitRate };
        for (const id of perNode) point[`node:${id}`] = nodeOf(s, id)?.hitRate ?? null;
        return point;
      }),
    };
  }, [samples, nodeId, shards]);
  return (
    <TimeChart
      label={nodeId === undefined ? 'Hit rate' : `Hit rate of ${nodeId}`}
      legendLines={view.series.length > 3 ? 2 : 1}
      idle={{ text: 'No reads in this window.', when: 'null' }}
      view={view}
      windowSeconds={windowSeconds}
      height={props.height}
      value={formatPercent}
      left={{
        format: (v) => `${Math.round(v * 100)}%`,
        domain: [0, 1],
        ticks: [0, 0.25, 0.5, 0.75, 1],
      }}
    />
  );
}

/**
 * p50 and p99 as the nodes measure them (time spent inside the node) and, while load runs, as
 * the load generator measures them (the client's view: network, queueing and the node). Log
 * scale, so a fraction of a millisecond and a stall of seconds are both readable.
 */
export function LatencyChart(props: ChartProps) {
  const { samples, windowSeconds, nodeId } = useWindow(props);
  const view = useMemo<View>(() => {
    // The client's view is of the whole cluster; one node's chart shows only the node's own.
    const series: Series[] = [
      { key: 'p50', name: 'p50 nodes', color: SERIES.p50, kind: 'line' },
      { key: 'p99', name: 'p99 nodes', color: SERIES.p99, kind: 'line' },
    ];
    if (nodeId === undefined) {
      series.push(
        {
          key: 'clientP50',
          name: 'p50 client',
          color: SERIES.clientP50,
          kind: 'line',
          dashed: true,
          newRow: true,
        },
        {
          key: 'clientP99',
          name: 'p99 client',
          color: SERIES.clientP99,
          kind: 'line',
          dashed: true,
        },
      );
    }
    return {
      series,
      points: samples.map((s) => {
        const own = nodeId === undefined ? s.total : nodeOf(s, nodeId);
        return {
          t: s.t,
          p50: positive(own?.p50Ms),
          p99: positive(own?.p99Ms),
          clientP50: positive(s.load?.p50Ms),
          clientP99: positive(s.load?.p99Ms),
        };
      }),
    };
  }, [samples, nodeId]);
  const axis = useMemo(() => logAxis(view), [view]);
  return (
    <TimeChart
      label={nodeId === undefined ? 'Latency' : `Latency of ${nodeId}`}
      legendLines={nodeId === undefined ? 2 : 1}
      idle={{ text: 'No requests in this window.', when: 'null' }}
      view={view}
      windowSeconds={windowSeconds}
      height={props.height}
      value={formatMs}
      left={axis}
    />
  );
}

/**
 * Level 3's comparison: GETs answered from memory (hits) against GETs read through from
 * PostgreSQL (misses), p50 and p99 each, over the nodes that have a database. Log scale: the
 * two paths are an order of magnitude apart.
 */
export function ReadPathChart(props: ChartProps) {
  const { samples, windowSeconds, nodeId } = useWindow(props);
  const view = useMemo<View>(
    () => ({
      series: [
        { key: 'memoryP50', name: 'p50 memory', color: SERIES.memoryRead, kind: 'line' },
        {
          key: 'memoryP99',
          name: 'p99 memory',
          color: SERIES.memoryRead,
          kind: 'line',
          dashed: true,
        },
        { key: 'databaseP50', name: 'p50 database', color: SERIES.databaseRead, kind: 'line' },
        {
          key: 'databaseP99',
          name: 'p99 database',
          color: SERIES.databaseRead,
          kind: 'line',
          dashed: true,
        },
      ],
      points: samples.map((s) => {
        const reads = (nodeId === undefined ? s.total : nodeOf(s, nodeId))?.reads ?? null;
        return {
          t: s.t,
          memoryP50: positive(reads?.memory.p50Ms),
          memoryP99: positive(reads?.memory.p99Ms),
          databaseP50: positive(reads?.database.p50Ms),
          databaseP99: positive(reads?.database.p99Ms),
        };
      }),
    }),
    [samples, nodeId],
  );
  const axis = useMemo(() => logAxis(view), [view]);
  return (
    <TimeChart
      label={nodeId === undefined ? 'Read path' : `Read path of ${nodeId}`}
      idle={{
        text: 'No GETs on a node with a database in this window.',
        when: 'null',
      }}
      view={view}
      windowSeconds={windowSeconds}
      height={props.height}
      value={formatMs}
      left={axis}
    />
  );
}

/** Bytes stored against the memory limit, and what compression saved. */
/** The memory chart's series of bytes held (the limit is the other). */
const STORED_KEYS = ['used', 'saved'];

export function MemoryChart(props: ChartProps) {
  const { samples, windowSeconds, nodeId } = useWindow(props);
  const view = useMemo<View>(
    () => ({
      series: [
        { key: 'used', name: 'stored', color: SERIES.memory, kind: 'area' },
        { key: 'limit', name: 'limit', color: SERIES.limit, kind: 'line', dashed: true },
        { key: 'saved', name: 'gzip saved', color: SERIES.saved, kind: 'line' },
      ],
      points: samples.map((s) => {
        if (nodeId !== undefined) {
          const node = nodeOf(s, nodeId);
          return {
            t: s.t,
            used: node?.memoryBytes ?? null,
            limit: node?.memoryLimitBytes ?? null,
            saved: node?.compressionSavedBytes ?? null,
          };
        }
        const read = s.nodes.filter((n) => n.memoryBytes !== null);
        return {
          t: s.t,
          used: read.length === 0 ? null : s.total.memoryBytes,
          limit: read.length === 0 ? null : s.total.memoryLimitBytes,
          saved:
            read.length === 0
              ? null
              : read.reduce((sum, n) => sum + (n.compressionSavedBytes ?? 0), 0),
        };
      }),
    }),
    [samples, nodeId],
  );
  // A limit far above what is stored would flatten the stored bytes to the floor: the axis
  // then fits what is stored, and the limit's value stays in the legend.
  const limitOff = peak(view, ['limit']) > 4 * Math.max(peak(view, STORED_KEYS), 1);
  const axis = useMemo(
    () => (limitOff ? { ...bytesAxis(view, STORED_KEYS), clip: true } : bytesAxis(view)),
    [view, limitOff],
  );
  const shown = useMemo<View>(
    () =>
      limitOff
        ? {
            ...view,
            series: view.series.map((s) =>
              s.key === 'limit' ? { ...s, name: 'limit (above the scale)' } : s,
            ),
          }
        : view,
    [view, limitOff],
  );
  return (
    <TimeChart
      label={nodeId === undefined ? 'Memory' : `Memory of ${nodeId}`}
      idle={{ text: 'No node answers its metrics.', when: 'null' }}
      view={shown}
      windowSeconds={windowSeconds}
      height={props.height}
      value={formatBytes}
      left={axis}
    />
  );
}

/** Entries evicted (memory full) and expired (TTL) per second. */
export function EvictionsChart(props: ChartProps) {
  const { samples, windowSeconds, nodeId } = useWindow(props);
  const view = useMemo<View>(
    () => ({
      series: [
        { key: 'evictions', name: 'evictions', color: SERIES.evictions, kind: 'area' },
        { key: 'expirations', name: 'expirations', color: SERIES.expirations, kind: 'line' },
      ],
      points: samples.map((s) => {
        if (nodeId === undefined) {
          const read = s.total.nodesUp > 0;
          return {
            t: s.t,
            evictions: read ? s.total.evictionsPerSecond : null,
            expirations: read ? s.total.expirationsPerSecond : null,
          };
        }
        const node = nodeOf(s, nodeId);
        const read = node !== undefined && node.memoryBytes !== null;
        return {
          t: s.t,
          evictions: read ? (node.evictionsPerSecond ?? 0) : null,
          expirations: read ? (node.expirationsPerSecond ?? 0) : null,
        };
      }),
    }),
    [samples, nodeId],
  );
  return (
    <TimeChart
      label={nodeId === undefined ? 'Evictions' : `Evictions on ${nodeId}`}
      idle={{ text: 'No evictions: everything fits under the limit.', when: 'zero' }}
      view={view}
      windowSeconds={windowSeconds}
      height={props.height}
      value={formatPerSecond}
      left={countAxis(view)}
    />
  );
}

/**
 * Entries each node holds, one line per node in its colour and named with its shard
 * (`n4 · s2`), so keys are seen streaming to a new shard and draining from a removed one.
 */
export function KeysChart(props: ChartProps) {
  const { samples, windowSeconds, nodeId } = useWindow(props);
  const shards = useShardOfNode();
  const view = useMemo<View>(() => {
    // A node with no count in the window (stopped all along) holds nothing to draw.
    const all =
      nodeId !== undefined
        ? [nodeId]
        : nodeIds(samples).filter((id) =>
            samples.some((s) => typeof nodeOf(s, id)?.entries === 'number'),
          );
    return {
      series: all.map((id, i): Series => ({
        key: `node:${id}`,
        name: nodeLabel(id, shards),
        color: nodeColor(id),
        kind: 'line',
        newRow: i === KEYS_LEGEND_ROW,
      })),
      points: samples.map((s) => {
        const point: Point = { t: s.t };
        for (const id of all) point[`node:${id}`] = nodeOf(s, id)?.entries ?? null;
        return point;
      }),
    };
  }, [samples, nodeId, shards]);
  return (
    <TimeChart
      label={nodeId === undefined ? 'Keys per node' : `Keys on ${nodeId}`}
      legendLines={view.series.length > KEYS_LEGEND_ROW ? 2 : 1}
      idle={{ text: 'No node answers its metrics.', when: 'null' }}
      view={view}
      windowSeconds={windowSeconds}
      height={props.height}
      value={(v) => (v === null ? '—' : `${formatCount(v)} keys`)}
      left={countAxis(view)}
    />
  );
}

/** Nodes in the keys chart's first legend row. */
const KEYS_LEGEND_ROW = 6;

/** `n4 · s2` for a node in a shard, `n4` for a lone node. */
function nodeLabel(id: string, shards: ReadonlyMap<string, string>): string {
  const shard = shards.get(id);
  return shard === undefined ? id : `${id} · ${shard}`;
}

/**
 * The shard of each node: as the nodes say, and for a node already retired (its shard removed)
 * as the map before the last move said, so its draining line keeps its name.
 */
function useShardOfNode(): ReadonlyMap<string, string> {
  const source = useContext(SamplesContext);
  const liveNodes = useLive((state) => state.nodes);
  const liveBefore = useLive((state) => state.cluster?.lastMove?.before ?? null);
  const nodes = source === null ? liveNodes : source.nodes;
  const before = source === null ? liveBefore : source.previousMap;
  return useMemo(() => {
    const shards = new Map<string, string>();
    for (const shard of before?.shards ?? []) {
      for (const node of shard.nodes) shards.set(node.id, shard.id);
    }
    for (const node of nodes) {
      if (node.shard !== null) shards.set(node.id, node.shard);
      else shards.delete(node.id);
    }
    return shards;
  }, [nodes, before]);
}

// ---------------------------------------------------------------------------------------------
// Shared drawing

function useWindow(props: ChartProps): {
  samples: readonly LiveSample[];
  windowSeconds: number;
  nodeId: string | undefined;
} {
  const windowSeconds = Math.min(600, Math.max(10, props.windowSeconds ?? DEFAULT_WINDOW_SECONDS));
  const source = useContext(SamplesContext);
  const live = useLive((state) => state.samples);
  const all = source === null ? live : source.samples;
  const whole = source?.clock === 'run';
  const samples = useMemo(() => {
    const last = all.at(-1);
    if (last === undefined) return [];
    if (whole) return all; // a run is drawn whole: TimeChart fits the axis to it
    const from = last.t - windowSeconds * 1000;
    let i = all.length;
    while (i > 0 && all[i - 1]!.t >= from) i--;
    return all.slice(i);
  }, [all, windowSeconds, whole]);
  return { samples, windowSeconds, nodeId: props.nodeId };
}

function nodeOf(sample: LiveSample, id: string): NodeSample | undefined {
  return sample.nodes.find((node) => node.id === id);
}

/** Every node id in the window, in the order they first appear. */
function nodeIds(samples: readonly LiveSample[]): string[] {
  const ids = new Set<string>();
  for (const sample of samples) for (const node of sample.nodes) ids.add(node.id);
  return [...ids];
}

function positive(value: number | null | undefined): number | null {
  return value !== null && value !== undefined && value > 0 ? value : null;
}

/** Ticks at fixed offsets from the newest sample, labelled `-4m` … `now`. */
function timeTicks(end: number, windowSeconds: number): number[] {
  const step =
    windowSeconds <= 60 ? 15 : windowSeconds <= 180 ? 30 : windowSeconds <= 300 ? 60 : 120;
  const ticks: number[] = [];
  for (let offset = 0; offset <= windowSeconds; offset += step) ticks.unshift(end - offset * 1000);
  return ticks;
}

/** Ticks at round steps from a run's start (`0s`, `2s` … or `0s`, `1m` …), at most eight. */
function runTicks(end: number): number[] {
  const seconds = Math.max(end / 1000, 1);
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].find((s) => seconds / s <= 8);
  const stepMs = (step ?? Math.ceil(seconds / 8)) * 1000;
  const ticks: number[] = [];
  for (let t = 0; t <= end; t += stepMs) ticks.push(t);
  return ticks;
}

function runLabel(t: number): string {
  const seconds = Math.round(t / 1000);
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

/** A run's time in s, to the ms at most: `3 s`, `2.5 s`. */
function runSeconds(t: number): string {
  return `${Number((t / 1000).toFixed(3))} s`;
}

function relativeLabel(end: number): (t: number) => string {
  return (t) => {
    const seconds = Math.round((end - t) / 1000);
    if (seconds <= 0) return 'now';
    if (seconds < 60 || seconds % 60 !== 0) return `-${seconds}s`;
    return `-${seconds / 60}m`;
  };
}

/** A count axis with round steps (1, 2, 2.5 or 5 times a power of ten), four of them. */
function countAxis(view: View): Axis {
  let max = 0;
  for (const point of view.points) {
    for (const series of view.series) {
      const v = point[series.key];
      if (typeof v === 'number') max = Math.max(max, v);
    }
  }
  const rough = Math.max(max, 4) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = power * ([1, 2, 2.5, 5, 10].find((m) => power * m >= rough) ?? 10);
  const top = Math.ceil(max / step) * step || step * 4;
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  return { format: formatCompact, domain: [0, top], ticks };
}

/** A byte axis with binary steps (0, 16M, 32M, 48M, 64M), at most five ticks above 0. */
/** A bytes axis from 0 over the series named by `keys` (all by default). */
function bytesAxis(view: View, keys = view.series.map((series) => series.key)): Axis {
  const max = peak(view, keys);
  let step = 1024;
  while (max / step > 4) step *= 2;
  const top = Math.max(step, Math.ceil(max / step) * step);
  const ticks: number[] = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  return { format: formatBytesShort, domain: [0, top], ticks };
}

/** The largest value of the series named by `keys` in the view; 0 when there is none. */
function peak(view: View, keys: readonly string[]): number {
  let max = 0;
  for (const point of view.points) {
    for (const key of keys) {
      const v = point[key];
      if (typeof v === 'number') max = Math.max(max, v);
    }
  }
  return max;
}

/** A log axis over whole decades (with 2 and 5 between when the span is short). */
function logAxis(view: View): Axis {
  let min = Infinity;
  let max = 0;
  for (const point of view.points) {
    for (const series of view.series) {
      const v = point[series.key];
      if (typeof v === 'number' && v > 0) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
  }
  if (max === 0) {
    min = 0.1;
    max = 1;
  }
  const lo = 10 ** Math.floor(Math.log10(min));
  let hi = 10 ** Math.ceil(Math.log10(max));
  if (hi <= lo) hi = lo * 10;
  const decades = Math.round(Math.log10(hi / lo));
  const ticks: number[] = [];
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    const steps = decades <= 2 ? [1, 2, 5] : [1];
    for (const m of steps) if (d * m <= hi * 1.0001) ticks.push(Number((d * m).toPrecision(3)));
  }
  return {
    format: (v) => (v >= 1000 ? `${v / 1000}s` : `${Number(v.toPrecision(3))}ms`),
    domain: [lo, hi],
    ticks,
    log: true,
  };
}

interface TimeChartProps {
  readonly label: string;
  /** Legend rows (the legend keeps its height, so the page never jumps). Default 1. */
  readonly legendLines?: 1 | 2;
  /** Said over the plot while no series has a value (`null`) or a value above 0 (`zero`). */
  readonly idle?: { readonly text: string; readonly when: 'null' | 'zero' };
  readonly view: View;
  readonly windowSeconds: number;
  readonly height: number | undefined;
  /** Formats a value for the legend and the tooltip. */
  readonly value: Format;
  readonly left: Axis;
}

function TimeChart({
  label,
  legendLines = 1,
  idle,
  view,
  windowSeconds,
  height,
  value,
  left,
}: TimeChartProps) {
  const plotHeight = height ?? DEFAULT_CHART_HEIGHT;
  const source = useContext(SamplesContext);
  const clock = source?.clock ?? 'wall';
  const marks = source?.marks ?? NO_MARKS;
  const [plotRef, onScreen] = useOnScreen<HTMLDivElement>();
  const { points, series } = view;
  const last = points.at(-1);
  const end = last?.t ?? 0;
  const byTime = useMemo(() => new Map(points.map((p) => [p.t, p])), [points]);
  const plotted = useMemo(() => {
    const gaps = series.filter((s) => s.zeroAsGap === true).map((s) => s.key);
    if (gaps.length === 0) return points;
    return points.map((p) => {
      const copy: Record<string, number | null> = { ...p };
      for (const key of gaps) if (copy[key] === 0) copy[key] = null;
      return copy as Point;
    });
  }, [points, series]);
  const quiet = useMemo(
    () =>
      idle !== undefined &&
      !points.some((p) =>
        series.some((s) => {
          const v = p[s.key];
          return typeof v === 'number' && (idle.when === 'null' || v > 0);
        }),
      ),
    [idle, points, series],
  );

  let body: ReactNode;
  if (last === undefined) {
    body = (
      <p className={styles.empty}>
        {source === null ? 'Waiting for the first sample from the live stream…' : 'No samples.'}
      </p>
    );
  } else if (!onScreen) {
    // Out of view: the plot keeps its height (nothing moves) and draws nothing.
    body = null;
  } else {
    const run = clock === 'run';
    const ticks = run ? runTicks(end) : timeTicks(end, windowSeconds);
    body = (
      <ComposedChart
        responsive
        style={{ width: '100%', height: plotHeight }}
        data={plotted as Point[]}
        margin={{ top: 6, right: 12, bottom: 0, left: 0 }}
        syncId={SYNC_ID}
        syncMethod="value"
      >
        <CartesianGrid vertical={false} stroke="#e5e7eb" />
        <XAxis
          dataKey="t"
          type="number"
          domain={run ? [0, end] : [end - windowSeconds * 1000, end]}
          ticks={ticks}
          tickFormatter={run ? runLabel : relativeLabel(end)}
          allowDataOverflow
          tick={{ fontSize: 11, fill: '#6b7280' }}
          tickLine={false}
          axisLine={{ stroke: '#d1d5db' }}
          height={20}
        />
        <YAxis
          width={48}
          scale={left.log === true ? 'log' : 'auto'}
          domain={left.domain as [number, number] | undefined}
          ticks={left.ticks as number[] | undefined}
          allowDataOverflow={left.log === true || left.clip === true}
          tickFormatter={left.format}
          tick={{ fontSize: 11, fill: '#6b7280' }}
          tickLine={false}
          axisLine={false}
        />
        <Tooltip
          isAnimationActive={false}
          cursor={{ stroke: '#94a3b8', strokeWidth: 1 }}
          content={({ active, label: t }) =>
            active === true && typeof t === 'number' ? (
              <TooltipBox
                time={run ? `${runSeconds(t)} into the run` : formatClock(t)}
                point={byTime.get(t)}
                series={series}
                value={value}
              />
            ) : null
          }
        />
        {marks.map((mark) => (
          <ReferenceLine
            key={`mark-${mark.t}-${mark.label}`}
            x={mark.t}
            stroke="#94a3b8"
            strokeDasharray="3 3"
            label={{
              value: mark.label,
              position: mark.side === 'left' ? 'insideTopRight' : 'insideTopLeft',
              fontSize: 11,
              fill: '#6b7280',
            }}
          />
        ))}
        {series.map((s) =>
          s.kind === 'area' ? (
            <Area
              key={s.key}
              dataKey={s.key}
              name={s.name}
              stackId={s.stack}
              type="linear"
              stroke={s.color}
              strokeWidth={1.5}
              fill={s.color}
              fillOpacity={s.stack === undefined ? 0.14 : 0.3}
              isAnimationActive={false}
              dot={false}
              activeDot={{ r: 3 }}
              connectNulls={false}
            />
          ) : (
            <Line
              key={s.key}
              dataKey={s.key}
              name={s.name}
              type="linear"
              stroke={s.color}
              strokeWidth={s.thin === true ? 1 : 1.75}
              strokeDasharray={s.dashed === true ? '5 3' : undefined}
              isAnimationActive={false}
              dot={false}
              activeDot={{ r: 3 }}
              connectNulls={false}
            />
          ),
        )}
      </ComposedChart>
    );
  }

  return (
    <figure className={styles.chart} aria-label={label}>
      <ul className={styles.legend} style={{ height: legendLines * 20 + 2 }}>
        {series.flatMap((s) => [
          ...(s.newRow === true
            ? [<li key={`${s.key}-break`} className={styles.legendBreak} aria-hidden />]
            : []),
          <li key={s.key} className={styles.legendItem}>
            <span
              className={s.dashed === true ? styles.swatchDashed : styles.swatch}
              style={{ color: s.color }}
              aria-hidden
            />
            <span className={styles.legendName}>{s.name}</span>
            <span className={styles.legendValue}>{value(last?.[s.key] ?? null)}</span>
          </li>,
        ])}
      </ul>
      <div ref={plotRef} className={styles.plot} style={{ height: plotHeight }}>
        {body}
        {quiet && last !== undefined && <p className={styles.idle}>{idle?.text}</p>}
      </div>
    </figure>
  );
}

function TooltipBox({
  time,
  point,
  series,
  value,
}: {
  time: string;
  point: Point | undefined;
  series: readonly Series[];
  value: Format;
}) {
  return (
    <div className={styles.tooltip}>
      <div className={styles.tooltipTime}>{time}</div>
      {series.map((s) => (
        <div key={s.key} className={styles.tooltipRow}>
          <span
            className={s.dashed === true ? styles.swatchDashed : styles.swatch}
            style={{ color: s.color }}
            aria-hidden
          />
          <span>{s.name}</span>
          <span className={styles.tooltipValue}>{value(point?.[s.key] ?? null)}</span>
        </div>
      ))}
    </div>
  );
}
