/**
 * A client of the open model: requests arrive at a rate whatever the system does (a Poisson
 * process: exponential gaps drawn from the seed), each a read or a write of a key drawn from
 * core/workload's samplers. A slow system faces a growing backlog instead of a slower client,
 * as a site's visitors do (Schroeder et al., "Open Versus Closed: A Cautionary Tale", 2006).
 *
 * What a request does is the scenario's business: it gets `issue(keyId, read)` at the arrival's
 * virtual time and reports the outcome to a Recorder.
 */
import {
  createKeySampler,
  type KeyDistribution,
  type KeySampler,
} from '../../core/workload/samplers.ts';
import type { Rng } from '../../core/random.ts';
import { exponential } from '../distributions.ts';
import { streamRng } from '../random.ts';
import type { Scheduler } from '../scheduler.ts';
import { US_PER_SECOND } from '../time.ts';

export interface OpenLoopOptions {
  /** Mean arrivals per virtual second. */
  readonly ratePerSecond: number;
  /** Key ids are [0, keys). */
  readonly keys: number;
  readonly distribution: KeyDistribution;
  /** Share of reads, from 0 to 1; the rest are writes. */
  readonly readRatio: number;
  /** Arrivals fall in [startUs, stopUs). */
  readonly startUs: number;
  readonly stopUs: number;
}

/** Called at each arrival's virtual time. */
export type Issue = (keyId: number, read: boolean) => void;

export class OpenLoop {
  private readonly arrivals: Rng;
  private readonly ops: Rng;
  private readonly keys: KeySampler;
  private readonly meanGapUs: number;
  /** The next arrival, unrounded: rounding each gap instead would bias the rate. */
  private nextArrivalUs: number;
  private issuedCount = 0;

  /**
   * `name` names this client's streams (`<name>/arrivals`, `/keys`, `/ops`), so clients with
   * different names draw independently and a change to one leaves the others as they were.
   */
  constructor(
    private readonly scheduler: Scheduler,
    seed: number,
    name: string,
    private readonly options: OpenLoopOptions,
    private readonly issue: Issue,
  ) {
    const { ratePerSecond, readRatio, startUs, stopUs } = options;
    if (!(ratePerSecond > 0 && ratePerSecond <= 1e9)) {
      throw new RangeError(`ratePerSecond must be above 0 and at most 1e9 (got ${ratePerSecond}).`);
    }
    if (!(readRatio >= 0 && readRatio <= 1)) {
      throw new RangeError(`readRatio must be from 0 to 1 (got ${readRatio}).`);
    }
    if (!(Number.isSafeInteger(startUs) && Number.isSafeInteger(stopUs) && startUs <= stopUs)) {
      throw new RangeError('startUs and stopUs must be whole µs with startUs <= stopUs.');
    }
    this.arrivals = streamRng(seed, `${name}/arrivals`);
    this.ops = streamRng(seed, `${name}/ops`);
    this.keys = createKeySampler(
      options.keys,
      options.distribution,
      streamRng(seed, `${name}/keys`),
    );
    this.meanGapUs = US_PER_SECOND / ratePerSecond;
    this.nextArrivalUs = startUs;
  }

  /** Requests issued so far. */
  get issued(): number {
    return this.issuedCount;
  }

  /** Schedules the first arrival. */
  start(): void {
    this.scheduleNext();
  }

  private scheduleNext(): void {
    this.nextArrivalUs += exponential(this.arrivals, this.meanGapUs);
    const atUs = Math.round(this.nextArrivalUs);
    if (atUs < this.options.stopUs) this.scheduler.at(atUs, arrive, this);
  }

  /** @internal */
  fire(): void {
    this.issuedCount++;
    const keyId = this.keys.next();
    const read = this.ops.next() < this.options.readRatio;
    this.scheduleNext();
    this.issue(keyId, read);
  }
}

/** One function for every arrival of every client (no closure per event). */
function arrive(loop: OpenLoop): void {
  loop.fire();
}
