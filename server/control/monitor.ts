/**
 * The monitor: once a second it reads every running node's `/metrics`, turns the change since
 * the last reading into a sample (per node and for the whole cluster) and keeps the last ten
 * minutes of samples, so a page opened now starts with context. Every chart reads these
 * samples; one stream feeds them all.
 */
import { request } from 'node:http';
import type { LoadStatus } from '../load/settings.ts';
import type { NodeInfo, NodeStatus, Supervisor } from './supervisor.ts';
import {
  type Histogram,
  type NodeReading,
  type NodeRates,
  type PathRates,
  bucketsBetween,
  countsBetween,
  histogramQuantile,
  lookupsBetween,
  parseSamples,
  ratesBetween,
  readMetrics,
} from './prometheus.ts';
import { raftFromMetrics, type RaftStatus } from './raft-status.ts';

/** Samples kept: ten minutes at one a second. */
export const HISTORY_SECONDS = 600;
export const SAMPLE_INTERVAL_MS = 1000;
/** A scrape not answered in this long counts as failed (a paused node never answers). */
const SCRAPE_TIMEOUT_MS = 800;

/** One node in one sample. The figures are null when the node could not be read. */
export interface NodeSample extends Partial<NodeRates> {
  readonly id: string;
  readonly status: NodeStatus;
  readonly memoryBytes: number | null;
  readonly memoryLimitBytes: number | null;
  readonly entries: number | null;
  readonly compressedEntries: number | null;
  readonly compressionSavedBytes: number | null;
  readonly residentBytes: number | null;
  /** Why the node could not be read this second, if it is up and could not be. */
  readonly scrapeError: string | null;
  /**
   * A replica's Raft log positions (Level 6: tinycache_raft_commit_index and
   * _applied_index on the same scrape); absent for a node without a Raft group.
   */
  readonly raftCommit?: number | null;
  readonly raftApplied?: number | null;
}

/** The cluster as a whole: sums over the nodes read, and percentiles of all their requests. */
export interface TotalSample extends Omit<NodeRates, 'cpu'> {
  readonly nodesUp: number;
  readonly memoryBytes: number;
  readonly memoryLimitBytes: number;
  readonly entries: number;
}

/** The load generator's own view of the same second (client-side latency), and its settings. */
export type LoadSample = LoadStatus;

export interface LiveSample {
  /** When the sample was taken, in ms since the epoch. */
  readonly t: number;
  readonly nodes: readonly NodeSample[];
  readonly total: TotalSample;
  /** Null while no load runs. */
  readonly load: LoadSample | null;
}

export type SampleListener = (sample: LiveSample) => void;

interface Previous {
  readonly pid: number | null;
  readonly at: number;
  readonly reading: NodeReading;
}

export class Monitor {
  private readonly history: LiveSample[] = [];
  private readonly listeners = new Set<SampleListener>();
  private readonly previous = new Map<string, Previous>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly loadSample: () => LoadSample | null,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.sampleOnce(), SAMPLE_INTERVAL_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The samples kept, oldest first. */
  samples(): LiveSample[] {
    return [...this.history];
  }

  subscribe(listener: SampleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads every node once and records the sample (the timer calls this each second). */
  async sampleOnce(): Promise<LiveSample | null> {
    if (this.busy) return null; // the last round is still waiting on a slow node
    this.busy = true;
    try {
      const nodes = this.supervisor.list();
      const pages = await Promise.all(nodes.map((node) => read(node)));
      const t = Date.now();
      // A replica's role and term ride on the same scrape (Level 6): NodeInfo shows them.
      pages.forEach((page, i) => {
        const node = nodes[i]!;
        if (page === null || page instanceof Error || page.raft === null) return;
        try {
          this.supervisor.setRaft(node.id, page.raft);
        } catch {
          // Retired while it was read.
        }
      });
      const readings = pages.map((page) =>
        page === null || page instanceof Error ? page : page.reading,
      );
      const logs = pages.map((page) => (page === null || page instanceof Error ? null : page.log));
      const totals = new Totals();
      const samples = nodes.map((node, i) => {
        const reading = readings[i]!;
        if (reading === null || reading instanceof Error) return blankSample(node, reading);
        const before = this.previous.get(node.id);
        this.previous.set(node.id, { pid: node.pid, at: t, reading });
        const interval =
          before !== undefined && before.pid === node.pid
            ? { before: before.reading, seconds: (t - before.at) / 1000 }
            : null;
        const sample = readingSample(node, reading, interval, logs[i] ?? null);
        totals.add(sample, reading, interval?.before ?? null);
        return sample;
      });
      const sample: LiveSample = {
        t,
        nodes: samples,
        total: totals.sample(),
        load: this.loadSample(),
      };
      this.history.push(sample);
      if (this.history.length > HISTORY_SECONDS) this.history.shift();
      for (const listener of this.listeners) listener(sample);
      return sample;
    } finally {
      this.busy = false;
    }
  }
}

interface Page {
  readonly reading: NodeReading;
  readonly raft: RaftStatus | null;
  readonly log: RaftLog | null;
}

/** A replica's commit and applied index as its /metrics says (null: not there). */
export interface RaftLog {
  readonly commit: number | null;
  readonly applied: number | null;
}

/** The Raft log positions on a `/metrics` page; null when it has neither. */
export function raftLogFromMetrics(text: string): RaftLog | null {
  let commit: number | null = null;
  let applied: number | null = null;
  for (const { name, value } of parseSamples(text)) {
    if (!Number.isFinite(value)) continue;
    if (name === 'tinycache_raft_commit_index') commit = value;
    else if (name === 'tinycache_raft_applied_index') applied = value;
  }
  return commit === null && applied === null ? null : { commit, applied };
}

async function read(node: NodeInfo): Promise<Page | Error | null> {
  if (node.status !== 'up') return null;
  try {
    const text = await fetchText(`${node.url}/metrics`, SCRAPE_TIMEOUT_MS);
    const replica = typeof node.dataDir === 'string';
    return {
      reading: readMetrics(text),
      raft: replica ? raftFromMetrics(text) : null,
      log: replica ? raftLogFromMetrics(text) : null,
    };
  } catch (error) {
    return error as Error;
  }
}

/** A node that was not read: not up, or (with `error`) up but not answering. */
function blankSample(node: NodeInfo, error: Error | null): NodeSample {
  return {
    id: node.id,
    status: node.status,
    memoryBytes: null,
    memoryLimitBytes: null,
    entries: null,
    compressedEntries: null,
    compressionSavedBytes: null,
    residentBytes: null,
    scrapeError: error?.message ?? null,
  };
}

function readingSample(
  node: NodeInfo,
  reading: NodeReading,
  interval: { before: NodeReading; seconds: number } | null,
  log: RaftLog | null,
): NodeSample {
  const rates = interval === null ? {} : ratesBetween(interval.before, reading, interval.seconds);
  return {
    id: node.id,
    status: node.status,
    ...rates,
    memoryBytes: reading.memoryBytes,
    memoryLimitBytes: reading.memoryLimitBytes,
    entries: reading.entries,
    compressedEntries: reading.compressedEntries,
    compressionSavedBytes: reading.compressionSavedBytes,
    residentBytes: reading.residentBytes,
    scrapeError: null,
    ...(log === null ? {} : { raftCommit: log.commit, raftApplied: log.applied }),
  };
}

/** Sums node samples into the cluster's; percentiles come from the merged histograms. */
class Totals {
  private nodesUp = 0;
  private memoryBytes = 0;
  private memoryLimitBytes = 0;
  private entries = 0;
  private requestsPerSecond = 0;
  private errorsPerSecond = 0;
  private evictionsPerSecond = 0;
  private expirationsPerSecond = 0;
  private hits = 0;
  private lookups = 0;
  private readonly latency = new MergedHistogram();
  /** Nodes with a database: their read paths, merged. */
  private withDatabase = 0;
  private readonly readsPerSecond = { memory: 0, database: 0 };
  private readonly memoryReads = new MergedHistogram();
  private readonly databaseReads = new MergedHistogram();

  add(sample: NodeSample, reading: NodeReading, before: NodeReading | null): void {
    this.nodesUp++;
    this.memoryBytes += reading.memoryBytes;
    this.memoryLimitBytes += reading.memoryLimitBytes;
    this.entries += reading.entries;
    if (before === null) return;
    this.requestsPerSecond += sample.requestsPerSecond ?? 0;
    this.errorsPerSecond += sample.errorsPerSecond ?? 0;
    this.evictionsPerSecond += sample.evictionsPerSecond ?? 0;
    this.expirationsPerSecond += sample.expirationsPerSecond ?? 0;
    const { hits, lookups } = lookupsBetween(before, reading);
    this.hits += hits;
    this.lookups += lookups;
    this.latency.add(reading.bucketBounds, bucketsBetween(before, reading));
    if (reading.reads !== null) {
      this.withDatabase++;
      this.readsPerSecond.memory += sample.reads?.memory.perSecond ?? 0;
      this.readsPerSecond.database += sample.reads?.database.perSecond ?? 0;
      const empty = { bounds: [], counts: [] };
      const between = (a: Histogram | undefined, b: Histogram) => countsBetween(a ?? empty, b);
      this.memoryReads.add(
        reading.reads.memory.bounds,
        between(before.reads?.memory, reading.reads.memory),
      );
      this.databaseReads.add(
        reading.reads.database.bounds,
        between(before.reads?.database, reading.reads.database),
      );
    }
  }

  sample(): TotalSample {
    return {
      nodesUp: this.nodesUp,
      requestsPerSecond: this.requestsPerSecond,
      errorsPerSecond: this.errorsPerSecond,
      evictionsPerSecond: this.evictionsPerSecond,
      expirationsPerSecond: this.expirationsPerSecond,
      hitRate: this.lookups > 0 ? this.hits / this.lookups : null,
      p50Ms: this.latency.quantileMs(0.5),
      p99Ms: this.latency.quantileMs(0.99),
      memoryBytes: this.memoryBytes,
      memoryLimitBytes: this.memoryLimitBytes,
      entries: this.entries,
      reads:
        this.withDatabase === 0
          ? null
          : {
              memory: this.memoryReads.path(this.readsPerSecond.memory),
              database: this.databaseReads.path(this.readsPerSecond.database),
            },
    };
  }
}

/**
 * Histograms of several nodes over one interval, added bucket by bucket: every node uses the
 * same buckets (API.md §3), so the merged quantiles are of all their requests together.
 */
class MergedHistogram {
  private bounds: readonly number[] = [];
  private counts: number[] = [];

  /** `counts`: what one node counted in the interval, cumulative per bucket of `bounds`. */
  add(bounds: readonly number[], counts: readonly number[]): void {
    if (this.bounds.length === 0) {
      this.bounds = bounds;
      this.counts = [...counts];
    } else if (counts.length === this.counts.length) {
      for (const [i, count] of counts.entries()) this.counts[i]! += count;
    }
  }

  quantileMs(q: number): number | null {
    return histogramQuantile(q, this.bounds, this.counts);
  }

  path(perSecond: number): PathRates {
    return {
      perSecond,
      p50Ms: this.quantileMs(0.5),
      p99Ms: this.quantileMs(0.99),
    };
  }
}

/** GET `url` and its body as text; rejects on a non-200 answer or after `timeoutMs`. */
export function fetchText(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
