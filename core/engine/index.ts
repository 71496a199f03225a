/** The engine's public face: the store, its accounting constants and its shapes. */
export { ENTRY_OVERHEAD_BYTES, keyRefusal, Store } from './store.ts';
export { utf8ByteLength } from './utf8.ts';
export type { EvictionPolicy } from './policy.ts';
export type {
  Entry,
  RemovalReason,
  SetOutcome,
  StoredValue,
  StoreOptions,
  StoreStats,
} from './types.ts';
export type { PolicyName } from '../config.ts';
