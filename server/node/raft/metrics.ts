/**
 * A replica's Raft metrics (issue 8, Level 6), read from the Replica when Prometheus scrapes,
 * as server/node/metrics.ts reads the engine's: nothing is recorded per message, and the two
 * latency histograms are typed arrays the Replica fills (no label hashing per write).
 *
 * - tinycache_raft_term, tinycache_raft_commit_index, tinycache_raft_applied_index: gauges.
 * - tinycache_raft_role{role}: 1 for the replica's current role, 0 for the others.
 * - tinycache_raft_leader_changes_total: changes to a known leader this replica saw.
 * - tinycache_raft_snapshots_installed_total: snapshots a leader sent here and were installed.
 * - tinycache_raft_voters: the group's size as this replica has applied it.
 * - tinycache_raft_append_duration_seconds: a write's propose → applied, on the leader.
 * - tinycache_raft_fsync_duration_seconds: each fsync of the storage (storage.onFsync).
 * - tinycache_raft_follower_lag_entries{follower}: on the leader, its last index minus each
 *   follower's match index (absent on followers).
 */
import client from 'prom-client';
import type { Role } from '../../../core/raft/index.ts';
import { DURATION_BUCKETS_SECONDS } from '../metrics.ts';
import type { ReplicaStatus } from './replica.ts';

export const ROLES: readonly Role[] = ['follower', 'pre-candidate', 'candidate', 'leader'];

/** A histogram over DURATION_BUCKETS_SECONDS in typed arrays; rendered at scrape time. */
export class DurationHistogram {
  readonly bounds: readonly number[] = DURATION_BUCKETS_SECONDS;
  /** Per bucket (not cumulative); the last slot counts what is above every bound. */
  readonly counts = new Float64Array(DURATION_BUCKETS_SECONDS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    this.count += 1;
    const bounds = this.bounds;
    for (let b = 0; b < bounds.length; b++) {
      if (seconds <= bounds[b]!) {
        this.counts[b]! += 1;
        return;
      }
    }
    this.counts[bounds.length]! += 1;
  }
}

/** What the metrics read: a Replica has this shape. */
export interface RaftMetricsSource {
  status(): ReplicaStatus;
  readonly leaderChanges: number;
  readonly appendDurations: DurationHistogram;
  readonly fsyncDurations: DurationHistogram;
}

interface MetricSnapshot {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

function histogramMetric(
  name: string,
  help: string,
  histogram: () => DurationHistogram,
): client.Metric {
  const metric = {
    name,
    help,
    type: 'histogram' as const,
    get: (): MetricSnapshot => {
      const h = histogram();
      const values: MetricSnapshot['values'] = [];
      let cumulative = 0;
      for (let b = 0; b < h.bounds.length; b++) {
        cumulative += h.counts[b]!;
        values.push({
          labels: { le: h.bounds[b]! },
          value: cumulative,
          metricName: `${name}_bucket`,
        });
      }
      values.push({ labels: { le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
      values.push({ labels: {}, value: h.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, value: h.count, metricName: `${name}_count` });
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  return metric as unknown as client.Metric;
}

/**
 * Registers the Raft metrics on `registry`, read from `replica()` at scrape time. `replica`
 * returns null while the node runs no replica (a lone node, or before it started): the
 * metrics are then left out of the scrape.
 */
export function registerRaftMetrics(
  registry: client.Registry,
  replica: () => RaftMetricsSource | null,
): void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: (s: ReplicaStatus) => number) =>
    new client.Gauge({
      name,
      help,
      registers,
      collect() {
        this.reset();
        const r = replica();
        if (r !== null) this.set(read(r.status()));
      },
    });
  gauge('tinycache_raft_term', "The replica's current Raft term.", (s) => s.term);
  gauge(
    'tinycache_raft_commit_index',
    'The highest log index this replica knows to be committed.',
    (s) => s.commit,
  );
  gauge(
    'tinycache_raft_applied_index',
    'The highest log index applied to the cache here.',
    (s) => s.applied,
  );
  new client.Gauge({
    name: 'tinycache_raft_role',
    help: "The replica's Raft role: 1 for the current one.",
    labelNames: ['role'],
    registers,
    collect() {
      this.reset();
      const r = replica();
      if (r === null) return;
      const role = r.status().role;
      for (const each of ROLES) this.set({ role: each }, each === role ? 1 : 0);
    },
  });
  new client.Counter({
    name: 'tinycache_raft_leader_changes_total',
    help: 'Changes to a known leader seen by this replica.',
    registers,
    collect() {
      this.reset();
      const r = replica();
      if (r !== null) this.inc(r.leaderChanges);
    },
  });
  new client.Counter({
    name: 'tinycache_raft_snapshots_installed_total',
    help: 'Snapshots received from a leader and installed here (a new or far-behind replica).',
    registers,
    collect() {
      this.reset();
      const r = replica();
      if (r !== null) this.inc(r.status().snapshotsInstalled);
    },
  });
  gauge(
    'tinycache_raft_voters',
    "The voters of this replica's group, as it has applied them.",
    (s) => s.voters.length,
  );
  new client.Gauge({
    name: 'tinycache_raft_follower_lag_entries',
    help: "On the leader: its last log index minus each follower's match index.",
    labelNames: ['follower'],
    registers,
    collect() {
      this.reset();
      const r = replica();
      if (r === null) return;
      for (const f of r.status().followers) this.set({ follower: f.id }, f.lagEntries);
    },
  });
  const empty = new DurationHistogram();
  registry.registerMetric(
    histogramMetric(
      'tinycache_raft_append_duration_seconds',
      'On the leader: a write from propose to applied (committed by a quorum, applied here).',
      () => replica()?.appendDurations ?? empty,
    ),
  );
  registry.registerMetric(
    histogramMetric(
      'tinycache_raft_fsync_duration_seconds',
      'Each fsync of the Raft log or a snapshot (one group commit of Readies).',
      () => replica()?.fsyncDurations ?? empty,
    ),
  );
}
