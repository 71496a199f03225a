/**
 * A simulated run as the live stream's samples, so the dashboard's charts (charts.tsx, inside
 * `<ChartSamples clock="run">`) draw it. Pure: a run's per-second series in, `LiveSample[]` out.
 *
 * What the simulator records is the clients' view of each virtual second (sim/workload/
 * recorder.ts: requests completed, hits, misses, writes, errors, latency from a request's
 * arrival to its answer), with the fields of the load generator's `SecondFigures`. So:
 *
 *   load        the clients' view, as the load generator reports a live second
 *   total       the cluster's throughput, hit rate and errors: in the simulation a node answers
 *               exactly what a client counts (an error is a full queue's refusal or a timeout)
 *   total p50/p99   null: the simulator measures latency only at the client, and a chart's
 *               "p50 nodes" must not show a figure the nodes never measured
 *   nodes       none: the scenarios keep no per-node figures per second (only totals at the
 *               end), so the per-node series, memory and evictions stay empty
 *
 * Time: a sample's `t` is the end of its virtual second in ms from the run's start (second 0
 * is drawn at 1 s), as a live sample is stamped when its second has been counted. The seconds
 * after the clients stopped (the drain: a few requests still in flight) are left out: drawn
 * as the last second, a handful of stragglers would read as the cluster's throughput
 * collapsing. The report's table still lists them.
 */
import type { LiveSample, LoadSample, TotalSample } from '../../server/control/monitor.ts';
import type { SecondSample } from '../../sim/workload/recorder.ts';

/**
 * One `LiveSample` per virtual second of `series` that began while the clients were sending
 * (`durationMs`), oldest first.
 */
export function samplesOfRun(series: readonly SecondSample[], durationMs: number): LiveSample[] {
  const samples: LiveSample[] = [];
  let totalRequests = 0;
  let totalErrors = 0;
  for (const s of series) {
    if (s.second * 1000 >= durationMs) break;
    totalRequests += s.requestsPerSecond;
    totalErrors += s.errors;
    const endMs = (s.second + 1) * 1000;
    const total: TotalSample = {
      nodesUp: 0, // no node was read: the figures below are the run's, not a node's
      requestsPerSecond: s.requestsPerSecond,
      errorsPerSecond: s.errors,
      evictionsPerSecond: 0,
      expirationsPerSecond: 0,
      hitRate: s.hitRate,
      p50Ms: null,
      p99Ms: null,
      reads: null,
      memoryBytes: 0,
      memoryLimitBytes: 0,
      entries: 0,
    };
    const load: LoadSample = {
      running: true,
      settings: null,
      targets: [],
      elapsedSeconds: endMs / 1000,
      requestsPerSecond: s.requestsPerSecond,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      errors: s.errors,
      topError: null,
      hitRate: s.hitRate,
      totalRequests,
      totalErrors,
    };
    samples.push({ t: endMs, nodes: [], total, load });
  }
  return samples;
}
