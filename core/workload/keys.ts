/**
 * Key names for generated workloads. One function, so the load generator, the benchmarks and
 * the simulator name key 123 the same way and a prefilled key is found by a later read.
 */

/** Digits in a key id; ids past 10^8 simply grow longer, names stay unique and stable. */
export const KEY_ID_DIGITS = 8;

/** `key-00000123`: fixed-width so names sort like ids and every name has the same size. */
export function keyName(id: number): string {
  return `key-${String(id).padStart(KEY_ID_DIGITS, '0')}`;
}
