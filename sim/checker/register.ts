/**
 * The safety checker of a cache run: every key must behave as an atomic register whose
 * writes are the SETs and DELETEs clients were told succeeded, in real (virtual) time order,
 * except that a read may always miss (a cache may evict). As TigerBeetle's state checker
 * compares what clients were told against what the cluster holds, this compares what each
 * read returned against the acknowledged writes before it.
 *
 * Every SET writes a value of its own: a fresh version number, carried in the value's first
 * bytes, so a read's answer names exactly the SET that stored it. A read that returned
 * version v was wrong when some write or delete W was acknowledged before the read was issued
 * and W itself was issued after v's SET had been acknowledged: v was overwritten (or deleted)
 * before the read began, so the read saw the past. Concurrent operations are never judged
 * (a SET not yet acknowledged counts as acknowledged at infinity), so a correct run can
 * never fail the check; a move that lets an old copy win over a newer write, or brings a
 * deleted key back, does.
 *
 * Cost: per key, the latest issue time of an acknowledged SET and DELETE; per version, when
 * it was acknowledged and for which key (two typed arrays that grow).
 */
import type { StoredValue } from '../../core/engine/index.ts';
import type { History, ReadFence } from '../workload/cache-aside.ts';

/** Bytes of a value that carry its version (a whole number below 2^48). */
export const VERSION_BYTES = 6;

/** A value of `valueBytes` (>= VERSION_BYTES) carrying `version` in its first bytes. */
export function versionedValue(version: number, valueBytes: number): StoredValue {
  const bytes = new Uint8Array(valueBytes);
  let v = version;
  for (let i = 0; i < VERSION_BYTES; i++) {
    bytes[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return {
    bytes,
    contentType: 'application/octet-stream',
    compressed: false,
    rawBytes: valueBytes,
  };
}

/** The version a value carries (0 for a value too short to carry one). */
export function versionOf(value: StoredValue): number {
  const bytes = value.bytes;
  if (bytes.length < VERSION_BYTES) return 0;
  let v = 0;
  for (let i = VERSION_BYTES - 1; i >= 0; i--) v = v * 256 + bytes[i]!;
  return v;
}

/**
 * How a read was wrong: `stale` (a later write was acknowledged before it began), `resurrected`
 * (a later delete was), `foreign` (the value was written for another key, or never written).
 */
export type ViolationKind = 'stale' | 'resurrected' | 'foreign';

export interface Violation {
  readonly kind: ViolationKind;
  readonly keyId: number;
  /** When the read was issued and when it returned. */
  readonly issuedUs: number;
  readonly returnedUs: number;
  /** The version returned, and when its SET was acknowledged. */
  readonly version: number;
  readonly versionAcknowledgedUs: number;
  /** Issue time of the later write or delete that the read should have seen. */
  readonly overwrittenAtUs: number;
}

export interface CheckSummary {
  readonly writesAcknowledged: number;
  readonly deletesAcknowledged: number;
  /** Reads that returned a value (misses are never wrong). */
  readonly readsChecked: number;
  readonly violations: number;
  readonly stale: number;
  readonly resurrected: number;
  readonly foreign: number;
  /** The first few violations, in the order found. */
  readonly examples: readonly Violation[];
}

/** Violations kept in full; the rest are counted. */
const EXAMPLES = 5;
const NONE = -1;

export class RegisterChecker implements History {
  private nextVersion = 1;
  /** By version: when its SET was acknowledged (Infinity until then). */
  private acknowledgedUs = new Float64Array(1024).fill(Infinity);
  /** By version: the key it was written for. */
  private keyOf = new Int32Array(1024).fill(NONE);
  /** By key: the latest issue time of an acknowledged SET / DELETE, or NONE. */
  private readonly setFenceUs: Float64Array;
  private readonly deleteFenceUs: Float64Array;
  private writes = 0;
  private deletes = 0;
  private reads = 0;
  private readonly counts: Record<ViolationKind, number> = { stale: 0, resurrected: 0, foreign: 0 };
  private readonly examples: Violation[] = [];

  constructor(
    keys: number,
    private readonly valueBytes: number,
  ) {
    if (!(Number.isInteger(valueBytes) && valueBytes >= VERSION_BYTES)) {
      throw new RangeError(
        `A checked value needs at least ${VERSION_BYTES} bytes for its version.`,
      );
    }
    this.setFenceUs = new Float64Array(keys).fill(NONE);
    this.deleteFenceUs = new Float64Array(keys).fill(NONE);
  }

  /** A value written before the run's clients start (a prefilled cache), acknowledged at `nowUs`. */
  prefilled(keyId: number, nowUs: number): StoredValue {
    const value = this.valueToWrite(keyId, nowUs);
    this.acknowledgedUs[versionOf(value)] = nowUs;
    if (nowUs > this.setFenceUs[keyId]!) this.setFenceUs[keyId] = nowUs;
    return value;
  }

  valueToWrite(keyId: number, _nowUs: number): StoredValue {
    const version = this.nextVersion++;
    if (version >= this.keyOf.length) this.grow();
    this.keyOf[version] = keyId;
    return versionedValue(version, this.valueBytes);
  }

  setAcknowledged(keyId: number, value: StoredValue, sentUs: number, nowUs: number): void {
    this.writes++;
    const version = versionOf(value);
    if (nowUs < this.acknowledgedUs[version]!) this.acknowledgedUs[version] = nowUs;
    if (sentUs > this.setFenceUs[keyId]!) this.setFenceUs[keyId] = sentUs;
  }

  deleteAcknowledged(keyId: number, issuedUs: number, _nowUs: number): void {
    this.deletes++;
    if (issuedUs > this.deleteFenceUs[keyId]!) this.deleteFenceUs[keyId] = issuedUs;
  }

  readIssued(keyId: number, nowUs: number): ReadFence {
    return {
      issuedUs: nowUs,
      setUs: this.setFenceUs[keyId]!,
      deleteUs: this.deleteFenceUs[keyId]!,
    };
  }

  readReturned(keyId: number, fence: ReadFence, value: StoredValue, nowUs: number): void {
    this.reads++;
    const version = versionOf(value);
    const known = version > 0 && version < this.nextVersion && this.keyOf[version] === keyId;
    const acknowledgedUs = known ? this.acknowledgedUs[version]! : NONE;
    // Deletes first: a deleted key coming back is the worse news.
    let kind: ViolationKind | null = null;
    let overwrittenAtUs = NONE;
    if (!known) kind = 'foreign';
    else if (acknowledgedUs < fence.deleteUs) {
      kind = 'resurrected';
      overwrittenAtUs = fence.deleteUs;
    } else if (acknowledgedUs < fence.setUs) {
      kind = 'stale';
      overwrittenAtUs = fence.setUs;
    }
    if (kind === null) return;
    this.counts[kind]++;
    if (this.examples.length < EXAMPLES) {
      this.examples.push({
        kind,
        keyId,
        issuedUs: fence.issuedUs,
        returnedUs: nowUs,
        version,
        versionAcknowledgedUs: acknowledgedUs,
        overwrittenAtUs,
      });
    }
  }

  summary(): CheckSummary {
    const { stale, resurrected, foreign } = this.counts;
    return {
      writesAcknowledged: this.writes,
      deletesAcknowledged: this.deletes,
      readsChecked: this.reads,
      violations: stale + resurrected + foreign,
      stale,
      resurrected,
      foreign,
      examples: [...this.examples],
    };
  }

  private grow(): void {
    const acknowledged = new Float64Array(this.acknowledgedUs.length * 2).fill(Infinity);
    acknowledged.set(this.acknowledgedUs);
    this.acknowledgedUs = acknowledged;
    const keyOf = new Int32Array(this.keyOf.length * 2).fill(NONE);
    keyOf.set(this.keyOf);
    this.keyOf = keyOf;
  }
}
