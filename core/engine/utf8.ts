/**
 * The UTF-8 length of a string without encoding it (no allocation): keys are limited and
 * accounted in UTF-8 bytes (API.md §2). A lone surrogate counts 3 bytes, the size of the
 * U+FFFD that TextEncoder writes for it.
 */
export function utf8ByteLength(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        bytes += 2; // a surrogate pair: 2 code units, 4 bytes
        i++;
      } else {
        bytes += 2;
      }
    } else {
      bytes += 2;
    }
  }
  return bytes;
}
