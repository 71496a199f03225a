import { describe, expect, it } from 'vitest';
import { createRng } from '../random.ts';
import { CODEC_VERSION, decodeMessage, encodeMessage, RaftCodecError } from './codec.ts';
import { MESSAGE_TYPES, randomBytes, randomEntries, randomMessage } from './codec-testing.ts';
import {
  decodeConfChange,
  encodeConfChange,
  type Message,
  type MsgApp,
  type MsgSnap,
} from './types.ts';

const roundTrip = (m: Message): Message => decodeMessage(encodeMessage(m));

/** Byte equality without a deep-equal walk (vitest's is slow on megabytes). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Decodes, and says how it failed: only a RaftCodecError is allowed. */
function decodeOrCodecError(bytes: Uint8Array): Message | RaftCodecError {
  try {
    return decodeMessage(bytes);
  } catch (error) {
    if (error instanceof RaftCodecError) return error;
    throw error;
  }
}

describe('Raft message codec', () => {
  it('round-trips every message type, many times each', () => {
    const rng = createRng(1);
    for (const type of MESSAGE_TYPES) {
      for (let i = 0; i < 200; i++) {
        const m = randomMessage(rng, type);
        expect(roundTrip(m)).toStrictEqual(m);
      }
    }
  });

  it('round-trips membership fields: Entry.type and Snapshot.voters, absent kept absent', () => {
    const cc = encodeConfChange({ type: 'add', node: 'n4' });
    const app: MsgApp = {
      type: 'MsgApp',
      from: 'n1',
      to: 'n4',
      term: 2,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [
        { term: 2, index: 1, data: new Uint8Array(0) },
        { term: 2, index: 2, data: cc, type: 'conf-change' },
      ],
      commit: 1,
    };
    const back = roundTrip(app) as MsgApp;
    expect(back).toStrictEqual(app);
    expect('type' in back.entries[0]!).toBe(false);
    expect(decodeConfChange(back.entries[1]!.data)).toEqual({ type: 'add', node: 'n4' });

    const snap = (snapshot: MsgSnap['snapshot']): MsgSnap => ({
      type: 'MsgSnap',
      from: 'n1',
      to: 'n4',
      term: 2,
      snapshot,
    });
    const data = new Uint8Array([1, 2, 3]);
    for (const snapshot of [
      { index: 9, term: 2, data },
      { index: 9, term: 2, data, voters: ['n1', 'n2', 'nœud-é'] },
      { index: 9, term: 2, data, voters: [] },
    ]) {
      expect(roundTrip(snap(snapshot))).toStrictEqual(snap(snapshot));
    }
    // An unknown entry type is refused by name.
    const bytes = encodeMessage(app);
    const forged = Uint8Array.from(bytes);
    forged[forged.length - 1] = 7; // the last entry's type byte
    expect(() => decodeMessage(forged)).toThrow(/entry type 7/);
  });

  it('keeps an absent optional field absent, and false false (MsgVote.transfer)', () => {
    const base = {
      type: 'MsgVote',
      from: 'n1',
      to: 'n2',
      term: 3,
      lastLogIndex: 9,
      lastLogTerm: 2,
    };
    for (const m of [base, { ...base, transfer: false }, { ...base, transfer: true }]) {
      expect(roundTrip(m as Message)).toStrictEqual(m);
    }
  });

  it('round-trips a big MsgApp batch', () => {
    const rng = createRng(2);
    const m: MsgApp = {
      type: 'MsgApp',
      from: 'n1',
      to: 'n3',
      term: 7,
      prevLogIndex: 123_456,
      prevLogTerm: 6,
      entries: randomEntries(rng, 10_000, 300),
      commit: 123_000,
    };
    const bytes = encodeMessage(m);
    const back = decodeMessage(bytes) as MsgApp;
    expect({ ...back, entries: [] }).toStrictEqual({ ...m, entries: [] });
    expect(back.entries.length).toBe(m.entries.length);
    const same = back.entries.every((e, i) => {
      const sent = m.entries[i]!;
      return e.term === sent.term && e.index === sent.index && sameBytes(e.data, sent.data);
    });
    expect(same).toBe(true);
    // Compact: per entry, its data plus a few bytes (term, index, length as varints).
    const data = m.entries.reduce((sum, e) => sum + e.data.length, 0);
    expect(bytes.length - data).toBeLessThan(m.entries.length * 8 + 32);
  });

  it('round-trips a MsgSnap of 20 MiB', () => {
    const data = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4093) data[i] = i & 0xff;
    const m: MsgSnap = {
      type: 'MsgSnap',
      from: 'n1',
      to: 'n2',
      term: 4,
      snapshot: { index: 2 ** 40, term: 4, data },
    };
    const back = decodeMessage(encodeMessage(m)) as MsgSnap;
    const empty = new Uint8Array(0);
    expect({ ...back, snapshot: { ...back.snapshot, data: empty } }).toStrictEqual({
      ...m,
      snapshot: { ...m.snapshot, data: empty },
    });
    expect(sameBytes(back.snapshot.data, data)).toBe(true);
  });

  it('encodes small messages in few bytes', () => {
    const heartbeat: Message = {
      type: 'MsgHeartbeat',
      from: 'n1',
      to: 'n2',
      term: 5,
      commit: 100,
      readRound: 0,
    };
    // version, tag, 2 × (length + 2 chars), term, commit, readRound
    expect(encodeMessage(heartbeat).length).toBe(11);
  });

  it('decoded bytes are copies: they do not alias the frame', () => {
    const m: Message = {
      type: 'MsgReadIndex',
      from: 'a',
      to: 'b',
      term: 1,
      ctx: Uint8Array.of(1, 2),
    };
    const bytes = encodeMessage(m);
    const back = decodeMessage(bytes);
    bytes.fill(0);
    expect(back).toStrictEqual(m);
  });

  it('refuses what it cannot represent', () => {
    const bad = { type: 'MsgHeartbeat', from: 'a', to: 'b', term: -1, commit: 0, readRound: 0 };
    expect(() => encodeMessage(bad as Message)).toThrow(RaftCodecError);
    expect(() => encodeMessage({ ...bad, term: 1.5 } as Message)).toThrow(/safe integer/);
    const app = { type: 'MsgApp', from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0 };
    const entry = { term: 1, index: 1, data: new Uint8Array(0), type: 'learner-change' };
    expect(() => encodeMessage({ ...app, entries: [entry], commit: 0 } as Message)).toThrow(
      /cannot encode entry type learner-change/,
    );
  });

  it('refuses a wrong version, an unknown type, trailing bytes and truncation, by name', () => {
    const bytes = encodeMessage(randomMessage(createRng(3), 'MsgAppResp'));
    const wrongVersion = Uint8Array.from(bytes);
    wrongVersion[0] = CODEC_VERSION + 1;
    expect(() => decodeMessage(wrongVersion)).toThrow(
      new RegExp(`version ${CODEC_VERSION + 1}; this node speaks version ${CODEC_VERSION}`),
    );
    const unknownType = Uint8Array.from(bytes);
    unknownType[1] = 200;
    expect(() => decodeMessage(unknownType)).toThrow(/unknown Raft message type tag 200/);
    expect(() => decodeMessage(Uint8Array.from([...bytes, 0]))).toThrow(/1 trailing bytes/);
    expect(() => decodeMessage(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
    expect(() => decodeMessage(new Uint8Array(0))).toThrow(RaftCodecError);
  });

  it('refuses counts the bytes cannot hold, without allocating them', () => {
    // MsgApp with 2^40 entries announced and none present.
    const m: MsgApp = {
      type: 'MsgApp',
      from: 'a',
      to: 'b',
      term: 1,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [],
      commit: 0,
    };
    const bytes = encodeMessage(m);
    const huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
    const forged = Uint8Array.from([...bytes.subarray(0, bytes.length - 1), ...huge]);
    expect(() => decodeMessage(forged)).toThrow(/count .* cannot fit/);
  });

  it('fuzz: truncations and bit flips of random messages fail only with RaftCodecError', () => {
    const rng = createRng(4);
    let refused = 0;
    for (let i = 0; i < 3_000; i++) {
      const bytes = encodeMessage(randomMessage(rng));
      // Every proper prefix is refused.
      const cut = rng.nextInt(bytes.length);
      expect(decodeOrCodecError(bytes.subarray(0, cut))).toBeInstanceOf(RaftCodecError);
      // Flipped bits decode to some message or are refused; nothing else escapes.
      const flipped = Uint8Array.from(bytes);
      for (let f = 0; f <= rng.nextInt(3); f++) {
        const at = rng.nextInt(flipped.length);
        flipped[at] = flipped[at]! ^ (1 << rng.nextInt(8));
      }
      const result = decodeOrCodecError(flipped);
      if (result instanceof RaftCodecError) refused++;
      else expect(encodeMessage(result).length).toBeGreaterThan(0);
      // And random garbage.
      const garbage = randomBytes(rng, 64);
      if (rng.nextInt(2) === 0 && garbage.length > 0) garbage[0] = CODEC_VERSION;
      decodeOrCodecError(garbage);
    }
    expect(refused).toBeGreaterThan(0);
  });
});
