/**
 * The engine's public shapes. `Store` (store.ts) implements them; server/node, the simulator
 * and the benchmarks program against these.
 */
import type { PolicyName } from '../config.ts';

/** Why an entry left the store; one small union feeds the metrics (cf. lru-cache's DisposeReason). */
export type RemovalReason = 'evict' | 'expire' | 'delete' | 'replace';

/** A value as the store keeps it: bytes plus what is needed to serve them back exactly. */
export interface StoredValue {
  /** The stored bytes (gzip bytes when `compressed`). */
  readonly bytes: Uint8Array;
  /** The Content-Type the value was written with, e.g. `application/json`. */
  readonly contentType: string;
  /** True when `bytes` are gzip-compressed (compression happens in server/, not in core). */
  readonly compressed: boolean;
  /** Length of the value before compression, as the client sent it (after any transfer decoding). */
  readonly rawBytes: number;
}

/** What `get` returns: the value and its absolute expiry. The same object for every read. */
export interface Entry extends StoredValue {
  /** Absolute expiry in ms on the caller's clock, or null for none. */
  readonly expiresAt: number | null;
}

export interface StoreOptions {
  readonly maxMemoryBytes: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly policy: PolicyName;
  /** Called once for every entry that leaves, with why; `entryBytes` is its accounted size. */
  readonly onRemove?: (key: string, reason: RemovalReason, entryBytes: number) => void;
}

export interface SetOutcome {
  /** True when the key was absent (HTTP 201), false when an entry was replaced (200). */
  readonly created: boolean;
  /** The accounted size of the new entry (key + stored bytes + ENTRY_OVERHEAD_BYTES). */
  readonly entryBytes: number;
}

export interface StoreStats {
  readonly entries: number;
  readonly memoryBytes: number;
  readonly maxMemoryBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  /** The same evictions, by the policy that chose them. */
  readonly evictionsByPolicy: Readonly<Record<PolicyName, number>>;
  readonly expirations: number;
  readonly compressedEntries: number;
  /** Sum over compressed entries of rawBytes - stored bytes. */
  readonly compressionSavedBytes: number;
  readonly policy: PolicyName;
}
