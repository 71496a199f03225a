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
  type LoadMode,
  type LoadDistribution,
  type LoadOptions,
  secondFigures,
} from './load.ts';

/** What a user sets for a live load (API.md §4 `load.start`). */
export interface LoadSettings {
  readonly mode: LoadMode;
  /** Closed model: connections in all (spread over the targets). Open model: the most open. */
  readonly connections: number;
  /** Open model: requests per second in all. */
  readonly rate: number;
  readonly readRatio: number;
  readonly keys: number;
  readonly distribution: LoadDistribution;
  readonly zipfS: number;
  readonly valueBytes: number;
  readonly compressible: boolean;
  /** Null: until stopped. */
  readonly durationSeconds: number | null;
}

export const DEFAULT_LOAD_SETTINGS: LoadSettings = {
  mode: 'open',
  connections: 32,
  rate: 1000,
  readRatio: 0.9,
  keys: 10_000,
  distribution: 'zipf',
  zipfS: 0.99,
  valueBytes: 256,
  compressible: false,
  durationSeconds: null,
};

/**
 * The playground's clients give up on a request after 2 s, so a dead or paused node shows as
 * failures within seconds, at the rate the load sends to it.
 */
export const LIVE_TIMEOUT_MS = 2000;

/** A node the load drives. */
export interface LoadTarget {
  readonly id: string;
  readonly url: string;
}

/** What the load generator saw over the last second, and how it is set. */
export interface LoadStatus {
  readonly running: boolean;
  readonly settings: LoadSettings | null;
  /** Node ids the load drives. */
  readonly targets: readonly string[];
  /** Since the load started. */
  readonly elapsedSeconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Errors in the last second, and the commonest kind of them ("ECONNREFUSED", "503"). */
  readonly errors: number;
  readonly topError: string | null;
  readonly hitRate: number | null;
  readonly totalRequests: number;
  readonly totalErrors: number;
}

export const IDLE_STATUS: LoadStatus = {
  running: false,
  settings: null,
  targets: [],
  elapsedSeconds: 0,
  requestsPerSecond: 0,
  p50Ms: null,
  p99Ms: null,
  errors: 0,
  topError: null,
  hitRate: null,
  totalRequests: 0,
  totalErrors: 0,
};

/** The load options for one of `targets` targets: connections and rate are split evenly. */
export function shareOf(settings: LoadSettings, targets: number, url: string): LoadOptions {
  const n = Math.max(1, targets);
  return checkLoadOptions({
    ...DEFAULT_LOAD_OPTIONS,
    ...settings,
    url,
    connections: Math.max(1, Math.round(settings.connections / n)),
    rate: settings.rate / n,
    durationSeconds: null,
    timeoutMs: LIVE_TIMEOUT_MS,
    seed: 1 + url.length * 7919 + Number(new URL(url).port),
  });
}

export type StartFn = (options: LoadOptions, sink: Counters) => LoadHandle;

/** The runs of one live load; `tick()` once a second gives its status. */
export class LiveLoad {
  private readonly runs = new Map<string, { url: string; handle: LoadHandle }>();
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
  ) {
    // Validate once for the whole load, so a bad setting starts nothing.
    shareOf(settings, 1, 'http://127.0.0.1:1');
    this.startedMs = this.lastTickMs = performance.now();
    this.setTargets(targets);
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Changes settings for every run; throws RangeError naming a bad field, changing nothing. */
  update(patch: Partial<LoadSettings>): void {
    const settings = { ...this.settings, ...patch };
    shareOf(settings, 1, 'http://127.0.0.1:1');
    this.settings = settings;
    this.resplit();
  }

  /** Drives exactly these nodes: starts runs for new ones, stops runs for gone or moved ones. */
  setTargets(targets: readonly LoadTarget[]): void {
    if (this.stopped) return;
    const wanted = new Map(targets.map((target) => [target.id, target.url]));
    for (const [id, run] of this.runs) {
      if (wanted.get(id) !== run.url) {
        run.handle.stop();
        this.runs.delete(id);
      }
    }
    for (const [id, url] of wanted) {
      if (this.runs.has(id)) continue;
      const handle = this.startRun(shareOf(this.settings, wanted.size, url), this.second);
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
