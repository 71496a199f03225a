/**
 * The replicated cache: the meaning of a shard's Raft log entries (commands), and the state
 * machine every replica runs over them.
 */
export { COMMAND_VERSION, decodeCommand, encodeCommand, MAX_CLIENT_BYTES } from './command.ts';
export { MAX_SESSIONS, ReplicatedCache, SESSION_TTL_MS } from './machine.ts';
export { SNAPSHOT_VERSION } from './snapshot.ts';
export type {
  Applied,
  Command,
  DeleteCommand,
  Outcome,
  ReplicatedCacheOptions,
  SetCommand,
} from './types.ts';
