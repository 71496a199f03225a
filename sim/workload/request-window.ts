/**
 * A client's requests in flight, by id, each with the same timeout. Ids are consecutive, so an
 * answer finds its request by subtraction; and as every request has the same timeout,
 * deadlines come in issue order too, so one timer per client (armed for the oldest request
 * still open) replaces a timer per request: no event and no cancel for the requests that end
 * in time.
 */
import type { EventHandle, Scheduler } from '../scheduler.ts';

/** What the window needs of a request; the scenario's request type extends it. */
export interface WindowedRequest {
  /** Set by `add`. */
  id: number;
  readonly issuedUs: number;
  /** Set by `close`. */
  done: boolean;
}

/** Ended requests the window keeps before it drops them from its front. */
const COMPACT_AFTER = 4096;

export class RequestWindow<P extends WindowedRequest> {
  /** Requests from id `firstId`, in issue order; ended ones replaced by `ended`. */
  private window: P[] = [];
  private firstId = 0;
  /** window[0, oldest) have ended. */
  private oldest = 0;
  /** Requests not yet ended. */
  private openCount = 0;
  /** The timer's event, or -1 when none is armed. */
  private timer: EventHandle = -1;
  /** Stands in the window for a request that has ended, so the request can be collected. */
  private readonly ended: P;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly timeoutUs: number,
    /** A request's deadline passed while it was open; this must `close` it. */
    private readonly onTimeout: (request: P) => void,
  ) {
    this.ended = { id: -1, issuedUs: 0, done: true } as P;
  }

  /** Requests not yet ended. */
  get open(): number {
    return this.openCount;
  }

  /** Gives `request` the next id and starts its timeout. */
  add(request: P): void {
    request.id = this.firstId + this.window.length;
    this.window.push(request);
    this.openCount++;
    if (this.timer === -1) this.armTimer(request);
  }

  /** The open request with this id; undefined once it has ended (a late or duplicate answer). */
  find(id: number): P | undefined {
    const request = this.window[id - this.firstId];
    return request === undefined || request.done ? undefined : request;
  }

  /** Ends `request` (it must be open). */
  close(request: P): void {
    request.done = true;
    this.window[request.id - this.firstId] = this.ended;
    // With nothing open the timer has nothing to end; cancelled, it does not outlive the run.
    if (--this.openCount === 0 && this.timer !== -1) {
      this.scheduler.cancel(this.timer);
      this.timer = -1;
    }
  }

  /** @internal Times out every request whose deadline has come, then waits for the next. */
  expire(): void {
    this.timer = -1;
    const nowUs = this.scheduler.nowUs;
    const window = this.window;
    let oldest = this.oldest;
    while (oldest < window.length) {
      const request = window[oldest]!;
      if (!request.done) {
        if (request.issuedUs + this.timeoutUs > nowUs) break;
        this.onTimeout(request);
      }
      oldest++;
    }
    if (oldest >= COMPACT_AFTER && oldest * 2 >= window.length) {
      this.window = window.slice(oldest);
      this.firstId += oldest;
      oldest = 0;
    }
    this.oldest = oldest;
    if (this.openCount > 0) this.armTimer(this.window[oldest]!);
  }

  private armTimer(request: P): void {
    this.timer = this.scheduler.at(request.issuedUs + this.timeoutUs, expire, this);
  }
}

function expire<P extends WindowedRequest>(window: RequestWindow<P>): void {
  window.expire();
}
