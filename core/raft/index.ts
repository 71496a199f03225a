/** Raft as a pure state machine (etcd-io/raft's shape): the node, its storage and its checks. */
export {
  DEFAULT_ELECTION_TICKS,
  DEFAULT_HEARTBEAT_TICKS,
  DEFAULT_MAX_ENTRIES_PER_APPEND,
  DEFAULT_MAX_INFLIGHT_APPENDS,
  RaftNode,
} from './raft.ts';
export type { ConfChangeRefusal, ConfChangeResult, ProposeResult, RaftConfig } from './raft.ts';
export { CODEC_VERSION, decodeMessage, encodeMessage, RaftCodecError } from './codec.ts';
export type { RaftTransport } from './transport.ts';
export { MemoryStorage } from './storage.ts';
export type { Storage } from './storage.ts';
export {
  committedPrefixesAgree,
  electionSafety,
  electionSafetySince,
  logMatching,
  RaftChecker,
  raftState,
  sameEntry,
} from './invariants.ts';
export type { Invariant, RaftState, Violation } from './invariants.ts';
export { decodeConfChange, EMPTY_HARD_STATE, EMPTY_SNAPSHOT, encodeConfChange } from './types.ts';
export type {
  ConfChange,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  MsgApp,
  MsgAppResp,
  MsgHeartbeat,
  MsgHeartbeatResp,
  MsgHup,
  MsgProp,
  MsgReadIndex,
  MsgReadIndexResp,
  MsgSnap,
  MsgTimeoutNow,
  MsgTransferLeader,
  MsgVote,
  MsgVoteResp,
  NodeId,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
} from './types.ts';
