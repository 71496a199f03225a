/**
 * Write-behind (Level 3, `--write-mode behind`): a write is acknowledged once memory holds it
 * and it is queued; the queue is flushed to the database in batches. The queue is bounded:
 * when it is full, writes are refused (503) rather than growing memory. What a crash can lose
 * is what is queued: at most `maxQueue` keys, normally the writes of the batch in flight and
 * those that arrived while it was written.
 *
 * One entry per key (the latest write wins), so the queue is also the answer to "is there a
 * newer value than the database's?" for a read-through.
 */
import type { Persistence } from './persistence.ts';
import type { DbEntry } from './store.ts';

export type Pending = { readonly op: 'put'; readonly entry: DbEntry } | { readonly op: 'delete' };

export interface WriteBehindOptions {
  /** Keys queued at most. */
  readonly maxQueue?: number;
  /** Keys written per flush. */
  readonly batch?: number;
  /** How often the queue is flushed. */
  readonly intervalMs?: number;
}

export const WRITE_BEHIND_DEFAULTS = { maxQueue: 10_000, batch: 500, intervalMs: 50 } as const;

export class WriteBehind {
  private readonly queue = new Map<string, Pending>();
  private readonly maxQueue: number;
  private readonly batch: number;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly database: Persistence,
    options: WriteBehindOptions = {},
  ) {
    this.maxQueue = options.maxQueue ?? WRITE_BEHIND_DEFAULTS.maxQueue;
    this.batch = options.batch ?? WRITE_BEHIND_DEFAULTS.batch;
    this.timer = setInterval(
      () => void this.flush(),
      options.intervalMs ?? WRITE_BEHIND_DEFAULTS.intervalMs,
    );
    this.timer.unref();
  }

  get depth(): number {
    return this.queue.size;
  }

  /** Whether a write of `key` can be queued now (a key already queued always can). */
  hasRoom(key: string): boolean {
    return this.queue.size < this.maxQueue || this.queue.has(key);
  }

  /** The newest write of `key` not yet in the database. */
  pending(key: string): Pending | undefined {
    return this.queue.get(key);
  }

  /** Queues a write; false (nothing queued) when the queue is full. */
  enqueue(key: string, pending: Pending): boolean {
    if (!this.hasRoom(key)) return false;
    // Latest wins, and moves to the back: its turn comes after the writes queued before it.
    this.queue.delete(key);
    this.queue.set(key, pending);
    return true;
  }

  /**
   * Writes batch after batch until the queue is empty, so the database sets the pace, not
   * the timer; a failed batch stays queued (unless rewritten meanwhile) for the next tick.
   */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.queue.size > 0 && (await this.flushBatch()));
  }

  /** Flushes until the queue is empty or the database refuses (what is left is lost). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }

  /** One batch; false when the database refused it. */
  private async flushBatch(): Promise<boolean> {
    const taken: [string, Pending][] = [];
    for (const item of this.queue) {
      taken.push(item);
      if (taken.length >= this.batch) break;
    }
    try {
      await this.database.writeBatch(taken.map(([key, pending]) => ({ key, pending })));
    } catch {
      return false; // counted by the database's metrics; the breaker paces the retries
    }
    // Done, unless a newer write of the key arrived while this one was in flight.
    for (const [key, pending] of taken) {
      if (this.queue.get(key) === pending) this.queue.delete(key);
    }
    return true;
  }
}
