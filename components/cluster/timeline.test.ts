import { describe, expect, it } from 'vitest';
import type { Failover, Leadership } from '../../server/control/cluster.ts';
import {
  formatFailoverMs,
  latestFirst,
  loadVerification,
  lostWritesOf,
  timelineLanes,
  timelineWindowMs,
} from './timeline.ts';

const lead = (shard: string, leader: string, term: number, since: number, until: number | null) =>
  ({ shard, leader, term, since, until }) satisfies Leadership;

const failover = (over: Partial<Failover>): Failover => ({
  shard: 's1',
  oldLeader: 'n1',
  oldTerm: 1,
  newLeader: 'n2',
  term: 2,
  lostAt: 5000,
  electedAt: 5300,
  ms: 300,
  cause: 'killed',
  resolutionMs: 25,
  ...over,
});

describe('timelineLanes', () => {
  it('draws a lane per shard with each leader clipped to the window, a gap and a kill mark', () => {
    const lanes = timelineLanes(
      ['s1', 's2'],
      [
        lead('s1', 'n1', 1, 0, 5000),
        lead('s2', 'n4', 1, 1000, null),
        lead('s1', 'n2', 2, 5300, null),
      ],
      [failover({})],
      10_000,
      8000,
    );
    expect(lanes).toEqual([
      {
        shard: 's1',
        spans: [
          { leader: 'n1', term: 1, start: 0, end: 3000 / 8000, open: false },
          { leader: 'n2', term: 2, start: 3300 / 8000, end: 1, open: true },
        ],
        marks: [{ at: 3000 / 8000, node: 'n1', cause: 'killed', ms: 300 }],
      },
      { shard: 's2', spans: [{ leader: 'n4', term: 1, start: 0, end: 1, open: true }], marks: [] },
    ]);
  });

  it('leaves out spans that ended and losses that happened before the window, and unseen losses', () => {
    const [lane] = timelineLanes(
      ['s1'],
      [lead('s1', 'n1', 1, 0, 1000), lead('s1', 'n2', 2, 1200, null)],
      [failover({ lostAt: 1000 }), failover({ lostAt: null, ms: null, cause: 'unseen' })],
      10_000,
      5000,
    );
    expect(lane!.spans).toEqual([{ leader: 'n2', term: 2, start: 0, end: 1, open: true }]);
    expect(lane!.marks).toEqual([]);
  });
});

describe('timelineWindowMs', () => {
  it('covers the leaders known, within 20 s and 2 min', () => {
    expect(timelineWindowMs([], 1000)).toBe(20_000);
    expect(timelineWindowMs([lead('s1', 'n1', 1, 0, null)], 5000)).toBe(20_000);
    expect(timelineWindowMs([lead('s1', 'n1', 1, 0, null)], 50_000)).toBe(55_000);
    expect(timelineWindowMs([lead('s1', 'n1', 1, 0, null)], 600_000)).toBe(120_000);
  });
});

describe('the failover table and the load counts', () => {
  it('formats times and lists the newest first', () => {
    expect(formatFailoverMs(null)).toBe('—');
    expect(formatFailoverMs(412.4)).toBe('412 ms');
    expect(formatFailoverMs(1304)).toBe('1.30 s');
    const a = failover({ electedAt: 1 });
    const b = failover({ electedAt: 2 });
    expect(latestFirst([a, b])).toEqual([b, a]);
  });

  it('reads lostWrites and the verification counts only when the load status has them', () => {
    expect(lostWritesOf(null)).toBeNull();
    expect(lostWritesOf({ running: true })).toBeNull();
    expect(lostWritesOf({ running: true, lostWrites: 0 })).toBe(0);
    expect(lostWritesOf({ lostWrites: 'x' })).toBeNull();
    expect(loadVerification({ running: true })).toBeNull();
    expect(loadVerification({ retries: 3, lostWrites: 0 })).toEqual({
      retries: 3,
      verified: null,
      missing: null,
    });
  });
});
