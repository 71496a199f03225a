/**
 * The intended send times of an open-model load (constant rate, changeable while running).
 * Arrival i is due at a time fixed in advance, whatever the server does; a load generator
 * measures latency from that time, so a stalled server is charged for the requests it kept
 * waiting (coordinated omission, as corrected in wrk2: Gil Tene, "How NOT to Measure Latency").
 *
 * Times are plain numbers in ms passed in by the caller, so the simulator can drive it too.
 * Arrivals are indexed 0, 1, 2, …; a rate change starts a new segment, and the intended time of
 * an arrival waiting from before the change stays what it was.
 */

interface Segment {
  /** Index of the first arrival in this segment. */
  readonly first: number;
  /** Intended time of that arrival, ms. */
  readonly startMs: number;
  readonly ratePerSecond: number;
}

export class ArrivalSchedule {
  private segments: Segment[];

  constructor(startMs: number, ratePerSecond: number) {
    checkRate(ratePerSecond);
    this.segments = [{ first: 0, startMs, ratePerSecond }];
  }

  get ratePerSecond(): number {
    return this.current.ratePerSecond;
  }

  /**
   * How many arrivals are due at `nowMs` (those with an intended time <= nowMs). A time
   * before the last rate change is read in the segment it falls in, so arrivals still
   * waiting from before a change are due when they were due, not all at the change.
   */
  dueCount(nowMs: number): number {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const { first, startMs, ratePerSecond } = this.segments[i] as Segment;
      if (nowMs < startMs && i > 0) continue;
      if (nowMs < startMs || ratePerSecond === 0) return first;
      const due = first + Math.floor(((nowMs - startMs) * ratePerSecond) / 1000) + 1;
      const next = this.segments[i + 1];
      return next === undefined ? due : Math.min(due, next.first);
    }
    return 0;
  }

  /** The intended time of arrival `index`, ms (Infinity when the rate is 0). */
  intendedTime(index: number): number {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i] as Segment;
      if (index >= segment.first) {
        if (segment.ratePerSecond === 0) return Infinity;
        return segment.startMs + ((index - segment.first) * 1000) / segment.ratePerSecond;
      }
    }
    return this.segments[0]?.startMs ?? 0;
  }

  /**
   * Changes the rate from `nowMs`. The next arrival comes at the sooner of its old time and one
   * new interval from now, so raising a very low rate takes effect at once.
   */
  setRate(nowMs: number, ratePerSecond: number): void {
    checkRate(ratePerSecond);
    const first = this.dueCount(nowMs);
    const oldNext = this.intendedTime(first);
    const newInterval = ratePerSecond === 0 ? Infinity : 1000 / ratePerSecond;
    const startMs = Math.max(nowMs, Math.min(oldNext, nowMs + newInterval));
    const current = this.current;
    const segment = { first, startMs, ratePerSecond };
    if (current.first === first) this.segments[this.segments.length - 1] = segment;
    else this.segments.push(segment);
  }

  /** Forgets segments wholly before arrival `index` (the caller has sent everything before it). */
  forgetBefore(index: number): void {
    let keepFrom = 0;
    for (let i = 1; i < this.segments.length; i++) {
      if ((this.segments[i] as Segment).first <= index) keepFrom = i;
    }
    if (keepFrom > 0) this.segments = this.segments.slice(keepFrom);
  }

  private get current(): Segment {
    return this.segments[this.segments.length - 1] as Segment;
  }
}

function checkRate(ratePerSecond: number): void {
  if (!(Number.isFinite(ratePerSecond) && ratePerSecond >= 0)) {
    throw new RangeError(
      `rate must be a number of requests per second >= 0 (got ${ratePerSecond}).`,
    );
  }
}
