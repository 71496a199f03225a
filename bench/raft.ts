/**
 * The Raft simulator's speed (sim/raft, `tinycache sim raft`): simulated events and client
 * requests per wall second for a 3- and a 5-replica shard, fault-free and with the default
 * faults, and how many seeds a minute the sweep (`npm run sim:sweep`) covers on one worker
 * thread and on one per core. The anchor, measured in the same run, is the cache scenario's
 * events per wall second (bench/sim.ts's first case: 10 nodes, 20k req/s for 5 s), so a
 * slower machine moves both. Every round of a case runs the same seed, so every round must
 * end with the same trace hash; the table says so.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { RAFT_BASE } from '../server/sim-command.ts';
import { SweepPool } from '../server/sim-sweep.ts';
import { DEFAULT_RAFT_SIM, NO_FAULTS, runRaft } from '../sim/raft/run.ts';
import type { RaftSimOptions } from '../sim/raft/types.ts';
import { runCacheScenario } from '../sim/scenarios/cache.ts';
import { formatRate, formatRatio, median, progress, table } from './lib.ts';

const SEED = 1;

interface Round {
  readonly eventsPerSecond: number;
  readonly requestsPerSecond: number;
  readonly virtualPerWall: number;
  readonly traceHash: string;
  readonly ok: boolean;
}

function raftRound(options: RaftSimOptions): Round {
  const start = performance.now();
  const report = runRaft(options);
  const seconds = (performance.now() - start) / 1000;
  return {
    eventsPerSecond: report.events / seconds,
    requestsPerSecond: report.clients.operations / seconds,
    virtualPerWall: report.virtualMs / 1000 / seconds,
    traceHash: report.traceHash,
    ok: report.ok,
  };
}

/** The anchor: the cache scenario's events per wall second (bench/sim.ts's first case). */
function cacheEventsPerSecond(): number {
  const start = performance.now();
  const r = runCacheScenario({
    seed: SEED,
    nodes: 10,
    clients: 8,
    ratePerSecond: 20_000,
    durationMs: 5_000,
  });
  return r.eventsProcessed / ((performance.now() - start) / 1000);
}

/** Seeds a minute a pool covers in `seconds` of sweeping with the default options. */
async function sweepRate(pool: SweepPool, seconds: number): Promise<number> {
  const base = RAFT_BASE;
  const start = performance.now();
  const timer = new AbortController();
  const stop = setTimeout(() => timer.abort(), seconds * 1000);
  // Seeds from 1 each round, one per message: every round sweeps the same runs.
  const result = await pool.run(
    base,
    { from: SEED, count: 100_000_000 },
    { signal: timer.signal, slice: 1 },
  );
  clearTimeout(stop);
  return (result.seeds / ((performance.now() - start) / 1000)) * 60;
}

export async function raftBench({
  seconds,
  rounds,
}: {
  seconds: number;
  rounds: number;
}): Promise<string> {
  const cases: { readonly name: string; readonly options: RaftSimOptions }[] = [];
  for (const replicas of [3, 5]) {
    for (const faulty of [false, true]) {
      cases.push({
        name: `${replicas} replicas, ${faulty ? 'default faults' : 'fault-free'}`,
        options: {
          ...DEFAULT_RAFT_SIM,
          seed: SEED,
          replicas,
          faults: faulty ? DEFAULT_RAFT_SIM.faults : NO_FAULTS,
          record: false,
        },
      });
    }
  }

  cacheEventsPerSecond(); // warm-up
  const anchors: number[] = [];
  const results = new Map<string, Round[]>(cases.map(({ name }) => [name, []]));
  for (const { options } of cases) raftRound(options); // warm-up
  for (let round = 1; round <= rounds; round++) {
    progress(`raft: cache scenario (anchor), round ${round}/${rounds}`);
    anchors.push(cacheEventsPerSecond());
    for (const { name, options } of cases) {
      progress(`raft: ${name}, round ${round}/${rounds}`);
      results.get(name)!.push(raftRound(options));
    }
  }
  const anchor = median(anchors);
  const rows = [
    [
      'case',
      'events/s',
      'client req/s',
      'virtual s/s',
      'vs cache sim',
      'trace',
      'replays',
      'check',
    ],
  ];
  for (const { name } of cases) {
    const r = results.get(name)!;
    const events = median(r.map((x) => x.eventsPerSecond));
    rows.push([
      name,
      formatRate(events),
      formatRate(median(r.map((x) => x.requestsPerSecond))),
      median(r.map((x) => x.virtualPerWall)).toFixed(1),
      formatRatio(events, anchor),
      r[0]!.traceHash,
      r.every((x) => x.traceHash === r[0]!.traceHash) ? 'yes' : 'NO',
      r.every((x) => x.ok) ? 'ok' : 'FAILED',
    ]);
  }
  rows.push(['cache scenario, 10 nodes (anchor)', formatRate(anchor), '', '', '1.00x', '', '', '']);

  const cores = availableParallelism();
  const sweepRows = [['sweep', 'seeds/min', 'vs 1 thread']];
  let single = 0;
  for (const threads of cores > 1 ? [1, cores] : [1]) {
    const pool = new SweepPool(threads);
    try {
      progress(`raft: sweep on ${threads} thread(s), warm-up`);
      await pool.run(RAFT_BASE, { from: SEED, count: threads * 2 });
      const rates: number[] = [];
      for (let round = 1; round <= rounds; round++) {
        progress(`raft: sweep on ${threads} thread(s), ${seconds} s, round ${round}/${rounds}`);
        rates.push(await sweepRate(pool, seconds));
      }
      const rate = median(rates);
      if (threads === 1) single = rate;
      sweepRows.push([
        `${threads} thread${threads === 1 ? '' : 's'}`,
        formatRate(rate),
        formatRatio(rate, single),
      ]);
    } finally {
      await pool.close();
    }
  }

  const d = DEFAULT_RAFT_SIM;
  return [
    `Raft simulator: one shard, seed ${SEED}, \`tinycache sim raft\` defaults (${d.faultMs / 1000} s of faults, ` +
      `liveness bound ${d.livenessMs / 1000} s, ${d.clients} clients, ${d.keys} keys), ${rounds} rounds, medians per wall second`,
    table(rows),
    '',
    `Sweep (\`npm run sim:sweep\`, default options, seeds from ${SEED}, ${seconds} s a round, ${rounds} rounds, medians)`,
    table(sweepRows),
  ].join('\n');
}
