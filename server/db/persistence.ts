/**
 * What a node does with its database (Level 3): write-through (a write is acknowledged only
 * once the database committed it and memory holds it), read-through on a miss (one query per
 * key at a time), and a breaker so that with the database gone, calls fail in milliseconds
 * with a clear `unavailable` instead of piling up behind timeouts. Writes to one key are
 * applied in order, to the database and to memory alike.
 */
import { Breaker, type BreakerOptions, BREAKER_DEFAULTS, type BreakerState } from './breaker.ts';
import { SingleFlight } from './singleflight.ts';
import type { DbEntry, PgStore } from './store.ts';
import type { Pending } from './write-behind.ts';

/** The database could not be used; `retryAfterSeconds` says when to try again. */
export class DbUnavailable extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'DbUnavailable';
  }
}

export type DbOp = 'read' | 'write' | 'delete' | 'sweep';

export type ReadResult = 'hit' | 'miss' | 'error';

/** What the node's metrics hear of the database's work. */
export interface PersistenceObserver {
  /** Each database call: its op, how long it took, and whether it failed. */
  onQuery(op: DbOp, seconds: number, failed: boolean): void;
  /** Each read-through: found, not there, or not answered (refused by the breaker too). */
  onRead(result: ReadResult): void;
}

/** Expired rows removed per sweep, and how often it runs. */
const SWEEP_BATCH = 1000;
export const SWEEP_INTERVAL_MS = 5000;

export class Persistence {
  private readonly breaker: Breaker;
  private readonly loads = new SingleFlight<DbEntry | null>();
  /** The tail of each key's queue of writes. */
  private readonly writes = new Map<string, Promise<unknown>>();
  private sweeper: NodeJS.Timeout | null = null;
  private observer: PersistenceObserver | null = null;

  constructor(
    readonly store: PgStore,
    private readonly clock: () => number = Date.now,
    breaker: BreakerOptions = BREAKER_DEFAULTS,
  ) {
    this.breaker = new Breaker(breaker);
  }

  /** The one observer (the node's metrics). */
  observe(observer: PersistenceObserver): void {
    this.observer = observer;
  }

  breakerState(): BreakerState {
    return this.breaker.state(this.clock());
  }

  /**
   * The entry in the database (not expired), or null; `fill` puts it in memory. Concurrent
   * loads of a key share one query, and a load waits for the key's writes before it, and
   * they for it, so a slow read can never put back a value a later write replaced.
   */
  readThrough(key: string, fill: (entry: DbEntry) => void): Promise<DbEntry | null> {
    return this.loads.do(key, () =>
      this.inOrder(key, async () => {
        let entry: DbEntry | null;
        try {
          entry = await this.call('read', () => this.store.get(key, this.clock()));
        } catch (error) {
          this.observer?.onRead('error');
          throw error;
        }
        this.observer?.onRead(entry === null ? 'miss' : 'hit');
        if (entry !== null) fill(entry);
        return entry;
      }),
    );
  }

  /** Whether the database holds a live row for `key`. */
  async exists(key: string): Promise<boolean> {
    return (await this.call('read', () => this.store.get(key, this.clock()))) !== null;
  }

  /**
   * Runs `apply` for `key` after every earlier one for the same key has finished, so that the
   * database and memory see one key's writes in the same order.
   */
  inOrder<T>(key: string, apply: () => Promise<T>): Promise<T> {
    const before = this.writes.get(key) ?? Promise.resolve();
    const run = before.then(apply, apply);
    const tail = run.catch(() => {});
    this.writes.set(key, tail);
    void tail.then(() => {
      if (this.writes.get(key) === tail) this.writes.delete(key);
    });
    return run;
  }

  write(entry: DbEntry): Promise<void> {
    return this.call('write', () => this.store.put(entry));
  }

  remove(key: string): Promise<boolean> {
    return this.call('delete', () => this.store.delete(key));
  }

  /** A write-behind batch (distinct keys), in one transaction. */
  writeBatch(items: readonly { key: string; pending: Pending }[]): Promise<void> {
    const puts: DbEntry[] = [];
    const deletes: string[] = [];
    for (const { key, pending } of items) {
      if (pending.op === 'put') puts.push(pending.entry);
      else deletes.push(key);
    }
    return this.call('write', () => this.store.writeBatch(puts, deletes));
  }

  /** Removes expired rows every SWEEP_INTERVAL_MS, a batch at a time. */
  startSweeping(): void {
    this.sweeper ??= setInterval(() => {
      void this.call('sweep', () => this.store.deleteExpired(this.clock(), SWEEP_BATCH)).catch(
        () => {}, // counted in the metrics; the next sweep tries again
      );
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.store.close();
  }

  /** One database call through the breaker, timed. */
  private async call<T>(op: DbOp, query: () => Promise<T>): Promise<T> {
    const now = this.clock();
    if (!this.breaker.allow(now)) {
      throw new DbUnavailable(
        'The database is unavailable (failing fast while it recovers); try again shortly.',
        this.breaker.retryAfterSeconds(now),
      );
    }
    const started = performance.now();
    try {
      const result = await query();
      this.breaker.success();
      this.observer?.onQuery(op, (performance.now() - started) / 1000, false);
      return result;
    } catch (error) {
      this.breaker.failure(this.clock());
      this.observer?.onQuery(op, (performance.now() - started) / 1000, true);
      throw new DbUnavailable(
        `The database did not answer: ${(error as Error).message}`,
        this.breaker.retryAfterSeconds(this.clock()),
      );
    }
  }
}
