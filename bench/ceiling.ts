/**
 * The open-model ceiling: the highest intended rate a load generator sustains, found in a few
 * probes by bisection between a rate expected to pass and one expected to fail. Pure: the
 * probe (a real run at a given rate) comes in from the caller.
 */

/** One open-model run, as the ceiling judges it. */
export interface OpenRun {
  /** The rate asked for, requests per second. */
  readonly intended: number;
  /** Answers per second received. */
  readonly achieved: number;
  /** From each request's intended send time (coordinated omission corrected). */
  readonly p99Ms: number;
  readonly errors: number;
}

export interface SustainLimits {
  /** How far below the intended rate the achieved rate may fall: 0.02 is 2 %. */
  readonly shortfall: number;
  /** A p99 above this means a queue was building: the run fell behind. */
  readonly p99Ms: number;
}

/** True when the run kept up: no errors, the rate within `shortfall`, p99 under its limit. */
export function sustained(run: OpenRun, limits: SustainLimits): boolean {
  return (
    run.errors === 0 &&
    run.achieved >= run.intended * (1 - limits.shortfall) &&
    run.p99Ms <= limits.p99Ms
  );
}

export interface Probe<R> {
  readonly rate: number;
  /** The last run at this rate: the passing one, or the last that failed. */
  readonly result: R;
  readonly pass: boolean;
  /** Runs made at this rate (more than one when the first failed and `tries` allowed more). */
  readonly runs: number;
}

export interface CeilingSearch {
  /** Expected to pass; probed first. If it fails, the search goes on between 0 and it. */
  readonly low: number;
  /** Expected to fail; never probed itself, so the answer stays below it. */
  readonly high: number;
  /** Bisection steps after the probe of `low`: the answer is within (high - low) / 2^steps. */
  readonly steps: number;
  /** Probed rates are multiples of this (e.g. 100 req/s), so they read well. */
  readonly grain: number;
  /**
   * Runs a rate may take to pass (1 when omitted): on a shared machine a stall elsewhere can
   * sink one run, while a rate past the ceiling fails every time.
   */
  readonly tries?: number;
}

/**
 * The highest rate that passed (null when none did), with every probe in the order run. Probes 1 + `steps` rates at most, each up to `tries` times.
 */
export async function highestSustained<R>(
  probe: (rate: number) => Promise<R>,
  passes: (result: R) => boolean,
  search: CeilingSearch,
): Promise<{ best: Probe<R> | null; probes: Probe<R>[] }> {
  const { grain } = search;
  const probes: Probe<R>[] = [];
  const attempt = async (rate: number): Promise<Probe<R>> => {
    let done: Probe<R> | null = null;
    for (let runs = 1; done === null || (!done.pass && runs <= (search.tries ?? 1)); runs++) {
      const result = await probe(rate);
      done = { rate, result, pass: passes(result), runs };
    }
    probes.push(done);
    return done;
  };
  let low = Math.max(grain, Math.round(search.low / grain) * grain);
  let high = Math.round(search.high / grain) * grain;
  const first = await attempt(low);
  let best: Probe<R> | null = first.pass ? first : null;
  if (!first.pass) {
    // Below the expected range: look under it instead, from nothing up to the rate that failed.
    high = low;
    low = 0;
  }
  for (let step = 0; step < search.steps; step++) {
    const mid = Math.round((low + high) / 2 / grain) * grain;
    if (mid <= low || mid >= high || mid < grain) break; // closer than the grain: no more to tell
    const tried = await attempt(mid);
    if (tried.pass) {
      low = mid;
      best = tried;
    } else {
      high = mid;
    }
  }
  return { best, probes };
}
