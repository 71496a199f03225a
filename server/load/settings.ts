/**
 * What a live load is set to and what it reports: plain data and defaults, with no Node
 * imports, so the dashboard shares them with the control plane instead of copying them.
 */
import type { LoadDistribution, LoadMode } from './load.ts';

/**
 * How requests find their node in a cluster (Level 5): `any` sends each key to whichever node
 * its connection is on, which forwards it to the owner; `smart` sends each key straight to
 * its owner's node, as a client that reads the cluster map does. Lone nodes take any key.
 */
export const LOAD_ROUTINGS = ['any', 'smart'] as const;
export type LoadRouting = (typeof LOAD_ROUTINGS)[number];

/**
 * Which nodes the load drives: `all` of them, or only the `cluster`'s members (Level 5), so
 * a lone node beside the cluster (a write-through node from Level 3, say) neither takes a
 * share of the load nor counts in its errors. Without a cluster both mean every node.
 */
export const LOAD_SCOPES = ['all', 'cluster'] as const;
export type LoadScope = (typeof LOAD_SCOPES)[number];

/** What a user sets for a live load (API.md §4 `load.start`). */
export interface LoadSettings {
  readonly routing: LoadRouting;
  readonly scope: LoadScope;
  readonly mode: LoadMode;
  /** Closed model: connections in all (spread over the targets). Open model: the most open. */
  readonly connections: number;
  /** Open model: requests per second in all. */
  readonly rate: number;
  readonly readRatio: number;
  readonly keys: number;
  readonly distribution: LoadDistribution;
  readonly zipfS: number;
  readonly valueBytes: number;
  readonly compressible: boolean;
  /** Null: until stopped. */
  readonly durationSeconds: number | null;
}

export const DEFAULT_LOAD_SETTINGS: LoadSettings = {
  routing: 'any',
  scope: 'all',
  mode: 'open',
  connections: 32,
  rate: 1000,
  readRatio: 0.9,
  keys: 10_000,
  distribution: 'zipf',
  zipfS: 0.99,
  valueBytes: 256,
  compressible: false,
  durationSeconds: null,
};

/**
 * The playground's clients give up on a request after 2 s, so a dead or paused node shows as
 * failures within seconds, at the rate the load sends to it.
 */
export const LIVE_TIMEOUT_MS = 2000;

/** A node the load drives. */
export interface LoadTarget {
  readonly id: string;
  readonly url: string;
  /** The cluster shard it serves (Level 5); null or absent for a lone node. */
  readonly shard?: string | null;
}

/** What the load generator saw over the last second, and how it is set. */
export interface LoadStatus {
  readonly running: boolean;
  readonly settings: LoadSettings | null;
  /** Node ids the load drives. */
  readonly targets: readonly string[];
  /** Since the load started. */
  readonly elapsedSeconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Errors in the last second, and the commonest kind of them ("ECONNREFUSED", "503"). */
  readonly errors: number;
  readonly topError: string | null;
  readonly hitRate: number | null;
  readonly totalRequests: number;
  readonly totalErrors: number;
  /**
   * Level 6 (absent where nothing measured them, e.g. the simulator's figures). Requests sent
   * again in the last second, and since the load started: a 503 (an election) or an answer
   * lost with its connection is retried, same session and seq, with backoff, within 5 s; only
   * then is it an error (load.ts LoadOptions.sessions).
   */
  readonly retries?: number;
  readonly totalRetries?: number;
  /**
   * Since the load started, from the verifier that reads acknowledged keys back (about
   * VERIFY_PER_SECOND a second, linearizable, through a node of the key's shard; ledger.ts):
   * `verified` reads checked; `lostWrites` of them returned a value older than an
   * acknowledged write of the key (must stay 0); `missing` found the key absent, which an
   * eviction explains (the cache does not say), so it is counted apart.
   */
  readonly verified?: number;
  readonly lostWrites?: number;
  readonly missing?: number;
}

export const IDLE_STATUS: LoadStatus = {
  running: false,
  settings: null,
  targets: [],
  elapsedSeconds: 0,
  requestsPerSecond: 0,
  p50Ms: null,
  p99Ms: null,
  errors: 0,
  topError: null,
  hitRate: null,
  totalRequests: 0,
  totalErrors: 0,
  retries: 0,
  totalRetries: 0,
  verified: 0,
  lostWrites: 0,
  missing: 0,
};

/** Reads a second the live load's verifier makes of acknowledged keys. */
export const VERIFY_PER_SECOND = 50;
