/**
 * Concurrent loads of one key share one call (groupcache's singleflight): a hundred misses
 * for a key the database holds cause one query, and every caller gets its answer.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  /** Calls `load` unless a call for `key` is in flight; then waits for that one instead. */
  do(key: string, load: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const call = load().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, call);
    return call;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
