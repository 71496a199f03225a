/**
 * The simulator's speed: simulated requests (and events) per wall second of the cache
 * scenario (sim/scenarios/cache.ts) with 10 nodes running the real engine, and of the
 * resharding scenario (sim/scenarios/resharding.ts) at 100 -> 110 shards, beside the bare
 * scheduler's event rate as the anchor (what the event queue alone can do). Every round of a
 * case runs the same seed, so every round must end with the same trace hash; the table says so.
 */
import { createRng } from '../core/random.ts';
import { runCacheScenario, type CacheScenarioOptions } from '../sim/scenarios/cache.ts';
import { runReshardingScenario } from '../sim/scenarios/resharding.ts';
import { Scheduler } from '../sim/scheduler.ts';
import { formatRate, median, progress, table } from './lib.ts';

const ROUNDS = 5;
const SEED = 1;

/** A run of a scenario with the bench's seed: what it simulated and its trace. */
interface Simulated {
  readonly requests: number;
  readonly events: number;
  readonly traceHash: string;
}

function cacheCase(options: Partial<CacheScenarioOptions>): () => Simulated {
  return () => {
    const r = runCacheScenario({ ...options, seed: SEED });
    return { requests: r.workload.requests, events: r.eventsProcessed, traceHash: r.traceHash };
  };
}

const CASES: { readonly name: string; readonly run: () => Simulated }[] = [
  {
    name: '10 nodes, 100k req (20k req/s x 5 s)',
    run: cacheCase({ nodes: 10, clients: 8, ratePerSecond: 20_000, durationMs: 5_000 }),
  },
  {
    name: '10 nodes, 1M req (100k req/s x 10 s)',
    run: cacheCase({ nodes: 10, clients: 32, ratePerSecond: 100_000, durationMs: 10_000 }),
  },
  {
    // `tinycache sim resharding --shards 100 --add 10`: prefill, three rings, the stream and
    // the checker included.
    name: 'resharding 100 shards +10, 200k req (20k req/s x 10 s)',
    run: () => {
      const r = runReshardingScenario({ seed: SEED, shards: 100, add: 10 });
      if (r.check.violations > 0) throw new Error('the resharding run failed its check');
      return { requests: r.workload.requests, events: r.eventsProcessed, traceHash: r.traceHash };
    },
  },
];

interface Round {
  readonly requestsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly traceHash: string;
}

function runCase(run: () => Simulated): Round {
  const start = performance.now();
  const result = run();
  const seconds = (performance.now() - start) / 1000;
  return {
    requestsPerSecond: result.requests / seconds,
    eventsPerSecond: result.events / seconds,
    traceHash: result.traceHash,
  };
}

/** Events per wall second of the scheduler alone: 10,000 queued, each rescheduling itself. */
function schedulerEventsPerSecond(): number {
  const scheduler = new Scheduler();
  const rng = createRng(SEED);
  const tick = (n: number): void => {
    scheduler.after(1 + rng.nextInt(1000), tick, n);
  };
  for (let i = 0; i < 10_000; i++) scheduler.at(rng.nextInt(1000), tick, i);
  scheduler.runUntilIdle(1_000_000); // warm-up
  const events = 5_000_000;
  const start = performance.now();
  scheduler.runUntilIdle(events);
  return events / ((performance.now() - start) / 1000);
}

export function simBench(): string {
  progress('simulator: bare scheduler');
  const anchor = median(Array.from({ length: ROUNDS }, schedulerEventsPerSecond));
  const rows = [['case', 'sim req/s', 'events/s', 'vs scheduler', 'trace', 'replays']];
  for (const { name, run } of CASES) {
    runCase(run); // warm-up
    const rounds: Round[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`simulator: ${name}, round ${round}/${ROUNDS}`);
      rounds.push(runCase(run));
    }
    const events = median(rounds.map((r) => r.eventsPerSecond));
    rows.push([
      name,
      formatRate(median(rounds.map((r) => r.requestsPerSecond))),
      formatRate(events),
      `${(events / anchor).toFixed(2)}x`,
      rounds[0]!.traceHash,
      rounds.every((r) => r.traceHash === rounds[0]!.traceHash) ? 'yes' : 'NO',
    ]);
  }
  rows.push(['scheduler alone (anchor)', '', formatRate(anchor), '1.00x', '', '']);
  return [
    `Simulator: cache and resharding scenarios (real engine, cache-aside, Zipf 0.99), seed ${SEED}, ${ROUNDS} rounds, medians per wall second`,
    table(rows),
  ].join('\n');
}
