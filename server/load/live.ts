/**
 * Live load for the playground: the load generator's loop (load.ts) against every node of the
 * cluster at once, one run per node so a dead node backs off on its own, with the figures of
 * their union (percentiles included) once a second. Runs inside the load worker (worker.ts);
 * plain data in and out, so the same settings cross the worker boundary and a tRPC call.
 */
import {
  Counters,
  checkLoadOptions,
  DEFAULT_LOAD_OPTIONS,
  type LoadHandle,
  type LoadOptions,
  secondFigures,
} from './load.ts';
import { type ClusterMap, ringOf } from '../../core/cluster/index.ts';
import type { Ring } from '../../core/ring/index.ts';
import { keyName } from '../../core/workload/keys.ts';
import {
  IDLE_STATUS,
  LIVE_TIMEOUT_MS,
  type LoadSettings,
  type LoadStatus,
  type LoadTarget,
} from './settings.ts';

/** The load options for one of `targets` targets: connections and rate are split evenly. */
export function shareOf(settings: LoadSettings, targets: number, url: string): LoadOptions {
  const n = Math.max(1, targets);
  // Routing and scope are the live load's business (owns, setTargets), not one run's options.
  const { routing, scope, ...options } = settings;
  return checkLoadOptions({
    ...DEFAULT_LOAD_OPTIONS,
    ...options,
    url,
    connections: Math.max(1, Math.round(settings.connections / n)),
    rate: settings.rate / n,
    durationSeconds: null,
    timeoutMs: LIVE_TIMEOUT_MS,
    seed: 1 + url.length * 7919 + Number(new URL(url).port),
  });
}

/** `owns`: the keys the run's node should get (smart routing); called for every request. */
export type StartFn = (
  options: LoadOptions,
  sink: Counters,
  owns: (keyId: number) => boolean,
) => LoadHandle;

/** The runs of one live load; `tick()` once a second gives its status. */
export class LiveLoad {
  private readonly runs = new Map<string, { url: string; handle: LoadHandle }>();
  /** The cluster's ring and each target's shard, for smart routing; kept current by setTargets. */
  private ring: Ring | null = null;
  /** The nodes and map last offered, kept to apply a change of scope. */
  private offered: readonly LoadTarget[] = [];
  private map: ClusterMap | null = null;
  private readonly shards = new Map<string, string>();
  private readonly second = new Counters();
  private readonly startedMs: number;
  private lastTickMs: number;
  private totalRequests = 0;
  private totalErrors = 0;
  private stopped = false;
  private last: LoadStatus = IDLE_STATUS;

  constructor(
    private settings: LoadSettings,
    targets: readonly LoadTarget[],
    private readonly startRun: StartFn,
    map: ClusterMap | null = null,
  ) {
    // Validate once for the whole load, so a bad setting starts nothing.
    shareOf(settings, 1, 'http://127.0.0.1:1');
    this.startedMs = this.lastTickMs = performance.now();
    this.setTargets(targets, map);
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Changes settings for every run; throws RangeError naming a bad field, changing nothing. */
  update(patch: Partial<LoadSettings>): void {
    const settings = { ...this.settings, ...patch };
    shareOf(settings, 1, 'http://127.0.0.1:1');
    const rescoped = settings.scope !== this.settings.scope;
    this.settings = settings;
    if (rescoped) this.setTargets(this.offered, this.map);
    else this.resplit();
  }

  /**
   * Drives exactly these nodes: starts runs for new ones, stops runs for gone or moved ones.
   * `map` is the cluster's, which smart routing follows from the next request on.
   */
  setTargets(targets: readonly LoadTarget[], map: ClusterMap | null = null): void {
    if (this.stopped) return;
    this.offered = targets;
    this.map = map;
    this.ring = map === null ? null : ringOf(map);
    this.shards.clear();
    for (const target of targets) {
      if (target.shard != null) this.shards.set(target.id, target.shard);
    }
    const inScope =
      this.settings.scope === 'cluster' && map !== null
        ? targets.filter((target) => target.shard != null)
        : targets;
    const wanted = new Map(inScope.map((target) => [target.id, target.url]));
    for (const [id, run] of this.runs) {
      if (wanted.get(id) !== run.url) {
        run.handle.stop();
        this.runs.delete(id);
      }
    }
    for (const [id, url] of wanted) {
      if (this.runs.has(id)) continue;
      const share = shareOf(this.settings, wanted.size, url);
      const handle = this.startRun(share, this.second, (keyId) => this.owns(id, keyId));
      this.runs.set(id, { url, handle });
    }
    this.resplit();
  }

  /** The status of the second since the last tick; stops the load once its duration is over. */
  tick(): LoadStatus {
    const t = performance.now();
    const seconds = Math.max(0.001, (t - this.lastTickMs) / 1000);
    this.lastTickMs = t;
    const figures = secondFigures(this.second, seconds);
    this.totalRequests += this.second.requests;
    this.totalErrors += this.second.errorCount;
    let topError: string | null = null;
    for (const [kind, count] of this.second.errors) {
      if (topError === null || count > (this.second.errors.get(topError) ?? 0)) topError = kind;
    }
    this.second.reset();
    const elapsedSeconds = (t - this.startedMs) / 1000;
    const { durationSeconds } = this.settings;
    if (durationSeconds !== null && elapsedSeconds >= durationSeconds) this.stop();
    this.last = {
      running: !this.stopped,
      settings: this.settings,
      targets: [...this.runs.keys()],
      elapsedSeconds,
      ...figures,
      topError,
      totalRequests: this.totalRequests,
      totalErrors: this.totalErrors,
    };
    return this.last;
  }

  /** The figures of the last tick, with the settings and targets in force now. */
  status(): LoadStatus {
    return {
      ...this.last,
      running: !this.stopped,
      settings: this.settings,
      targets: [...this.runs.keys()],
    };
  }

  stop(): void {
    this.stopped = true;
    for (const run of this.runs.values()) run.handle.stop();
  }

  /** Whether target `id` should get key `keyId`: always, unless routing is smart in a cluster. */
  private owns(id: string, keyId: number): boolean {
    if (this.settings.routing !== 'smart' || this.ring === null) return true;
    const shard = this.shards.get(id);
    return shard === undefined || this.ring.owner(keyName(keyId)) === shard;
  }

  private resplit(): void {
    for (const run of this.runs.values()) {
      const share = shareOf(this.settings, this.runs.size, run.url);
      run.handle.update({
        mode: share.mode,
        connections: share.connections,
        rate: share.rate,
        readRatio: share.readRatio,
        keys: share.keys,
        distribution: share.distribution,
        zipfS: share.zipfS,
        valueBytes: share.valueBytes,
        compressible: share.compressible,
      });
    }
  }
}
