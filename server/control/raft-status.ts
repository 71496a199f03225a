/**
 * A replicated node's place in its shard's Raft group (Level 6), as the control plane reads
 * it: from `/metrics` (`tinycache_raft_role{role}` and `tinycache_raft_term`, which the
 * monitor scrapes every second anyway) or from `/healthz` (`role`, `term`, `leader`, ...),
 * which `tinycache cluster` and "kill the leader" poll. A node that runs no Raft group says
 * neither; it leads itself (API.md §4).
 */
import { parseSamples } from './prometheus.ts';

/** Raft's roles (core/raft's Role), as nodes name them in metrics and /healthz. */
export const RAFT_ROLES = ['leader', 'follower', 'candidate', 'pre-candidate'] as const;
export type RaftRole = (typeof RAFT_ROLES)[number];

export interface RaftStatus {
  readonly role: RaftRole;
  readonly term: number;
}

/** What `/healthz` says of a replicated node. */
export interface RaftHealth extends RaftStatus {
  /** The leader this node knows of, by node id; null when it knows none. */
  readonly leader: string | null;
  readonly shard: string | null;
  readonly commit: number | null;
  readonly applied: number | null;
}

function isRole(text: unknown): text is RaftRole {
  return typeof text === 'string' && (RAFT_ROLES as readonly string[]).includes(text);
}

/**
 * The role and term in a `/metrics` page: the role whose `tinycache_raft_role` gauge is 1.
 * Null when the page has no Raft metrics (a node without a Raft group) or no role set.
 */
export function raftFromMetrics(text: string): RaftStatus | null {
  let role: RaftRole | null = null;
  let term: number | null = null;
  for (const { name, labels, value } of parseSamples(text)) {
    if (name === 'tinycache_raft_role' && value === 1 && isRole(labels.role)) role = labels.role;
    else if (name === 'tinycache_raft_term' && Number.isFinite(value)) term = value;
  }
  return role === null ? null : { role, term: term ?? 0 };
}

/**
 * The Raft part of a `/healthz` body. Null when the node runs no Raft group: no `term`
 * (a lone or Level 5 node answers `role: "leader"` and nothing more) or an unknown role.
 */
export function raftFromHealth(body: string): RaftHealth | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null) return null;
  const h = json as Record<string, unknown>;
  if (!isRole(h.role) || typeof h.term !== 'number') return null;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const count = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    role: h.role,
    term: h.term,
    leader: text(h.leader),
    shard: text(h.shard),
    commit: count(h.commit),
    applied: count(h.applied),
  };
}
