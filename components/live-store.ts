'use client';
/**
 * The dashboard's live state: the cluster's nodes, its map and moves, and the last ten minutes
 * of samples, fed by the one `metrics.live` stream. Every chart and card reads this store;
 * nothing else polls.
 */
import { create } from 'zustand';
import type { ClusterState } from '../server/control/cluster.ts';
import type { LiveSample } from '../server/control/monitor.ts';
import type { DatabaseStatus, LiveEvent } from '../server/control/playground.ts';
import type { NodeInfo } from '../server/control/supervisor.ts';
import { errorMessage, trpc } from './trpc.ts';

export const HISTORY_SECONDS = 600;

export type Connection = 'connecting' | 'live' | 'lost';

export interface LiveState {
  readonly connection: Connection;
  readonly connectionError: string | null;
  /** Every node the control plane has started, in start order. */
  readonly nodes: readonly NodeInfo[];
  /** Oldest first; at most HISTORY_SECONDS. */
  readonly samples: readonly LiveSample[];
  /** The embedded PostgreSQL (Level 3); null until the stream says. */
  readonly database: DatabaseStatus | null;
  /** The cluster (Level 5): its map, shards and the move in progress; null until the stream says. */
  readonly cluster: ClusterState | null;
  /** Puts a node the control plane just answered with in place (so buttons react at once). */
  readonly upsertNode: (node: NodeInfo) => void;
}

/**
 * Nodes retired for good (a removed shard's). The supervisor still reports such a node once it
 * has stopped, after it has left the list; ids are never reused, so any later word of it is
 * ignored rather than bringing its card back as down.
 */
const retired = new Set<string>();

export const useLive = create<LiveState>()((set) => ({
  connection: 'connecting',
  connectionError: null,
  nodes: [],
  samples: [],
  database: null,
  cluster: null,
  upsertNode: (node) =>
    set((state) => (retired.has(node.id) ? {} : { nodes: upsert(state.nodes, node) })),
}));

function upsert(nodes: readonly NodeInfo[], node: NodeInfo): NodeInfo[] {
  const i = nodes.findIndex((n) => n.id === node.id);
  if (i < 0) return [...nodes, node];
  const next = [...nodes];
  next[i] = node;
  return next;
}

function apply(event: LiveEvent): void {
  const set = useLive.setState;
  switch (event.kind) {
    case 'history':
      set({
        nodes: event.nodes,
        samples: event.samples.slice(-HISTORY_SECONDS),
        database: event.database,
        cluster: event.cluster,
      });
      break;
    case 'sample':
      set((state) => ({
        samples:
          state.samples.length >= HISTORY_SECONDS
            ? [...state.samples.slice(1 - HISTORY_SECONDS), event.sample]
            : [...state.samples, event.sample],
        nodes: state.nodes.map((node) => {
          const sampled = event.sample.nodes.find((n) => n.id === node.id);
          return sampled === undefined || sampled.status === node.status
            ? node
            : { ...node, status: sampled.status };
        }),
      }));
      break;
    case 'node':
      if (retired.has(event.node.id)) break;
      set((state) =>
        // A node first heard of as down was retired before this page's history began.
        event.node.status === 'down' && !state.nodes.some((n) => n.id === event.node.id)
          ? {}
          : { nodes: upsert(state.nodes, event.node) },
      );
      break;
    case 'node-removed':
      retired.add(event.id);
      set((state) => ({ nodes: state.nodes.filter((node) => node.id !== event.id) }));
      break;
    case 'database':
      set({ database: event.database });
      break;
    case 'cluster':
      set((state) => ({ cluster: shareUnchanged(state.cluster, event.cluster) }));
      break;
  }
}

/**
 * A move sends the cluster four times a second with only its progress changed: the map and the
 * last move keep their previous objects while they are the same, so what is drawn from them
 * (the ring, cached per map object by ringOf) is not worked out again.
 */
function shareUnchanged(previous: ClusterState | null, next: ClusterState): ClusterState {
  if (previous === null) return next;
  const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);
  return {
    ...next,
    map: same(previous.map, next.map) ? previous.map : next.map,
    shards: same(previous.shards, next.shards) ? previous.shards : next.shards,
    lastMove: same(previous.lastMove, next.lastMove) ? previous.lastMove : next.lastMove,
  };
}

let started = false;

/** Opens the stream once per page; it reconnects by itself and starts again with history. */
export function connectLive(): void {
  if (started || typeof window === 'undefined') return;
  started = true;
  trpc.metrics.live.subscribe(undefined, {
    onStarted: () => useLive.setState({ connection: 'live', connectionError: null }),
    onData: (event) => {
      if (useLive.getState().connection !== 'live') {
        useLive.setState({ connection: 'live', connectionError: null });
      }
      apply(event);
    },
    onError: (error) =>
      useLive.setState({ connection: 'lost', connectionError: errorMessage(error) }),
    onConnectionStateChange: (state) => {
      if (state.state === 'connecting' && state.error !== null) {
        useLive.setState({ connection: 'lost', connectionError: errorMessage(state.error) });
      }
    },
  });
}

/** The latest sample, or null before the first. */
export function latest(samples: readonly LiveSample[]): LiveSample | null {
  return samples.at(-1) ?? null;
}
