/**
 * Pure pieces of the replication benchmark (bench/replication.ts): percentiles of a few
 * samples, durations as text, and the check that no acknowledged write was lost.
 */

/** Nearest-rank percentile (p in 0-100) of `values`; null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** A duration in ms as a person reads it: `850 ms`, `2.4 s`; `-` for none. */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
  return `${ms >= 100 ? Math.round(ms) : ms.toFixed(1)} ms`;
}

/**
 * One key's writes as the client saw them. While a key has a write in flight it gets no other,
 * so its writes are ordered: `acked` is the value of the last acknowledged one; `unknown` the
 * value of a write that failed afterwards (it may or may not have been applied: a timeout, a
 * 503 after the leader died). A key whose write failed gets no further writes.
 */
export interface KeyRecord {
  readonly acked: string | null;
  readonly unknown: string | null;
}

/**
 * Acknowledged writes lost: keys whose acknowledged value is not what a linearizable read gives
 * now (missing, or an older value). The failed write after it may have been applied instead.
 */
export function lostWrites(
  records: ReadonlyMap<string, KeyRecord>,
  readBack: ReadonlyMap<string, string | null>,
): { checked: number; lost: string[] } {
  const lost: string[] = [];
  let checked = 0;
  for (const [key, { acked, unknown }] of records) {
    if (acked === null) continue;
    checked++;
    const now = readBack.get(key) ?? null;
    if (now !== acked && (unknown === null || now !== unknown)) lost.push(key);
  }
  return { checked, lost };
}
