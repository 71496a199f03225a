/**
 * The new owner's ledger of a move: which keys in transit it has settled, so a copy from
 * the old owner never overwrites a write, a delete or an eviction that happened during the
 * move (rules 2-4 in cluster-map.ts). One per move; dropped when the map leaves `moving`.
 *
 * It holds keys only, one per key written, deleted or copied during the move: bounded by
 * the keys that move plus the writes during the move.
 */
export class Handoff {
  readonly #settled = new Set<string>();

  /** A write or delete of a key in transit reached this (new) owner: it wins from now on. */
  settle(key: string): void {
    this.#settled.add(key);
  }

  /**
   * An entry of a key in transit arrived from the old owner (streamed or read through):
   * apply it only if the key is not settled; applying settles it, so it comes once.
   */
  acceptCopy(key: string): boolean {
    if (this.#settled.has(key)) return false;
    this.#settled.add(key);
    return true;
  }

  /**
   * A read of a key in transit found nothing here: ask the old owner only if the key is not
   * settled. A settled key that is absent was deleted or evicted here, and the old owner's
   * copy is older than that.
   */
  readsThrough(key: string): boolean {
    return !this.#settled.has(key);
  }

  get settledKeys(): number {
    return this.#settled.size;
  }
}
