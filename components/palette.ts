/**
 * Colours with one meaning each, shared by the charts and the dashboard: a node keeps its colour
 * everywhere (its card, its series), a status is always the same colour.
 */
import { xxh32 } from '../core/ring/hash.ts';
import type { NodeStatus } from '../server/control/supervisor.ts';

/** Node series: blues, teals and violets, so they never read as a status (green/amber/red). */
const NODE_COLORS = [
  '#2563eb',
  '#0891b2',
  '#7c3aed',
  '#0d9488',
  '#4f46e5',
  '#0284c7',
  '#9333ea',
  '#0f766e',
] as const;

/** The colour of node `id` (`n1`, `n2`, …): stable across reloads and restarts. */
export function nodeColor(id: string): string {
  const n = Number(/\d+/.exec(id)?.[0] ?? 0);
  return NODE_COLORS[(Math.max(1, n) - 1) % NODE_COLORS.length]!;
}

/**
 * Shards on the ring: ten hues that stay clear of the status colours (no green, amber or red)
 * and, in this order, put a light or warm one beside a dark or cool one, so neighbouring shards
 * s1, s2, s3 … are told apart in a thin band.
 */
const SHARD_COLORS = [
  '#4f46e5',
  '#22d3ee',
  '#c026d3',
  '#0f766e',
  '#f472b6',
  '#1e3a8a',
  '#a78bfa',
  '#0891b2',
  '#7e22ce',
  '#64748b',
] as const;

/**
 * The colour of shard `id`: `s1`, `s2`, … take the palette in order; any other id a colour by
 * its hash. Stable across reloads and across moves, since it depends on the id alone.
 */
export function shardColor(id: string): string {
  const numbered = /^s(\d+)$/.exec(id);
  const index = numbered ? Math.max(1, Number(numbered[1])) - 1 : xxh32(id);
  return SHARD_COLORS[index % SHARD_COLORS.length]!;
}

export const STATUS_COLORS: Readonly<Record<NodeStatus, string>> = {
  up: '#16a34a',
  paused: '#d97706',
  down: '#dc2626',
  starting: '#2563eb',
};

/** Series colours by meaning. */
export const SERIES = {
  throughput: '#2563eb',
  errors: '#dc2626',
  clientErrors: '#f97316',
  hitRate: '#16a34a',
  p50: '#a78bfa',
  p99: '#6d28d9',
  clientP50: '#fdba74',
  clientP99: '#ea580c',
  memory: '#4f46e5',
  limit: '#64748b',
  saved: '#0d9488',
  evictions: '#ea580c',
  expirations: '#64748b',
  memoryRead: '#16a34a',
  databaseRead: '#0369a1',
} as const;
