/** A copy of `array` with room for `length` elements (typed arrays do not grow in place). */
export function grow<T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(
  array: T,
  length: number,
): T {
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array);
  return bigger;
}
