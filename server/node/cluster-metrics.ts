/**
 * A node's cluster metrics (Level 5): requests it forwarded and how long the owner took,
 * its map's epoch, and keys moved in and out during resharding. Registered on the node's
 * own registry; the counts of a move are read from the ClusterRole at scrape time.
 */
import client from 'prom-client';
import type { ClusterRole } from './cluster.ts';
import { DURATION_BUCKETS_SECONDS } from './metrics.ts';

/** Registers the metrics; returns the hook the ClusterRole calls for each forward. */
export function registerClusterMetrics(
  registry: client.Registry,
  cluster: () => ClusterRole | undefined,
): (shard: string, seconds: number) => void {
  const registers = [registry];
  const forwarded = new client.Counter({
    name: 'tinycache_forwarded_requests_total',
    help: 'Key requests this node forwarded to the shard that owns the key, by that shard.',
    labelNames: ['shard'],
    registers,
  });
  const duration = new client.Histogram({
    name: 'tinycache_forward_duration_seconds',
    help: 'Time from forwarding a key request to the owner to having its answer.',
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });
  new client.Gauge({
    name: 'tinycache_cluster_epoch',
    help: 'The epoch of the cluster map this node holds (0: none, a lone node).',
    registers,
    collect() {
      this.set(cluster()?.epoch ?? 0);
    },
  });
  new client.Counter({
    name: 'tinycache_transfer_keys_total',
    help: 'Keys moved by resharding: received from old owners (in), sent to new owners (out), dropped once given away (dropped).',
    labelNames: ['direction'],
    registers,
    collect() {
      const counters = cluster()?.counters;
      this.reset();
      if (counters === undefined) return;
      this.inc({ direction: 'in' }, counters.transferredKeys);
      this.inc({ direction: 'out' }, counters.servedKeys);
      this.inc({ direction: 'dropped' }, counters.droppedKeys);
    },
  });
  new client.Counter({
    name: 'tinycache_transfer_bytes_total',
    help: 'Stored bytes received from old owners by resharding.',
    registers,
    collect() {
      this.reset();
      this.inc(cluster()?.counters.transferredBytes ?? 0);
    },
  });
  return (shard, seconds) => {
    forwarded.inc({ shard });
    duration.observe(seconds);
  };
}
