/**
 * The /sim page's Raft run: the form's few fields as the options of a replicated shard's run
 * (the rest are `DEFAULT_RAFT_SIM`, as `tinycache sim raft` takes them), the same run as a
 * command line, and the run itself, timed, with its timeline recorded for the drawings. No
 * React and no DOM: it runs in the page's Web Worker (../sim-worker.ts) or on the page.
 */
import type { Progress } from '../../../sim/scenarios/drain.ts';
import { formatRaftReport } from '../../../sim/raft/report.ts';
import { DEFAULT_RAFT_SIM, runRaft } from '../../../sim/raft/run.ts';
import type { RaftSimOptions, RaftSimReport } from '../../../sim/raft/types.ts';

export interface RaftForm {
  /** 3 or 5. */
  readonly replicas: number;
  readonly clients: number;
  readonly seed: number;
  readonly crashes: boolean;
  readonly partitions: boolean;
  /** Messages lost, in percent (0..100). */
  readonly lossPercent: number;
  /** How long faults happen, in virtual seconds; then the liveness bound runs. */
  readonly faultSeconds: number;
}

/**
 * The command's defaults (DEFAULT_RAFT_SIM), but 10 s of faults instead of 20: the drawings
 * get twice the room per second, and the run takes well under a second in a browser.
 */
export const DEFAULT_RAFT_FORM: RaftForm = {
  replicas: DEFAULT_RAFT_SIM.replicas,
  clients: DEFAULT_RAFT_SIM.clients,
  seed: DEFAULT_RAFT_SIM.seed,
  crashes: DEFAULT_RAFT_SIM.faults.crashes,
  partitions: DEFAULT_RAFT_SIM.faults.partitions,
  lossPercent: DEFAULT_RAFT_SIM.faults.loss * 100,
  faultSeconds: 10,
};

/** The run's options for `form`: what `tinycache sim raft` makes of `raftCliArgs(form)`. */
export function raftOptionsOf(form: RaftForm, record = true): RaftSimOptions {
  const d = DEFAULT_RAFT_SIM;
  return {
    ...d,
    seed: form.seed,
    replicas: form.replicas,
    clients: form.clients,
    faultMs: form.faultSeconds * 1000,
    faults: {
      ...d.faults,
      crashes: form.crashes,
      partitions: form.partitions,
      loss: fraction(form.lossPercent),
    },
    record,
  };
}

/** A percentage as the fraction the command line reads back: 0.007, not 0.006999999999999999. */
function fraction(percent: number): number {
  return Number((percent / 100).toPrecision(6));
}

/** The same run from the command line, as arguments after `tinycache sim`. */
export function raftCliArgs(form: RaftForm): string[] {
  return [
    'raft',
    '--seed',
    String(form.seed),
    '--replicas',
    String(form.replicas),
    '--clients',
    String(form.clients),
    '--faults-for',
    `${form.faultSeconds}s`,
    '--loss',
    String(fraction(form.lossPercent)),
    ...(form.crashes ? [] : ['--no-crashes']),
    ...(form.partitions ? [] : ['--no-partitions']),
  ];
}

/** What the page shows of a Raft run: plain data, so a worker can post it. */
export interface RaftOutcome {
  readonly report: RaftSimReport;
  /** What the command line prints for the same run, byte for byte. */
  readonly text: string;
  /** Wall-clock time of the run alone, from performance.now(). */
  readonly wallMs: number;
}

/** Runs the shard for `form`, recording its timeline; throws what runRaft throws. */
export function runRaftSimulation(form: RaftForm, onProgress?: Progress): RaftOutcome {
  const options = raftOptionsOf(form);
  const start = performance.now();
  const report = runRaft(
    options,
    onProgress === undefined ? undefined : (doneMs, totalMs) => onProgress(doneMs / totalMs),
  );
  const wallMs = performance.now() - start;
  // Formatted as the command formats it: without the recorded timeline, which adds the list of
  // faults and a key count (the drawings show both), the same bytes as `tinycache sim raft`.
  return { report, text: formatRaftReport({ ...report, timeline: null }), wallMs };
}
