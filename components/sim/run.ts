/**
 * The /sim page's run: the form's few fields as the resharding scenario's options (the rest are
 * the scenario's defaults, as `tinycache sim resharding` takes them), the same run as a command
 * line, and the run itself, timed; a Raft run's form and run are in raft/form.ts, and `runJob`
 * runs either. No React and no DOM: it runs in a Web Worker (sim-worker.ts) or, failing that,
 * on the page's thread.
 */
import { formatReshardingReport } from '../../sim/report.ts';
import type { Progress } from '../../sim/scenarios/drain.ts';
import {
  DEFAULT_RESHARDING,
  type ReshardingOptions,
  runReshardingScenario,
} from '../../sim/scenarios/resharding.ts';
import type { LiveSample } from '../../server/control/monitor.ts';
import { type RaftForm, type RaftOutcome, runRaftSimulation } from './raft/form.ts';
import { samplesOfRun } from './samples.ts';

export interface SimForm {
  readonly shards: number;
  readonly change: 'add' | 'remove';
  /** Shards added or removed at the move. */
  readonly count: number;
  readonly keys: number;
  /** Requests per virtual second, all clients together. */
  readonly ratePerSecond: number;
  readonly durationSeconds: number;
  readonly seed: number;
  /** Stream the moved keys (true) or let them move by misses. */
  readonly transfer: boolean;
}

/** Small enough to run in about a second in a browser. */
export const DEFAULT_FORM: SimForm = {
  shards: 20,
  change: 'add',
  count: 2,
  keys: 20_000,
  ratePerSecond: 10_000,
  durationSeconds: 10,
  seed: 7,
  transfer: true,
};

/** The scenario's options for `form`: what `tinycache sim resharding` makes of `cliArgs(form)`. */
export function optionsOf(form: SimForm): ReshardingOptions {
  const durationMs = form.durationSeconds * 1000;
  return {
    ...DEFAULT_RESHARDING,
    seed: form.seed,
    shards: form.shards,
    add: form.change === 'add' ? form.count : 0,
    remove: form.change === 'remove' ? form.count : 0,
    keys: form.keys,
    ratePerSecond: form.ratePerSecond,
    durationMs,
    // The CLI's default: 3 s in, or half-way through a shorter run.
    moveAtMs: Math.min(DEFAULT_RESHARDING.moveAtMs, durationMs / 2),
    transfer: form.transfer,
  };
}

/** The same run from the command line, as arguments after `tinycache sim`. */
export function cliArgs(form: SimForm): string[] {
  return [
    'resharding',
    '--shards',
    String(form.shards),
    form.change === 'add' ? '--add' : '--remove',
    String(form.count),
    '--keys',
    String(form.keys),
    '--rate',
    String(form.ratePerSecond),
    '--duration',
    `${form.durationSeconds}s`,
    '--seed',
    String(form.seed),
    ...(form.transfer ? [] : ['--no-transfer']),
  ];
}

/** What the page shows of a run: plain data, so a worker can post it. */
export interface SimOutcome {
  readonly options: ReshardingOptions;
  readonly report: string;
  readonly traceHash: string;
  readonly samples: readonly LiveSample[];
  readonly moveStartMs: number;
  readonly moveEndMs: number | null;
  readonly addedShards: readonly string[];
  readonly removedShards: readonly string[];
  readonly requests: number;
  readonly events: number;
  /** Wall-clock time of the run alone (not of drawing it), from performance.now(). */
  readonly wallMs: number;
}

/** Runs the scenario for `form`; throws the scenario's RangeError for options it refuses. */
export function runSimulation(form: SimForm, onProgress?: Progress): SimOutcome {
  const options = optionsOf(form);
  const start = performance.now();
  const result = runReshardingScenario(options, onProgress);
  const wallMs = performance.now() - start;
  return {
    options: result.options,
    report: formatReshardingReport(result),
    traceHash: result.traceHash,
    samples: samplesOfRun(result.workload.series, options.durationMs),
    moveStartMs: result.moveStartMs,
    moveEndMs: result.moveEndMs,
    addedShards: result.addedShards,
    removedShards: result.removedShards,
    requests: result.workload.requests,
    events: result.eventsProcessed,
    wallMs,
  };
}

/** A run the page asks for: a scenario and its form. */
export type SimJob =
  | { readonly scenario: 'resharding'; readonly form: SimForm }
  | { readonly scenario: 'raft'; readonly form: RaftForm };

/** What a run gave, for the scenario it was. */
export type SimResult =
  | { readonly scenario: 'resharding'; readonly outcome: SimOutcome }
  | { readonly scenario: 'raft'; readonly outcome: RaftOutcome };

/** Runs `job`, on whatever thread calls it (the worker, or the page without one). */
export function runJob(job: SimJob, onProgress?: Progress): SimResult {
  return job.scenario === 'resharding'
    ? { scenario: 'resharding', outcome: runSimulation(job.form, onProgress) }
    : { scenario: 'raft', outcome: runRaftSimulation(job.form, onProgress) };
}

/** Messages between the page and sim-worker.ts. */
export type WorkerRequest = { readonly kind: 'run'; readonly job: SimJob };
export type WorkerReply =
  | { readonly kind: 'progress'; readonly done: number }
  | { readonly kind: 'done'; readonly result: SimResult }
  | { readonly kind: 'error'; readonly message: string };
