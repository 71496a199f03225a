/**
 * What a simulated workload saw: outcome counters and latency, in total and per virtual second
 * (the series the dashboard draws; each sample has the fields of server/load's live
 * `SecondFigures`, so one chart can draw simulated and live runs alike). Latency is virtual
 * time from a request's arrival to its answer.
 */
import { US_PER_SECOND } from '../time.ts';
import { Histogram } from './histogram.ts';

/** How a request ended: a read that hit or missed (and was filled), a write, or an error. */
export type Outcome = 'hit' | 'miss' | 'write' | 'error';

export interface SecondSample {
  /** Virtual second since the start: requests that completed in [second, second + 1). */
  readonly second: number;
  readonly requestsPerSecond: number;
  readonly hits: number;
  readonly misses: number;
  readonly writes: number;
  readonly errors: number;
  /** hits / (hits + misses); null without reads. */
  readonly hitRate: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface LatencySummary {
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export interface WorkloadSummary {
  readonly requests: number;
  readonly hits: number;
  readonly misses: number;
  readonly writes: number;
  readonly errors: number;
  readonly hitRate: number | null;
  /** Null when nothing completed. */
  readonly latency: LatencySummary | null;
  readonly series: readonly SecondSample[];
}

interface Counts {
  hits: number;
  misses: number;
  writes: number;
  errors: number;
}

export class Recorder {
  private readonly total: Counts = { hits: 0, misses: 0, writes: 0, errors: 0 };
  private readonly second: Counts = { hits: 0, misses: 0, writes: 0, errors: 0 };
  private readonly totalLatency = new Histogram();
  private readonly secondLatency = new Histogram();
  private readonly series: SecondSample[] = [];
  /** The second being counted; earlier ones are in `series`. */
  private currentSecond = 0;

  /** Counts a request that ended at `nowUs` (never earlier than the last one recorded). */
  record(outcome: Outcome, latencyUs: number, nowUs: number): void {
    const second = Math.floor(nowUs / US_PER_SECOND);
    if (second !== this.currentSecond) this.closeSecondsBefore(second);
    const counts = this.second;
    switch (outcome) {
      case 'hit':
        counts.hits++;
        break;
      case 'miss':
        counts.misses++;
        break;
      case 'write':
        counts.writes++;
        break;
      case 'error':
        counts.errors++;
        break;
    }
    this.secondLatency.record(latencyUs);
  }

  /** The summary of everything recorded, with one sample per second up to `endUs`. */
  finish(endUs: number): WorkloadSummary {
    this.closeSecondsBefore(Math.ceil(endUs / US_PER_SECOND));
    const { hits, misses, writes, errors } = this.total;
    const latency = this.totalLatency;
    return {
      requests: hits + misses + writes + errors,
      hits,
      misses,
      writes,
      errors,
      hitRate: rate(hits, misses),
      latency:
        latency.count === 0
          ? null
          : {
              p50Ms: latency.quantileUs(0.5) / 1000,
              p90Ms: latency.quantileUs(0.9) / 1000,
              p99Ms: latency.quantileUs(0.99) / 1000,
              p999Ms: latency.quantileUs(0.999) / 1000,
              maxMs: latency.maxUs / 1000,
            },
      series: [...this.series],
    };
  }

  /** Closes every second before `second`, the empty ones included. */
  private closeSecondsBefore(second: number): void {
    if (second < this.currentSecond) {
      throw new RangeError('Requests must be recorded in the order of virtual time.');
    }
    while (this.currentSecond < second) {
      const { hits, misses, writes, errors } = this.second;
      const latency = this.secondLatency;
      const any = latency.count > 0;
      this.series.push({
        second: this.currentSecond,
        requestsPerSecond: hits + misses + writes + errors,
        hits,
        misses,
        writes,
        errors,
        hitRate: rate(hits, misses),
        p50Ms: any ? latency.quantileUs(0.5) / 1000 : null,
        p99Ms: any ? latency.quantileUs(0.99) / 1000 : null,
      });
      this.total.hits += hits;
      this.total.misses += misses;
      this.total.writes += writes;
      this.total.errors += errors;
      this.totalLatency.add(latency);
      this.second.hits = this.second.misses = this.second.writes = this.second.errors = 0;
      latency.reset();
      this.currentSecond++;
    }
  }
}

function rate(hits: number, misses: number): number | null {
  return hits + misses === 0 ? null : hits / (hits + misses);
}
