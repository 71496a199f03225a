/**
 * Benchmark 4: the playground's cost and the load generator's reach.
 *
 * 1. A node's throughput with the dashboard open (startApp: Next.js, the control plane, the
 *    monitor scraping /metrics once a second, and Chromium showing the page on the live SSE
 *    stream) beside the same kind of node with nothing watching it, and beside the monitor
 *    alone (startApp without the dashboard) to tell the two costs apart. The app runs in a
 *    process of its own (playground-app.ts), as `npm start` runs it. Every case starts fresh
 *    each round and is stopped before the next, so no case's processes load another's.
 *    Goal: dashboard open >= 0.95x alone.
 * 2. What `tinycache bench` gets from one node beside wrk on the same node: the closed model
 *    (-c 50) and the open model's ceiling, the highest --rate it keeps (ceiling.ts).
 *
 * Both drive GET hits on the same prefilled keys, with the drivers of http.ts.
 */
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from '@playwright/test';
import { Supervisor } from '../server/control/supervisor.ts';
import { ensureBuild } from '../server/dashboard.ts';
import { CHROMIUM_ARGS } from '../e2e/playwright.config.ts';
import { spawnNode, spawnServer, type ServerProcess } from '../server/testing/processes.ts';
import { highestSustained, sustained, type OpenRun, type Probe } from './ceiling.ts';
import { CONNECTIONS, runTinycacheBench, runWrk, type BenchResult, type Figure } from './http.ts';
import { formatRate, formatRatio, median, progress, table, which } from './lib.ts';
import { cpuSeconds, cpuUsedBetween, descendants } from './proc.ts';

const KEYS = 10_000;
const WRK_GET_KEYS = fileURLToPath(new URL('./wrk-get-keys.lua', import.meta.url));
const PLAYGROUND_APP = fileURLToPath(new URL('./playground-app.ts', import.meta.url));
/** The same workload for every driver: GETs of uniformly random keys, all stored. */
const GET_KEYS = ['--keys', String(KEYS), '--dist', 'uniform', '--read-ratio', '1'];
/**
 * An open-model run keeps up when it gets within 2 % of its rate and its p99 stays below 50 ms.
 * Below the ceiling p99 is a few ms to a few tens (two cores: scheduling hiccups); past it a
 * queue builds and p99 runs to hundreds of ms or seconds, sometimes before the rate falls short.
 */
const OPEN_LIMITS = { shortfall: 0.02, p99Ms: 50 };
const SEARCH_STEPS = 4;
/** The most connections an open-model run may open (`tinycache bench --rate`'s default). */
const OPEN_CONNECTIONS = 64;

/** Stores every key once (64 B values), then reads them for a second, so the node is warm. */
async function prefillAndWarm(url: string): Promise<void> {
  const result = await runTinycacheBench(new URL(url).origin, [
    ...GET_KEYS,
    '--prefill',
    '-c',
    String(CONNECTIONS),
    '--duration',
    '1s',
  ]);
  if (result.prefill?.stored !== KEYS || result.misses > 0 || result.errorCount > 0) {
    throw new Error(`prefill of ${url} failed: ${JSON.stringify(result.prefill)}`);
  }
}

/** One measured run of GET hits: wrk when installed, else `tinycache bench -c 50`. */
async function drive(url: string, seconds: number, useWrk: boolean): Promise<Figure> {
  if (useWrk) return runWrk(url, seconds, { script: WRK_GET_KEYS, scriptArgs: [String(KEYS)] });
  const result = await closedBench(url, seconds);
  return figureOf(result);
}

function closedBench(url: string, seconds: number): Promise<BenchResult> {
  const args = [...GET_KEYS, '-c', String(CONNECTIONS), '--duration', `${seconds}s`];
  return runTinycacheBench(new URL(url).origin, args);
}

function figureOf(result: BenchResult): Figure {
  if (result.errorCount > 0 || result.misses > 0 || result.latencyMs === null) {
    throw new Error(`tinycache bench: ${result.errorCount} errors, ${result.misses} misses`);
  }
  return {
    rps: result.requestsPerSecond,
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
  };
}

/** Cores (1.0 = one core busy) each part used during a run; null where there is no such part. */
interface CpuShare {
  readonly node: number | null;
  /** The playground's process: Next.js, the control plane and the monitor. */
  readonly app: number | null;
  readonly browser: number | null;
}

/** Starts counting CPU time; the returned function stops and gives the shares. */
function watchCpu(
  nodePid: number,
  appPid: number | null,
  browserPids: readonly number[] = [],
): () => CpuShare {
  const pids = [nodePid, ...(appPid === null ? [] : [appPid]), ...browserPids];
  const before = cpuSeconds(pids);
  const start = performance.now();
  return () => {
    const after = cpuSeconds(pids);
    const wall = (performance.now() - start) / 1000;
    const share = (of: readonly number[]) => {
      const used = cpuUsedBetween(before, after, of);
      return used === null ? null : used / wall;
    };
    return {
      node: share([nodePid]),
      app: appPid === null ? null : share([appPid]),
      browser: browserPids.length === 0 ? null : share(browserPids),
    };
  };
}

interface Measured {
  readonly figure: Figure;
  readonly cpu: CpuShare;
  /** Monitor: its readings of the node during the run; dashboard: stream messages received. */
  readonly samples: number | null;
}

type Case = (seconds: number, useWrk: boolean) => Promise<Measured>;

/** A node started by a supervisor of its own: nothing scrapes it, no dashboard runs. */
const alone: Case = async (seconds, useWrk) => {
  const supervisor = new Supervisor();
  try {
    const node = await supervisor.start();
    await prefillAndWarm(node.url);
    const stop = watchCpu(node.pid!, null);
    const figure = await drive(`${node.url}/`, seconds, useWrk);
    return { figure, cpu: stop(), samples: null };
  } finally {
    await supervisor.close();
  }
};

interface AppProcess {
  readonly url: string;
  readonly pid: number;
  readonly nodeUrl: string;
  readonly nodePid: number;
  /** The monitor's successful readings of the node so far. */
  scrapes(): number;
  stop(): Promise<unknown>;
}

/** startApp in a process of its own (playground-app.ts), with one node. */
async function startAppProcess(dashboard: boolean): Promise<AppProcess> {
  const ready = /playground on (http:\/\/\S+) node (http:\/\/\S+) pid (\d+)/;
  const args = ['--import', 'tsx', PLAYGROUND_APP, ...(dashboard ? [] : ['--no-dashboard'])];
  let server: ServerProcess | null = null;
  for (let attempt = 1; server === null; attempt++) {
    // Another start may rebuild the dashboard under this one (its sources changed): build
    // again if so, then retry.
    if (dashboard) await ensureBuild((line) => progress(line));
    server = await spawnServer(process.execPath, args, ready, { timeoutMs: 60_000 }).catch(
      (error: unknown) => {
        if (attempt >= 3) throw error;
        progress(
          `the playground did not start (${(error as Error).message.split('\n')[0]}); again`,
        );
        return null;
      },
    );
  }
  const [, , nodeUrl, nodePid] = ready.exec(server.output())!;
  return {
    url: server.url,
    pid: server.child.pid!,
    nodeUrl: nodeUrl!,
    nodePid: Number(nodePid),
    scrapes: () => server.output().match(/^scraped$/gm)?.length ?? 0,
    stop: () => server.stop(),
  };
}

/** The playground's server without the dashboard: the control plane and the monitor. */
const monitored: Case = async (seconds, useWrk) => {
  const app = await startAppProcess(false);
  try {
    await prefillAndWarm(app.nodeUrl);
    const stop = watchCpu(app.nodePid, app.pid);
    const scrapes = app.scrapes();
    const figure = await drive(`${app.nodeUrl}/`, seconds, useWrk);
    return { figure, cpu: stop(), samples: app.scrapes() - scrapes };
  } finally {
    await app.stop();
  }
};

/** The playground as a user has it: the dashboard open in Chromium, on the live stream. */
const dashboard: Case = async (seconds, useWrk) => {
  const app = await startAppProcess(true);
  let browser: Browser | null = null;
  try {
    // Debian's Chromium with the browser tests' flags.
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    });
    const page = await browser.newPage();
    // The stream's messages as the page receives them (tRPC subscriptions are an EventSource).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    let messages = 0;
    cdp.on('Network.eventSourceMessageReceived', () => messages++);
    const subscribed = page.waitForResponse((r) => r.url().includes('/api/trpc/metrics.live'));
    await page.goto(app.url);
    await subscribed;
    await prefillAndWarm(app.nodeUrl);
    if (messages === 0) throw new Error('the dashboard received nothing on its live stream');
    const chrome = descendants(process.pid).filter((p) => /chrom/i.test(p.comm));
    const stop = watchCpu(
      app.nodePid,
      app.pid,
      chrome.map((p) => p.pid),
    );
    const seen = messages;
    const figure = await drive(`${app.nodeUrl}/`, seconds, useWrk);
    return { figure, cpu: stop(), samples: messages - seen };
  } finally {
    await browser?.close();
    await app.stop();
  }
};

const CASES = [
  { name: 'alone (anchor)', run: alone },
  { name: 'scraped by the monitor', run: monitored },
  { name: 'dashboard open', run: dashboard },
] as const;

async function dashboardCost(seconds: number, rounds: number, useWrk: boolean): Promise<string> {
  progress('dashboard build (reused unless its sources changed)');
  try {
    await ensureBuild((line) => progress(line));
  } catch (error) {
    // The dashboard is someone's work in progress; the generator's figures still stand.
    const reason = (error as Error).message.split('\n').slice(0, 4).join(' / ');
    return `Playground cost: not measured, the dashboard does not build: ${reason}`;
  }
  const results = new Map<string, Measured[]>(CASES.map((c) => [c.name, []]));
  for (let round = 1; round <= rounds; round++) {
    // Every other round runs the cases backwards, so drift and order hit them alike.
    const order = round % 2 === 1 ? CASES : [...CASES].reverse();
    for (const c of order) {
      progress(`round ${round}/${rounds}: node ${c.name} (${seconds} s)`);
      results.get(c.name)!.push(await c.run(seconds, useWrk));
    }
  }
  const medianOf = (list: readonly (number | null)[]): number | null => {
    const known = list.filter((v): v is number => v !== null);
    return known.length === 0 ? null : median(known);
  };
  const percent = (cores: number | null) => (cores === null ? '' : `${Math.round(cores * 100)}%`);
  const summary = CASES.map((c) => {
    const list = results.get(c.name)!;
    return {
      name: c.name,
      rps: median(list.map((m) => m.figure.rps)),
      p50Ms: median(list.map((m) => m.figure.p50Ms)),
      p99Ms: median(list.map((m) => m.figure.p99Ms)),
      node: medianOf(list.map((m) => m.cpu.node)),
      // The node's own CPU time per answer: unlike req/s, hardly moved by load elsewhere.
      nodeUs: medianOf(
        list.map((m) => (m.cpu.node === null ? null : (m.cpu.node / m.figure.rps) * 1e6)),
      ),
      app: medianOf(list.map((m) => m.cpu.app)),
      browser: medianOf(list.map((m) => m.cpu.browser)),
      samples: medianOf(list.map((m) => m.samples)),
    };
  });
  // Each round's ratio to the anchor of the same round, then their median: drift between
  // rounds (the machine is shared) cancels within a round.
  const alones = results.get(CASES[0].name)!;
  const ratios = CASES.map((c) =>
    results.get(c.name)!.map((m, round) => m.figure.rps / alones[round]!.figure.rps),
  );
  const ratio = (i: number) => `${median(ratios[i]!).toFixed(2)}x`;
  const open = summary[2]!;
  const ratioOf = (a: number | null, b: number | null) =>
    a === null || b === null ? '?' : `${(a / b).toFixed(2)}x`;
  const rows = [
    [
      'node',
      'req/s',
      'p50',
      'p99',
      'vs alone',
      'node cpu',
      'node µs/req',
      'app cpu',
      'browser cpu',
    ],
    ...summary.map((s, i) => [
      s.name,
      formatRate(s.rps),
      `${s.p50Ms.toFixed(2)} ms`,
      `${s.p99Ms.toFixed(2)} ms`,
      i === 0 ? '' : ratio(i),
      percent(s.node),
      s.nodeUs === null ? '' : `${s.nodeUs.toFixed(1)} µs`,
      percent(s.app),
      i === 2 ? percent(s.browser) : '',
    ]),
  ];
  const driverName = useWrk
    ? `wrk -t1 -c${CONNECTIONS}`
    : `tinycache bench -c ${CONNECTIONS} (wrk not installed: apt-get install -y wrk)`;
  return [
    `Playground cost, GET hits on ${formatRate(KEYS)} prefilled 64 B keys (uniform), ` +
      `${driverName}, ${seconds} s x ${rounds} rounds, medians (vs alone: of each round's ratio)`,
    table(rows),
    `  dashboard open vs alone: ${ratio(2)} (goal >= 0.95x); by round: ` +
      ratios[2]!.map((r) => `${r.toFixed(2)}x`).join(', '),
    `  where it goes: the node spends ${ratioOf(open.nodeUs, summary[0]!.nodeUs)} the CPU per ` +
      `answer it spends alone; the dashboard's processes take ` +
      `${percent((open.app ?? 0) + (open.browser ?? 0))} of a core (browser ${percent(open.browser)}, ` +
      `app ${percent(open.app)}) of the two cores that the node and its load driver fill`,
    `  alone: a supervisor's node, nothing scraping it; scraped by the monitor: startApp ` +
      `without the dashboard, ${summary[1]!.samples ?? 0} scrapes a run; dashboard open: ` +
      `startApp and Chromium on the page, ${open.samples ?? 0} live-stream messages a run`,
    `  cpu: cores in use during the run, 100% = one core (app: Next.js, the control plane and ` +
      `the monitor, one process); node µs/req: the node's CPU time per answer`,
  ].join('\n');
}

interface OpenProbe extends OpenRun {
  readonly p50Ms: number;
}

async function openRun(url: string, rate: number, seconds: number): Promise<OpenProbe> {
  const args = [...GET_KEYS, '--rate', String(rate), '-c', String(OPEN_CONNECTIONS)];
  args.push('--duration', `${seconds}s`);
  const result = await runTinycacheBench(new URL(url).origin, args);
  return {
    intended: rate,
    achieved: result.requestsPerSecond,
    p50Ms: result.latencyMs?.p50 ?? Infinity,
    p99Ms: result.latencyMs?.p99 ?? Infinity,
    errors: result.errorCount + result.misses,
  };
}

async function generatorReach(seconds: number, rounds: number, useWrk: boolean): Promise<string> {
  const node = await spawnNode();
  try {
    await prefillAndWarm(node.url);
    const wrkRuns: Figure[] = [];
    const closed: Figure[] = [];
    /** Each round's ceiling, 0 when even the lowest probe failed. */
    const ceilings: number[] = [];
    const atCeiling: OpenProbe[] = [];
    const perRound: string[] = [];
    for (let round = 1; round <= rounds; round++) {
      const drivers = [
        async () => {
          progress(`round ${round}/${rounds}: wrk on one node (${seconds} s)`);
          wrkRuns.push(await drive(`${node.url}/`, seconds, true));
        },
        async () => {
          progress(`round ${round}/${rounds}: tinycache bench -c ${CONNECTIONS} (${seconds} s)`);
          closed.push(figureOf(await closedBench(node.url, seconds)));
        },
      ];
      if (!useWrk) drivers.shift();
      for (const run of round % 2 === 1 ? drivers : drivers.reverse()) await run();
      // Bracket the ceiling by this round's closed-model figure: half of it should pass, and an
      // open model does not get far past what the same client gets closed.
      const closedRps = closed.at(-1)!.rps;
      const { best, probes } = await highestSustained(
        (rate) => {
          progress(`round ${round}/${rounds}: tinycache bench --rate ${rate} (${seconds} s)`);
          return openRun(node.url, rate, seconds);
        },
        (run) => sustained(run, OPEN_LIMITS),
        { low: closedRps * 0.5, high: closedRps * 1.1, steps: SEARCH_STEPS, grain: 100, tries: 2 },
      );
      ceilings.push(best?.rate ?? 0);
      if (best !== null) atCeiling.push(best.result);
      perRound.push(probes.map(describeProbe).join('; '));
    }
    const anchor: Figure | null =
      wrkRuns.length === 0
        ? null
        : {
            rps: median(wrkRuns.map((f) => f.rps)),
            p50Ms: median(wrkRuns.map((f) => f.p50Ms)),
            p99Ms: median(wrkRuns.map((f) => f.p99Ms)),
          };
    const closedMedian: Figure = {
      rps: median(closed.map((f) => f.rps)),
      p50Ms: median(closed.map((f) => f.p50Ms)),
      p99Ms: median(closed.map((f) => f.p99Ms)),
    };
    // A null round counts as 0: the median is a rate at least half the rounds sustained.
    const ceiling = median(ceilings);
    const at: Figure | null =
      ceiling === 0
        ? null
        : {
            rps: ceiling,
            p50Ms: median(atCeiling.map((c) => c.p50Ms)),
            p99Ms: median(atCeiling.map((c) => c.p99Ms)),
          };
    const vs = (rps: number) => (anchor === null ? '' : formatRatio(rps, anchor.rps));
    const rows = [['driver', 'req/s', 'p50', 'p99', 'vs wrk']];
    if (anchor !== null) {
      rows.push([
        `wrk -t1 -c${CONNECTIONS} (anchor)`,
        formatRate(anchor.rps),
        `${anchor.p50Ms.toFixed(2)} ms`,
        `${anchor.p99Ms.toFixed(2)} ms`,
        '',
      ]);
    }
    rows.push([
      `tinycache bench -c ${CONNECTIONS} (closed)`,
      formatRate(closedMedian.rps),
      `${closedMedian.p50Ms.toFixed(2)} ms`,
      `${closedMedian.p99Ms.toFixed(2)} ms`,
      vs(closedMedian.rps),
    ]);
    if (at !== null) {
      rows.push([
        `tinycache bench --rate (open, ceiling)`,
        formatRate(at.rps),
        `${at.p50Ms.toFixed(2)} ms`,
        `${at.p99Ms.toFixed(2)} ms`,
        vs(at.rps),
      ]);
    }
    const lines = [
      `Load generator on one node, GET hits on ${formatRate(KEYS)} prefilled 64 B keys ` +
        `(uniform), ${seconds} s x ${rounds} rounds, medians`,
      table(rows),
    ];
    if (anchor === null) lines.push('  wrk: not installed (apt-get install -y wrk) - no wrk row');
    lines.push(
      at === null
        ? `  open-model ceiling: not found (no rate passed in most rounds)`
        : `  open-model ceiling: ${formatRate(ceiling)} req/s` +
            (anchor === null ? '' : `, ${formatRatio(ceiling, anchor.rps)} of wrk`) +
            `, ${formatRatio(ceiling, closedMedian.rps)} of the closed model`,
      `  ceiling: the highest --rate answered within ${OPEN_LIMITS.shortfall * 100}% of it with ` +
        `p99 <= ${OPEN_LIMITS.p99Ms} ms and no errors (latency from intended send times, up to ` +
        `${OPEN_CONNECTIONS} connections), a rate failing only if two runs fail; ` +
        `${SEARCH_STEPS + 1} rates a round, bisecting 0.5x-1.1x the round's closed figure ` +
        `(0-0.5x when 0.5x fails):`,
      ...perRound.map((p, i) => `    round ${i + 1}: ${p}`),
    );
    return lines.join('\n');
  } finally {
    await node.stop();
  }
}

/** `47,700 ok (p99 12 ms)`, `58,700 short: 51,020 (p99 980 ms)`; `x2`: the second run's. */
function describeProbe({ rate, pass, result, runs }: Probe<OpenProbe>): string {
  const verdict = pass
    ? 'ok'
    : result.errors > 0
      ? `${result.errors} errors`
      : result.achieved < result.intended * (1 - OPEN_LIMITS.shortfall)
        ? `short: ${formatRate(result.achieved)}`
        : 'p99 over';
  const tries = runs > 1 ? ` x${runs}` : '';
  return `${formatRate(rate)} ${verdict}${tries} (p99 ${result.p99Ms.toFixed(0)} ms)`;
}

export async function playgroundBench(options: {
  seconds: number;
  rounds: number;
}): Promise<string> {
  const { seconds, rounds } = options;
  const useWrk = which('wrk') !== null;
  const cost = await dashboardCost(seconds, rounds, useWrk);
  const reach = await generatorReach(seconds, rounds, useWrk);
  return `${cost}\n\n${reach}`;
}
