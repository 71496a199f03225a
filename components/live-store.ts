'use client';
/**
 * The dashboard's live state: the cluster's nodes and the last ten minutes of samples, fed by
 * the one `metrics.live` stream. Every chart and card reads this store; nothing else polls.
 */
import { create } from 'zustand';
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
  /** Puts a node the control plane just answered with in place (so buttons react at once). */
  readonly upsertNode: (node: NodeInfo) => void;
}

export const useLive = create<LiveState>()((set) => ({
  connection: 'connecting',
  connectionError: null,
  nodes: [],
  samples: [],
  database: null,
  upsertNode: (node) => set((state) => ({ nodes: upsert(state.nodes, node) })),
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
      set((state) => ({ nodes: upsert(state.nodes, event.node) }));
      break;
    case 'node-removed':
      set((state) => ({ nodes: state.nodes.filter((node) => node.id !== event.id) }));
      break;
    case 'database':
      set({ database: event.database });
      break;
  }
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
