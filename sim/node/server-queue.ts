/**
 * A simulated node's CPU: one server in front of a bounded FIFO, as a single-threaded node
 * process is. A request waits its turn, takes its service time, and is then handed to
 * `serve`; a full queue takes nothing more (the node answers 503 at once, which is the
 * caller's business). Every scenario's node is built on this, so they queue alike.
 */
import type { Scheduler } from '../scheduler.ts';

/** Called with a request when its service time has passed, in arrival order. */
export type Serve<M> = (from: string, message: M) => void;

export class ServerQueue<M> {
  /** Senders and requests in two rings of `capacity`. */
  private readonly senders: string[];
  private readonly requests: (M | undefined)[];
  private head = 0;
  private queued = 0;
  private busyUntilUs = 0;
  private servedCount = 0;

  constructor(
    private readonly scheduler: Scheduler,
    /** Requests held, the one in service included. */
    readonly capacity: number,
    private readonly serve: Serve<M>,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw new RangeError(`A queue's capacity must be a whole number >= 1 (got ${capacity}).`);
    }
    this.senders = new Array<string>(capacity).fill('');
    this.requests = new Array<M | undefined>(capacity).fill(undefined);
  }

  /** True when a request offered now would be refused. */
  get full(): boolean {
    return this.queued === this.requests.length;
  }

  /** Requests served so far. */
  get served(): number {
    return this.servedCount;
  }

  /**
   * Queues `message` to be served `serviceUs` (whole µs) after the request ahead of it ends;
   * false, and nothing queued, when the queue is full.
   */
  offer(from: string, message: M, serviceUs: number): boolean {
    const capacity = this.requests.length;
    if (this.queued === capacity) return false;
    const tail = (this.head + this.queued) % capacity;
    this.senders[tail] = from;
    this.requests[tail] = message;
    this.queued++;
    // FIFO and one at a time: this request ends one service time after the previous one.
    const startUs = Math.max(this.scheduler.nowUs, this.busyUntilUs);
    this.busyUntilUs = startUs + serviceUs;
    this.scheduler.at(this.busyUntilUs, serveHead, this);
    return true;
  }

  /** @internal Serves the request at the head of the queue (its service time has passed). */
  serveHead(): void {
    const head = this.head;
    const from = this.senders[head]!;
    const request = this.requests[head]!;
    this.requests[head] = undefined;
    this.head = (head + 1) % this.requests.length;
    this.queued--;
    this.servedCount++;
    this.serve(from, request);
  }
}

/** One function for every queue's service events (no closure per event). */
function serveHead<M>(queue: ServerQueue<M>): void {
  queue.serveHead();
}
