/**
 * A command as the bytes of a Raft log entry, and back (wire.ts describes the building
 * blocks). Version 1:
 *
 * ```
 * u8      version (1)
 * u8      kind: 1 set, 2 delete
 * varuint seq (>= 1)
 * f64     at
 * str     client (at most MAX_CLIENT_BYTES)
 * str     key
 * set only:
 *   u8      flags: bit 0 compressed, bit 1 has expiresAt (other bits must be 0)
 *   f64     expiresAt, when bit 1
 *   str     contentType
 *   varuint rawBytes
 *   varuint length, then the stored bytes
 * ```
 *
 * A delete of a short key by a short client id takes about 20 bytes; a set adds its value
 * and about 15. The version byte comes first so that a later format can be told apart and
 * read by a newer replica during a rolling upgrade.
 */
import type { Command } from './types.ts';
import { ByteReader, ByteWriter, checkString, checkValue, readValue, writeValue } from './wire.ts';
import { utf8ByteLength } from '../engine/utf8.ts';

export const COMMAND_VERSION = 1;
/** The longest client id, in UTF-8 bytes. */
export const MAX_CLIENT_BYTES = 256;

const KIND_SET = 1;
const KIND_DELETE = 2;

/**
 * The command's bytes. Throws a TypeError naming the field when the command is malformed (a
 * seq that is not a whole number >= 1, a time that is not finite, a string with a lone
 * surrogate, a client id longer than MAX_CLIENT_BYTES): such a command would not decode to
 * itself, and must not reach the log.
 */
export function encodeCommand(c: Command): Uint8Array {
  checkString('client', c.client);
  if (utf8ByteLength(c.client) > MAX_CLIENT_BYTES) {
    throw new TypeError(`client must be at most ${MAX_CLIENT_BYTES} UTF-8 bytes.`);
  }
  checkString('key', c.key);
  if (!Number.isSafeInteger(c.seq) || c.seq < 1) {
    throw new TypeError(`seq must be a whole number >= 1 (got ${String(c.seq)}).`);
  }
  if (!Number.isFinite(c.at)) throw new TypeError(`at must be a finite time (got ${c.at}).`);
  if (c.kind === 'set') checkValue(c, c.expiresAt);

  const w = new ByteWriter(64 + (c.kind === 'set' ? c.bytes.length : 0));
  w.u8(COMMAND_VERSION);
  w.u8(c.kind === 'set' ? KIND_SET : KIND_DELETE);
  w.varuint(c.seq);
  w.f64(c.at);
  w.str(c.client);
  w.str(c.key);
  if (c.kind === 'set') writeValue(w, c, c.expiresAt);
  return w.finish();
}

/**
 * The command in `data`. Throws an Error saying what is wrong when `data` is not exactly one
 * command of a known version: truncated, extra bytes, an unknown version, kind or flag, a
 * field out of range, invalid UTF-8. The stored bytes of a set are a copy of their own.
 */
export function decodeCommand(data: Uint8Array): Command {
  const r = new ByteReader(data, 'command');
  const version = r.u8('version');
  if (version !== COMMAND_VERSION) {
    r.fail(`unknown version ${version} (this replica reads version ${COMMAND_VERSION})`);
  }
  const kind = r.u8('kind');
  if (kind !== KIND_SET && kind !== KIND_DELETE) r.fail(`unknown kind ${kind}`);
  const seq = r.varuint('seq');
  if (seq < 1) r.fail('seq is 0; requests are numbered from 1');
  const at = r.f64('at');
  if (!Number.isFinite(at)) r.fail(`at is ${at}, not a finite time`);
  const client = r.str('client');
  if (utf8ByteLength(client) > MAX_CLIENT_BYTES) {
    r.fail(`client is longer than ${MAX_CLIENT_BYTES} bytes`);
  }
  const key = r.str('key');
  if (kind === KIND_DELETE) {
    r.end();
    return { kind: 'delete', client, seq, key, at };
  }
  const { value, expiresAt } = readValue(r);
  r.end();
  return { kind: 'set', client, seq, key, at, ...value, expiresAt };
}
