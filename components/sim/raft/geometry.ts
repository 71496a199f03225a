/**
 * The maths of the Raft run's drawings (RaftTimeline, RaftMessages, ClientHistory), pure so it
 * is tested without a browser: virtual time to x, round ticks, role spans clipped to a window
 * and laid out in lanes, fault markers stacked so none hides another, partitions paired with
 * their heals, client operations packed into rows per key, message types grouped into
 * families, replicas placed on a circle with an arrow each way between two of them, and the
 * checker's verdict in words.
 *
 * Times are the report's: virtual milliseconds since the run began (sim/raft/types.ts).
 */
import type {
  ClientOperation,
  FaultEvent,
  RaftSimReport,
  RoleSpan,
} from '../../../sim/raft/types.ts';

/** A stretch of virtual time, [fromMs, toMs). */
export interface TimeWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

// ---------------------------------------------------------------------------------------------
// Time

/** A linear map from the window's time to [x0, x1] px; a window of no length maps to x0. */
export function timeScale(window: TimeWindow, x0: number, x1: number): (ms: number) => number {
  const span = window.toMs - window.fromMs;
  if (span <= 0) return () => x0;
  const k = (x1 - x0) / span;
  return (ms) => x0 + (ms - window.fromMs) * k;
}

/**
 * Ticks at a round step (1, 2 or 5 times a power of ten ms) inside the window, at most
 * `maxTicks` of them, and the step.
 */
export function timeTicks(
  window: TimeWindow,
  maxTicks = 8,
): { readonly ticks: number[]; readonly stepMs: number } {
  const span = Math.max(window.toMs - window.fromMs, 1);
  let stepMs = 1;
  for (let power = 1; ; power *= 10) {
    const step = [1, 2, 5].map((m) => m * power).find((s) => span / s <= maxTicks);
    if (step !== undefined) {
      stepMs = step;
      break;
    }
  }
  const ticks: number[] = [];
  for (let t = Math.ceil(window.fromMs / stepMs) * stepMs; t <= window.toMs; t += stepMs) {
    ticks.push(t);
  }
  return { ticks, stepMs };
}

/** A tick's label: `0 s`, `2 s`, `1.5 s`, `0.25 s`, as many decimals as the step needs. */
export function tickLabel(ms: number, stepMs: number): string {
  const decimals = stepMs >= 1000 ? 0 : stepMs >= 100 ? 1 : stepMs >= 10 ? 2 : 3;
  return `${(ms / 1000).toFixed(decimals)} s`;
}

/** A time for a tooltip: `1.234 s`. */
export function atLabel(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

/** The part of [fromMs, toMs) inside the window, or null when none of it is. */
export function clipSpan(fromMs: number, toMs: number, window: TimeWindow): TimeWindow | null {
  const from = Math.max(fromMs, window.fromMs);
  const to = Math.min(toMs, window.toMs);
  return to > from ? { fromMs: from, toMs: to } : null;
}

/**
 * A window of `lengthMs` starting at `startMs`, kept inside [0, endMs]; the whole run when
 * `lengthMs` is null or covers it.
 */
export function windowOf(endMs: number, lengthMs: number | null, startMs: number): TimeWindow {
  if (lengthMs === null || lengthMs >= endMs) return { fromMs: 0, toMs: endMs };
  const from = Math.min(Math.max(0, startMs), endMs - lengthMs);
  return { fromMs: from, toMs: from + lengthMs };
}

// ---------------------------------------------------------------------------------------------
// The timeline of terms and leaders

export type Role = RoleSpan['role'];

/** One role span as drawn: its lane, its box, and what is written on it. */
export interface SpanBox {
  readonly span: RoleSpan;
  readonly lane: number;
  readonly x: number;
  readonly width: number;
  /** Written on a leader span wide enough: `term 4`, or `4` when narrower. */
  readonly label: string | null;
}

/** Px a leader span needs for `term N`, and for `N` alone (at 11 px type). */
export const TERM_LABEL_PX = { long: 48, short: 18 } as const;
/** A leader, candidate or down span shorter than a pixel is still drawn a pixel wide. */
export const MIN_SPAN_PX = 1;

/**
 * The role spans inside `window` as boxes, one lane per node in `nodes`' order (spans of other
 * nodes are left out). Followers are drawn at their true width; every other role at least
 * MIN_SPAN_PX, so a short election still shows.
 */
export function roleBoxes(
  nodes: readonly string[],
  roles: readonly RoleSpan[],
  window: TimeWindow,
  x: (ms: number) => number,
): SpanBox[] {
  const lanes = new Map(nodes.map((node, i) => [node, i]));
  const boxes: SpanBox[] = [];
  for (const span of roles) {
    const lane = lanes.get(span.node);
    if (lane === undefined) continue;
    const clipped = clipSpan(span.fromMs, span.toMs, window);
    if (clipped === null) continue;
    const x0 = x(clipped.fromMs);
    const raw = x(clipped.toMs) - x0;
    const width = span.role === 'follower' ? raw : Math.max(raw, MIN_SPAN_PX);
    let label: string | null = null;
    if (span.role === 'leader') {
      if (width >= TERM_LABEL_PX.long) label = `term ${span.term}`;
      else if (width >= TERM_LABEL_PX.short) label = String(span.term);
    }
    boxes.push({ span, lane, x: x0, width, label });
  }
  return boxes;
}

/** A fault as drawn: where, and on which of the marker row's sub-rows. */
export interface MarkerBox {
  readonly fault: FaultEvent;
  readonly x: number;
  readonly row: number;
}

/**
 * The faults inside `window` placed at their time, each on the first of `rows` sub-rows where
 * it keeps `gapPx` from the marker before it; when no sub-row has room, on the one whose last
 * marker is furthest left (they overlap, but least).
 */
export function stackMarkers(
  faults: readonly FaultEvent[],
  window: TimeWindow,
  x: (ms: number) => number,
  gapPx: number,
  rows: number,
): MarkerBox[] {
  const last = Array.from({ length: Math.max(1, rows) }, () => -Infinity);
  const out: MarkerBox[] = [];
  const inWindow = faults
    .filter((f) => f.atMs >= window.fromMs && f.atMs <= window.toMs)
    .sort((a, b) => a.atMs - b.atMs);
  for (const fault of inWindow) {
    const at = x(fault.atMs);
    let row = last.findIndex((end) => at - end >= gapPx);
    if (row === -1) row = last.indexOf(Math.min(...last));
    last[row] = at;
    out.push({ fault, x: at, row });
  }
  return out;
}

/** A stretch during which the network was cut, with how (`{n1} | {n2, n3}`). */
export interface PartitionSpan {
  readonly fromMs: number;
  readonly toMs: number;
  readonly detail: string;
}

/**
 * Each partition until the heal after it (a new partition before a heal ends the one before);
 * one still open at the end lasts until `endMs`.
 */
export function partitionSpans(faults: readonly FaultEvent[], endMs: number): PartitionSpan[] {
  const out: PartitionSpan[] = [];
  let open: FaultEvent | null = null;
  for (const fault of [...faults].sort((a, b) => a.atMs - b.atMs)) {
    if (fault.kind === 'partition') {
      if (open !== null) out.push({ fromMs: open.atMs, toMs: fault.atMs, detail: open.detail });
      open = fault;
    } else if (fault.kind === 'heal' && open !== null) {
      out.push({ fromMs: open.atMs, toMs: fault.atMs, detail: open.detail });
      open = null;
    }
  }
  if (open !== null) out.push({ fromMs: open.atMs, toMs: endMs, detail: open.detail });
  return out;
}

/** Distinct leaders in order of time: `{ term, node, fromMs }` for the caption and label. */
export function leadersOf(
  roles: readonly RoleSpan[],
): { term: number; node: string; fromMs: number }[] {
  const seen = new Map<number, { term: number; node: string; fromMs: number }>();
  for (const span of roles) {
    if (span.role !== 'leader') continue;
    const known = seen.get(span.term);
    if (known === undefined || span.fromMs < known.fromMs) {
      seen.set(span.term, { term: span.term, node: span.node, fromMs: span.fromMs });
    }
  }
  return [...seen.values()].sort((a, b) => a.fromMs - b.fromMs);
}

// ---------------------------------------------------------------------------------------------
// The client history

export type OpClass = 'set' | 'get-hit' | 'get-miss' | 'delete' | 'error' | 'unanswered';

/** How an operation is coloured: by its kind and what came back. */
export function opClass(op: ClientOperation): OpClass {
  if (op.returnedMs === null) return 'unanswered';
  if (op.kind === 'get') return op.result === null ? 'get-miss' : 'get-hit';
  if (op.result === 'error') return 'error';
  return op.kind;
}

/** One operation as drawn: its key's lane, its row inside the lane, its time. */
export interface OpBar {
  readonly op: ClientOperation;
  readonly lane: number;
  readonly row: number;
  readonly fromMs: number;
  /** The return, or the end of the run for an operation never answered. */
  readonly toMs: number;
  /** Never answered: drawn open-ended. */
  readonly open: boolean;
}

export interface HistoryLayout {
  /** The keys drawn, in lane order, with how many rows each lane needs. */
  readonly lanes: readonly { readonly key: string; readonly rows: number; readonly ops: number }[];
  readonly bars: readonly OpBar[];
  readonly totalKeys: number;
  /** Operations in the window, on every key. */
  readonly totalOps: number;
  /** Operations in the window on the keys drawn, and of those, the ones drawn. */
  readonly keptOps: number;
  readonly drawnOps: number;
}

/** `key-2` before `key-10`. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * The operations inside `window` (an unanswered one lasts until `endMs`), a lane per key for
 * the first `maxKeys` keys in natural order, each lane as many rows as its overlapping
 * operations need (an operation takes the first row free `gapMs` before it), and at most
 * `maxOps` bars, the earliest.
 */
export function historyLayout(
  history: readonly ClientOperation[],
  window: TimeWindow,
  options: {
    readonly endMs: number;
    readonly maxKeys: number;
    readonly maxOps: number;
    readonly gapMs: number;
  },
): HistoryLayout {
  const byKey = new Map<string, { op: ClientOperation; fromMs: number; toMs: number }[]>();
  let totalOps = 0;
  for (const op of history) {
    const end = op.returnedMs ?? Math.max(options.endMs, op.invokedMs);
    // An operation of no length (answered at once) is still one: it keeps its instant.
    const visible =
      op.invokedMs <= window.toMs &&
      end >= window.fromMs &&
      (end > window.fromMs || op.invokedMs === end);
    if (!visible) continue;
    totalOps++;
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push({
      op,
      fromMs: Math.max(op.invokedMs, window.fromMs),
      toMs: Math.min(end, window.toMs),
    });
  }
  const keys = [...byKey.keys()].sort(naturalCompare);
  const kept = keys.slice(0, Math.max(0, options.maxKeys));
  const placed: OpBar[] = [];
  const lanes: { key: string; rows: number; ops: number }[] = [];
  let keptOps = 0;
  kept.forEach((key, lane) => {
    const ops = [...(byKey.get(key) ?? [])].sort((a, b) => a.fromMs - b.fromMs || a.toMs - b.toMs);
    keptOps += ops.length;
    const rowEnds: number[] = [];
    for (const o of ops) {
      let row = rowEnds.findIndex((end) => o.fromMs - end >= options.gapMs);
      if (row === -1) row = rowEnds.push(0) - 1;
      rowEnds[row] = o.toMs;
      placed.push({
        op: o.op,
        lane,
        row,
        fromMs: o.fromMs,
        toMs: o.toMs,
        open: o.op.returnedMs === null,
      });
    }
    lanes.push({ key, rows: Math.max(1, rowEnds.length), ops: ops.length });
  });
  const bars =
    placed.length <= options.maxOps
      ? placed
      : [...placed].sort((a, b) => a.fromMs - b.fromMs).slice(0, Math.max(0, options.maxOps));
  return {
    lanes,
    bars,
    totalKeys: keys.length,
    totalOps,
    keptOps,
    drawnOps: bars.length,
  };
}

/** What hovering over an operation says: `c2 set key-3 = v17 → ok, 0.012 → 0.019 s (2 tries)`. */
export function describeOp(op: ClientOperation): string {
  const what = op.kind === 'set' ? `set ${op.key} = ${op.value ?? '?'}` : `${op.kind} ${op.key}`;
  const result =
    op.returnedMs === null
      ? 'no answer'
      : op.kind === 'get'
        ? op.result === null
          ? 'miss'
          : `hit: ${op.result}`
        : (op.result ?? 'ok');
  const when =
    op.returnedMs === null
      ? `from ${atLabel(op.invokedMs)}`
      : `${atLabel(op.invokedMs)} → ${atLabel(op.returnedMs)}`;
  const tries = op.attempts > 1 ? ` (${op.attempts} tries)` : '';
  return `${op.client}: ${what} → ${result}, ${when}${tries}`;
}

// ---------------------------------------------------------------------------------------------
// Messages between replicas

export interface MessageFamily {
  readonly id: string;
  readonly name: string;
  readonly color: string;
  /** Message types of core/raft in this family. */
  readonly types: readonly string[];
}

/** Message types by what they are for, each family with one colour. */
export const MESSAGE_FAMILIES: readonly MessageFamily[] = [
  { id: 'append', name: 'Appends', color: '#2563eb', types: ['MsgApp', 'MsgAppResp'] },
  {
    id: 'heartbeat',
    name: 'Heartbeats',
    color: '#0d9488',
    types: ['MsgHeartbeat', 'MsgHeartbeatResp'],
  },
  { id: 'vote', name: 'Votes', color: '#d97706', types: ['MsgVote', 'MsgVoteResp'] },
  { id: 'prevote', name: 'Pre-votes', color: '#f59e0b', types: ['MsgPreVote', 'MsgPreVoteResp'] },
  {
    id: 'read',
    name: 'ReadIndex',
    color: '#7c3aed',
    types: ['MsgReadIndex', 'MsgReadIndexResp'],
  },
  { id: 'snapshot', name: 'Snapshots', color: '#db2777', types: ['MsgSnap'] },
  {
    id: 'transfer',
    name: 'Transfers',
    color: '#0f172a',
    types: ['MsgTransferLeader', 'MsgTimeoutNow'],
  },
  {
    id: 'client',
    name: 'Client requests',
    color: '#64748b',
    types: ['get', 'set', 'delete'],
  },
  {
    id: 'answer',
    name: 'Answers to clients',
    color: '#94a3b8',
    types: ['read', 'written', 'redirect'],
  },
  { id: 'other', name: 'Other', color: '#a8a29e', types: [] },
];

const FAMILY_OF_TYPE = new Map(
  MESSAGE_FAMILIES.flatMap((family) => family.types.map((type) => [type, family] as const)),
);

export function familyOf(type: string): MessageFamily {
  return FAMILY_OF_TYPE.get(type) ?? MESSAGE_FAMILIES[MESSAGE_FAMILIES.length - 1]!;
}

type Traffic = NonNullable<RaftSimReport['timeline']>['traffic'];

/** Each family with a message, its count and its types' counts, in MESSAGE_FAMILIES' order. */
export function familyTotals(
  traffic: Traffic,
): { family: MessageFamily; count: number; types: { type: string; count: number }[] }[] {
  const byType = new Map<string, number>();
  for (const t of traffic) byType.set(t.type, (byType.get(t.type) ?? 0) + t.count);
  return MESSAGE_FAMILIES.map((family) => {
    const types = [...byType]
      .filter(([type]) => familyOf(type) === family)
      .map(([type, count]) => ({ type, count }))
      .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
    return { family, count: types.reduce((sum, t) => sum + t.count, 0), types };
  }).filter((f) => f.count > 0);
}

/** Where every endpoint that is not a replica (the clients) is drawn, as one. */
export const CLIENTS = 'clients';

/**
 * Messages from one endpoint to another (of one family, or all), the pairs with any: the
 * replicas in `nodes`, and every other endpoint as CLIENTS. A message to itself is left out.
 */
export function edgeCounts(
  nodes: readonly string[],
  traffic: Traffic,
  family: string | null,
): { from: string; to: string; count: number }[] {
  const known = new Set(nodes);
  const counts = new Map<string, number>();
  for (const t of traffic) {
    if (family !== null && familyOf(t.type).id !== family) continue;
    const from = known.has(t.from) ? t.from : CLIENTS;
    const to = known.has(t.to) ? t.to : CLIENTS;
    if (from === to) continue;
    const key = `${from}\u0000${to}`;
    counts.set(key, (counts.get(key) ?? 0) + t.count);
  }
  const out: { from: string; to: string; count: number }[] = [];
  const ends = [...nodes, CLIENTS];
  for (const from of ends) {
    for (const to of ends) {
      const count = counts.get(`${from}\u0000${to}`) ?? 0;
      if (count > 0) out.push({ from, to, count });
    }
  }
  return out;
}

/** Replicas on a circle of radius r around (cx, cy): the first at twelve o'clock, clockwise. */
export function circleLayout(
  nodes: readonly string[],
  cx: number,
  cy: number,
  r: number,
): Map<string, Point> {
  const out = new Map<string, Point>();
  nodes.forEach((node, i) => {
    const a = (i / Math.max(1, nodes.length)) * 2 * Math.PI;
    out.set(node, { x: cx + r * Math.sin(a), y: cy - r * Math.cos(a) });
  });
  return out;
}

/**
 * The line of an arrow from a to b: moved `offset` px to the right of its direction (so a→b
 * and b→a run side by side), and cut `inset` px short at both ends (off the replicas' discs).
 */
export function edgeLine(
  a: Point,
  b: Point,
  offset: number,
  inset: number,
): { x1: number; y1: number; x2: number; y2: number } {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const length = Math.hypot(dx, dy);
  if (length === 0) return { x1: a.x, y1: a.y, x2: b.x, y2: b.y };
  const ux = dx / length;
  const uy = dy / length;
  // The right of the direction, in SVG's y-down coordinates.
  const nx = -uy;
  const ny = ux;
  const cut = Math.min(inset, length / 2);
  return {
    x1: a.x + ux * cut + nx * offset,
    y1: a.y + uy * cut + ny * offset,
    x2: b.x - ux * cut + nx * offset,
    y2: b.y - uy * cut + ny * offset,
  };
}

/**
 * An arrow along `line` as a shaft and a head: the head a triangle `length` long and
 * `2 * halfWidth` wide whose tip is the line's end, the shaft stopping inside the head (so a
 * thick shaft never pokes past the tip). The head's points as an SVG `points` attribute.
 */
export function arrowOf(
  line: { x1: number; y1: number; x2: number; y2: number },
  length: number,
  halfWidth: number,
): { shaft: { x1: number; y1: number; x2: number; y2: number }; head: string } {
  const dx = line.x2 - line.x1;
  const dy = line.y2 - line.y1;
  const d = Math.hypot(dx, dy);
  if (d === 0) return { shaft: line, head: '' };
  const ux = dx / d;
  const uy = dy / d;
  const l = Math.min(length, d);
  const bx = line.x2 - ux * l;
  const by = line.y2 - uy * l;
  const r = (v: number) => Math.round(v * 100) / 100;
  const head = [
    [line.x2, line.y2],
    [bx - uy * halfWidth, by + ux * halfWidth],
    [bx + uy * halfWidth, by - ux * halfWidth],
  ]
    .map(([x, y]) => `${r(x!)},${r(y!)}`)
    .join(' ');
  const shaftEnd = l / 2;
  return {
    shaft: { x1: line.x1, y1: line.y1, x2: line.x2 - ux * shaftEnd, y2: line.y2 - uy * shaftEnd },
    head,
  };
}

/** A stroke width for `count` of at most `max`: by area (square root), from minPx to maxPx. */
export function edgeWidth(count: number, max: number, minPx = 1, maxPx = 10): number {
  if (count <= 0 || max <= 0) return 0;
  return minPx + (maxPx - minPx) * Math.sqrt(Math.min(count, max) / max);
}

/** The messages-per-bucket series as chart points, each at its bucket's start. */
export function bucketPoints(
  perBucket: readonly number[],
  bucketMs = 100,
): { t: number; messages: number }[] {
  return perBucket.map((messages, i) => ({ t: i * bucketMs, messages }));
}

// ---------------------------------------------------------------------------------------------
// The verdict

export interface Verdict {
  readonly ok: boolean;
  /** What held or what broke, one line each, most important first. */
  readonly lines: readonly {
    readonly check: string;
    readonly ok: boolean;
    readonly text: string;
  }[];
}

/** The Raft paper's names of the invariants (Figure 3), and the monotonic commit index. */
const INVARIANT_NAMES: Readonly<Record<string, string>> = {
  'election-safety': 'Election Safety',
  'log-matching': 'Log Matching',
  'leader-completeness': 'Leader Completeness',
  'state-machine-safety': 'State Machine Safety',
  'monotonic-commit': 'Monotonic commit index',
};

/** The checker's findings as a verdict: every check, with what it found. */
export function verdictOf(report: RaftSimReport): Verdict {
  const c = report.checks;
  const violations = c.violations;
  const first = violations[0];
  const lines = [
    {
      check: 'Raft invariants',
      ok: violations.length === 0,
      text:
        first === undefined
          ? `held at every step (${c.invariantChecks.toLocaleString('en-US')} checks)`
          : `${INVARIANT_NAMES[first.invariant] ?? first.invariant}: ${first.message}${violations.length > 1 ? ` (and ${violations.length - 1} more)` : ''}`,
    },
    {
      check: 'Acknowledged writes',
      ok: c.lostWrites === 0,
      text: c.lostWrites === 0 ? 'none lost' : `${c.lostWrites} lost`,
    },
    {
      check: 'Linearizability',
      ok: c.linearizable !== 'no',
      text:
        c.linearizable === 'yes'
          ? 'every read agrees with one order of the writes'
          : c.linearizable === 'unknown'
            ? `not decided: ${c.linearizability ?? 'the search gave up'}`
            : (c.linearizability ?? 'a read contradicts every order of the writes'),
    },
    { check: 'Liveness', ok: c.liveness.ok, text: c.liveness.detail },
  ];
  return { ok: report.ok, lines };
}
