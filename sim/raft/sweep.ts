/**
 * Many seeds of one configuration, in process: each run is pure, so a failing seed is replayed
 * with `tinycache sim raft --seed N` and the same options.
 */
import { runRaft } from './run.ts';
import type { RaftSimOptions, RaftSimReport } from './types.ts';

export interface SweepResult {
  readonly runs: number;
  readonly failures: { readonly seed: number; readonly why: string }[];
}

export function sweep(
  base: Omit<RaftSimOptions, 'seed'>,
  seeds: { readonly from: number; readonly count: number },
  onSeed?: (seed: number, report: RaftSimReport) => void,
): SweepResult {
  const failures: { seed: number; why: string }[] = [];
  for (let seed = seeds.from; seed < seeds.from + seeds.count; seed++) {
    const report = runRaft({ ...base, seed });
    if (!report.ok) failures.push({ seed, why: whyFailed(report) });
    onSeed?.(seed, report);
  }
  return { runs: seeds.count, failures };
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
