/**
 * `tinycache sim <scenario>` (API.md §1): runs a scenario of the deterministic simulator
 * (sim/) and prints its report on stdout. The same options and `--seed` print the same bytes;
 * how fast the simulator ran is a wall-clock figure, so it goes to stderr, with a progress
 * line while it runs when stderr is a terminal. It lives in server/ because sim/ is kept free
 * of `process` and node:* (eslint.config.js), and parsing argv needs both.
 */
import { performance } from 'node:perf_hooks';
import { formatBytes, parseBytes, POLICIES } from '../core/config.ts';
import type { KeyDistribution } from '../core/workload/samplers.ts';
import { formatRaftReport } from '../sim/raft/report.ts';
import { DEFAULT_RAFT_SIM, runRaft } from '../sim/raft/run.ts';
import type { RaftSimOptions } from '../sim/raft/types.ts';
import { formatCacheReport, formatReshardingReport } from '../sim/report.ts';
import {
  type CacheScenarioOptions,
  DEFAULT_CACHE_SCENARIO,
  runCacheScenario,
} from '../sim/scenarios/cache.ts';
import type { Progress } from '../sim/scenarios/drain.ts';
import {
  DEFAULT_RESHARDING,
  type ReshardingOptions,
  runReshardingScenario,
} from '../sim/scenarios/resharding.ts';
import {
  badOption,
  bytesOption,
  choiceOption,
  durationOption,
  numberOption,
  parseOptions,
  PROCESS_IO,
  UsageError,
  type CommandIo,
} from './cli-args.ts';

const R = DEFAULT_RESHARDING;
const C = DEFAULT_CACHE_SCENARIO;
const F = DEFAULT_RAFT_SIM;
/** The raft defaults a sweep starts from: every option but the seed. */
export const RAFT_BASE: Omit<RaftSimOptions, 'seed'> = (({ seed: _, ...rest }) => rest)(F);

/** A duration in ms as the options take it back: 20s, 1.5s, 2m, 250ms. */
export function formatMs(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 100 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A size as the options take it back: 64KiB when that is exact, else the bytes. */
export function formatSize(bytes: number): string {
  const text = formatBytes(bytes);
  return parseBytes(text) === bytes ? text : `${bytes}B`;
}

/**
 * The options of a raft run, one per line with its default; `tinycache sim raft --help` and
 * the sweep's usage both list them.
 */
export const RAFT_OPTION_LINES = `  --replicas N          replicas in the shard, odd, 1 to 9                 [${F.replicas}]
  --clients N           clients, one request outstanding each, retrying    [${F.clients}]
  --keys N              distinct keys the clients touch                    [${F.keys}]
  --faults-for D        virtual time with faults: 20s, 500ms, 2m, 0        [${formatMs(F.faultMs)}]
  --liveness D          after the faults stop, the bound within which a
                        leader is elected and every request completes      [${formatMs(F.livenessMs)}]
  --loss P              chance a message is lost, 0 to <1                  [${F.faults.loss}]
  --duplication P       chance a message arrives twice, 0 to <1            [${F.faults.duplication}]
  --no-reorder          messages on a link arrive in the order sent
  --no-crashes          no replica crashes (and restarts)
  --no-partitions       no network partitions
  --clock-drift PPM     each replica's clock runs fast or slow by up to
                        this many parts per million                        [${F.faults.clockDriftPpm}]
  --snapshot-every N    compact a log once N applied entries follow its
                        snapshot                                           [${F.snapshotEvery}]
  --max-memory SIZE     each replica's memory bound                        [${formatSize(F.maxMemoryBytes)}]
`;

export const SIM_USAGE = `Usage: tinycache sim <scenario> [options]

Runs a scenario in the deterministic simulator (real engine, ring and cluster map; virtual
time, simulated network) and prints its report. The same options and --seed print the same
report, byte for byte; the simulator's own speed goes to stderr. Exits 1 when the run's
safety check fails.

Scenarios:
  resharding   shards added (or removed) under load: the moved keys stream to their new
               owners under the Handoff rules, or with --no-transfer simply move
  cache        cache nodes under a cache-aside load, keys placed by FNV-1a modulo the
               node count
  raft         one replicated shard (core/raft) under faults, checked for safety and
               liveness
  sweep        the raft scenario over many seeds

Options of resharding and cache:
  --seed N              decides the whole run                              [1]
  --duration D          how long clients send, in virtual time: 10, 10s,
                        500ms, 2m                                          [${R.durationMs / 1000}s]
  --rate R              requests per virtual second, all clients together
                                                         [${R.ratePerSecond}; cache ${C.ratePerSecond}]
  --clients N           clients                                            [${R.clients}]
  --keys N              key space key-00000000 ..                          [${R.keys}]
  --dist uniform|zipf   key popularity                                     [zipf]
  --zipf-s S            Zipf exponent                                      [0.99]
  --read-ratio F        share of GETs, 0..1; a GET that misses loads and
                        SETs the value                                     [${R.readRatio}]
  --value-bytes SIZE    value size                                         [${R.valueBytes}]
  --timeout D           a request unanswered this long is an error         [${R.timeoutMs}ms]
  -h, --help            this text

resharding:
  --shards N            shards before the move, one node each              [${R.shards}]
  --add M               shards added at the move       [${R.add}; 0 when --remove is given]
  --remove K            shards removed at the move (the last K)            [0]
  --move-at D           when the move starts, in virtual time
                                      [${R.moveAtMs / 1000}s, or half of --duration if sooner]
  --no-transfer         keys change owner without streaming (the naive way)
  --batch-keys N        keys per pull from an old owner                    [${R.transferBatchKeys}]
  --transfer-rate R     keys per second a new owner pulls, at most         [${R.transferKeysPerSecond}]
  --delete-ratio F      share of writes that are deletes                   [${R.deleteRatio}]
  --vnodes N            ring points per shard                              [${R.vnodes}]
  --no-prefill          start with empty caches instead of every key cached
  --max-memory SIZE     each node's memory bound                           [64MiB]

cache:
  --nodes N             cache nodes                                        [${C.nodes}]
  --max-memory SIZE     each node's memory bound                           [4MiB]
  --policy lru|wtinylfu eviction policy                                    [${C.policy}]

raft (one replicated shard through crashes, loss, duplication, reordering, partitions and
clock drift; checks the Raft invariants after every event, that no acknowledged write is
lost, that the client history is linearizable, and liveness once the faults stop):
  --seed N              decides the whole run                              [1]
${RAFT_OPTION_LINES}  --json                the report as JSON

sweep (many raft seeds on worker threads; \`tinycache sim sweep --help\`, or
\`npm run sim:sweep -- --seeds 10000\`): prints each failing seed with the command that
replays it, exits 1 when any failed

Examples: tinycache sim resharding --shards 100 --add 10 --seed 7
          tinycache sim raft --seed 42 --replicas 5
`;

export const SCENARIOS = ['resharding', 'cache', 'raft'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

const COMMON = {
  seed: { type: 'string' },
  duration: { type: 'string' },
  rate: { type: 'string' },
  clients: { type: 'string' },
  keys: { type: 'string' },
  dist: { type: 'string' },
  'zipf-s': { type: 'string' },
  'read-ratio': { type: 'string' },
  'value-bytes': { type: 'string' },
  timeout: { type: 'string' },
  'max-memory': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const RESHARDING = {
  ...COMMON,
  shards: { type: 'string' },
  add: { type: 'string' },
  remove: { type: 'string' },
  'move-at': { type: 'string' },
  'no-transfer': { type: 'boolean' },
  'batch-keys': { type: 'string' },
  'transfer-rate': { type: 'string' },
  'delete-ratio': { type: 'string' },
  vnodes: { type: 'string' },
  'no-prefill': { type: 'boolean' },
} as const;

const CACHE = {
  ...COMMON,
  nodes: { type: 'string' },
  policy: { type: 'string' },
} as const;

/** The raft scenario's options, but its seed (the sweep takes these too). */
export const RAFT_OPTIONS = {
  replicas: { type: 'string' },
  clients: { type: 'string' },
  keys: { type: 'string' },
  'faults-for': { type: 'string' },
  liveness: { type: 'string' },
  loss: { type: 'string' },
  duplication: { type: 'string' },
  'no-reorder': { type: 'boolean' },
  'no-crashes': { type: 'boolean' },
  'no-partitions': { type: 'boolean' },
  'clock-drift': { type: 'string' },
  'snapshot-every': { type: 'string' },
  'max-memory': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const RAFT = {
  ...RAFT_OPTIONS,
  seed: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export type SimRun =
  | { readonly scenario: 'resharding'; readonly options: ReshardingOptions }
  | { readonly scenario: 'cache'; readonly options: CacheScenarioOptions }
  | { readonly scenario: 'raft'; readonly options: RaftSimOptions; readonly json: boolean };

/** What a run printed and did. */
export interface SimOutcome {
  /** The report, for stdout: a function of the options alone. */
  readonly report: string;
  readonly requests: number;
  readonly events: number;
  /** True when the safety check found a violation. */
  readonly failed: boolean;
}

export type Values = Partial<Record<string, string | boolean>>;

/** Parses `tinycache sim …`; throws UsageError naming the first bad option. */
export function parseSimArgs(argv: string[]): SimRun | 'help' {
  const [scenario, ...rest] = argv;
  if (scenario === undefined || scenario === '--help' || scenario === '-h' || scenario === 'help') {
    return 'help';
  }
  if (!(SCENARIOS as readonly string[]).includes(scenario)) {
    throw new UsageError(
      `unknown scenario ${JSON.stringify(scenario)}; the scenarios are ${SCENARIOS.join(', ')}, and sweep runs many raft seeds (--help lists their options)`,
    );
  }
  if (scenario === 'raft') {
    const { values } = parseOptions(rest, RAFT);
    if (values.help) return 'help';
    const seed = option(values, 'seed', 1, whole('seed', 0, 2 ** 32 - 1));
    return { scenario, options: { ...raftOptions(values), seed }, json: values.json === true };
  }
  if (scenario === 'resharding') {
    const { values } = parseOptions(rest, RESHARDING);
    if (values.help) return 'help';
    return { scenario, options: reshardingOptions(values) };
  }
  const { values } = parseOptions(rest, CACHE);
  if (values.help) return 'help';
  return { scenario: 'cache', options: cacheOptions(values) };
}

/** The value of `name` parsed, or `fallback` when it was not given. */
function option<T>(values: Values, name: string, fallback: T, parse: (text: string) => T): T {
  const text = values[name];
  return typeof text === 'string' ? parse(text) : fallback;
}

function whole(name: string, min: number, max: number): (text: string) => number {
  return (text) => numberOption(name, text, { min, max, integer: true });
}

function ratio(name: string): (text: string) => number {
  return (text) => numberOption(name, text, { min: 0, max: 1 });
}

function milliseconds(name: string): (text: string) => number {
  return (text) => durationOption(name, text) * 1000;
}

/** The options both scenarios take, over the scenario's defaults. */
function commonOptions(
  values: Values,
  d: Pick<
    ReshardingOptions,
    | 'durationMs'
    | 'ratePerSecond'
    | 'clients'
    | 'keys'
    | 'distribution'
    | 'readRatio'
    | 'valueBytes'
    | 'timeoutMs'
    | 'maxMemoryBytes'
  >,
  minValueBytes: number,
) {
  const dist = option(values, 'dist', d.distribution.kind === 'uniform' ? 'uniform' : 'zipf', (t) =>
    choiceOption('dist', t, ['uniform', 'zipf'] as const),
  );
  const zipfS = option(values, 'zipf-s', 0.99, (t) =>
    numberOption('zipf-s', t, { min: 0.01, max: 10 }),
  );
  if (dist === 'uniform' && values['zipf-s'] !== undefined) {
    badOption('zipf-s', 'used with --dist zipf', String(values['zipf-s']));
  }
  const distribution: KeyDistribution =
    dist === 'uniform' ? { kind: 'uniform' } : { kind: 'zipf', s: zipfS };
  return {
    seed: option(values, 'seed', 1, whole('seed', 0, 2 ** 32 - 1)),
    durationMs: option(values, 'duration', d.durationMs, milliseconds('duration')),
    ratePerSecond: option(values, 'rate', d.ratePerSecond, (t) =>
      numberOption('rate', t, { min: 1, max: 100_000_000 }),
    ),
    clients: option(values, 'clients', d.clients, whole('clients', 1, 10_000)),
    keys: option(values, 'keys', d.keys, whole('keys', 1, 100_000_000)),
    distribution,
    readRatio: option(values, 'read-ratio', d.readRatio, ratio('read-ratio')),
    valueBytes: option(values, 'value-bytes', d.valueBytes, (t) => {
      const bytes = bytesOption('value-bytes', t);
      if (bytes < minValueBytes || bytes > 1 << 20) {
        badOption('value-bytes', `a size from ${minValueBytes} bytes to 1MiB`, t);
      }
      return bytes;
    }),
    timeoutMs: option(values, 'timeout', d.timeoutMs, milliseconds('timeout')),
    maxMemoryBytes: option(values, 'max-memory', d.maxMemoryBytes, (t) => {
      const bytes = bytesOption('max-memory', t);
      if (bytes < 4096) badOption('max-memory', 'a size of at least 4KiB', t);
      return bytes;
    }),
  };
}

function reshardingOptions(values: Values): ReshardingOptions {
  const common = commonOptions(values, R, 8);
  const shards = option(values, 'shards', R.shards, whole('shards', 1, 4096));
  const remove = option(values, 'remove', 0, whole('remove', 0, Math.max(0, shards - 1)));
  const add = option(values, 'add', remove > 0 ? 0 : R.add, whole('add', 0, 4096));
  if (shards + add > 4096) badOption('add', `a number of shards up to ${4096 - shards}`);
  const moveAtMs = option(values, 'move-at', Math.min(R.moveAtMs, common.durationMs / 2), (t) =>
    /^0+(\.0+)?(ms|s|m)?$/.test(t) ? 0 : milliseconds('move-at')(t),
  );
  if (moveAtMs > common.durationMs) {
    badOption('move-at', 'a time within --duration', String(values['move-at']));
  }
  return {
    ...R,
    ...common,
    shards,
    add,
    remove,
    moveAtMs,
    transfer: values['no-transfer'] !== true,
    prefill: values['no-prefill'] !== true,
    transferBatchKeys: option(
      values,
      'batch-keys',
      R.transferBatchKeys,
      whole('batch-keys', 1, 1_000_000),
    ),
    transferKeysPerSecond: option(values, 'transfer-rate', R.transferKeysPerSecond, (t) =>
      numberOption('transfer-rate', t, { min: 1, max: 1e9 }),
    ),
    deleteRatio: option(values, 'delete-ratio', R.deleteRatio, ratio('delete-ratio')),
    vnodes: option(values, 'vnodes', R.vnodes, whole('vnodes', 1, 4096)),
  };
}

function cacheOptions(values: Values): CacheScenarioOptions {
  return {
    ...C,
    ...commonOptions(values, C, 0),
    nodes: option(values, 'nodes', C.nodes, whole('nodes', 1, 10_000)),
    policy: option(values, 'policy', C.policy, (t) => choiceOption('policy', t, POLICIES)),
  };
}

/** A duration option in whole milliseconds (the raft run's clock ticks in ms); `zero` allows 0. */
function wholeMs(name: string, zero = false): (text: string) => number {
  return (text) => {
    if (zero && /^0+(\.0+)?(ms|s|m)?$/.test(text)) return 0;
    const ms = Math.round(durationOption(name, text) * 1000);
    if (ms < 1) badOption(name, 'a duration of at least 1ms', text);
    return ms;
  };
}

/** A probability below 1 (a message lost or duplicated every time would stop the run). */
function chance(name: string): (text: string) => number {
  return (text) => {
    const p = numberOption(name, text, { min: 0, max: 1 });
    if (p >= 1) badOption(name, 'a number from 0 to below 1', text);
    return p;
  };
}

/** The raft options given in `values` (parsed with RAFT_OPTIONS), over DEFAULT_RAFT_SIM. */
export function raftOptions(values: Values): Omit<RaftSimOptions, 'seed'> {
  const replicas = option(values, 'replicas', F.replicas, whole('replicas', 1, 9));
  if (replicas % 2 === 0) badOption('replicas', 'an odd number from 1 to 9', String(replicas));
  return {
    ...RAFT_BASE,
    replicas,
    clients: option(values, 'clients', F.clients, whole('clients', 1, 1000)),
    keys: option(values, 'keys', F.keys, whole('keys', 1, 1_000_000)),
    faultMs: option(values, 'faults-for', F.faultMs, wholeMs('faults-for', true)),
    livenessMs: option(values, 'liveness', F.livenessMs, wholeMs('liveness')),
    faults: {
      crashes: values['no-crashes'] !== true && F.faults.crashes,
      partitions: values['no-partitions'] !== true && F.faults.partitions,
      loss: option(values, 'loss', F.faults.loss, chance('loss')),
      duplication: option(values, 'duplication', F.faults.duplication, chance('duplication')),
      reordering: values['no-reorder'] !== true && F.faults.reordering,
      clockDriftPpm: option(values, 'clock-drift', F.faults.clockDriftPpm, (t) =>
        numberOption('clock-drift', t, { min: 0, max: 499_999 }),
      ),
    },
    snapshotEvery: option(
      values,
      'snapshot-every',
      F.snapshotEvery,
      whole('snapshot-every', 1, 1_000_000),
    ),
    maxMemoryBytes: option(values, 'max-memory', F.maxMemoryBytes, (t) => {
      const bytes = bytesOption('max-memory', t);
      if (bytes < 1) badOption('max-memory', 'a size of at least 1 byte', t);
      return bytes;
    }),
    record: false,
  };
}

/**
 * The options that give `options` back through raftOptions: those that differ from the
 * defaults, in the usage's order. The sweep prints them in each failing seed's command.
 */
export function raftArgs(options: Omit<RaftSimOptions, 'seed'>): string[] {
  const o = options;
  const args: string[] = [];
  const given = (name: string, value: number | string, fallback: number | string): void => {
    if (value !== fallback) args.push(`--${name}`, String(value));
  };
  given('replicas', o.replicas, F.replicas);
  given('clients', o.clients, F.clients);
  given('keys', o.keys, F.keys);
  given('faults-for', formatMs(o.faultMs), formatMs(F.faultMs));
  given('liveness', formatMs(o.livenessMs), formatMs(F.livenessMs));
  given('loss', o.faults.loss, F.faults.loss);
  given('duplication', o.faults.duplication, F.faults.duplication);
  if (!o.faults.reordering && F.faults.reordering) args.push('--no-reorder');
  if (!o.faults.crashes && F.faults.crashes) args.push('--no-crashes');
  if (!o.faults.partitions && F.faults.partitions) args.push('--no-partitions');
  given('clock-drift', o.faults.clockDriftPpm, F.faults.clockDriftPpm);
  given('snapshot-every', o.snapshotEvery, F.snapshotEvery);
  given('max-memory', formatSize(o.maxMemoryBytes), formatSize(F.maxMemoryBytes));
  return args;
}

/** Runs what parseSimArgs returned; the report depends on the options alone. */
export function simulate(run: SimRun, onProgress?: Progress): SimOutcome {
  try {
    if (run.scenario === 'raft') {
      const progress =
        onProgress === undefined
          ? undefined
          : (doneMs: number, totalMs: number) => onProgress(doneMs / Math.max(1, totalMs));
      const result = runRaft(run.options, progress);
      return {
        report: run.json ? `${JSON.stringify(result, null, 2)}\n` : formatRaftReport(result),
        requests: result.clients.operations,
        events: result.events,
        failed: !result.ok,
      };
    }
    if (run.scenario === 'resharding') {
      const result = runReshardingScenario(run.options, onProgress);
      return {
        report: formatReshardingReport(result),
        requests: result.workload.requests,
        events: result.eventsProcessed,
        failed: result.check.violations > 0,
      };
    }
    const result = runCacheScenario(run.options, undefined, onProgress);
    return {
      report: formatCacheReport(result),
      requests: result.workload.requests,
      events: result.eventsProcessed,
      failed: false,
    };
  } catch (error) {
    // A combination the scenario refuses (its RangeError names the field): a usage error.
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

/** `tinycache sim …`; returns the exit code. */
export async function runSimCommand(argv: string[], io: CommandIo = PROCESS_IO): Promise<number> {
  if (argv[0] === 'sweep') {
    // Loaded when asked for: the sweep imports this module's raft options.
    const { runSweepCommand } = await import('./sim-sweep.ts');
    return runSweepCommand(argv.slice(1), io);
  }
  const run = parseSimArgs(argv);
  if (run === 'help') {
    io.stdout.write(SIM_USAGE);
    return 0;
  }
  const tty = io.stderr.isTTY === true;
  let shown = -1;
  const onProgress: Progress | undefined = tty
    ? (done) => {
        const percent = Math.floor(done * 100);
        if (percent === shown) return;
        shown = percent;
        const width = 30;
        const filled = Math.round((percent / 100) * width);
        io.stderr.write(
          `\r\x1b[2Ksim ${run.scenario}: [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}% of virtual time`,
        );
      }
    : undefined;
  const start = performance.now();
  const outcome = simulate(run, onProgress);
  const wallSeconds = (performance.now() - start) / 1000;
  if (tty) io.stderr.write('\r\x1b[2K');
  io.stdout.write(outcome.report);
  const speed =
    run.scenario === 'raft'
      ? formatRaftSpeed(outcome, wallSeconds)
      : formatSpeed(outcome, wallSeconds);
  io.stderr.write(`${speed}\n`);
  return outcome.failed ? 1 : 0;
}

/** The simulator's speed, for stderr: wall-clock figures never go in the report. */
export function formatSpeed(outcome: SimOutcome, wallSeconds: number): string {
  const rate = (n: number) => Math.round(n / Math.max(wallSeconds, 1e-9)).toLocaleString('en-US');
  return (
    `sim: ${outcome.requests.toLocaleString('en-US')} simulated requests and ` +
    `${outcome.events.toLocaleString('en-US')} events in ${wallSeconds.toFixed(2)} s wall: ` +
    `${rate(outcome.requests)} simulated req/s, ${rate(outcome.events)} events/s`
  );
}

/** The raft run's speed, for stderr: events and client requests per wall second. */
export function formatRaftSpeed(outcome: SimOutcome, wallSeconds: number): string {
  const rate = (n: number) => Math.round(n / Math.max(wallSeconds, 1e-9)).toLocaleString('en-US');
  return (
    `sim raft: simulated ${outcome.events.toLocaleString('en-US')} events in ` +
    `${wallSeconds.toFixed(2)} s (${rate(outcome.events)} events/s, ` +
    `${rate(outcome.requests)} client requests/s)`
  );
}
