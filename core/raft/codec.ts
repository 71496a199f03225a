/**
 * The wire form of Raft messages: `encodeMessage` / `decodeMessage`, for drivers that send
 * messages between processes (server/node/raft/peer-transport.ts). Pure: typed arrays only.
 *
 * Layout of one encoded message (all integers are unsigned LEB128 varints unless noted):
 *
 *   u8 version (CODEC_VERSION) | u8 tag (the message type, CODECS below) |
 *   from: string | to: string | term | the type's body
 *
 * A string or byte array is its length then its bytes (strings in UTF-8). Each message type,
 * and Entry and Snapshot, is written and read in one place below; to add a field, add it to
 * that one writer and its reader, and bump CODEC_VERSION when old bytes would read wrongly
 * (a cluster runs one build; a node refuses a version it does not speak). Field order is the
 * wire order.
 */
import type {
  Entry,
  EntryType,
  Message,
  MessageType,
  MsgApp,
  MsgAppResp,
  MsgHeartbeat,
  MsgHeartbeatResp,
  MsgProp,
  MsgReadIndex,
  MsgReadIndexResp,
  MsgSnap,
  MsgTransferLeader,
  MsgVote,
  MsgVoteResp,
  Snapshot,
} from './types.ts';

/** 2: Entry.type and Snapshot.voters (membership changes). */
export const CODEC_VERSION = 2;

/** Thrown by decodeMessage (and encodeMessage on a value it cannot represent). */
export class RaftCodecError extends Error {
  override readonly name = 'RaftCodecError';
}

// ---- Bytes ---------------------------------------------------------------------------------

/** A growable byte buffer with the primitive writers. */
class Writer {
  private bytes = new Uint8Array(64);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  u8(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  /** A non-negative safe integer as LEB128: 1 byte below 128, at most 8 for 2^53 - 1. */
  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RaftCodecError(`cannot encode ${value}: not a non-negative safe integer`);
    }
    this.reserve(8);
    let rest = value;
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.bytes[this.length++] = rest;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  bytesField(value: Uint8Array): void {
    this.varint(value.length);
    this.reserve(value.length);
    this.bytes.set(value, this.length);
    this.length += value.length;
  }

  string(value: string): void {
    this.bytesField(UTF8.encode(value));
  }

  finish(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

const UTF8 = new TextEncoder();
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads what Writer wrote; every read checks the bytes are there. */
class Reader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  private fail(what: string): never {
    throw new RaftCodecError(`malformed Raft message: ${what} at byte ${this.offset}`);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    const value = this.bytes[this.offset];
    if (value === undefined) this.fail('truncated');
    this.offset++;
    return value;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) this.fail('overlong varint');
        if (!Number.isSafeInteger(value)) this.fail('varint past 2^53');
        return value;
      }
      scale *= 0x80;
    }
    return this.fail('varint longer than 8 bytes');
  }

  bool(): boolean {
    const byte = this.u8();
    if (byte > 1) this.fail(`boolean byte ${byte}`);
    return byte === 1;
  }

  /** A copy, so a decoded entry does not keep a whole received frame alive in the log. */
  bytesField(): Uint8Array {
    const length = this.varint();
    if (length > this.remaining) this.fail(`${length} bytes announced, ${this.remaining} left`);
    const value = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  string(): string {
    try {
      return STRICT_UTF8.decode(this.bytesField());
    } catch (error) {
      if (error instanceof RaftCodecError) throw error;
      return this.fail('string is not UTF-8');
    }
  }

  /** A count of items each at least `minBytes` long: refuses counts the bytes cannot hold. */
  count(minBytes: number): number {
    const n = this.varint();
    if (n * minBytes > this.remaining)
      this.fail(`count ${n} cannot fit in ${this.remaining} bytes`);
    return n;
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing bytes`);
  }
}

// ---- Records -------------------------------------------------------------------------------

/** Entry.type on the wire: 0 absent (a normal entry), 1 'conf-change'. */
const ENTRY_TYPES: readonly (EntryType | undefined)[] = [undefined, 'conf-change'];

function writeEntry(w: Writer, e: Entry): void {
  w.varint(e.term);
  w.varint(e.index);
  w.bytesField(e.data);
  const code = ENTRY_TYPES.indexOf(e.type);
  // An EntryType added to types.ts but not to ENTRY_TYPES: refused here, not sent as byte 255.
  if (code < 0) throw new RaftCodecError(`cannot encode entry type ${String(e.type)}`);
  w.u8(code);
}

function readEntry(r: Reader): Entry {
  const entry = { term: r.varint(), index: r.varint(), data: r.bytesField() };
  const code = r.u8();
  if (code >= ENTRY_TYPES.length) {
    throw new RaftCodecError(`malformed Raft message: entry type ${code}`);
  }
  const type = ENTRY_TYPES[code];
  return type === undefined ? entry : { ...entry, type };
}

/** The fewest bytes an entry takes (term, index, data length, type): bounds a count. */
const MIN_ENTRY_BYTES = 4;

/** Snapshot.voters: 0 absent, else 1 then a count and the ids. */
function writeSnapshot(w: Writer, s: Snapshot): void {
  w.varint(s.index);
  w.varint(s.term);
  w.bytesField(s.data);
  if (s.voters === undefined) w.u8(0);
  else {
    w.u8(1);
    w.varint(s.voters.length);
    for (const id of s.voters) w.string(id);
  }
}

function readSnapshot(r: Reader): Snapshot {
  const snapshot = { index: r.varint(), term: r.varint(), data: r.bytesField() };
  const present = r.u8();
  if (present > 1) throw new RaftCodecError(`malformed Raft message: voters flag ${present}`);
  if (present === 0) return snapshot;
  // An id takes at least its length byte.
  const voters = Array.from({ length: r.count(1) }, () => r.string());
  return { ...snapshot, voters };
}

/** An optional boolean: 0 absent, 1 false, 2 true (so a round trip keeps absence). */
function writeOptionalBool(w: Writer, value: boolean | undefined): void {
  w.u8(value === undefined ? 0 : value ? 2 : 1);
}

function readOptionalBool(r: Reader): boolean | undefined {
  const byte = r.u8();
  if (byte > 2) throw new RaftCodecError(`malformed Raft message: optional boolean ${byte}`);
  return byte === 0 ? undefined : byte === 2;
}

// ---- Messages ------------------------------------------------------------------------------

/** The message whose `type` can be K (MsgVote for 'MsgPreVote' too). */
type MessageOf<K extends MessageType> = Message extends infer M
  ? M extends Message
    ? K extends M['type']
      ? M
      : never
    : never
  : never;

/** What every message starts with; a body reader completes it. */
interface Head<M extends Message> {
  readonly type: M['type'];
  readonly from: string;
  readonly to: string;
  readonly term: number;
}

/** How one message type's body is written and read, and its tag on the wire. */
interface BodyCodec<M extends Message> {
  /** The byte naming the type on the wire: never reuse or renumber one. */
  readonly tag: number;
  write(w: Writer, m: M): void;
  read(r: Reader, head: Head<M>): M;
}

const noBody = <M extends Message>(tag: number): BodyCodec<M> => ({
  tag,
  write: () => {},
  read: (_r, head) => head as M,
});

const vote: Omit<BodyCodec<MsgVote>, 'tag'> = {
  write(w, m) {
    w.varint(m.lastLogIndex);
    w.varint(m.lastLogTerm);
    writeOptionalBool(w, m.transfer);
  },
  read(r, head) {
    const m: MsgVote = { ...head, lastLogIndex: r.varint(), lastLogTerm: r.varint() };
    const transfer = readOptionalBool(r);
    return transfer === undefined ? m : { ...m, transfer };
  },
};

const voteResp: Omit<BodyCodec<MsgVoteResp>, 'tag'> = {
  write: (w, m) => w.bool(m.reject),
  read: (r, head) => ({ ...head, reject: r.bool() }),
};

const CODECS: { readonly [K in MessageType]: BodyCodec<MessageOf<K>> } = {
  MsgHup: noBody(1),
  MsgProp: {
    tag: 2,
    write(w, m: MsgProp) {
      w.varint(m.data.length);
      for (const data of m.data) w.bytesField(data);
    },
    read(r, head) {
      const data = Array.from({ length: r.count(1) }, () => r.bytesField());
      return { ...head, data };
    },
  },
  MsgVote: { tag: 3, ...vote },
  MsgPreVote: { tag: 4, ...vote },
  MsgVoteResp: { tag: 5, ...voteResp },
  MsgPreVoteResp: { tag: 6, ...voteResp },
  MsgApp: {
    tag: 7,
    write(w, m: MsgApp) {
      w.varint(m.prevLogIndex);
      w.varint(m.prevLogTerm);
      w.varint(m.commit);
      w.varint(m.entries.length);
      for (const e of m.entries) writeEntry(w, e);
    },
    read(r, head) {
      const prevLogIndex = r.varint();
      const prevLogTerm = r.varint();
      const commit = r.varint();
      const entries = Array.from({ length: r.count(MIN_ENTRY_BYTES) }, () => readEntry(r));
      return { ...head, prevLogIndex, prevLogTerm, entries, commit };
    },
  },
  MsgAppResp: {
    tag: 8,
    write(w, m: MsgAppResp) {
      w.varint(m.index);
      w.bool(m.reject);
      w.varint(m.hintIndex);
      w.varint(m.hintTerm);
    },
    read: (r, head) => ({
      ...head,
      index: r.varint(),
      reject: r.bool(),
      hintIndex: r.varint(),
      hintTerm: r.varint(),
    }),
  },
  MsgHeartbeat: {
    tag: 9,
    write(w, m: MsgHeartbeat) {
      w.varint(m.commit);
      w.varint(m.readRound);
    },
    read: (r, head) => ({ ...head, commit: r.varint(), readRound: r.varint() }),
  },
  MsgHeartbeatResp: {
    tag: 10,
    write: (w, m: MsgHeartbeatResp) => w.varint(m.readRound),
    read: (r, head) => ({ ...head, readRound: r.varint() }),
  },
  MsgSnap: {
    tag: 11,
    write: (w, m: MsgSnap) => writeSnapshot(w, m.snapshot),
    read: (r, head) => ({ ...head, snapshot: readSnapshot(r) }),
  },
  MsgTransferLeader: {
    tag: 12,
    write: (w, m: MsgTransferLeader) => w.string(m.transferee),
    read: (r, head) => ({ ...head, transferee: r.string() }),
  },
  MsgTimeoutNow: noBody(13),
  MsgReadIndex: {
    tag: 14,
    write: (w, m: MsgReadIndex) => w.bytesField(m.ctx),
    read: (r, head) => ({ ...head, ctx: r.bytesField() }),
  },
  MsgReadIndexResp: {
    tag: 15,
    write(w, m: MsgReadIndexResp) {
      w.varint(m.index);
      w.bytesField(m.ctx);
    },
    read: (r, head) => ({ ...head, index: r.varint(), ctx: r.bytesField() }),
  },
};

/**
 * CODECS[type] for a type known only at run time. TypeScript cannot tie a union key to its own
 * entry (microsoft/TypeScript#30581); the table's type guarantees each entry matches its key.
 */
function codecOf(type: MessageType): BodyCodec<Message> {
  return CODECS[type] as unknown as BodyCodec<Message>;
}

const TYPE_OF_TAG = new Map<number, MessageType>();
for (const type of Object.keys(CODECS) as MessageType[]) {
  const tag = CODECS[type].tag;
  const taken = TYPE_OF_TAG.get(tag);
  if (taken !== undefined) throw new Error(`codec tag ${tag} used by ${taken} and ${type}`);
  TYPE_OF_TAG.set(tag, type);
}

export function encodeMessage(m: Message): Uint8Array {
  const codec = codecOf(m.type);
  const w = new Writer();
  w.u8(CODEC_VERSION);
  w.u8(codec.tag);
  w.string(m.from);
  w.string(m.to);
  w.varint(m.term);
  codec.write(w, m);
  return w.finish();
}

/** The message `bytes` encode; throws RaftCodecError unless they are exactly one message. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== CODEC_VERSION) {
    throw new RaftCodecError(
      `Raft message version ${version}; this node speaks version ${CODEC_VERSION}`,
    );
  }
  const tag = r.u8();
  const type = TYPE_OF_TAG.get(tag);
  if (type === undefined) throw new RaftCodecError(`unknown Raft message type tag ${tag}`);
  const head = { type, from: r.string(), to: r.string(), term: r.varint() };
  const m = codecOf(type).read(r, head);
  r.end();
  return m;
}
