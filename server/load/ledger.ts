/**
 * Acknowledged writes, kept to check that none is lost (Level 6): the live load stamps every
 * value it writes and remembers, per key, the latest acknowledged write; a verifier reads
 * keys back and classifies what it got.
 *
 * A stamp is the first STAMP_BYTES of the value: `#`, the ledger's 4-character tag, a write
 * number in base 36 (growing by one per write sent, across every run of the load), `#`.
 *
 * When is a value read back "older than acknowledged"? Writes to one key may overlap (several
 * connections, retries), and an overlapping write may take effect after one acknowledged
 * first. So with each acknowledged write X the ledger keeps its floor: the oldest write still
 * in flight (sent, neither acknowledged nor given up) when X was sent. A read sent after X was
 * acknowledged that returns write Y:
 * - Y ≥ floor: fine (X, a newer write, or one that overlapped X).
 * - Y < floor, another ledger's value, or no stamp: Y was over before X began, so X's effect
 *   is gone: LOST. (A write given up on that still took effect later would count too; a Raft
 *   log applies writes in order, so it cannot come after X.)
 * - absent (404): MISSING, counted apart: a cache may evict a key, and it does not say so.
 *
 * Memory: one small object per key written (two numbers), and one map entry per write in flight.
 */

export const STAMP_BYTES = 16;
const NUMBER_DIGITS = STAMP_BYTES - 6;
/** Stamps fit NUMBER_DIGITS base-36 digits. */
const MAX_STAMP = 36 ** NUMBER_DIGITS - 1;

export type Verdict = 'ok' | 'lost' | 'missing';

/** What a read of a key must show, taken when the read is sent. */
export interface Expectation {
  /** The latest acknowledged write's number. */
  readonly acked: number;
  /** The oldest write in flight when it was sent. */
  readonly floor: number;
}

export class WriteLedger {
  /** Keys with an acknowledged write, in the order first acknowledged (the verifier's sample). */
  readonly keys: number[] = [];
  private readonly latest = new Map<number, Expectation>();
  /** Write number → its floor, while in flight. */
  private readonly inFlight = new Map<number, number>();
  private next = 1;
  /** No write below this is in flight. */
  private oldest = 1;

  /** `tag`: 4 characters [0-9a-z], telling this ledger's stamps from an earlier load's. */
  constructor(readonly tag: string) {
    if (!/^[0-9a-z]{4}$/.test(tag)) throw new RangeError('tag must be 4 characters [0-9a-z].');
  }

  /** A write is about to be sent: its number (for stamp() and acked()/failed()). */
  sent(): number {
    const n = this.next++;
    if (n > MAX_STAMP) throw new RangeError('write numbers exhausted');
    this.inFlight.set(n, n);
    while (this.oldest < n && !this.inFlight.has(this.oldest)) this.oldest++;
    this.inFlight.set(n, this.oldest);
    return n;
  }

  /** Writes `n`'s stamp over the first STAMP_BYTES of `value` (at least that long). */
  stamp(n: number, value: Uint8Array): void {
    const text = `#${this.tag}${n.toString(36).padStart(NUMBER_DIGITS, '0')}#`;
    for (let i = 0; i < STAMP_BYTES; i++) value[i] = text.charCodeAt(i);
  }

  acked(keyId: number, n: number): void {
    const floor = this.inFlight.get(n);
    if (floor === undefined) return;
    this.inFlight.delete(n);
    const had = this.latest.get(keyId);
    if (had === undefined) this.keys.push(keyId);
    if (had === undefined || n > had.acked) this.latest.set(keyId, { acked: n, floor });
  }

  /** Write `n` was given up on (it may or may not have taken effect). */
  failed(n: number): void {
    this.inFlight.delete(n);
  }

  /** What a read of `keyId` sent now must show; undefined when no write of it was acknowledged. */
  expectation(keyId: number): Expectation | undefined {
    return this.latest.get(keyId);
  }

  /** The write number stamped on `value`, or null when it carries none of this ledger's. */
  stampOf(value: Uint8Array): number | null {
    if (value.length < STAMP_BYTES) return null;
    const text = String.fromCharCode(...value.subarray(0, STAMP_BYTES));
    if (text[0] !== '#' || text[STAMP_BYTES - 1] !== '#' || text.slice(1, 5) !== this.tag) {
      return null;
    }
    const n = Number.parseInt(text.slice(5, STAMP_BYTES - 1), 36);
    return Number.isSafeInteger(n) ? n : null;
  }

  /** A read back of a key that had `expected` when the read was sent; `value` null: absent. */
  classify(expected: Expectation, value: Uint8Array | null): Verdict {
    if (value === null) return 'missing';
    const n = this.stampOf(value);
    return n !== null && n >= expected.floor ? 'ok' : 'lost';
  }
}
