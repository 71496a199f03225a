/**
 * Many seeds of one configuration, in process: each run is pure, so a failing seed is replayed
 * with `tinycache sim raft --seed N` and the same options.
 */
import { runRaftWith, type RaftSimExtras } from './run.ts';
import type { RaftSimOptions, RaftSimReport } from './types.ts';

export interface SweepResult {
  readonly runs: number;
  readonly failures: { readonly seed: number; readonly why: string }[];
}

export interface SweepOptions {
  /** What each seed's run adds (a scripted adversary, Raft knobs); tests use it. */
  readonly extras?: (seed: number) => RaftSimExtras;
  /** Stop once this many seeds failed (default: run every seed). */
  readonly maxFailures?: number;
}

export function sweep(
  base: Omit<RaftSimOptions, 'seed'>,
  seeds: { readonly from: number; readonly count: number },
  onSeed?: (seed: number, report: RaftSimReport) => void,
  options: SweepOptions = {},
): SweepResult {
  const failures: { seed: number; why: string }[] = [];
  let runs = 0;
  for (let seed = seeds.from; seed < seeds.from + seeds.count; seed++) {
    const report = runRaftWith({ ...base, seed }, options.extras?.(seed) ?? {});
    runs++;
    if (!report.ok) failures.push({ seed, why: whyFailed(report) });
    onSeed?.(seed, report);
    if (options.maxFailures !== undefined && failures.length >= options.maxFailures) break;
  }
  return { runs, failures };
}

/** One line: the first thing that broke. */
export function whyFailed(report: RaftSimReport): string {
  const k = report.checks;
  const first = k.violations[0];
  if (first !== undefined) return `${first.invariant}: ${first.message}`;
  if (k.lostWrites > 0) return `${k.lostWrites} acknowledged write(s) lost`;
  if (k.linearizable !== 'yes') {
    return `not linearizable (${k.linearizable}): ${(k.linearizability ?? '').split('\n')[0] ?? ''}`;
  }
  if (!k.liveness.ok) return `liveness: ${k.liveness.detail}`;
  return 'failed';
}
