import { describe, expect, it } from 'vitest';
import type {
  ClientOperation,
  FaultEvent,
  RaftSimReport,
  RoleSpan,
} from '../../../sim/raft/types.ts';
import {
  arrowOf,
  bucketPoints,
  circleLayout,
  clipSpan,
  describeOp,
  edgeCounts,
  edgeLine,
  edgeWidth,
  familyOf,
  familyTotals,
  historyLayout,
  leadersOf,
  MIN_SPAN_PX,
  naturalCompare,
  opClass,
  partitionSpans,
  roleBoxes,
  stackMarkers,
  tickLabel,
  timeScale,
  timeTicks,
  verdictOf,
  windowOf,
} from './geometry.ts';

const WHOLE = { fromMs: 0, toMs: 1000 };

function span(
  node: string,
  fromMs: number,
  toMs: number,
  role: RoleSpan['role'],
  term = 1,
): RoleSpan {
  return { node, fromMs, toMs, role, term };
}

function op(partial: Partial<ClientOperation>): ClientOperation {
  return {
    client: 'c1',
    key: 'k1',
    kind: 'get',
    invokedMs: 0,
    returnedMs: 10,
    result: null,
    attempts: 1,
    ...partial,
  };
}

describe('time', () => {
  it('maps the window onto the range, linearly', () => {
    const x = timeScale({ fromMs: 100, toMs: 300 }, 10, 210);
    expect(x(100)).toBe(10);
    expect(x(200)).toBe(110);
    expect(x(300)).toBe(210);
    expect(x(400)).toBe(310);
    expect(timeScale({ fromMs: 5, toMs: 5 }, 10, 20)(7)).toBe(10);
  });

  it('puts ticks at round steps inside the window, no more than asked', () => {
    expect(timeTicks({ fromMs: 0, toMs: 10_000 }, 10)).toEqual({
      ticks: [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000],
      stepMs: 1000,
    });
    const { ticks, stepMs } = timeTicks({ fromMs: 1234, toMs: 1734 }, 8);
    expect(stepMs).toBe(100);
    expect(ticks).toEqual([1300, 1400, 1500, 1600, 1700]);
    for (const [from, to] of [
      [0, 17],
      [0, 25_300],
      [999, 1001],
      [0, 600_000],
    ] as const) {
      const t = timeTicks({ fromMs: from, toMs: to }, 8);
      expect(t.ticks.length).toBeLessThanOrEqual(9);
      expect(t.ticks.length).toBeGreaterThan(0);
      for (const tick of t.ticks) {
        expect(tick).toBeGreaterThanOrEqual(from);
        expect(tick).toBeLessThanOrEqual(to);
      }
    }
  });

  it('labels ticks with as many decimals as the step needs', () => {
    expect(tickLabel(2000, 1000)).toBe('2 s');
    expect(tickLabel(1500, 500)).toBe('1.5 s');
    expect(tickLabel(1250, 50)).toBe('1.25 s');
  });

  it('clips a span to the window, or drops it', () => {
    expect(clipSpan(-50, 200, WHOLE)).toEqual({ fromMs: 0, toMs: 200 });
    expect(clipSpan(900, 1500, WHOLE)).toEqual({ fromMs: 900, toMs: 1000 });
    expect(clipSpan(100, 200, WHOLE)).toEqual({ fromMs: 100, toMs: 200 });
    expect(clipSpan(1000, 1200, WHOLE)).toBeNull();
    expect(clipSpan(-10, 0, WHOLE)).toBeNull();
  });

  it('keeps a zoom window inside the run', () => {
    expect(windowOf(10_000, null, 3000)).toEqual({ fromMs: 0, toMs: 10_000 });
    expect(windowOf(10_000, 20_000, 3000)).toEqual({ fromMs: 0, toMs: 10_000 });
    expect(windowOf(10_000, 2000, 3000)).toEqual({ fromMs: 3000, toMs: 5000 });
    expect(windowOf(10_000, 2000, 9500)).toEqual({ fromMs: 8000, toMs: 10_000 });
    expect(windowOf(10_000, 2000, -5)).toEqual({ fromMs: 0, toMs: 2000 });
  });
});

describe('the timeline', () => {
  const nodes = ['n1', 'n2', 'n3'];
  const x = timeScale(WHOLE, 0, 1000); // 1 px a ms

  it('lays spans in their node lane, clipped to the window', () => {
    const roles = [
      span('n2', 0, 300, 'follower'),
      span('n1', 200, 700, 'leader', 3),
      span('n3', 800, 1400, 'down'),
      span('n9', 0, 100, 'leader'),
    ];
    const boxes = roleBoxes(nodes, roles, WHOLE, x);
    expect(boxes.map((b) => [b.span.node, b.lane, b.x, b.width])).toEqual([
      ['n2', 1, 0, 300],
      ['n1', 0, 200, 500],
      ['n3', 2, 800, 200],
    ]);
    const zoomed = roleBoxes(
      nodes,
      roles,
      { fromMs: 250, toMs: 350 },
      timeScale({ fromMs: 250, toMs: 350 }, 0, 100),
    );
    expect(zoomed.map((b) => [b.span.node, b.x, b.width])).toEqual([
      ['n2', 0, 50],
      ['n1', 0, 100],
    ]);
  });

  it('writes the term on leader spans wide enough, shorter when narrower', () => {
    const boxes = roleBoxes(
      nodes,
      [
        span('n1', 0, 100, 'leader', 4),
        span('n2', 0, 20, 'leader', 5),
        span('n3', 0, 5, 'leader', 6),
        span('n3', 100, 300, 'candidate', 7),
      ],
      WHOLE,
      x,
    );
    expect(boxes.map((b) => b.label)).toEqual(['term 4', '5', null, null]);
  });

  it('keeps a short election visible but not a short follower span', () => {
    const tiny = timeScale({ fromMs: 0, toMs: 100_000 }, 0, 1000); // 100 ms a px
    const boxes = roleBoxes(
      nodes,
      [span('n1', 0, 10, 'candidate'), span('n2', 0, 10, 'follower'), span('n3', 0, 10, 'leader')],
      { fromMs: 0, toMs: 100_000 },
      tiny,
    );
    expect(boxes.map((b) => b.width)).toEqual([MIN_SPAN_PX, 0.1, MIN_SPAN_PX]);
  });

  it('stacks fault markers too close for one row, and keeps the rest on the first', () => {
    const faults: FaultEvent[] = [
      { atMs: 500, kind: 'heal', detail: 'healed' },
      { atMs: 100, kind: 'crash', detail: 'n1 crashed' },
      { atMs: 105, kind: 'partition', detail: '{n1} | {n2, n3}' },
      { atMs: 108, kind: 'restart', detail: 'n2 restarted' },
      { atMs: 2000, kind: 'transfer', detail: 'outside' },
    ];
    const markers = stackMarkers(faults, WHOLE, x, 14, 2);
    expect(markers.map((m) => [m.fault.atMs, m.row])).toEqual([
      [100, 0],
      [105, 1],
      [108, 0],
      [500, 0],
    ]);
  });

  it('pairs each partition with its heal, and leaves the last one open to the end', () => {
    const faults: FaultEvent[] = [
      { atMs: 100, kind: 'partition', detail: 'A' },
      { atMs: 300, kind: 'heal', detail: '' },
      { atMs: 350, kind: 'crash', detail: '' },
      { atMs: 400, kind: 'partition', detail: 'B' },
      { atMs: 500, kind: 'partition', detail: 'C' },
      { atMs: 550, kind: 'heal', detail: '' },
      { atMs: 600, kind: 'heal', detail: '' },
      { atMs: 800, kind: 'partition', detail: 'D' },
    ];
    expect(partitionSpans(faults, 1000)).toEqual([
      { fromMs: 100, toMs: 300, detail: 'A' },
      { fromMs: 400, toMs: 500, detail: 'B' },
      { fromMs: 500, toMs: 550, detail: 'C' },
      { fromMs: 800, toMs: 1000, detail: 'D' },
    ]);
  });

  it('lists each term leader once, in order of time', () => {
    expect(
      leadersOf([
        span('n2', 500, 900, 'leader', 3),
        span('n1', 100, 200, 'leader', 2),
        span('n2', 400, 500, 'leader', 3),
        span('n3', 0, 900, 'follower', 3),
      ]),
    ).toEqual([
      { term: 2, node: 'n1', fromMs: 100 },
      { term: 3, node: 'n2', fromMs: 400 },
    ]);
  });
});

describe('the client history', () => {
  it('colours an operation by its kind and result', () => {
    expect(opClass(op({ kind: 'get', result: 'v1' }))).toBe('get-hit');
    expect(opClass(op({ kind: 'get', result: null }))).toBe('get-miss');
    expect(opClass(op({ kind: 'set', result: 'ok', value: 'v' }))).toBe('set');
    expect(opClass(op({ kind: 'delete', result: 'ok' }))).toBe('delete');
    expect(opClass(op({ kind: 'set', result: 'error' }))).toBe('error');
    expect(opClass(op({ kind: 'set', returnedMs: null }))).toBe('unanswered');
  });

  it('sorts keys naturally', () => {
    expect(['key-10', 'key-2', 'key-1'].sort(naturalCompare)).toEqual(['key-1', 'key-2', 'key-10']);
  });

  it('packs overlapping operations of a key into rows, and opens unanswered ones to the end', () => {
    const history = [
      op({ key: 'k2', invokedMs: 0, returnedMs: 100 }),
      op({ key: 'k1', invokedMs: 0, returnedMs: 100 }),
      op({ key: 'k1', invokedMs: 50, returnedMs: 150, client: 'c2' }),
      op({ key: 'k1', invokedMs: 101, returnedMs: 120, client: 'c3' }),
      op({ key: 'k1', invokedMs: 104, returnedMs: 130, client: 'c4' }),
      op({ key: 'k1', invokedMs: 400, returnedMs: null, kind: 'set', value: 'v' }),
    ];
    const layout = historyLayout(history, WHOLE, {
      endMs: 900,
      maxKeys: 10,
      maxOps: 100,
      gapMs: 2,
    });
    expect(layout.lanes).toEqual([
      { key: 'k1', rows: 3, ops: 5 },
      { key: 'k2', rows: 1, ops: 1 },
    ]);
    expect(layout.bars.filter((b) => b.lane === 0).map((b) => [b.fromMs, b.row])).toEqual([
      [0, 0],
      [50, 1],
      [101, 2], // 1 ms after the first ended: closer than the gap
      [104, 0],
      [400, 0],
    ]);
    const open = layout.bars.find((b) => b.open);
    expect(open).toMatchObject({ fromMs: 400, toMs: 900 });
  });

  it('keeps to the window, the first keys and the earliest operations, and counts what it left', () => {
    const history = Array.from({ length: 30 }, (_, i) =>
      op({ key: `key-${i % 6}`, invokedMs: i * 40, returnedMs: i * 40 + 10 }),
    );
    const windowed = historyLayout(
      history,
      { fromMs: 200, toMs: 400 },
      { endMs: 1200, maxKeys: 10, maxOps: 100, gapMs: 1 },
    );
    expect(windowed.totalOps).toBe(6); // invoked at 200, 240, … 400
    expect(windowed.bars.every((b) => b.fromMs >= 200 && b.toMs <= 400)).toBe(true);

    const capped = historyLayout(
      history,
      { fromMs: 0, toMs: 1200 },
      { endMs: 1200, maxKeys: 2, maxOps: 7, gapMs: 1 },
    );
    expect(capped.totalKeys).toBe(6);
    expect(capped.lanes.map((l) => l.key)).toEqual(['key-0', 'key-1']);
    expect(capped.totalOps).toBe(30);
    expect(capped.keptOps).toBe(10);
    expect(capped.drawnOps).toBe(7);
    const latest = Math.max(...capped.bars.map((b) => b.fromMs));
    expect(latest).toBe(240 * 3); // key-0 and key-1 start at 0, 40, 240, 280, 480, 520, 720 …
  });

  it('describes an operation for its tooltip', () => {
    expect(
      describeOp(
        op({
          kind: 'set',
          key: 'k3',
          value: 'v17',
          result: 'ok',
          invokedMs: 12,
          returnedMs: 19,
          attempts: 2,
        }),
      ),
    ).toBe('c1: set k3 = v17 → ok, 0.012 s → 0.019 s (2 tries)');
    expect(describeOp(op({ kind: 'get', result: 'v2' }))).toContain('hit: v2');
    expect(describeOp(op({ kind: 'get', returnedMs: null }))).toBe(
      'c1: get k1 → no answer, from 0.000 s',
    );
  });
});

describe('messages', () => {
  const traffic = [
    { from: 'n1', to: 'n2', type: 'MsgApp', count: 40 },
    { from: 'n1', to: 'n2', type: 'MsgHeartbeat', count: 10 },
    { from: 'n2', to: 'n1', type: 'MsgAppResp', count: 38 },
    { from: 'n3', to: 'n1', type: 'MsgPreVote', count: 2 },
    { from: 'n1', to: 'n1', type: 'MsgProp', count: 5 },
    { from: 'n1', to: 'n3', type: 'MsgSomethingNew', count: 1 },
    { from: 'c1', to: 'n1', type: 'set', count: 6 },
    { from: 'c2', to: 'n1', type: 'get', count: 4 },
    { from: 'n1', to: 'c1', type: 'written', count: 6 },
    { from: 'n1', to: 'c2', type: 'redirect', count: 3 },
    { from: 'c1', to: 'c2', type: 'get', count: 1 },
  ];

  it('groups message types into families, unknown ones under Other', () => {
    expect(familyOf('MsgVoteResp').id).toBe('vote');
    expect(familyOf('MsgSnap').id).toBe('snapshot');
    expect(familyOf('MsgSomethingNew').id).toBe('other');
    expect(familyOf('get').id).toBe('client');
    expect(familyOf('redirect').id).toBe('answer');
    const totals = familyTotals(traffic);
    expect(totals.map((t) => [t.family.id, t.count])).toEqual([
      ['append', 78],
      ['heartbeat', 10],
      ['prevote', 2],
      ['client', 11],
      ['answer', 9],
      ['other', 6],
    ]);
    expect(totals[0]?.types).toEqual([
      { type: 'MsgApp', count: 40 },
      { type: 'MsgAppResp', count: 38 },
    ]);
  });

  it('counts each direction between two replicas or a replica and the clients, of one family or all, never to itself', () => {
    expect(edgeCounts(['n1', 'n2', 'n3'], traffic, null)).toEqual([
      { from: 'n1', to: 'n2', count: 50 },
      { from: 'n1', to: 'n3', count: 1 },
      { from: 'n1', to: 'clients', count: 9 },
      { from: 'n2', to: 'n1', count: 38 },
      { from: 'n3', to: 'n1', count: 2 },
      { from: 'clients', to: 'n1', count: 10 },
    ]);
    expect(edgeCounts(['n1', 'n2', 'n3'], traffic, 'append')).toEqual([
      { from: 'n1', to: 'n2', count: 40 },
      { from: 'n2', to: 'n1', count: 38 },
    ]);
  });

  it('puts replicas on a circle, the first at twelve o’clock, clockwise', () => {
    const at = circleLayout(['n1', 'n2', 'n3', 'n4'], 100, 100, 50);
    const round = (p: { x: number; y: number } | undefined) => [
      Math.round(p?.x ?? NaN),
      Math.round(p?.y ?? NaN),
    ];
    expect(round(at.get('n1'))).toEqual([100, 50]);
    expect(round(at.get('n2'))).toEqual([150, 100]);
    expect(round(at.get('n3'))).toEqual([100, 150]);
    expect(round(at.get('n4'))).toEqual([50, 100]);
  });

  it('draws the two directions side by side, cut short of the discs', () => {
    const a = { x: 0, y: 0 };
    const b = { x: 100, y: 0 };
    const there = edgeLine(a, b, 4, 10);
    const back = edgeLine(b, a, 4, 10);
    expect(there).toEqual({ x1: 10, y1: 4, x2: 90, y2: 4 });
    expect(back).toEqual({ x1: 90, y1: -4, x2: 10, y2: -4 });
    // Discs closer than two insets: cut at the middle, never reversed.
    const close = edgeLine(a, { x: 10, y: 0 }, 0, 10);
    expect(close.x1).toBeLessThanOrEqual(close.x2);
  });

  it('puts the arrow head at the end, the shaft stopping inside it', () => {
    const { shaft, head } = arrowOf({ x1: 0, y1: 0, x2: 100, y2: 0 }, 10, 4);
    expect(head).toBe('100,0 90,4 90,-4');
    expect(shaft).toEqual({ x1: 0, y1: 0, x2: 95, y2: 0 });
    // Shorter than its head: the head takes the whole line.
    expect(arrowOf({ x1: 0, y1: 0, x2: 0, y2: 5 }, 10, 2).head).toBe('0,5 -2,0 2,0');
  });

  it('scales arrow widths by area between the bounds', () => {
    expect(edgeWidth(0, 100)).toBe(0);
    expect(edgeWidth(100, 100, 1, 9)).toBe(9);
    expect(edgeWidth(25, 100, 1, 9)).toBe(5);
    expect(edgeWidth(400, 100, 1, 9)).toBe(9);
  });

  it('places each bucket at its start', () => {
    expect(bucketPoints([3, 0, 7])).toEqual([
      { t: 0, messages: 3 },
      { t: 100, messages: 0 },
      { t: 200, messages: 7 },
    ]);
  });
});

describe('the verdict', () => {
  function report(checks: Partial<RaftSimReport['checks']>, ok: boolean): RaftSimReport {
    const base = {
      invariantChecks: 1234,
      violations: [],
      lostWrites: 0,
      linearizable: 'yes' as const,
      linearizability: null,
      liveness: { ok: true, leaderAfterMs: 300, drainedAfterMs: 900, detail: 'leader after 0.3 s' },
    };
    return { ok, checks: { ...base, ...checks } } as unknown as RaftSimReport;
  }

  it('says every check held', () => {
    const v = verdictOf(report({}, true));
    expect(v.ok).toBe(true);
    expect(v.lines.every((l) => l.ok)).toBe(true);
    expect(v.lines[0]?.text).toContain('1,234 checks');
  });

  it('names what broke', () => {
    const v = verdictOf(
      report(
        {
          violations: [
            { invariant: 'election-safety', message: 'two leaders in term 3' },
            { invariant: 'log-matching', message: '…' },
          ] as unknown as RaftSimReport['checks']['violations'],
          lostWrites: 2,
          linearizable: 'no',
          linearizability: 'key-3: read v2 after v3 was acknowledged',
        },
        false,
      ),
    );
    expect(v.ok).toBe(false);
    expect(v.lines.filter((l) => !l.ok).map((l) => l.check)).toEqual([
      'Raft invariants',
      'Acknowledged writes',
      'Linearizability',
    ]);
    expect(v.lines[0]?.text).toBe('Election Safety: two leaders in term 3 (and 1 more)');
    expect(v.lines[2]?.text).toBe('key-3: read v2 after v3 was acknowledged');
  });
});
