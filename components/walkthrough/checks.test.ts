import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type NodeConfig } from '../../core/config.ts';
import type { LiveSample, NodeSample, TotalSample } from '../../server/control/monitor.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import {
  IDLE_STATUS,
  type LoadSettings,
  DEFAULT_LOAD_SETTINGS,
} from '../../server/load/settings.ts';
import { LEVELS, parseLevel } from './catalog.ts';
import { describeLoad } from './facts.ts';
import { checkDeleted, checkExpired, checkRead, checkStored } from './level1.tsx';
import { checkCompared, checkCounted, checkKnee, checkRate, checkStopped } from './level2.tsx';
import { checkNothingLost, checkReadPath } from './level3.tsx';
import { checkAdded, checkCluster } from './level5.tsx';
import {
  checkFollowerWrite,
  checkKilledLeader,
  checkPaused,
  checkReplaced,
  checkRestarted,
} from './level6.tsx';
import type { ClusterState, Failover } from '../../server/control/cluster.ts';
import {
  checkCompressed,
  checkEvicting,
  checkRefused,
  checkRestored,
  checkScanCompared,
} from './level4.tsx';
import { WALKTHROUGHS } from './levels.ts';
import type { CheckView, LoadTag, Observation, RaftSeen, RestRequest, RestSeen } from './model.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures: what the cluster could have answered

const T0 = 1_800_000_000_000;
const SESSION = '4821';

function node(id: string, overrides: Partial<NodeSample> = {}): NodeSample {
  return {
    id,
    status: 'up',
    requestsPerSecond: 0,
    errorsPerSecond: 0,
    evictionsPerSecond: 0,
    expirationsPerSecond: 0,
    hitRate: null,
    p50Ms: null,
    p99Ms: null,
    cpu: 0,
    memoryBytes: 0,
    memoryLimitBytes: DEFAULT_CONFIG.maxMemoryBytes,
    entries: 0,
    compressedEntries: 0,
    compressionSavedBytes: 0,
    residentBytes: 0,
    scrapeError: null,
    ...overrides,
  };
}

function sample(
  seconds: number,
  nodes: NodeSample[],
  total: Partial<TotalSample> = {},
  load: LiveSample['load'] = null,
): LiveSample {
  return {
    t: T0 + seconds * 1000,
    nodes,
    total: {
      nodesUp: nodes.length,
      requestsPerSecond: 0,
      errorsPerSecond: 0,
      evictionsPerSecond: 0,
      expirationsPerSecond: 0,
      hitRate: null,
      p50Ms: null,
      p99Ms: null,
      memoryBytes: 0,
      memoryLimitBytes: 0,
      entries: 0,
      reads: null,
      ...total,
    },
    load,
  };
}

function nodeInfo(id: string): NodeInfo {
  return {
    id,
    url: `http://127.0.0.1:700${id.slice(1)}`,
    pid: 1,
    port: 7000,
    status: 'up',
    role: 'leader',
    shard: null,
    startedAt: T0,
    config: DEFAULT_CONFIG,
    storage: null,
    exitCode: null,
    exitSignal: null,
  };
}

function view(overrides: Partial<CheckView> = {}): CheckView {
  return {
    now: T0 + 60_000,
    openedAt: T0 - 1,
    samples: [],
    nodes: [nodeInfo('n1'), nodeInfo('n2')],
    cluster: null,
    journal: [],
    session: SESSION,
    ...overrides,
  };
}

/** A REST exchange sent at `seconds` and answered 10 ms later. */
function rest(
  seconds: number,
  request: Omit<RestRequest, 'nodeId'>,
  status: number,
  options: { headers?: Record<string, string>; body?: string; step?: number; auto?: boolean } = {},
): RestSeen {
  return {
    kind: 'rest',
    sentAt: T0 + seconds * 1000,
    at: T0 + seconds * 1000 + 10,
    step: options.step ?? 1,
    auto: options.auto ?? false,
    request: { nodeId: 'n1', ...request },
    exchange: {
      curl: 'curl …',
      status,
      headers: options.headers ?? {},
      body: options.body ?? '',
      durationMs: 1,
    },
  };
}

const USER = `user-${SESSION}`;
const GREETING = `greeting-${SESSION}`;
const putUser = (s: number, status = 201) =>
  rest(s, { method: 'PUT', key: USER, ttlSeconds: 5, value: '{}' }, status);
const getUser = (s: number, status: number, step = 1, auto = false) =>
  rest(s, { method: 'GET', key: USER }, status, {
    headers: status === 200 ? { 'x-ttl-ms': '4990', 'content-type': 'application/json' } : {},
    step,
    auto,
  });

// ---------------------------------------------------------------------------------------------

describe('Level 1', () => {
  it('counts a key as stored once a GET shows it with X-TTL-Ms', () => {
    expect(checkStored(view()).done).toBe(false);
    expect(checkStored(view({ journal: [putUser(1)] })).done).toBe(false);
    expect(checkStored(view({ journal: [putUser(1), getUser(1.1, 200)] })).done).toBe(true);
  });

  it('counts a read only when a GET pressed in step 2 hits', () => {
    const stored = [putUser(1), getUser(1.1, 200)];
    expect(checkRead(view({ journal: stored })).done).toBe(false);
    const missed = [...stored, getUser(7, 404, 2)];
    expect(checkRead(view({ journal: missed })).done).toBe(false);
    expect(checkRead(view({ journal: missed })).detail).toMatch(/expired/);
    expect(checkRead(view({ journal: [...stored, getUser(2, 200, 2)] })).done).toBe(true);
  });

  it('sees an expiry only as a 404 after the latest PUT with a TTL, with no DELETE between', () => {
    expect(checkExpired(view()).done).toBe(false);
    const alive = [putUser(1), getUser(2, 200, 3, true)];
    expect(checkExpired(view({ journal: alive })).done).toBe(false);
    expect(checkExpired(view({ journal: [...alive, getUser(6.2, 404, 3, true)] })).done).toBe(true);
    // A 404 from before the key was stored again says nothing about the new key.
    const stale = [putUser(1), getUser(6.2, 404, 3, true), putUser(7)];
    expect(checkExpired(view({ journal: stale })).done).toBe(false);
    // Deleted is not expired.
    const deleted = [
      putUser(1),
      rest(2, { method: 'DELETE', key: USER }, 204),
      getUser(3, 404, 3, true),
    ];
    expect(checkExpired(view({ journal: deleted })).done).toBe(false);
    // Another node never had the key: its 404 is no expiry.
    const elsewhere = { ...getUser(6.2, 404, 3, true) };
    const onN2 = { ...elsewhere, request: { ...elsewhere.request, nodeId: 'n2' } };
    expect(checkExpired(view({ journal: [putUser(1), onN2] })).done).toBe(false);
  });

  it('sees a delete as a 204 followed by a GET that answers 404', () => {
    const put = rest(1, { method: 'PUT', key: GREETING, value: 'hi' }, 201, { step: 4 });
    const del = rest(2, { method: 'DELETE', key: GREETING }, 204, { step: 4 });
    const gone = rest(2.1, { method: 'GET', key: GREETING }, 404, { step: 4 });
    expect(checkDeleted(view({ journal: [put, del] })).done).toBe(false);
    expect(checkDeleted(view({ journal: [put, del, gone] })).done).toBe(true);
    const absent = rest(2, { method: 'DELETE', key: GREETING }, 404, { step: 4 });
    expect(checkDeleted(view({ journal: [absent, gone] })).done).toBe(false);
    expect(checkDeleted(view({ journal: [absent] })).detail).toMatch(/404/);
  });
});

describe('Level 2', () => {
  const probe = (s: number) =>
    rest(s, { method: 'GET', key: `probe-${SESSION}` }, 404, { step: 1 });

  it('counts the GETs sent once the scraped rates add up to them', () => {
    const journal = [probe(10), probe(10.1), probe(10.2)];
    const samples = [
      sample(10, [node('n1', { requestsPerSecond: 0 })]),
      sample(11, [node('n1', { requestsPerSecond: 2 })]),
    ];
    expect(checkCounted(view({ journal, samples })).done).toBe(false);
    const more = [...samples, sample(12, [node('n1', { requestsPerSecond: 1 })])];
    expect(checkCounted(view({ journal, samples: more })).done).toBe(true);
  });

  it('reaches 2,000 req/s only with 3 samples in a row at 1,800 or more', () => {
    const rates = [1900, 2000, 1700, 1900, 1950];
    const samples = rates.map((r, i) => sample(i, [], { requestsPerSecond: r }));
    expect(checkRate(view({ samples })).done).toBe(false);
    const held = [...samples, sample(5, [], { requestsPerSecond: 2001 })];
    expect(checkRate(view({ samples: held })).done).toBe(true);
    // Samples from before the page was opened do not count.
    expect(checkRate(view({ samples: held, openedAt: T0 + 3500 })).done).toBe(false);
  });

  it('passes the latency question only on a right answer', () => {
    const answer = (correct: boolean): Observation => ({
      kind: 'answer',
      at: T0,
      step: 3,
      auto: false,
      correct,
      explain: correct ? 'Right.' : 'Not this time.',
    });
    expect(checkCompared(view({ journal: [answer(false)] }))).toEqual({
      done: false,
      detail: 'Not this time.',
    });
    expect(checkCompared(view({ journal: [answer(false), answer(true)] })).done).toBe(true);
  });

  it('finds the knee: more connections, little more throughput, much more latency', () => {
    const closed = (s: number, connections: number): Observation => ({
      kind: 'load',
      at: T0 + s * 1000,
      step: 4,
      auto: false,
      tag: null,
      status: {
        ...IDLE_STATUS,
        running: true,
        settings: { ...DEFAULT_LOAD_SETTINGS, mode: 'closed', connections } as LoadSettings,
      },
    });
    const load = (rps: number, p50: number) => ({
      ...IDLE_STATUS,
      running: true,
      requestsPerSecond: rps,
      p50Ms: p50,
      p99Ms: p50 * 3,
      errors: 0,
      hitRate: null,
    });
    const samples = [
      ...[3, 4, 5].map((s) => sample(s, [], {}, load(44_000, 0.08))),
      ...[13, 14, 15].map((s) => sample(s, [], {}, load(52_000, 4.4))),
    ];
    const low = view({ journal: [closed(0, 4)], samples: samples.slice(0, 3) });
    expect(checkKnee(low).done).toBe(false);
    const both = view({ journal: [closed(0, 4), closed(10, 512)], samples });
    expect(checkKnee(both).done).toBe(true);
    expect(checkKnee(both).lines).toHaveLength(2);
    // Throughput that keeps rising with latency is not a knee.
    const rising = [
      ...samples.slice(0, 3),
      ...[13, 14, 15].map((s) => sample(s, [], {}, load(90_000, 4.4))),
    ];
    expect(
      checkKnee(view({ journal: [closed(0, 4), closed(10, 512)], samples: rising })).done,
    ).toBe(false);
  });

  it('sees the load stopped once a load was seen and 2 samples after it have none', () => {
    const running = {
      ...IDLE_STATUS,
      running: true,
      requestsPerSecond: 1,
      p50Ms: 1,
      p99Ms: 1,
      errors: 0,
      hitRate: null,
    };
    const samples = [sample(1, [], {}, running), sample(2, []), sample(3, [])];
    expect(checkStopped(view({ samples: samples.slice(0, 2) })).done).toBe(false);
    expect(checkStopped(view({ samples })).done).toBe(true);
    expect(
      checkStopped(view({ samples: [sample(1, []), sample(2, []), sample(3, [])] })).done,
    ).toBe(false);
  });
});

describe('Level 3', () => {
  const through: Observation = {
    kind: 'node-started',
    at: T0,
    step: 1,
    auto: false,
    node: { ...nodeInfo('n3'), storage: { writeMode: 'through' } },
  };
  const loadStarted: Observation = {
    kind: 'load',
    at: T0 + 1000,
    step: 4,
    auto: false,
    status: { ...IDLE_STATUS, running: true },
    tag: null,
  };
  const path = (p50Ms: number | null) => ({ perSecond: 1, p50Ms, p99Ms: p50Ms });

  it('compares the read paths once three seconds in a row had hits and read-throughs', () => {
    const at = (s: number, memory: number | null, database: number | null) =>
      sample(s, [node('n3', { reads: { memory: path(memory), database: path(database) } })]);
    const journal = [through, loadStarted];
    const gappy = [at(2, 0.2, 2), at(3, 0.2, null), at(4, 0.2, 2), at(5, 0.2, 2)];
    expect(checkReadPath(view({ journal, samples: gappy })).done).toBe(false);
    const steady = [...gappy, at(6, 0.2, 2)];
    const done = checkReadPath(view({ journal, samples: steady }));
    expect(done.done).toBe(true);
    expect(done.detail).toMatch(/10× slower/);
    // Samples from before the load started do not count.
    expect(checkReadPath(view({ journal: [through], samples: steady })).done).toBe(false);
  });

  it('passes only when every acknowledged payment reads back after a restart, and no refused one', () => {
    const pay = (i: number, status: number) =>
      rest(
        10 + i,
        { method: 'PUT', key: `payment-${i}-${SESSION}`, value: `{"payment":${i}}` },
        status,
        { step: 5 },
      );
    const restart: Observation = { ...through, at: T0 + 30_000, step: 7 };
    const read = (i: number, status: number, body = `{"payment":${i}}`) => ({
      ...rest(40 + i, { method: 'GET', key: `payment-${i}-${SESSION}` }, status, {
        step: 7,
        body,
      }),
      request: { nodeId: 'n3', method: 'GET' as const, key: `payment-${i}-${SESSION}` },
    });
    const sent = [
      through,
      { ...pay(0, 201), request: { ...pay(0, 201).request, nodeId: 'n3' } },
      { ...pay(1, 503), request: { ...pay(1, 503).request, nodeId: 'n3' } },
    ];
    expect(checkNothingLost(view({ journal: [...sent, restart, read(0, 200)] })).done).toBe(false);
    const good = checkNothingLost(
      view({ journal: [...sent, restart, read(0, 200), read(1, 404)] }),
    );
    expect(good.done).toBe(true);
    expect(good.lines?.[0]).toMatch(/1 of 1/);
    const lost = checkNothingLost(
      view({ journal: [...sent, restart, read(0, 404), read(1, 404)] }),
    );
    expect(lost.done).toBe(false);
    expect(lost.detail).toMatch(/1 acknowledged payments are missing/);
    const halfWritten = checkNothingLost(
      view({ journal: [...sent, restart, read(0, 200), read(1, 200)] }),
    );
    expect(halfWritten.detail).toMatch(/1 refused ones were stored/);
    // Reads from before the restart prove nothing.
    expect(
      checkNothingLost(
        view({ journal: [...sent, read(0, 200), read(1, 404), { ...restart, at: T0 + 50_000 }] }),
      ).done,
    ).toBe(false);
  });
});

describe('Level 5', () => {
  const map = (ids: string[], epoch: number) => ({
    epoch,
    vnodes: 256,
    shards: ids.map((id, i) => ({
      id,
      nodes: [{ id: `n${i + 1}`, url: `http://127.0.0.1:${7001 + i}` }],
    })),
    moving: null,
  });
  const cluster = (over: Partial<ClusterState>): ClusterState => ({
    epoch: 3,
    map: map(['s1', 's2'], 3),
    shards: [
      { id: 's1', nodes: ['n1'] },
      { id: 's2', nodes: ['n3'] },
    ],
    resharding: null,
    lastMove: {
      toShard: 's2',
      movedKeys: 2000,
      movedBytes: 100_000,
      movedShare: 0.48,
      seconds: 0.4,
      before: map(['s1'], 1),
      error: null,
    },
    keysPerSecond: 50_000,
    ...over,
  });
  const added = (step: number, shard: string, seconds = 10): Observation => ({
    kind: 'shard',
    at: T0 + seconds * 1000,
    step,
    auto: false,
    change: 'added',
    shard,
  });

  it('sees the cluster once the move that made it is over, not while keys move', () => {
    const journal = [added(1, 's2')];
    expect(checkCluster(view({ journal, cluster: cluster({}) })).done).toBe(true);
    const moving = cluster({
      resharding: {
        toShard: 's2',
        movedKeys: 1,
        totalKeys: 2,
        movedBytes: 1,
        keysPerSecond: 1,
        movedShare: 0.48,
        startedAt: T0,
        rate: 1,
        etaSeconds: 1,
      },
    });
    expect(checkCluster(view({ journal, cluster: moving })).done).toBe(false);
    expect(checkCluster(view({ journal: [], cluster: cluster({}) })).done).toBe(false);
    expect(checkCluster(view({ journal, cluster: cluster({}) })).detail).toMatch(/48/);
  });

  it('passes a shard added under load only when no request failed meanwhile', () => {
    const journal = [added(3, 's2')];
    const load = (errors: number) => ({ ...IDLE_STATUS, running: true, errors, hitRate: 0.9 });
    const clean = [10, 11].map((s) => sample(s, [], {}, load(0)));
    expect(checkAdded(view({ journal, cluster: cluster({}), samples: clean })).done).toBe(true);
    const failing = [sample(10, [], {}, load(0)), sample(11, [], {}, load(3))];
    const check = checkAdded(view({ journal, cluster: cluster({}), samples: failing }));
    expect(check.done).toBe(false);
    expect(check.lines?.[1]).toMatch(/failed meanwhile: 3/);
  });
});

describe('Level 6', () => {
  const replica = (id: string, role: 'leader' | 'follower', term: number, status = 'up') =>
    ({
      ...nodeInfo(id),
      shard: 's1',
      dataDir: `/tmp/${id}`,
      role,
      term,
      status,
    }) as NodeInfo;
  const raft = (
    step: number,
    seconds: number,
    action: RaftSeen['action'],
    fields: Partial<RaftSeen> = {},
  ): RaftSeen => ({
    kind: 'raft',
    at: T0 + seconds * 1000,
    step,
    auto: false,
    action,
    shard: 's1',
    node: null,
    term: null,
    added: null,
    ...fields,
  });
  const failover = (
    old: string,
    next: string,
    term: number,
    seconds: number,
    ms: number,
  ): Failover => ({
    shard: 's1',
    oldLeader: old,
    oldTerm: term - 1,
    newLeader: next,
    term,
    lostAt: T0 + seconds * 1000 - ms,
    electedAt: T0 + seconds * 1000,
    ms,
    cause: 'killed',
    resolutionMs: 25,
  });
  const replicated = (failovers: Failover[]): ClusterState => ({
    epoch: 1,
    map: null,
    shards: [{ id: 's1', nodes: ['n1', 'n2', 'n3'] }],
    resharding: null,
    lastMove: null,
    keysPerSecond: 50_000,
    replicated: true,
    failovers,
    leaderships: [],
  });
  const loaded = (lostWrites: number, errors = 0) => ({
    ...IDLE_STATUS,
    running: true,
    errors,
    lostWrites,
    retries: 7,
    verified: 900,
  });
  const log = (applied: number, commit = applied) => ({ raftApplied: applied, raftCommit: commit });

  it('sees a write through a follower reach the leader, then both kinds of read', () => {
    const key = `order-1-${SESSION}`;
    const put = rest(1, { method: 'PUT', key, value: '{}' }, 201, {
      step: 2,
      headers: { 'x-tinycache-forwarded-by': 'n1', 'x-tinycache-leader': 'n2' },
    });
    const linear = rest(2, { method: 'GET', key }, 200, {
      step: 2,
      headers: { 'x-tinycache-forwarded-by': 'n1', 'x-tinycache-leader': 'n2' },
    });
    const stale = rest(3, { method: 'GET', key, consistency: 'stale' }, 200, { step: 2 });
    expect(checkFollowerWrite(view({ journal: [put, linear] })).done).toBe(false);
    const done = checkFollowerWrite(view({ journal: [put, linear, stale] }));
    expect(done.done).toBe(true);
    expect(done.lines?.[2]).toMatch(/own copy \(no hop\)/);
    // Written through the leader itself: nothing was forwarded, so nothing is shown.
    const direct = {
      ...put,
      exchange: { ...put.exchange, headers: { 'x-tinycache-leader': 'n1' } },
    };
    expect(checkFollowerWrite(view({ journal: [direct, linear, stale] })).done).toBe(false);
  });

  it('passes a killed leader only once another leads and the load lost nothing', () => {
    const journal = [raft(3, 10, 'killed-leader', { node: 'n1', term: 1 })];
    const nodes = [replica('n1', 'follower', 1, 'down'), replica('n2', 'leader', 2)];
    const samples = (lost: number) => [11, 12, 13].map((s) => sample(s, [], {}, loaded(lost, 4)));
    expect(
      checkKilledLeader(view({ journal, nodes, cluster: replicated([]), samples: samples(0) }))
        .done,
    ).toBe(false);
    const after = replicated([failover('n1', 'n2', 2, 10.1, 61)]);
    const ok = checkKilledLeader(view({ journal, nodes, cluster: after, samples: samples(0) }));
    expect(ok.done).toBe(true);
    expect(ok.lines?.[0]).toMatch(/n2 leads in term 2 after 61 ms/);
    expect(ok.lines?.[1]).toMatch(/12 requests failed \(while there was no leader\)/);
    const lost = checkKilledLeader(view({ journal, nodes, cluster: after, samples: samples(2) }));
    expect(lost.done).toBe(false);
    expect(lost.detail).toMatch(/2 acknowledged writes were lost/);
  });

  it('sees a restarted node as a follower that applied what the leader had committed', () => {
    const journal: Observation[] = [
      raft(3, 10, 'killed-leader', { node: 'n1', term: 1 }),
      { kind: 'node-started', at: T0 + 20_000, step: 4, auto: false, node: nodeInfo('n1') },
    ];
    const nodes = [replica('n1', 'follower', 2), replica('n2', 'leader', 2)];
    const behind = [
      sample(21, [node('n1', log(10, 500)), node('n2', log(500))]),
      sample(22, [node('n1', log(300, 500)), node('n2', log(520))]),
    ];
    expect(checkRestarted(view({ journal, nodes, samples: behind })).done).toBe(false);
    const caught = [...behind, sample(23, [node('n1', log(520)), node('n2', log(530))])];
    expect(checkRestarted(view({ journal, nodes, samples: caught })).done).toBe(true);
  });

  it('sees a paused leader deposed: another leads, and the resumed one follows in a later term', () => {
    const journal = [
      raft(5, 30, 'paused', { node: 'n2', term: 2 }),
      raft(5, 32, 'resumed', { node: 'n2', term: 2 }),
    ];
    const paused = { ...failover('n2', 'n3', 3, 30.4, 400), cause: 'paused' as const };
    const cluster = replicated([paused]);
    const stillLeading = [replica('n2', 'leader', 2), replica('n3', 'leader', 3)];
    expect(checkPaused(view({ journal, nodes: stillLeading, cluster })).done).toBe(false);
    const deposed = [replica('n2', 'follower', 3), replica('n3', 'leader', 3)];
    const check = checkPaused(view({ journal, nodes: deposed, cluster }));
    expect(check.done).toBe(true);
    expect(check.lines?.[0]).toMatch(/after 400 ms/);
  });

  it('sees a replaced replica once the new one has caught up, and nothing was lost', () => {
    const journal = [
      raft(6, 40, 'killed', { node: 'n3' }),
      raft(6, 42, 'replaced', { node: 'n3', added: 'n4' }),
    ];
    const nodes = [
      replica('n2', 'leader', 3),
      replica('n1', 'follower', 3),
      replica('n4', 'follower', 3),
    ];
    const joining = [sample(43, [node('n2', log(900)), node('n4', log(0, 0))], {}, loaded(0))];
    expect(checkReplaced(view({ journal, nodes, samples: joining })).done).toBe(false);
    const joined = [
      ...joining,
      sample(44, [node('n2', log(950)), node('n4', log(905))], {}, loaded(0)),
    ];
    const check = checkReplaced(view({ journal, nodes, samples: joined }));
    expect(check.done).toBe(true);
    expect(check.lines?.[0]).toMatch(/n4 joined .* applied index 905/);
  });
});

describe('Level 4', () => {
  const MiB = 1024 * 1024;

  it('sees evictions only on a node whose limit is 1 MiB or less', () => {
    const big = sample(1, [node('n1', { evictionsPerSecond: 50 })]);
    expect(checkEvicting(view({ samples: [big] })).done).toBe(false);
    const small = sample(2, [node('n1', { memoryLimitBytes: MiB, evictionsPerSecond: 0 })]);
    expect(checkEvicting(view({ samples: [big, small] })).done).toBe(false);
    const evicting = sample(3, [node('n1', { memoryLimitBytes: MiB, evictionsPerSecond: 30 })]);
    expect(checkEvicting(view({ samples: [big, small, evicting] })).done).toBe(true);
  });

  it('sees a refused value leave the old one in place', () => {
    const key = `doc-${SESSION}`;
    const old = rest(1, { method: 'PUT', key, value: 'old' }, 201, { step: 2 });
    const refused = rest(1.1, { method: 'PUT', key, value: 'x'.repeat(8192) }, 413, {
      step: 2,
      body: '{"error":{"code":"value_too_large","message":"…"}}',
    });
    const read = (body: string, status = 200) =>
      rest(1.2, { method: 'GET', key }, status, { step: 2, body });
    expect(checkRefused(view({ journal: [old, refused] })).done).toBe(false);
    expect(checkRefused(view({ journal: [old, refused, read('old')] })).done).toBe(true);
    expect(checkRefused(view({ journal: [old, refused, read('', 404)] })).detail).toMatch(
      /evicted/,
    );
    const accepted = rest(1.1, { method: 'PUT', key, value: 'x'.repeat(8192) }, 200, { step: 2 });
    expect(checkRefused(view({ journal: [old, accepted, read('x')] })).detail).toMatch(/accepted/);
  });

  it('sees compression once the saved bytes rise on a node holding compressed entries', () => {
    const at = (s: number, saved: number, entries: number) =>
      sample(s, [node('n1', { compressionSavedBytes: saved, compressedEntries: entries })]);
    expect(checkCompressed(view({ samples: [at(1, 5000, 3), at(2, 5000, 3)] })).done).toBe(false);
    expect(checkCompressed(view({ samples: [at(1, 0, 0), at(2, 2500, 1)] })).done).toBe(true);
  });

  it('compares the policies after a scan, whichever wins', () => {
    const config = (s: number, nodeId: string, policy: NodeConfig['policy']): Observation => ({
      kind: 'config',
      at: T0 + s * 1000,
      step: 4,
      auto: false,
      nodeId,
      config: { ...DEFAULT_CONFIG, policy, maxMemoryBytes: MiB },
      patch: { policy },
    });
    const scan = (s: number, tag: LoadTag): Observation => ({
      kind: 'load',
      at: T0 + s * 1000,
      step: 4,
      auto: false,
      tag,
      status: { ...IDLE_STATUS, running: true },
    });
    const rates = (s: number, lru: number, tiny: number) =>
      sample(s, [node('n1', { hitRate: lru }), node('n2', { hitRate: tiny })]);
    const configs = [config(0, 'n1', 'lru'), config(0, 'n2', 'wtinylfu')];
    const samples = [
      ...Array.from({ length: 10 }, (_, i) => rates(10 + i, 0.7, 0.72)),
      ...Array.from({ length: 10 }, (_, i) => rates(20 + i, 0.01, 0.01)),
      ...Array.from({ length: 10 }, (_, i) => rates(31 + i, 0.5, 0.73)),
    ];
    expect(checkScanCompared(view({ journal: [config(0, 'n1', 'lru')], samples })).done).toBe(
      false,
    );
    const journal = [...configs, scan(20, 'scan-start'), scan(30, 'scan-end')];
    const early = view({ journal, samples: samples.slice(0, 25) });
    expect(checkScanCompared(early).done).toBe(false);
    const result = checkScanCompared(view({ journal, samples }));
    expect(result.done).toBe(true);
    expect(result.lines?.[2]).toContain('50.0 % vs 73.0 %');
  });

  it('sees the defaults restored only when every node reports them and no load runs', () => {
    const read = (nodeId: string, config: NodeConfig): Observation => ({
      kind: 'config',
      at: T0,
      step: 5,
      auto: true,
      nodeId,
      config,
      patch: null,
    });
    const idle = [sample(1, [])];
    const both = [read('n1', DEFAULT_CONFIG), read('n2', DEFAULT_CONFIG)];
    expect(checkRestored(view({ journal: both, samples: idle })).done).toBe(true);
    const oneOff = [
      read('n1', DEFAULT_CONFIG),
      read('n2', { ...DEFAULT_CONFIG, policy: 'wtinylfu' }),
    ];
    expect(checkRestored(view({ journal: oneOff, samples: idle })).detail).toMatch(/n2/);
    const busy = [
      sample(1, [], {}, { ...IDLE_STATUS, running: true, requestsPerSecond: 1, p50Ms: 1 }),
    ];
    expect(checkRestored(view({ journal: both, samples: busy })).done).toBe(false);
  });
});

describe('describing a load', () => {
  it('says what the control plane runs, in words', () => {
    expect(describeLoad(DEFAULT_LOAD_SETTINGS)).toBe(
      'open model, 1,000 req/s, 90% GET / 10% PUT, Zipf (s = 0.99) over 10,000 keys, 256 B random values',
    );
    const closed = { ...DEFAULT_LOAD_SETTINGS, mode: 'closed', connections: 64 } as const;
    expect(describeLoad(closed)).toMatch(/^closed model, 64 connections,/);
  });
});

describe('the levels', () => {
  it('has a walkthrough for every built level and none for a coming one', () => {
    for (const level of LEVELS) {
      expect(WALKTHROUGHS[level.n] !== undefined, `level ${level.n}`).toBe(
        level.status === 'built',
      );
      if (level.status === 'built') expect(level.minutes).toBeGreaterThan(0);
      else expect(level.willTeach?.length).toBeGreaterThan(0);
    }
  });

  it('reads a level number from its URL segment, 1 to 8 exactly', () => {
    expect(parseLevel('1')).toBe(1);
    expect(parseLevel('8')).toBe(8);
    for (const bad of ['0', '9', '01', '1.0', ' 1', 'one', ''])
      expect(parseLevel(bad)).toBe(undefined);
  });

  it('names no button so that it could be taken for Back or Next', () => {
    // Playwright and screen readers find "Next" by a substring of the accessible name.
    for (const walkthrough of Object.values(WALKTHROUGHS)) {
      for (const step of walkthrough?.steps ?? []) {
        for (const name of [step.title, ...step.actions.map((a) => a.label)]) {
          expect(name).not.toMatch(/next|back/i);
        }
      }
    }
  });
});
