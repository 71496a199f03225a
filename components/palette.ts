/**
 * Colours with one meaning each, shared by the charts and the dashboard: a node keeps its colour
 * everywhere (its card, its series), a status is always the same colour.
 */
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
