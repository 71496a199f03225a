/**
 * Benchmark 1: a node's GET hit (64 B) and PUT over HTTP, beside a bare node:http server
 * answering a fixed 64 B body, driven by `wrk -t1 -c50` when installed (else by
 * `tinycache bench`), and beside Redis (redis-benchmark -c 50) when installed.
 * Goal: GET >= 0.9x the bare server.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import client from 'prom-client';
import { DURATION_BUCKETS_SECONDS, RequestRecorder } from '../server/node/metrics.ts';
import {
  BIN,
  request,
  spawnNode,
  spawnServer,
  type ServerProcess,
} from '../server/testing/processes.ts';
import { formatRate, formatRatio, median, progress, table, which } from './lib.ts';

const run = promisify(execFile);
export const CONNECTIONS = 50;
const VALUE = 'v'.repeat(64);
const BARE_SERVER = fileURLToPath(new URL('./bare-server.ts', import.meta.url));
const WRK_PUT = fileURLToPath(new URL('./wrk-put.lua', import.meta.url));

export interface Figure {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

type Driver = (url: string, method: 'GET' | 'PUT', seconds: number) => Promise<Figure>;

/** wrk reports latency as `1.23ms`, `456.00us` or `1.02s`. */
function wrkMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) throw new Error(`unexpected wrk latency ${text}`);
  const n = Number(match[1]);
  return match[2] === 'us' ? n / 1000 : match[2] === 's' ? n * 1000 : n;
}

export interface WrkOptions {
  /** A Lua script (see wrk-put.lua, wrk-get-keys.lua) and the arguments it reads in init(). */
  readonly script?: string;
  readonly scriptArgs?: readonly string[];
}

/** `wrk -t1 -c50` against `url` for `seconds`; any non-2xx answer is an error. */
export async function runWrk(url: string, seconds: number, options: WrkOptions = {}) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency'];
  if (options.script !== undefined) args.push('-s', options.script);
  args.push(url);
  if (options.scriptArgs !== undefined) args.push('--', ...options.scriptArgs);
  const { stdout } = await run('wrk', args);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const p50 = /\s50%\s+(\S+)/.exec(stdout);
  const p99 = /\s99%\s+(\S+)/.exec(stdout);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (!rps || !p50 || !p99) throw new Error(`could not read wrk output:\n${stdout}`);
  if (errors) throw new Error(`wrk saw ${errors[1]} error answers from ${url}`);
  return { rps: Number(rps[1]), p50Ms: wrkMs(p50[1]!), p99Ms: wrkMs(p99[1]!) } satisfies Figure;
}

const wrk: Driver = (url, method, seconds) =>
  runWrk(url, seconds, method === 'PUT' ? { script: WRK_PUT } : {});

/** What the benchmarks read of `tinycache bench --json` (server/load/load.ts, LoadResult). */
export interface BenchResult {
  readonly rate: number | null;
  readonly requestsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number } | null;
  readonly sendLagMs: { readonly p50: number; readonly p99: number } | null;
  readonly hits: number;
  readonly misses: number;
  readonly errorCount: number;
  readonly unfinished: number;
  readonly prefill: { readonly keys: number; readonly stored: number } | null;
}

/** `tinycache bench --url origin ...args --json`, a child process of its own. */
export async function runTinycacheBench(origin: string, args: string[]): Promise<BenchResult> {
  const { stdout } = await run(
    process.execPath,
    [BIN, 'bench', '--url', origin, ...args, '--json'],
    {
      maxBuffer: 1 << 24,
    },
  );
  return JSON.parse(stdout) as BenchResult;
}

const tinycacheBench: Driver = async (url, method, seconds) => {
  const target = new URL(url);
  const args = ['-c', String(CONNECTIONS), '--duration', `${seconds}s`];
  if (method === 'GET') args.push('--path', target.pathname);
  else args.push('--read-ratio', '0', '--keys', '1', '--value-bytes', '64');
  const result = await runTinycacheBench(target.origin, args);
  if (result.errorCount > 0) throw new Error(`tinycache bench saw ${result.errorCount} errors`);
  return {
    rps: result.requestsPerSecond,
    p50Ms: result.latencyMs!.p50,
    p99Ms: result.latencyMs!.p99,
  };
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Redis GET and SET of 64 B values, 50 clients, as the reference for a real cache server. */
async function redisFigures(seconds: number): Promise<{ get: Figure; set: Figure } | null> {
  if (which('redis-server') === null || which('redis-benchmark') === null) return null;
  const port = await freePort();
  const redis = await spawnServer(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    /Ready to accept connections/,
    { url: `redis://127.0.0.1:${port}` },
  ).catch(() => null);
  if (redis === null) return null;
  try {
    // Size the run to last about `seconds` at ~80k req/s per test.
    const requests = String(Math.max(50_000, Math.round(seconds * 80_000)));
    const args = ['-p', String(port), '-c', String(CONNECTIONS), '-d', '64', '-t', 'get,set'];
    const { stdout } = await run('redis-benchmark', [...args, '-n', requests, '--csv']);
    const rows = new Map<string, Figure>();
    for (const line of stdout.trim().split('\n').slice(1)) {
      const cells = line.split(',').map((c) => Number(c.replaceAll('"', '')));
      const name = line.split(',')[0]!.replaceAll('"', '');
      rows.set(name, { rps: cells[1]!, p50Ms: cells[4]!, p99Ms: cells[6]! });
    }
    const get = rows.get('GET');
    const set = rows.get('SET');
    return get && set ? { get, set } : null;
  } finally {
    await redis.stop();
  }
}

/** ns per request spent recording metrics: our typed-array recorder and prom-client's own. */
function metricsCostNs(): { recorderNs: number; promClientNs: number } {
  const recorder = new RequestRecorder();
  const registry = new client.Registry();
  const counter = new client.Counter({
    name: 'c_total',
    help: 'h',
    labelNames: ['op', 'code'],
    registers: [registry],
  });
  const histogram = new client.Histogram({
    name: 'h_seconds',
    help: 'h',
    labelNames: ['op'],
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  });
  const n = 2_000_000;
  const time = (fn: (i: number) => void): number => {
    const rounds: number[] = [];
    for (let r = 0; r < 5; r++) {
      const start = performance.now();
      for (let i = 0; i < n; i++) fn(i);
      rounds.push(((performance.now() - start) * 1e6) / n);
    }
    return median(rounds);
  };
  const labels = { op: 'get', code: '200' };
  const opLabels = { op: 'get' };
  return {
    recorderNs: time((i) => recorder.record('get', 200, 0.00002 + (i & 7) * 0.0001)),
    promClientNs: time((i) => {
      counter.inc(labels);
      histogram.observe(opLabels, 0.00002 + (i & 7) * 0.0001);
    }),
  };
}

export async function httpBench(options: { seconds: number; rounds: number }): Promise<string> {
  const { seconds, rounds } = options;
  const useWrk = which('wrk') !== null;
  const driver = useWrk ? wrk : tinycacheBench;
  const driverName = useWrk
    ? `wrk -t1 -c${CONNECTIONS}`
    : `tinycache bench -c ${CONNECTIONS} (wrk not installed: apt-get install -y wrk)`;

  const servers: ServerProcess[] = [];
  try {
    const bare = await spawnServer(
      process.execPath,
      ['--import', 'tsx', BARE_SERVER],
      /listening on (http:\/\/\S+)/,
    );
    servers.push(bare);
    const node = await spawnNode();
    servers.push(node);
    const put = await request(`${node.url}/v1/keys/bench`, { method: 'PUT', body: VALUE });
    if (put.status !== 201) throw new Error(`could not store the benchmark key: ${put.status}`);

    const cases = [
      { name: 'bare node:http GET', url: `${bare.url}/v1/keys/bench`, method: 'GET' },
      { name: 'tinycache GET hit', url: `${node.url}/v1/keys/bench`, method: 'GET' },
      { name: 'bare node:http PUT', url: `${bare.url}/v1/keys/bench`, method: 'PUT' },
      { name: 'tinycache PUT', url: `${node.url}/v1/keys/bench`, method: 'PUT' },
    ] as const;
    const figures = new Map<string, Figure[]>(cases.map((c) => [c.name, []]));
    const generator: Figure[] = [];
    // Rounds interleave the cases, so slow drift on a noisy machine hits them alike.
    for (let round = 1; round <= rounds; round++) {
      for (const c of cases) {
        progress(`round ${round}/${rounds}: ${c.name} (${seconds} s)`);
        figures.get(c.name)!.push(await driver(c.url, c.method, seconds));
      }
      if (useWrk) {
        progress(`round ${round}/${rounds}: bare node:http GET by tinycache bench (${seconds} s)`);
        generator.push(await tinycacheBench(cases[0].url, 'GET', seconds));
      }
    }
    progress('redis-benchmark, when installed');
    const redis = await redisFigures(seconds);
    const costs = metricsCostNs();

    const summary = (list: Figure[]): Figure => ({
      rps: median(list.map((f) => f.rps)),
      p50Ms: median(list.map((f) => f.p50Ms)),
      p99Ms: median(list.map((f) => f.p99Ms)),
    });
    const s = Object.fromEntries(cases.map((c) => [c.name, summary(figures.get(c.name)!)]));
    const bareGet = s['bare node:http GET']!;
    const barePut = s['bare node:http PUT']!;
    const row = (name: string, f: Figure, anchor: Figure | null): string[] => [
      name,
      formatRate(f.rps),
      `${f.p50Ms.toFixed(2)} ms`,
      `${f.p99Ms.toFixed(2)} ms`,
      anchor === null ? '' : formatRatio(f.rps, anchor.rps),
    ];
    const rows = [
      ['case', 'req/s', 'p50', 'p99', 'vs bare'],
      row('bare node:http GET (anchor)', bareGet, null),
      row('tinycache GET hit', s['tinycache GET hit']!, bareGet),
      row('bare node:http PUT (anchor)', barePut, null),
      row('tinycache PUT', s['tinycache PUT']!, barePut),
    ];
    if (redis) {
      rows.push(row('redis GET (redis-benchmark -c 50)', redis.get, bareGet));
      rows.push(row('redis SET (redis-benchmark -c 50)', redis.set, barePut));
    }
    const tinycacheGetRps = s['tinycache GET hit']!.rps;
    const lines = [
      `HTTP, 64 B values, ${driverName}, ${seconds} s x ${rounds} rounds, medians`,
      table(rows),
      `  GET hit vs bare server: ${formatRatio(tinycacheGetRps, bareGet.rps)} (goal >= 0.90x)`,
    ];
    if (!redis)
      lines.push('  redis: not installed (apt-get install -y redis-server) - no Redis row');
    if (generator.length > 0) {
      const gen = summary(generator);
      lines.push(
        `  load generator: tinycache bench drives the bare server at ${formatRate(gen.rps)} req/s, ` +
          `${formatRatio(gen.rps, bareGet.rps)} of what wrk gets from it`,
      );
    }
    const share = (ns: number) => ((ns * tinycacheGetRps) / 1e9) * 100;
    lines.push(
      `  metrics cost: ${costs.recorderNs.toFixed(0)} ns a request ` +
        `(${share(costs.recorderNs).toFixed(2)}% of a core at the GET rate above); ` +
        `prom-client's labelled inc+observe would be ${costs.promClientNs.toFixed(0)} ns ` +
        `(${share(costs.promClientNs).toFixed(2)}%)`,
    );
    return lines.join('\n');
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
