/**
 * A fixed pseudo-random bijection of [0, n) in O(1) memory: a 4-round Feistel network on the
 * smallest even-bit-width domain 4^h >= n, with cycle walking back into [0, n) (Black &
 * Rogaway, "Ciphers with Arbitrary Finite Domains", 2002). The domain is below 4n, so a
 * call walks fewer than 4 steps on average.
 *
 * Workloads use it to scatter Zipf ranks over key ids: the hottest keys are then not ids
 * 0, 1, 2, … (which would all sit next to each other in a sorted or range-sharded store).
 */

/** Largest n: each Feistel half is at most 16 bits, so the domain fits in 32 bits. */
export const MAX_PERMUTATION_SIZE = 2 ** 32;

export interface Permutation {
  readonly size: number;
  /** The image of i, for an integer i in [0, size). */
  apply(i: number): number;
}

const ROUNDS = 4;

export function createPermutation(size: number, key = 0x7c3a9b15): Permutation {
  if (!Number.isInteger(size) || size < 1 || size > MAX_PERMUTATION_SIZE) {
    throw new RangeError(`size must be a whole number from 1 to ${MAX_PERMUTATION_SIZE}.`);
  }
  let halfBits = 0;
  while (4 ** halfBits < size) halfBits++;
  const half = 2 ** halfBits;
  const mask = half - 1;
  const roundKeys = Array.from({ length: ROUNDS }, (_, r) =>
    mix32(key + Math.imul(r + 1, 0x9e3779b9)),
  );

  const encrypt = (x: number): number => {
    let left = Math.floor(x / half);
    let right = x % half;
    for (const roundKey of roundKeys) {
      const next = (left ^ (mix32(right ^ roundKey) & mask)) >>> 0;
      left = right;
      right = next;
    }
    return left * half + right;
  };

  return {
    size,
    apply(i) {
      let x = encrypt(i);
      while (x >= size) x = encrypt(x);
      return x;
    },
  };
}

/** A 32-bit integer hash (the finaliser of murmur3). */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
