import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { RaftSimReport } from '../../../sim/raft/types.ts';
import { ClientHistory } from './ClientHistory.tsx';
import { DEFAULT_RAFT_FORM, runRaftSimulation } from './form.ts';
import { RaftMessages } from './RaftMessages.tsx';
import { RaftResults } from './RaftResults.tsx';
import { RaftTimeline } from './RaftTimeline.tsx';

type Timeline = NonNullable<RaftSimReport['timeline']>;

function count(html: string, pattern: RegExp): number {
  return html.match(new RegExp(pattern, 'g'))?.length ?? 0;
}

/** A small run written out: n1 leads term 2, crashes; n2 wins term 4 after a partition. */
const TIMELINE: Timeline = {
  nodes: ['n1', 'n2', 'n3'],
  roles: [
    { node: 'n1', fromMs: 0, toMs: 150, role: 'follower', term: 1 },
    { node: 'n1', fromMs: 150, toMs: 170, role: 'pre-candidate', term: 1 },
    { node: 'n1', fromMs: 170, toMs: 180, role: 'candidate', term: 2 },
    { node: 'n1', fromMs: 180, toMs: 1200, role: 'leader', term: 2 },
    { node: 'n1', fromMs: 1200, toMs: 1800, role: 'down', term: 2 },
    { node: 'n1', fromMs: 1800, toMs: 3000, role: 'follower', term: 4 },
    { node: 'n2', fromMs: 0, toMs: 1400, role: 'follower', term: 2 },
    { node: 'n2', fromMs: 1400, toMs: 1420, role: 'candidate', term: 4 },
    { node: 'n2', fromMs: 1420, toMs: 3000, role: 'leader', term: 4 },
    { node: 'n3', fromMs: 0, toMs: 3000, role: 'follower', term: 4 },
  ],
  faults: [
    { atMs: 900, kind: 'partition', detail: '{n3} | {n1, n2}' },
    { atMs: 1100, kind: 'heal', detail: 'network healed' },
    { atMs: 1200, kind: 'crash', detail: 'n1 crashed (leader of term 2)' },
    { atMs: 1800, kind: 'restart', detail: 'n1 restarted' },
  ],
  traffic: [
    { from: 'n1', to: 'n2', type: 'MsgApp', count: 120 },
    { from: 'n2', to: 'n1', type: 'MsgAppResp', count: 118 },
    { from: 'n1', to: 'n3', type: 'MsgHeartbeat', count: 40 },
    { from: 'n2', to: 'n3', type: 'MsgVote', count: 1 },
    { from: 'n3', to: 'n2', type: 'MsgVoteResp', count: 1 },
  ],
  messagesPerBucket: Array.from({ length: 30 }, (_, i) => (i >= 12 && i < 14 ? 0 : 10)),
  history: [
    {
      client: 'c1',
      key: 'key-1',
      kind: 'set',
      invokedMs: 200,
      returnedMs: 230,
      result: 'ok',
      value: 'v1',
      attempts: 1,
    },
    {
      client: 'c2',
      key: 'key-1',
      kind: 'get',
      invokedMs: 210,
      returnedMs: 240,
      result: 'v1',
      attempts: 1,
    },
    {
      client: 'c1',
      key: 'key-2',
      kind: 'set',
      invokedMs: 1190,
      returnedMs: null,
      result: null,
      value: 'v2',
      attempts: 3,
    },
    {
      client: 'c2',
      key: 'key-2',
      kind: 'get',
      invokedMs: 1500,
      returnedMs: 1530,
      result: null,
      attempts: 1,
    },
  ],
};

describe('RaftTimeline', () => {
  const html = renderToStaticMarkup(
    createElement(RaftTimeline, { timeline: TIMELINE, faultMs: 2000, endMs: 3000 }),
  );

  it('is an image whose label names the leaders, faults and when faults stop', () => {
    expect(html).toMatch(/<svg[^>]*role="img"/);
    const label = /aria-label="([^"]*)"/.exec(html)?.[1] ?? '';
    expect(label).toContain('3 replicas, 2 leaders (n1 in term 2, n2 in term 4)');
    expect(label).toContain('1 crashes, 1 partitions; faults stop at 2.000 s');
  });

  it('draws every span in its role, the term on the wide leader spans', () => {
    expect(count(html, /data-role="leader"/)).toBe(2);
    expect(count(html, /data-role="down"/)).toBe(1);
    expect(count(html, /data-role="follower"/)).toBe(4);
    expect(html).toContain('>term 2<');
    expect(html).toContain('>term 4<');
    expect(html).toContain('<title>n1 leader, term 2: 0.180 s → 1.200 s</title>');
  });

  it('marks each fault with its detail, the partition until its heal, and where faults stop', () => {
    expect(count(html, /data-fault="/)).toBe(4);
    expect(html).toContain('<title>1.200 s crash: n1 crashed (leader of term 2)</title>');
    expect(html).toContain('<title>Partitioned 0.900 s → 1.100 s: {n3} | {n1, n2}</title>');
    expect(html).toMatch(/data-testid="faults-stop".*faults stop · (<!-- -->)?2.000 s/);
  });

  it('draws only the window it is given', () => {
    const zoomed = renderToStaticMarkup(
      createElement(RaftTimeline, {
        timeline: TIMELINE,
        faultMs: 2000,
        endMs: 3000,
        window: { fromMs: 1300, toMs: 1600 },
      }),
    );
    expect(count(zoomed, /data-fault="/)).toBe(0);
    expect(count(zoomed, /data-role="leader"/)).toBe(1); // n2's; n1's ended at 1.2 s
    expect(zoomed).not.toContain('data-testid="faults-stop"');
  });
});

describe('ClientHistory', () => {
  it('draws a bar per operation, coloured by its result, with a tooltip', () => {
    const html = renderToStaticMarkup(
      createElement(ClientHistory, { history: TIMELINE.history, endMs: 3000 }),
    );
    expect(html).toMatch(
      /<svg[^>]*role="img"[^>]*aria-label="Client history: 4 operations on 2 keys/,
    );
    expect(count(html, /data-op="/)).toBe(4);
    for (const kind of ['set', 'get-hit', 'get-miss', 'unanswered']) {
      expect(html).toContain(`data-op="${kind}"`);
    }
    expect(html).toContain('c1: set key-2 = v2 → no answer, from 1.190 s (3 tries)');
    expect(html).toContain('4 of 4 operations drawn, every key.');
  });

  it('says what it left out', () => {
    const html = renderToStaticMarkup(
      createElement(ClientHistory, { history: TIMELINE.history, endMs: 3000, maxKeys: 1 }),
    );
    expect(count(html, /data-op="/)).toBe(2);
    expect(html).toContain('2 of 4 operations drawn: the first 1 of 2 keys.');
    const zoomed = renderToStaticMarkup(
      createElement(ClientHistory, {
        history: TIMELINE.history,
        endMs: 3000,
        window: { fromMs: 1000, toMs: 2000 },
      }),
    );
    expect(zoomed).toContain('2 of 2 operations between 1.000 s and 2.000 s drawn, every key.');
  });
});

describe('RaftMessages', () => {
  it('draws an arrow per direction with messages, and every family in the legend', () => {
    const html = renderToStaticMarkup(createElement(RaftMessages, { timeline: TIMELINE }));
    expect(html).toMatch(
      /<svg[^>]*role="img"[^>]*aria-label="Messages between replicas: 280 delivered, most from n1 to n2 \(120\)"/,
    );
    expect(count(html, /data-edge="/)).toBe(5);
    expect(html).toContain('<title>n1 → n2: 120 messages</title>');
    const families = [...html.matchAll(/data-family="([^"]+)"/g)].map((m) => m[1]);
    expect(families).toEqual(['append', 'heartbeat', 'vote']);
    expect(html).toContain('MsgApp 120 · MsgAppResp 118');
  });
});

describe('RaftResults', () => {
  it('shows a real run: the verdict, the three drawings, the command and the report', () => {
    const form = { ...DEFAULT_RAFT_FORM, faultSeconds: 2 };
    const outcome = runRaftSimulation(form);
    const html = renderToStaticMarkup(
      createElement(RaftResults, { form, outcome, where: 'page', run: 1 }),
    );
    expect(html).toContain(outcome.report.ok ? '>OK<' : '>FAILED<');
    for (const id of ['raft-timeline', 'raft-history', 'raft-messages']) {
      expect(html).toContain(`data-testid="${id}"`);
    }
    expect(count(html, /data-role="leader"/)).toBeGreaterThan(0);
    expect(html).toContain(
      `npx tinycache sim raft --seed ${form.seed} --replicas 3 --clients ${form.clients} --faults-for 2s`,
    );
    expect(outcome.text.length).toBeGreaterThan(0);
  });

  it('says FAILED, and which check broke, when the checker found something', () => {
    const form = { ...DEFAULT_RAFT_FORM, faultSeconds: 2 };
    const real = runRaftSimulation(form);
    const broken: RaftSimReport = {
      ...real.report,
      ok: false,
      checks: {
        ...real.report.checks,
        violations: [{ invariant: 'election-safety', message: 'n1 and n2 both lead term 3' }],
      },
    };
    const html = renderToStaticMarkup(
      createElement(RaftResults, {
        form,
        outcome: { ...real, report: broken },
        where: 'worker',
        run: 2,
      }),
    );
    expect(html).toContain('>FAILED<');
    expect(html).toContain('What broke: Raft invariants.');
    expect(html).toContain('Election Safety: n1 and n2 both lead term 3');
    expect(html).toContain('data-ok="false"');
  });

  it('gives the same report for the same seed', () => {
    const form = { ...DEFAULT_RAFT_FORM, faultSeconds: 2 };
    expect(runRaftSimulation(form).text).toBe(runRaftSimulation(form).text);
  });
});
