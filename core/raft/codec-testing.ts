/**
 * Random Raft messages from a seed, for the codec's tests and fuzzing and the transport's
 * tests and benchmark (not part of the Raft API). Every message type and every optional field
 * appear; sizes stay small unless asked.
 */
import type { Rng } from '../random.ts';
import type { Entry, Message, MessageType, NodeId, Snapshot } from './types.ts';

/** Every message type; a Record so a type added to the union must be added here too. */
const EVERY_TYPE: Record<MessageType, true> = {
  MsgHup: true,
  MsgProp: true,
  MsgVote: true,
  MsgPreVote: true,
  MsgVoteResp: true,
  MsgPreVoteResp: true,
  MsgApp: true,
  MsgAppResp: true,
  MsgHeartbeat: true,
  MsgHeartbeatResp: true,
  MsgSnap: true,
  MsgTransferLeader: true,
  MsgTimeoutNow: true,
  MsgReadIndex: true,
  MsgReadIndexResp: true,
};
export const MESSAGE_TYPES = Object.keys(EVERY_TYPE) as readonly MessageType[];

/** Small numbers mostly, and now and then one near 2^53 (varints of every length). */
function randomIndex(rng: Rng): number {
  switch (rng.nextInt(4)) {
    case 0:
      return rng.nextInt(128);
    case 1:
      return rng.nextU32();
    case 2:
      return rng.nextInt(2 ** 21) * 2 ** 32 + rng.nextU32();
    default:
      return rng.nextInt(100_000);
  }
}

export function randomBytes(rng: Rng, maxLength: number): Uint8Array {
  const bytes = new Uint8Array(rng.nextInt(maxLength + 1));
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.nextInt(256);
  return bytes;
}

const NAMES = ['n1', 'n2', 'n3', '127.0.0.1:7001', 'nœud-é', ''];
const randomId = (rng: Rng): NodeId => NAMES[rng.nextInt(NAMES.length)]!;

export function randomEntries(rng: Rng, count: number, maxDataBytes: number): Entry[] {
  const first = rng.nextInt(1_000_000) + 1;
  const term = rng.nextInt(50) + 1;
  return Array.from({ length: count }, (_, i): Entry => {
    const entry = { term, index: first + i, data: randomBytes(rng, maxDataBytes) };
    // Now and then a membership change (its data is opaque to the codec).
    return rng.nextInt(8) === 0 ? { ...entry, type: 'conf-change' } : entry;
  });
}

function randomSnapshot(rng: Rng): Snapshot {
  const snapshot = { index: randomIndex(rng), term: randomIndex(rng), data: randomBytes(rng, 200) };
  if (rng.nextInt(2) === 0) return snapshot;
  return { ...snapshot, voters: Array.from({ length: rng.nextInt(5) }, () => randomId(rng)) };
}

/** One message of `type` (a random type when omitted) with random fields. */
export function randomMessage(rng: Rng, type?: MessageType): Message {
  const t = type ?? MESSAGE_TYPES[rng.nextInt(MESSAGE_TYPES.length)]!;
  const head = { from: randomId(rng), to: randomId(rng), term: randomIndex(rng) };
  switch (t) {
    case 'MsgHup':
    case 'MsgTimeoutNow':
      return { ...head, type: t };
    case 'MsgProp':
      return {
        ...head,
        type: t,
        data: Array.from({ length: rng.nextInt(4) }, () => randomBytes(rng, 40)),
      };
    case 'MsgVote':
    case 'MsgPreVote': {
      const m = { ...head, type: t, lastLogIndex: randomIndex(rng), lastLogTerm: randomIndex(rng) };
      const transfer = rng.nextInt(3);
      return transfer === 0 ? m : { ...m, transfer: transfer === 2 };
    }
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return { ...head, type: t, reject: rng.nextInt(2) === 1 };
    case 'MsgApp':
      return {
        ...head,
        type: t,
        prevLogIndex: randomIndex(rng),
        prevLogTerm: randomIndex(rng),
        entries: randomEntries(rng, rng.nextInt(5), 30),
        commit: randomIndex(rng),
      };
    case 'MsgAppResp':
      return {
        ...head,
        type: t,
        index: randomIndex(rng),
        reject: rng.nextInt(2) === 1,
        hintIndex: randomIndex(rng),
        hintTerm: randomIndex(rng),
      };
    case 'MsgHeartbeat':
      return { ...head, type: t, commit: randomIndex(rng), readRound: randomIndex(rng) };
    case 'MsgHeartbeatResp':
      return { ...head, type: t, readRound: randomIndex(rng) };
    case 'MsgSnap':
      return {
        ...head,
        type: t,
        snapshot: randomSnapshot(rng),
      };
    case 'MsgTransferLeader':
      return { ...head, type: t, transferee: randomId(rng) };
    case 'MsgReadIndex':
      return { ...head, type: t, ctx: randomBytes(rng, 16) };
    case 'MsgReadIndexResp':
      return { ...head, type: t, index: randomIndex(rng), ctx: randomBytes(rng, 16) };
  }
}
