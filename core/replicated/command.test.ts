import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../random.ts';
import { decodeCommand, encodeCommand, MAX_CLIENT_BYTES } from './command.ts';
import type { Command } from './types.ts';

const ALPHABET = ['a', 'z', '0', '/', ' ', 'é', 'ß', '€', '中', '😀', '\u0000', '\uFEFF'];

function randomString(rng: Rng, maxChars: number): string {
  let s = '';
  const n = rng.nextInt(maxChars + 1);
  for (let i = 0; i < n; i++) s += ALPHABET[rng.nextInt(ALPHABET.length)];
  return s;
}

function randomTime(rng: Rng): number {
  switch (rng.nextInt(4)) {
    case 0:
      return rng.nextInt(1000);
    case 1:
      return 1.7e12 + rng.nextInt(1e9);
    case 2:
      return rng.next() * 1e6; // fractional, as in the simulator
    default:
      return -rng.nextInt(1e6);
  }
}

function randomCommand(rng: Rng): Command {
  const base = {
    client: randomString(rng, 20),
    seq: rng.nextInt(3) === 0 ? Number.MAX_SAFE_INTEGER - rng.nextInt(10) : 1 + rng.nextInt(300),
    key: randomString(rng, 40),
    at: randomTime(rng),
  };
  if (rng.nextInt(3) === 0) return { kind: 'delete', ...base };
  const bytes = new Uint8Array(rng.nextInt(3) === 0 ? rng.nextInt(5000) : rng.nextInt(10));
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.nextInt(256);
  return {
    kind: 'set',
    ...base,
    bytes,
    contentType: randomString(rng, 30),
    compressed: rng.nextInt(2) === 0,
    rawBytes: rng.nextInt(2) === 0 ? bytes.length : rng.nextInt(2 ** 40),
    expiresAt: rng.nextInt(2) === 0 ? null : randomTime(rng),
  };
}

const setCommand = (overrides: Partial<Extract<Command, { kind: 'set' }>> = {}): Command => ({
  kind: 'set',
  client: 'c1',
  seq: 1,
  key: 'user:1',
  at: 1000,
  bytes: new Uint8Array([1, 2, 3]),
  contentType: 'application/json',
  compressed: false,
  rawBytes: 3,
  expiresAt: 5000,
  ...overrides,
});

const deleteCommand: Command = { kind: 'delete', client: 'c1', seq: 2, key: 'user:1', at: 1000 };

describe('encodeCommand / decodeCommand', () => {
  it('round-trips any well-formed command, to the same bytes every time', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const rng = createRng(seed);
      for (let i = 0; i < 200; i++) {
        const command = randomCommand(rng);
        const bytes = encodeCommand(command);
        expect(decodeCommand(bytes)).toEqual(command);
        expect(encodeCommand(decodeCommand(bytes))).toEqual(bytes);
      }
    }
  });

  it('starts with the version byte and stays compact', () => {
    const bytes = encodeCommand(deleteCommand);
    expect(bytes[0]).toBe(1);
    // 2 (version, kind) + 1 (seq) + 8 (at) + 3 (client) + 7 (key)
    expect(bytes.length).toBe(21);
    // ... + 1 (flags) + 8 (expiresAt) + 17 (contentType) + 1 (rawBytes) + 4 (bytes)
    expect(encodeCommand(setCommand()).length).toBe(52);
  });

  it('keeps a leading byte order mark and the longest client id', () => {
    const command = setCommand({ key: '\uFEFFkey', client: 'x'.repeat(MAX_CLIENT_BYTES) });
    expect(decodeCommand(encodeCommand(command))).toEqual(command);
  });

  it('decodes a value into bytes of its own, not a view of the entry', () => {
    const data = encodeCommand(setCommand());
    const decoded = decodeCommand(data);
    data.fill(0);
    expect(decoded.kind === 'set' && [...decoded.bytes]).toEqual([1, 2, 3]);
  });

  it('reads a command that sits inside a larger buffer', () => {
    const data = encodeCommand(setCommand());
    const framed = new Uint8Array(data.length + 7);
    framed.set(data, 5);
    expect(decodeCommand(framed.subarray(5, 5 + data.length))).toEqual(setCommand());
  });

  it('throws on every truncation and on trailing bytes', () => {
    for (const command of [setCommand(), setCommand({ expiresAt: null }), deleteCommand]) {
      const data = encodeCommand(command);
      for (let n = 0; n < data.length; n++) {
        expect(() => decodeCommand(data.subarray(0, n))).toThrow(/Malformed command.*truncated/);
      }
      const longer = new Uint8Array(data.length + 1);
      longer.set(data);
      expect(() => decodeCommand(longer)).toThrow(/1 unexpected bytes after the end/);
    }
  });

  it('throws a clear error on malformed fields', () => {
    const good = encodeCommand(deleteCommand);
    const patched = (at: number, byte: number): Uint8Array => {
      const data = good.slice();
      data[at] = byte;
      return data;
    };
    expect(() => decodeCommand(patched(0, 2))).toThrow(/unknown version 2/);
    expect(() => decodeCommand(patched(1, 9))).toThrow(/unknown kind 9/);
    expect(() => decodeCommand(patched(2, 0))).toThrow(/seq is 0/);
    // seq 2 written as the two-byte 0x82 0x00: not minimal.
    const longSeq = new Uint8Array([...good.subarray(0, 2), 0x82, 0x00, ...good.subarray(3)]);
    expect(() => decodeCommand(longSeq)).toThrow(/seq at byte 2 is not in minimal form/);
    // at = NaN
    const nan = good.slice();
    new DataView(nan.buffer).setFloat64(3, NaN);
    expect(() => decodeCommand(nan)).toThrow(/at is NaN/);
    // The client id "c1" (bytes 12..13) made invalid UTF-8.
    expect(() => decodeCommand(patched(12, 0xff))).toThrow(/client at byte 12 is not valid UTF-8/);

    const set = encodeCommand(setCommand({ client: 'c', key: 'k' }));
    // version, kind, seq, at (8), client (2), key (2): the flags byte is at 15.
    expect(set[15]).toBe(2);
    const flags = set.slice();
    flags[15] = 0x06;
    expect(() => decodeCommand(flags)).toThrow(/unknown flags 0x6/);
    expect(() => decodeCommand(new Uint8Array(0))).toThrow(/truncated in version/);
  });

  it('refuses to encode a command that would not decode to itself', () => {
    expect(() => encodeCommand(setCommand({ seq: 0 }))).toThrow(/seq must be/);
    expect(() => encodeCommand(setCommand({ seq: 1.5 }))).toThrow(/seq must be/);
    expect(() => encodeCommand(setCommand({ at: NaN }))).toThrow(/at must be a finite time/);
    expect(() => encodeCommand(setCommand({ expiresAt: Infinity }))).toThrow(/expiresAt/);
    expect(() => encodeCommand(setCommand({ rawBytes: -1 }))).toThrow(/rawBytes/);
    expect(() => encodeCommand(setCommand({ key: 'a\uD800' }))).toThrow(/key has a lone surrogate/);
    expect(() => encodeCommand(setCommand({ contentType: '\uDC00' }))).toThrow(/contentType/);
    expect(() => encodeCommand(setCommand({ client: 'é'.repeat(129) }))).toThrow(/client/);
  });
});
