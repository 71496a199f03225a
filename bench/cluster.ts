/**
 * Benchmark: a sharded cluster (Level 5), through peer forwarding against a smart client.
 *
 * For 1, 2 and 3 shards (one `tinycache node` process each, one cluster map): the same closed
 * load, `CONNECTIONS` connections spread evenly over the nodes, 90% GET over `KEYS` keys
 * (Zipf 0.99, 64 B values, all prefilled), two ways:
 *   - forwarding: each connection sends every key to its node, which forwards the keys it
 *     does not own to their owner ((N-1)/N of them), as a plain HTTP client would get;
 *   - smart client: each connection sends only the keys its node owns (server/load's `owns`),
 *     which is what a client that reads the map and goes straight to the owner sends.
 * One shard is the anchor: nothing to forward, the same as a lone node. The share forwarded is
 * read from the nodes' own `tinycache_forwarded_requests_total`.
 *
 * This machine has 2 cores: the load generator and up to 3 nodes share them, so the figures
 * say what one extra hop costs in CPU, not how a cluster of real machines scales.
 */
import { type ClusterMap } from '../core/cluster/index.ts';
import { Ring } from '../core/ring/index.ts';
import { keyName } from '../core/workload/keys.ts';
import { ClusterManager } from '../server/control/cluster.ts';
import { Supervisor } from '../server/control/supervisor.ts';
import { Counters, secondFigures, startLoad } from '../server/load/load.ts';
import { request, spawnNode, type NodeProcess } from '../server/testing/processes.ts';
import { formatRate, median, progress, table } from './lib.ts';
import { metricValue } from './prometheus.ts';

const CONNECTIONS = 48;
const KEYS = 20_000;
const SHARD_COUNTS = [1, 2, 3] as const;

interface Figures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly forwardedShare: number;
  readonly errors: number;
}

/** Key requests the nodes answered, and those they forwarded, so far. */
async function answered(
  nodes: readonly NodeProcess[],
): Promise<{ all: number; forwarded: number }> {
  let all = 0;
  let forwarded = 0;
  for (const node of nodes) {
    const text = (await request(`${node.url}/metrics`)).text();
    for (const op of ['get', 'set'])
      all += metricValue(text, 'tinycache_requests_total', { op }) ?? 0;
    forwarded += metricValue(text, 'tinycache_forwarded_requests_total') ?? 0;
  }
  return { all, forwarded };
}

/** One closed run over `nodes` for `seconds`: smart or not. */
async function measure(
  nodes: readonly NodeProcess[],
  ring: Ring,
  smart: boolean,
  seconds: number,
): Promise<Figures> {
  const sink = new Counters();
  const before = await answered(nodes);
  const shares = nodes.map(
    (_, i) => Math.floor(CONNECTIONS / nodes.length) + (i < CONNECTIONS % nodes.length ? 1 : 0),
  );
  const names = Array.from({ length: KEYS }, (_, id) => keyName(id));
  const runs = nodes.map((node, i) =>
    startLoad(
      {
        url: node.url,
        mode: 'closed',
        connections: shares[i]!,
        durationSeconds: seconds,
        warmupSeconds: 1,
        keys: KEYS,
        readRatio: 0.9,
        distribution: 'zipf',
        valueBytes: 64,
        seed: i + 1,
      },
      smart ? { sink, owns: (id) => ring.owner(names[id]!) === `s${i + 1}` } : { sink },
    ),
  );
  const results = await Promise.all(runs.map((run) => run.done));
  const measured = Math.max(...results.map((r) => r.durationSeconds));
  const figures = secondFigures(sink, measured);
  // A forwarded request is answered twice (by the node it reached, and by its owner): the
  // clients sent the answers less the forwards, warmup included on both sides.
  const after = await answered(nodes);
  const forwarded = after.forwarded - before.forwarded;
  const sent = after.all - before.all - forwarded;
  return {
    requestsPerSecond: figures.requestsPerSecond,
    p50Ms: figures.p50Ms ?? 0,
    p99Ms: figures.p99Ms ?? 0,
    forwardedShare: sent > 0 ? forwarded / sent : 0,
    errors: figures.errors,
  };
}

export async function clusterBench(options: { seconds: number; rounds: number }): Promise<string> {
  progress('starting 3 node processes');
  const nodes: NodeProcess[] = [];
  try {
    for (let i = 1; i <= 3; i++) nodes.push(await spawnNode(['--node-id', `n${i}`]));
    const rows: string[][] = [
      ['shards', 'client', 'req/s', 'p50', 'p99', 'forwarded', 'vs 1 shard', 'errors'],
    ];
    const notes: string[] = [];
    let anchor = 0;
    let epoch = 0;
    for (const count of SHARD_COUNTS) {
      const members = nodes.slice(0, count);
      const map: ClusterMap = {
        epoch: ++epoch,
        vnodes: 256,
        shards: members.map((node, i) => ({
          id: `s${i + 1}`,
          nodes: [{ id: `n${i + 1}`, url: node.url }],
        })),
        moving: null,
      };
      for (const node of members) {
        await fetch(`${node.url}/v1/cluster`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(map),
        });
      }
      const ring = new Ring(map.shards.map((s) => s.id));
      progress(`${count} shard${count === 1 ? '' : 's'}: prefill ${KEYS} keys`);
      await startLoad({
        url: members[0]!.url,
        prefillKeys: KEYS,
        keys: KEYS,
        durationSeconds: 0.1,
        valueBytes: 64,
        connections: 16,
      }).done;
      const cases = count === 1 ? [false] : [false, true];
      for (const smart of cases) {
        const rounds: Figures[] = [];
        for (let r = 0; r < options.rounds; r++) {
          progress(
            `${count} shard${count === 1 ? '' : 's'}, ${smart ? 'smart client' : 'forwarding'}: round ${r + 1}/${options.rounds}`,
          );
          rounds.push(await measure(members, ring, smart, options.seconds));
        }
        const rate = median(rounds.map((f) => f.requestsPerSecond));
        if (count === 1) anchor = rate;
        rows.push([
          String(count),
          count === 1 ? 'any (anchor: one node)' : smart ? 'smart client' : 'forwarding',
          formatRate(rate),
          `${median(rounds.map((f) => f.p50Ms)).toFixed(2)} ms`,
          `${median(rounds.map((f) => f.p99Ms)).toFixed(2)} ms`,
          `${(median(rounds.map((f) => f.forwardedShare)) * 100).toFixed(0)}%`,
          count === 1 ? '' : `${(rate / anchor).toFixed(2)}x`,
          String(rounds.reduce((sum, f) => sum + f.errors, 0)),
        ]);
      }
    }
    notes.push(
      `  ${CONNECTIONS} connections (closed model) spread evenly over the shards' nodes, 90% GET over ${formatRate(KEYS)} prefilled keys (Zipf 0.99), 64 B values; ${options.seconds} s x ${options.rounds} rounds after 1 s of warmup, medians`,
      '  forwarding: every node gets every key and forwards those it does not own; smart client: each key goes straight to its owner',
      '  2 cores for the load generator and up to 3 nodes: more shards add processes, not cores, so this measures the cost of a hop, not scaling',
    );
    return [
      `Sharded cluster: peer forwarding vs smart client, 1-3 shards (one tinycache node each)`,
      table(rows),
      ...notes,
    ].join('\n');
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/** Counts every answer into the counters of the phase it falls in. */
class PhaseCounters extends Counters {
  constructor(public phase: Counters) {
    super();
  }

  override recordAnswer(...args: Parameters<Counters['recordAnswer']>): void {
    this.phase.recordAnswer(...args);
  }

  override recordError(...args: Parameters<Counters['recordError']>): void {
    this.phase.recordError(...args);
  }
}

/** Keys on the cluster before a shard is added under load. */
const RESHARD_KEYS = 200_000;
const RESHARD_RATE = 3000;

/**
 * Adding a fourth shard to three holding RESHARD_KEYS keys, under an open load of
 * RESHARD_RATE req/s (90% GET, uniform over those keys, spread over the three nodes), at the
 * default pace: how long the keys take to move, how many, and what the clients saw.
 */
export async function reshardBench(): Promise<string> {
  const supervisor = new Supervisor();
  const cluster = new ClusterManager(supervisor);
  try {
    progress('resharding: starting 3 nodes');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await supervisor.start({ maxMemoryBytes: 256 * 1024 * 1024 }, 0)).id);
    await cluster.form(ids);
    const urls = supervisor.list().map((n) => n.url);
    progress(`resharding: prefill ${formatRate(RESHARD_KEYS)} keys through n1`);
    await startLoad({
      url: urls[0]!,
      prefillKeys: RESHARD_KEYS,
      keys: RESHARD_KEYS,
      durationSeconds: 0.1,
      valueBytes: 256,
      connections: 32,
    }).done;
    const before = new Counters();
    const during = new Counters();
    const sink = new PhaseCounters(before);
    const runs = urls.map((url, i) =>
      startLoad(
        {
          url,
          mode: 'open',
          rate: RESHARD_RATE / urls.length,
          connections: 64,
          durationSeconds: null,
          keys: RESHARD_KEYS,
          readRatio: 0.9,
          distribution: 'uniform',
          valueBytes: 256,
          seed: i + 1,
          timeoutMs: 2000,
        },
        { sink },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 4000));
    progress('resharding: adding shard s4 under load');
    sink.phase = during;
    const started = performance.now();
    await cluster.addShard();
    while (cluster.state().resharding !== null || cluster.state().lastMove === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const wallSeconds = (performance.now() - started) / 1000;
    for (const run of runs) run.stop();
    await Promise.all(runs.map((run) => run.done));
    const move = cluster.state().lastMove!;
    const rate = (c: Counters) => (c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : 0);
    const rows = [
      ['phase', 'requests', 'errors', 'hit rate', 'p99'],
      [
        'before (4 s)',
        formatRate(before.requests),
        String(before.errorCount),
        `${(rate(before) * 100).toFixed(2)}%`,
        `${secondFigures(before, 4).p99Ms?.toFixed(2)} ms`,
      ],
      [
        `adding s4 (${wallSeconds.toFixed(1)} s)`,
        formatRate(during.requests),
        String(during.errorCount),
        `${(rate(during) * 100).toFixed(2)}%`,
        `${secondFigures(during, wallSeconds).p99Ms?.toFixed(2)} ms`,
      ],
    ];
    return [
      `Resharding under load: a fourth shard added to three holding ${formatRate(RESHARD_KEYS)} keys (256 B values), ${formatRate(RESHARD_RATE)} req/s open load (90% GET, uniform) over the three nodes`,
      table(rows),
      `  moved ${formatRate(move.movedKeys)} keys (${(move.movedBytes / 1024 / 1024).toFixed(1)} MiB), ${(move.movedShare * 100).toFixed(1)}% of the key space (ideal 25.0%), in ${move.seconds.toFixed(1)} s from the new map to the last (${formatRate(move.movedKeys / move.seconds)} keys/s; pace ${formatRate(50_000)} keys/s); ${move.error === null ? 'no error' : `error: ${move.error}`}`,
      `  errors by kind: ${[...before.errors, ...during.errors].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
      '  adding s4 includes starting its process (about 1 s): the figures are of the whole operation as a user sees it',
    ].join('\n');
  } finally {
    await supervisor.close();
  }
}
