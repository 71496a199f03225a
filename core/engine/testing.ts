/** Helpers shared by the engine's tests (not part of the engine's API). */
import type { PolicyName } from '../config.ts';
import { Store } from './store.ts';
import type { RemovalReason, StoredValue } from './types.ts';

/** An uncompressed value of `length` bytes (filled with `fill`, to tell values apart). */
export function value(length: number, fill = 0): StoredValue {
  return {
    bytes: new Uint8Array(length).fill(fill),
    contentType: 'application/octet-stream',
    compressed: false,
    rawBytes: length,
  };
}

/** A gzip-compressed value: `stored` bytes kept for `raw` bytes sent. */
export function compressedValue(stored: number, raw: number): StoredValue {
  return {
    bytes: new Uint8Array(stored),
    contentType: 'text/plain',
    compressed: true,
    rawBytes: raw,
  };
}

export type Removal = readonly [key: string, reason: RemovalReason, entryBytes: number];

/** A store whose removals are recorded in `removed`, in order. */
export function recordingStore(options: {
  maxMemoryBytes: number;
  maxKeyBytes?: number;
  maxValueBytes?: number;
  policy?: PolicyName;
}): { store: Store; removed: Removal[] } {
  const removed: Removal[] = [];
  const store = new Store({
    maxKeyBytes: 1024,
    maxValueBytes: 1 << 20,
    policy: 'lru',
    ...options,
    onRemove: (key, reason, entryBytes) => removed.push([key, reason, entryBytes]),
  });
  return { store, removed };
}
