/**
 * Byte writing and reading shared by the replicated cache's two formats, a command
 * (command.ts) and a snapshot (snapshot.ts). Not part of the module's API.
 *
 * Building blocks, all through a DataView or plain bytes:
 * - u8: one byte;
 * - f64: an IEEE 754 double, big-endian (times, which may be fractional in the simulator);
 * - varuint: an unsigned LEB128 integer up to Number.MAX_SAFE_INTEGER, minimal form only
 *   (lengths, sequence numbers, indexes: one byte below 128);
 * - bytes: a varuint length, then the bytes;
 * - str: a varuint length in UTF-8 bytes, then the UTF-8 bytes (well-formed strings only, so
 *   that every string decodes to itself; a leading U+FEFF is kept).
 */
import type { StoredValue } from '../engine/index.ts';
import { utf8ByteLength } from '../engine/utf8.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A varuint takes at most 8 bytes (7 bits each covers 2^53). */
const MAX_VARUINT_BYTES = 8;

/** Flags byte of a stored value. */
const FLAG_COMPRESSED = 1;
const FLAG_EXPIRES = 2;
const KNOWN_FLAGS = FLAG_COMPRESSED | FLAG_EXPIRES;

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialBytes = 64) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  u8(n: number): void {
    this.ensure(1);
    this.buf[this.pos++] = n;
  }

  f64(n: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, n);
    this.pos += 8;
  }

  /** `n` must be a safe integer >= 0 (callers check their fields first). */
  varuint(n: number): void {
    this.ensure(MAX_VARUINT_BYTES);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  bytes(b: Uint8Array): void {
    this.varuint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** `s` must be well-formed (see `isWellFormed`). */
  str(s: string): void {
    const n = utf8ByteLength(s);
    this.varuint(n);
    this.ensure(n);
    const { written } = encoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + n));
    this.pos += written;
  }

  /** The bytes written, in a buffer of their own. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/**
 * Reads what a ByteWriter wrote. Every read checks its bounds: malformed or truncated input
 * throws an Error that says what (`what`: "command" or "snapshot"), where, and why.
 */
export class ByteReader {
  private readonly view: DataView;
  private pos = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Throws the Error for malformed input. */
  fail(reason: string): never {
    throw new Error(`Malformed ${this.what} (${this.data.length} bytes): ${reason}.`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.data[this.pos++] as number;
  }

  f64(field: string): number {
    this.need(8, field);
    const n = this.view.getFloat64(this.pos);
    this.pos += 8;
    return n;
  }

  varuint(field: string): number {
    const start = this.pos;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARUINT_BYTES; i++) {
      const b = this.u8(field);
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) this.fail(`${field} at byte ${start} is not in minimal form`);
        if (!Number.isSafeInteger(n)) this.fail(`${field} at byte ${start} is too large`);
        return n;
      }
      scale *= 0x80;
    }
    return this.fail(`${field} at byte ${start} is longer than ${MAX_VARUINT_BYTES} bytes`);
  }

  /** A copy: the result does not keep the input's buffer alive or share it. */
  bytes(field: string): Uint8Array {
    const n = this.varuint(`length of ${field}`);
    this.need(n, field);
    const b = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  str(field: string): string {
    const n = this.varuint(`length of ${field}`);
    this.need(n, field);
    const start = this.pos;
    this.pos += n;
    try {
      return decoder.decode(this.data.subarray(start, start + n));
    } catch {
      return this.fail(`${field} at byte ${start} is not valid UTF-8`);
    }
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.pos !== this.data.length) {
      this.fail(
        `${this.data.length - this.pos} unexpected bytes after the end, at byte ${this.pos}`,
      );
    }
  }

  private need(n: number, field: string): void {
    const left = this.data.length - this.pos;
    if (n > left) {
      this.fail(`truncated in ${field} at byte ${this.pos} (needs ${n} bytes, ${left} left)`);
    }
  }
}

/** True when `s` has no lone surrogate, so that UTF-8 gives it back unchanged. */
export function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false; // a low surrogate without a high one
    const d = s.charCodeAt(i + 1); // NaN past the end
    if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/**
 * A stored value and its expiry: flags (compressed, has expiry), [expiresAt], contentType,
 * rawBytes, bytes. The caller has checked the fields (`checkValue`).
 */
export function writeValue(w: ByteWriter, value: StoredValue, expiresAt: number | null): void {
  w.u8((value.compressed ? FLAG_COMPRESSED : 0) | (expiresAt === null ? 0 : FLAG_EXPIRES));
  if (expiresAt !== null) w.f64(expiresAt);
  w.str(value.contentType);
  w.varuint(value.rawBytes);
  w.bytes(value.bytes);
}

export function readValue(r: ByteReader): {
  value: StoredValue;
  expiresAt: number | null;
} {
  const flags = r.u8('flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) r.fail(`unknown flags 0x${flags.toString(16)}`);
  let expiresAt: number | null = null;
  if ((flags & FLAG_EXPIRES) !== 0) {
    expiresAt = r.f64('expiresAt');
    if (!Number.isFinite(expiresAt)) r.fail(`expiresAt is ${expiresAt}, not a finite time`);
  }
  const contentType = r.str('contentType');
  const rawBytes = r.varuint('rawBytes');
  const bytes = r.bytes('bytes');
  return {
    value: { bytes, contentType, compressed: (flags & FLAG_COMPRESSED) !== 0, rawBytes },
    expiresAt,
  };
}

/** Throws a TypeError naming the first malformed field of a value about to be written. */
export function checkValue(value: StoredValue, expiresAt: number | null): void {
  if (!(value.bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array.');
  checkString('contentType', value.contentType);
  if (!Number.isSafeInteger(value.rawBytes) || value.rawBytes < 0) {
    throw new TypeError(`rawBytes must be a whole number >= 0 (got ${String(value.rawBytes)}).`);
  }
  if (expiresAt !== null && !Number.isFinite(expiresAt)) {
    throw new TypeError(`expiresAt must be a finite time or null (got ${String(expiresAt)}).`);
  }
}

/** Throws a TypeError unless `s` is a well-formed string. */
export function checkString(field: string, s: unknown): void {
  if (typeof s !== 'string') throw new TypeError(`${field} must be a string.`);
  if (!isWellFormed(s)) {
    throw new TypeError(`${field} has a lone surrogate, which UTF-8 cannot carry.`);
  }
}
