/**
 * A sweep worker thread (sim-sweep.ts starts one per core): runs the raft scenario for each
 * seed of the slices it is handed and answers with the seeds that failed. Each seed is its own
 * sweep of one, so a seed whose run throws is a failure of that seed alone, not of the slice.
 */
import { parentPort } from 'node:worker_threads';
import { sweep } from '../sim/raft/sweep.ts';
import type { RaftSimOptions } from '../sim/raft/types.ts';

/** A slice of seeds to run: `from` .. `from + count - 1`. */
export interface SweepSlice {
  readonly base: Omit<RaftSimOptions, 'seed'>;
  readonly from: number;
  readonly count: number;
}

export interface SweepFailure {
  readonly seed: number;
  readonly why: string;
}

/** The answer to a slice: its seeds' failures, in seed order. */
export interface SliceDone {
  readonly from: number;
  readonly count: number;
  readonly failures: readonly SweepFailure[];
}

/** Runs the seeds of a slice; what a worker does with each message (and a test can call). */
export function runSlice({ base, from, count }: SweepSlice): SliceDone {
  const failures: SweepFailure[] = [];
  for (let seed = from; seed < from + count; seed++) {
    try {
      for (const failure of sweep(base, { from: seed, count: 1 }).failures) {
        failures.push({ seed: failure.seed, why: failure.why });
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push({ seed, why: `the run threw: ${message}` });
    }
  }
  return { from, count, failures };
}

const port = parentPort;
if (port !== null) {
  port.on('message', (slice: SweepSlice) => port.postMessage(runSlice(slice)));
}
