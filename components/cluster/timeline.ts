/**
 * The election timeline's geometry (Level 6), as pure functions: a lane per shard, a span per
 * leader (its term) over the window shown, gaps where the shard had no leader, and a marker
 * where each leader was lost. Times are ms since the epoch; positions are 0-1 of the window.
 */
import type { Failover, Leadership } from '../../server/control/cluster.ts';

export interface TimelineSpan {
  readonly leader: string;
  readonly term: number;
  /** 0-1 of the window. */
  readonly start: number;
  readonly end: number;
  /** Leads now (the span runs to the window's end). */
  readonly open: boolean;
}

export interface TimelineMark {
  /** 0-1 of the window. */
  readonly at: number;
  /** The leader lost there, and how. */
  readonly node: string;
  readonly cause: Failover['cause'];
  /** Failover time in ms (null: not known). */
  readonly ms: number | null;
}

export interface TimelineLane {
  readonly shard: string;
  readonly spans: readonly TimelineSpan[];
  readonly marks: readonly TimelineMark[];
}

/**
 * The lanes of `shards` over the window [now - windowMs, now]: spans clipped to it (ones that
 * ended before it are left out), and a mark at each failover's lostAt inside it.
 */
export function timelineLanes(
  shards: readonly string[],
  leaderships: readonly Leadership[],
  failovers: readonly Failover[],
  now: number,
  windowMs: number,
): TimelineLane[] {
  const from = now - windowMs;
  const at = (t: number) => Math.min(1, Math.max(0, (t - from) / windowMs));
  return shards.map((shard) => ({
    shard,
    spans: leaderships
      .filter((l) => l.shard === shard && (l.until ?? now) >= from && l.since <= now)
      .map((l) => ({
        leader: l.leader,
        term: l.term,
        start: at(l.since),
        end: at(l.until ?? now),
        open: l.until === null,
      })),
    marks: failovers
      .filter((f) => f.shard === shard && f.lostAt !== null && f.lostAt >= from && f.lostAt <= now)
      .map((f) => ({ at: at(f.lostAt!), node: f.oldLeader, cause: f.cause, ms: f.ms })),
  }));
}

/**
 * How much of the past the timeline shows: since the first leader it knows of (plus a tenth,
 * so the first span does not start at the very edge), at least `minMs` and at most `maxMs`.
 */
export function timelineWindowMs(
  leaderships: readonly Leadership[],
  now: number,
  minMs = 20_000,
  maxMs = 120_000,
): number {
  if (leaderships.length === 0) return minMs;
  const first = Math.min(...leaderships.map((l) => l.since));
  return Math.min(maxMs, Math.max(minMs, Math.ceil(((now - first) * 11) / 10)));
}

/** `412 ms`, `1.30 s`, or `—` when not known. */
export function formatFailoverMs(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** The failovers newest first, for the table. */
export function latestFirst(failovers: readonly Failover[]): Failover[] {
  return [...failovers].sort((a, b) => b.electedAt - a.electedAt);
}

/**
 * The load generator's count of acknowledged writes lost, when its status carries one (the
 * load's verification, Level 6); null while no load runs or before the field exists.
 */
export function lostWritesOf(load: object | null): number | null {
  if (load === null || !('lostWrites' in load)) return null;
  const value = (load as { readonly lostWrites: unknown }).lostWrites;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The load's retries, verified and missing counts, when its status carries them. */
export function loadVerification(
  load: object | null,
): { retries: number | null; verified: number | null; missing: number | null } | null {
  if (load === null) return null;
  const field = (name: 'retries' | 'verified' | 'missing'): number | null => {
    if (!(name in load)) return null;
    const value = (load as Readonly<Record<string, unknown>>)[name];
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const counts = {
    retries: field('retries'),
    verified: field('verified'),
    missing: field('missing'),
  };
  return Object.values(counts).every((v) => v === null) ? null : counts;
}
