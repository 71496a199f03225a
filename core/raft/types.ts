/**
 * The shapes Raft speaks: log entries, the state a node must persist, the messages between
 * nodes and the Ready batch a driver acts on. Plain data, so a driver can serialise them and
 * the simulator can record them.
 *
 * Names follow the Raft paper (Ongaro and Ousterhout, "In Search of an Understandable
 * Consensus Algorithm", 2014, Figure 2) and etcd-io/raft's message types.
 */

/** A member of the Raft group, as the cluster map names it (for example `n1`). */
export type NodeId = string;

/**
 * One entry of the replicated log. `data` is opaque to Raft (the replicated state machine
 * decodes it); an empty `data` is the no-op a new leader appends (§5.4.2, see becomeLeader).
 *
 * `type` 'conf-change' marks a membership change (thesis §4.1): `data` is then
 * `encodeConfChange(cc)`, which Raft reads and the state machine must not (it applies the
 * entry as a no-op). Absent: a normal entry.
 */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly data: Uint8Array;
  readonly type?: EntryType;
}

export type EntryType = 'conf-change';

/**
 * One membership change (thesis §4.1, single-server changes): add a voter or remove one.
 * Proposed with RaftNode.proposeConfChange; carried in a 'conf-change' entry.
 */
export interface ConfChange {
  readonly type: 'add' | 'remove';
  readonly node: NodeId;
}

const CONF_CHANGE_CODES = { add: 1, remove: 2 } as const;

/** A ConfChange as an entry's bytes: one byte (1 add, 2 remove), then the id in UTF-8. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (cc.node === '') throw new TypeError('ConfChange.node must not be empty');
  const id = new TextEncoder().encode(cc.node);
  const bytes = new Uint8Array(1 + id.length);
  bytes[0] = CONF_CHANGE_CODES[cc.type];
  bytes.set(id, 1);
  return bytes;
}

/** The inverse of encodeConfChange; throws on bytes it did not write. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const code = data[0];
  const type = code === 1 ? 'add' : code === 2 ? 'remove' : null;
  if (type === null || data.length < 2) {
    throw new RangeError(`not an encoded ConfChange (${data.length} bytes, kind ${code})`);
  }
  return { type, node: new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(1)) };
}

/**
 * The state a node must keep on stable storage before it answers anyone (Figure 2,
 * "Persistent state on all servers"). `commit` is persisted as etcd does, so a restarted
 * node does not apply the same entries twice; it is not needed for safety.
 */
export interface HardState {
  readonly term: number;
  /** The candidate this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

/**
 * The state machine's state after applying every entry up to `index` (whose term was `term`),
 * standing in for those entries once the log is compacted (§7). `data` is opaque to Raft.
 * `voters` is the membership as of `index` (every conf change up to it applied), so a node
 * restored from the snapshot knows its group; absent, it is RaftConfig.peers (the group the
 * log started with).
 */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
  readonly voters?: readonly NodeId[];
}

/** What a node that never compacted holds: nothing before index 1. */
export const EMPTY_SNAPSHOT: Snapshot = { index: 0, term: 0, data: new Uint8Array(0) };

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** What a node believes now; volatile, never persisted. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; 0 on the local messages (MsgHup, MsgProp). */
  readonly term: number;
}

/** Local: start an election now (the election timer fired, or a test wants one). */
export interface MsgHup extends Envelope {
  readonly type: 'MsgHup';
}

/** Local: append these payloads to the log (leader only). */
export interface MsgProp extends Envelope {
  readonly type: 'MsgProp';
  readonly data: readonly Uint8Array[];
}

/**
 * RequestVote (§5.2), or its pre-vote probe (thesis §9.6), which carries the term the sender
 * would campaign in without the sender having moved to it.
 */
export interface MsgVote extends Envelope {
  readonly type: 'MsgVote' | 'MsgPreVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /**
   * The leader asked for this election (thesis §3.10, MsgTimeoutNow): voters grant it even
   * within a leader's lease (etcd's campaignTransfer context).
   */
  readonly transfer?: boolean;
}

export interface MsgVoteResp extends Envelope {
  readonly type: 'MsgVoteResp' | 'MsgPreVoteResp';
  readonly reject: boolean;
}

/** AppendEntries (§5.3): `entries` follow (prevLogIndex, prevLogTerm) in the leader's log. */
export interface MsgApp extends Envelope {
  readonly type: 'MsgApp';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  /** The leader's commit index. */
  readonly commit: number;
}

/**
 * The answer to a MsgApp. Accepted: `index` is the last index now known to match the
 * leader's log. Rejected: `index` is the rejected prevLogIndex, and (hintIndex, hintTerm) is
 * the follower's guess at the last place the logs can match: the largest index <= index whose
 * term is <= the MsgApp's prevLogTerm, and that term (etcd's form of the thesis's fast
 * backtracking, §5.3 and etcd's handleAppendEntries). It lets the leader skip a whole term
 * of a divergent log per round trip.
 */
export interface MsgAppResp extends Envelope {
  readonly type: 'MsgAppResp';
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/**
 * A leader's heartbeat (§5.2). `commit` is min(the follower's match, the leader's commit):
 * a follower must never learn a commit index past what it is known to hold (etcd's rule).
 */
export interface MsgHeartbeat extends Envelope {
  readonly type: 'MsgHeartbeat';
  readonly commit: number;
  /**
   * The leader's latest ReadIndex round when it sent this (0: none); the answer echoes it,
   * confirming the leader still led after every read registered up to that round.
   */
  readonly readRound: number;
}

export interface MsgHeartbeatResp extends Envelope {
  readonly type: 'MsgHeartbeatResp';
  readonly readRound: number;
}

/**
 * A linearizable read (thesis §6.4): local on the node a client asked, or forwarded by a
 * follower to its leader. `ctx` identifies the request to the client's driver.
 */
export interface MsgReadIndex extends Envelope {
  readonly type: 'MsgReadIndex';
  readonly ctx: Uint8Array;
}

/** The leader's answer to a forwarded read: the read may be served once `index` is applied. */
export interface MsgReadIndexResp extends Envelope {
  readonly type: 'MsgReadIndexResp';
  readonly index: number;
  readonly ctx: Uint8Array;
}

/**
 * A read the driver may serve once its state machine has applied `index`: the state then
 * reflects every write committed before the read was requested (thesis §6.4).
 */
export interface ReadState {
  readonly index: number;
  readonly ctx: Uint8Array;
}

/**
 * InstallSnapshot (§7): the leader no longer has the entries the follower needs, so it sends
 * its snapshot. The follower answers with a MsgAppResp (etcd's form): `index` is its last
 * index after installing it, or its commit index when the snapshot told it nothing new.
 */
export interface MsgSnap extends Envelope {
  readonly type: 'MsgSnap';
  readonly snapshot: Snapshot;
}

/** Local: the leader hands leadership to `transferee` (thesis §3.10). */
export interface MsgTransferLeader extends Envelope {
  readonly type: 'MsgTransferLeader';
  readonly transferee: NodeId;
}

/**
 * The leader tells `to`, whose log it knows matches its own, to start an election now,
 * without a pre-vote (thesis §3.10).
 */
export interface MsgTimeoutNow extends Envelope {
  readonly type: 'MsgTimeoutNow';
}

export type Message =
  | MsgHup
  | MsgProp
  | MsgVote
  | MsgVoteResp
  | MsgApp
  | MsgAppResp
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgSnap
  | MsgTransferLeader
  | MsgTimeoutNow
  | MsgReadIndex
  | MsgReadIndexResp;

export type MessageType = Message['type'];

/**
 * What a node asks its driver to do, in this order (etcd's contract for synchronous storage):
 *
 * 1. Persist `snapshot` when present (it replaces the whole stored log: §7), then `entries`
 *    (appending, and overwriting any stored entries at the same or later indexes; they follow
 *    the snapshot's index), then `hardState` when present, durably: before step 2, because a
 *    message may promise what they hold (a vote granted, entries or a snapshot acknowledged,
 *    a commit index).
 * 2. Send `messages`, only after step 1.
 * 3. Restore the state machine from `snapshot` when present, then apply `committedEntries`,
 *    in order: they follow the snapshot's index. They may include entries from this Ready's
 *    `entries`, which step 1 made durable. An entry of type 'conf-change' is not a command:
 *    the state machine applies it as a no-op (its index still counts as applied). The node
 *    itself switches to the new membership when `advance` reports the entry applied (see
 *    RaftNode's "Membership changes"); the driver only learns of it, from the entry
 *    (decodeConfChange) or from `voters()` after advance, to connect to a new member or
 *    retire a removed one.
 * 4. Serve each of `readStates` once the state machine has applied its index (it may need
 *    later Readies' committedEntries first).
 * 5. Call `advance(ready)` with this same Ready. A snapshot the driver takes afterwards, at
 *    the applied index, carries `voters()` as its `voters`.
 *
 * `ready()` hands out one Ready at a time: call `advance` before asking for the next one.
 * The node may be stepped and ticked between `ready()` and `advance()`; what that produces
 * comes in the next Ready.
 */
export interface Ready {
  /** Changed since the last Ready; not to be persisted. Null when unchanged. */
  readonly softState: SoftState | null;
  /** To persist before sending; null when unchanged since the last Ready. */
  readonly hardState: HardState | null;
  /**
   * A snapshot from the leader, to persist first and to restore the state machine from before
   * applying `committedEntries`; null when there is none.
   */
  readonly snapshot: Snapshot | null;
  /** To append to stable storage before sending (first entry's index may overwrite a suffix). */
  readonly entries: readonly Entry[];
  /** To apply in order, after `entries` and `hardState` are durable. */
  readonly committedEntries: readonly Entry[];
  /** To send after `entries` and `hardState` are durable. */
  readonly messages: readonly Message[];
  /** Reads confirmed by the leader (readIndex), to serve once their index is applied. */
  readonly readStates: readonly ReadState[];
}
