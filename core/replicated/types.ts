/**
 * The replicated cache: what a Raft log entry of a shard carries, and what applying it gives
 * back. Raft treats an entry's data as opaque bytes (core/raft); this module gives them their
 * meaning, the same on every replica, in a node process and in the simulator.
 *
 * Rules every replica follows (DESIGN.md, "TTL under replication"):
 * - A command is applied with the time the leader stamped on it (`at`), never the replica's
 *   own clock, so every replica that applies the same log ends in the same state, apart from
 *   evictions (below).
 * - A set's expiry is absolute (`expiresAt`, the leader's clock when it proposed plus the TTL),
 *   chosen once by the leader and carried in the entry; replicas agree on it.
 * - Client sessions (Raft paper §8, thesis §6.3): each write carries (client, seq). A replica
 *   applies a given (client, seq) once; a retry of the latest one gets the first answer again.
 * - Evictions are local: each replica evicts on its own when its memory bound is reached. A
 *   read may therefore miss where another replica would hit, but it never returns a value
 *   older than the latest write applied for that key, because eviction only removes. The
 *   checker holds the system to exactly this (`absentAllowed` in sim/checker).
 */
import type { StoreOptions } from '../engine/index.ts';
import type { ErrorCode } from '../errors.ts';

/** A write, as proposed to Raft by the leader. */
export type Command = SetCommand | DeleteCommand;

interface CommandBase {
  /** The client's session id (any string up to 256 UTF-8 bytes). */
  readonly client: string;
  /** The client's request number: 1, 2, 3, … one per request, the same on every retry. */
  readonly seq: number;
  readonly key: string;
  /** The leader's clock (ms) when it proposed the command: the replicas' `now` for it. */
  readonly at: number;
}

export interface SetCommand extends CommandBase {
  readonly kind: 'set';
  /** The stored bytes (gzip bytes when `compressed`). */
  readonly bytes: Uint8Array;
  readonly contentType: string;
  readonly compressed: boolean;
  /** Length before compression. */
  readonly rawBytes: number;
  /** Absolute expiry on the leader's clock (ms), or null for none. */
  readonly expiresAt: number | null;
}

export interface DeleteCommand extends CommandBase {
  readonly kind: 'delete';
}

/** What applying a command told its client; the same answer for every retry of it. */
export type Outcome =
  | { readonly ok: true; readonly kind: 'set'; readonly created: boolean }
  | { readonly ok: true; readonly kind: 'delete'; readonly existed: boolean }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/** One applied log entry, as the driver hands it back to whoever proposed it. */
export interface Applied {
  readonly index: number;
  readonly client: string;
  readonly seq: number;
  readonly outcome: Outcome;
  /**
   * True when this (client, seq) had been applied before: the answer is the first one, and
   * the state did not change again.
   */
  readonly duplicate: boolean;
}

/**
 * What a ReplicatedCache is built with: the options of the Store it owns, and optionally its
 * session table's bounds (tests use small ones). Every replica of a shard must use the same
 * session bounds, or their answers to retries can differ.
 */
export interface ReplicatedCacheOptions extends StoreOptions {
  /** Sessions kept at most; the least recently written (in log order) leave first. */
  readonly maxSessions?: number;
  /** A session leaves once its last write is this much older than the newest `at`, ms. */
  readonly sessionTtlMs?: number;
}
