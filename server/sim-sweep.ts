/**
 * `npm run sim:sweep -- --seeds 10000` (also `tinycache sim sweep …`): runs the raft scenario
 * (`tinycache sim raft`) for many seeds on worker threads, one per core, and prints every seed
 * that failed with the command that replays it. The stdout is a function of the arguments
 * alone (failures in seed order, no wall-clock figure); progress and speed go to stderr.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { RaftSimOptions } from '../sim/raft/types.ts';
import { numberOption, parseOptions, PROCESS_IO, UsageError, type CommandIo } from './cli-args.ts';
import { RAFT_OPTION_LINES, RAFT_OPTIONS, raftArgs, raftOptions } from './sim-command.ts';
import type { SliceDone, SweepFailure, SweepSlice } from './sim-sweep-worker.ts';

export type { SweepFailure } from './sim-sweep-worker.ts';

const DEFAULT_SEEDS = 1000;

export const SWEEP_USAGE = `Usage: npm run sim:sweep -- [--seeds N] [--from N] [--threads N] [raft options]
       tinycache sim sweep [same options]

Runs the raft scenario (tinycache sim raft) once for each seed, on worker threads, and
prints how many seeds ran, how many failed, and for each failing seed why and the command
that replays it. Exits 1 when any seed failed. The same arguments print the same stdout;
progress and the sweep's speed go to stderr.

Options:
  --seeds N             how many seeds                                     [${DEFAULT_SEEDS}]
  --from N              the first seed                                     [1]
  --threads N           worker threads                                     [one per core]
${RAFT_OPTION_LINES}  -h, --help            this text

Example: npm run sim:sweep -- --seeds 10000 --replicas 5
`;

const SWEEP = {
  ...RAFT_OPTIONS,
  seeds: { type: 'string' },
  from: { type: 'string' },
  threads: { type: 'string' },
} as const;

export interface SweepArgs {
  readonly base: Omit<RaftSimOptions, 'seed'>;
  readonly from: number;
  readonly count: number;
  readonly threads: number;
}

/** Parses the sweep's arguments; throws UsageError naming the first bad option. */
export function parseSweepArgs(argv: string[], cores = availableParallelism()): SweepArgs | 'help' {
  if (argv.some((arg) => arg === '--seed' || arg.startsWith('--seed='))) {
    throw new UsageError('--seed: a sweep takes a range of seeds: --from N (first) and --seeds N');
  }
  const { values } = parseOptions(argv, SWEEP);
  if (values.help) return 'help';
  const whole = (name: string, fallback: number, min: number, max: number): number => {
    const text = values[name as keyof typeof values];
    return typeof text === 'string'
      ? numberOption(name, text, { min, max, integer: true })
      : fallback;
  };
  const count = whole('seeds', DEFAULT_SEEDS, 1, 100_000_000);
  const last = 2 ** 32 - 1;
  const from = whole('from', 1, 0, last - count + 1);
  return { base: raftOptions(values), from, count, threads: whole('threads', cores, 1, 256) };
}

/** What a sweep ran: seeds done, and the failures among them in seed order. */
export interface SweepResult {
  readonly seeds: number;
  readonly failures: readonly SweepFailure[];
}

export interface SweepRunOptions {
  /** After each slice: seeds done so far and failures so far. */
  readonly onProgress?: (done: number, failures: number) => void;
  /** Once aborted, no more slices are handed out; the result holds the seeds done. */
  readonly signal?: AbortSignal;
  /** Seeds per message to a worker (default: small enough for smooth progress). */
  readonly slice?: number;
}

const WORKER_URL = new URL('./sim-sweep-worker.ts', import.meta.url).href;
/** tsx's programmatic loader: a worker thread does not inherit the main thread's. */
const TSX_API = import.meta.resolve('tsx/esm/api');

/** Worker threads that run slices of seeds; reusable across sweeps (the bench does). */
export class SweepPool {
  readonly #workers: Worker[];

  constructor(readonly threads: number) {
    const source =
      `import(${JSON.stringify(TSX_API)})` +
      `.then(({ tsImport }) => tsImport(${JSON.stringify(WORKER_URL)}, ${JSON.stringify(WORKER_URL)}))`;
    this.#workers = Array.from({ length: threads }, () => new Worker(source, { eval: true }));
  }

  /** Runs seeds `from` .. `from + count - 1` across the workers. */
  run(
    base: Omit<RaftSimOptions, 'seed'>,
    seeds: { readonly from: number; readonly count: number },
    { onProgress, signal, slice }: SweepRunOptions = {},
  ): Promise<SweepResult> {
    const end = seeds.from + seeds.count;
    const size =
      slice ?? Math.max(1, Math.min(8, Math.floor(seeds.count / (this.#workers.length * 25))));
    let next = seeds.from;
    let done = 0;
    let busy = 0;
    const failures: SweepFailure[] = [];
    return new Promise<SweepResult>((resolve, reject) => {
      const cleanups: (() => void)[] = [];
      const finish = (error?: Error): void => {
        for (const cleanup of cleanups) cleanup();
        if (error !== undefined) reject(error);
        else resolve({ seeds: done, failures: failures.sort((a, b) => a.seed - b.seed) });
      };
      const hand = (worker: Worker): void => {
        if (next >= end || signal?.aborted === true) {
          if (busy === 0) finish();
          return;
        }
        const message: SweepSlice = { base, from: next, count: Math.min(size, end - next) };
        next += message.count;
        busy++;
        worker.postMessage(message);
      };
      for (const worker of this.#workers) {
        const onMessage = (answer: SliceDone): void => {
          busy--;
          done += answer.count;
          failures.push(...answer.failures);
          onProgress?.(done, failures.length);
          hand(worker);
        };
        const onError = (error: Error): void => finish(error);
        const onExit = (code: number): void =>
          finish(new Error(`a sweep worker exited (code ${code}) before it finished`));
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        cleanups.push(() => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        });
      }
      for (const worker of this.#workers) hand(worker);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}

/** Runs a sweep on a pool of `threads` workers, closed afterwards. */
export async function runSweep(
  args: SweepArgs,
  options: SweepRunOptions = {},
): Promise<SweepResult> {
  const pool = new SweepPool(Math.min(args.threads, args.count));
  try {
    return await pool.run(args.base, args, options);
  } finally {
    await pool.close();
  }
}

function plural(n: number, one: string, many: string): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** 12,345: the same on every host (no locale). */
function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** The command that replays one seed of a sweep over `base`. */
export function replayCommand(base: Omit<RaftSimOptions, 'seed'>, seed: number): string {
  return ['npx tinycache sim raft --seed', String(seed), ...raftArgs(base)].join(' ');
}

/** The sweep's stdout: a function of its arguments and its failures alone. */
export function formatSweep(
  base: Omit<RaftSimOptions, 'seed'>,
  seeds: { readonly from: number; readonly count: number },
  failures: readonly SweepFailure[],
): string {
  const last = seeds.from + seeds.count - 1;
  const lines = [
    `Raft sweep: seeds ${seeds.from} to ${last} of: ${replayCommand(base, 0).replace('--seed 0', '--seed N')}`,
    `${plural(seeds.count, 'seed', 'seeds')}, ${plural(failures.length, 'failure', 'failures')}`,
  ];
  const sorted = [...failures].sort((a, b) => a.seed - b.seed);
  if (sorted.length > 0) {
    lines.push('', 'Failing seeds, each with the command that replays it:');
    for (const { seed, why } of sorted) {
      const [first = '', ...more] = why.trimEnd().split('\n');
      lines.push(`  seed ${seed}: ${first}`, ...more.map((line) => `    ${line}`));
      lines.push(`    ${replayCommand(base, seed)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** 1m 05s, 42s: for a person, on stderr. */
function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${rest}s`;
}

/** One progress figure: seeds done of all, failures, seeds a minute and the time left. */
export function formatSweepProgress(
  done: number,
  total: number,
  failures: number,
  elapsedSeconds: number,
): string {
  const perMinute = elapsedSeconds > 0 ? (done / elapsedSeconds) * 60 : 0;
  const eta = perMinute > 0 ? ((total - done) / perMinute) * 60 : Infinity;
  return (
    `${count(done)}/${count(total)} seeds, ${plural(failures, 'failure', 'failures')}, ` +
    `${count(Math.round(perMinute))} seeds/min, ETA ${done === total ? '0s' : clock(eta)}`
  );
}

/** `tinycache sim sweep …`; returns the exit code. */
export async function runSweepCommand(argv: string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const args = parseSweepArgs(argv);
  if (args === 'help') {
    io.stdout.write(SWEEP_USAGE);
    return 0;
  }
  const tty = io.stderr.isTTY === true;
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  let shownTenth = 0;
  let drawnAt = -Infinity;
  const onProgress = (done: number, failures: number): void => {
    const line = formatSweepProgress(done, args.count, failures, elapsed());
    if (tty) {
      const now = performance.now();
      if (now - drawnAt < 100 && done < args.count) return;
      drawnAt = now;
      const width = 30;
      const filled = Math.round((done / args.count) * width);
      io.stderr.write(
        `\r\x1b[2Ksweep: [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}`,
      );
      return;
    }
    const tenth = Math.floor((done * 10) / args.count);
    if (tenth > shownTenth) {
      shownTenth = tenth;
      io.stderr.write(`sweep: ${line}\n`);
    }
  };
  const threads = Math.min(args.threads, args.count);
  if (tty) io.stderr.write(`sweep: starting ${plural(threads, 'thread', 'threads')}…`);
  let result: SweepResult;
  try {
    result = await runSweep(args, { onProgress });
  } finally {
    if (tty) io.stderr.write('\r\x1b[2K');
  }
  const seconds = elapsed();
  io.stdout.write(formatSweep(args.base, args, result.failures));
  io.stderr.write(
    `sweep: ${plural(result.seeds, 'seed', 'seeds')} in ${seconds.toFixed(1)} s on ` +
      `${plural(threads, 'thread', 'threads')} ` +
      `(${count(Math.round((result.seeds / Math.max(seconds, 1e-9)) * 60))} seeds/min)\n`,
  );
  return result.failures.length > 0 ? 1 : 0;
}
