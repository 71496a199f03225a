/**
 * A running hash of what a run did (FNV-1a, 32-bit, over the bytes of each word). Two runs
 * with the same seed must end with the same hash; a run that diverges anywhere, even in an
 * order the report does not show, ends with another. Cheap enough to feed every delivery.
 */
export class TraceHash {
  private h = 0x811c9dc5;

  /** Mixes in a 32-bit word (the low 32 bits of `word`). */
  addWord(word: number): void {
    let h = this.h;
    h = Math.imul(h ^ (word & 0xff), 0x01000193);
    h = Math.imul(h ^ ((word >>> 8) & 0xff), 0x01000193);
    h = Math.imul(h ^ ((word >>> 16) & 0xff), 0x01000193);
    h = Math.imul(h ^ ((word >>> 24) & 0xff), 0x01000193);
    this.h = h;
  }

  /** Mixes in a safe integer (a time in µs, a seed) as two words; negatives stay distinct. */
  addInteger(n: number): void {
    this.addWord(n >>> 0);
    this.addWord(Math.floor(n / 2 ** 32) >>> 0);
  }

  get value(): number {
    return this.h >>> 0;
  }

  /** Eight hex digits. */
  hex(): string {
    return this.value.toString(16).padStart(8, '0');
  }
}
