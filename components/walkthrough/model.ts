/**
 * A walkthrough as data. Each level is a list of steps; a step explains itself, offers actions
 * that act on the live cluster, and has a check: a pure function of what was really observed
 * (the live samples, the nodes, and the journal of answers the cluster gave to this level's
 * actions and polls). A step is done when its check says so, never because a button was
 * clicked.
 */
import type { ReactNode } from 'react';
import type { NodeConfig } from '../../core/config.ts';
import type { ClusterState } from '../../server/control/cluster.ts';
import type { LiveSample } from '../../server/control/monitor.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import type { LoadSettings, LoadStatus } from '../../server/load/settings.ts';
import type { RestExchange } from '../../server/trpc/router.ts';

export type { RestExchange };

export interface RestRequest {
  readonly nodeId: string;
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'DELETE';
  readonly key: string;
  readonly value?: string;
  readonly contentType?: string;
  readonly ttlSeconds?: number;
  /** Level 6: `stale` lets the replica asked answer from its own copy. */
  readonly consistency?: 'linearizable' | 'stale';
}

interface Seen {
  /** When the answer arrived (ms since the epoch). */
  readonly at: number;
  /** The step (1-based) whose action or poll caused it. */
  readonly step: number;
  /** True when the step's own polling asked, not a person. */
  readonly auto: boolean;
}

/** One REST request to a node and its answer, exactly as sent and received. */
export interface RestSeen extends Seen {
  readonly kind: 'rest';
  /** When the request was sent. */
  readonly sentAt: number;
  readonly request: RestRequest;
  readonly exchange: RestExchange;
}

/** A node's configuration as the node itself reported it (its PATCH or GET answer). */
export interface ConfigSeen extends Seen {
  readonly kind: 'config';
  readonly nodeId: string;
  readonly config: NodeConfig;
  /** The change asked for, when this answered a change. */
  readonly patch: Partial<NodeConfig> | null;
}

export type LoadTag = 'scan-start' | 'scan-end';

/** The load generator's status as the control plane answered a start, update or stop. */
export interface LoadSeen extends Seen {
  readonly kind: 'load';
  readonly status: LoadStatus;
  /**
   * Marks a phase a check looks for and the log names: `scan-start`, `scan-end`. (What the
   * load runs is read from `status.settings`, the control plane's own answer.)
   */
  readonly tag: LoadTag | null;
}

export interface NodeStartedSeen extends Seen {
  readonly kind: 'node-started';
  readonly node: NodeInfo;
}

/** The embedded PostgreSQL, as the control plane answered a start or stop (Level 3). */
export interface DbSeen extends Seen {
  readonly kind: 'db';
  readonly running: boolean;
}

/** A shard added or removed (Level 5), as the control plane answered. */
export interface ShardSeen extends Seen {
  readonly kind: 'shard';
  readonly change: 'added' | 'removed';
  readonly shard: string;
}

/**
 * Level 6: what the control plane answered to an action on a Raft group: a replicated cluster
 * formed, a leader killed (with the term it led), a node paused or resumed, a replica
 * replaced (by `added`).
 */
export interface RaftSeen extends Seen {
  readonly kind: 'raft';
  readonly action: 'formed' | 'killed-leader' | 'killed' | 'paused' | 'resumed' | 'replaced';
  readonly shard: string | null;
  /** The node acted on (the killed leader, the paused node, the replaced replica). */
  readonly node: string | null;
  /** The term the killed leader led in; null when not known. */
  readonly term: number | null;
  /** A replacement: the new replica's id. */
  readonly added: string | null;
}

/** An answer to a question about the live charts, judged against the live samples. */
export interface AnswerSeen extends Seen {
  readonly kind: 'answer';
  readonly correct: boolean;
  readonly explain: string;
}

/** An action that failed: the control plane's or the node's message. */
export interface ErrorSeen extends Seen {
  readonly kind: 'error';
  readonly action: string;
  readonly message: string;
}

export type Observation =
  | RestSeen
  | ConfigSeen
  | LoadSeen
  | NodeStartedSeen
  | DbSeen
  | ShardSeen
  | RaftSeen
  | AnswerSeen
  | ErrorSeen;

/** What a check sees. */
export interface CheckView {
  readonly now: number;
  /** When this page was opened: samples before it were not seen by this reader. */
  readonly openedAt: number;
  /** Oldest first, one a second (the live stream). */
  readonly samples: readonly LiveSample[];
  readonly nodes: readonly NodeInfo[];
  /** The cluster (Level 5) as the live stream says; null before its first word. */
  readonly cluster: ClusterState | null;
  /** What this level's actions and polls observed, oldest first. */
  readonly journal: readonly Observation[];
  /** A short id of this page visit; keys are suffixed with it so two readers never collide. */
  readonly session: string;
}

export interface StepCheck {
  readonly done: boolean;
  /** What has been seen so far, or what to do next; one sentence. */
  readonly detail: string;
  /** Figures worth a line each (measured values). */
  readonly lines?: readonly string[];
}

/** What an action may do. Every answer it gets is recorded in the level's journal. */
export interface ActionContext {
  readonly step: number;
  readonly session: string;
  /** Nodes that are up, in start order; rejects with advice when none is. */
  upNodes(): Promise<NodeInfo[]>;
  /** The `index`-th node that is up (0: the first). */
  node(index?: number): Promise<NodeInfo>;
  rest(request: RestRequest): Promise<RestExchange>;
  /** Applies `patch` to one node, or to every node that is up. */
  setConfig(patch: Partial<NodeConfig>, nodeId?: string): Promise<void>;
  readConfig(nodeId: string): Promise<NodeConfig>;
  /** Starts (or restarts) the load: `settings` over the control plane's defaults. */
  startLoad(settings: Partial<LoadSettings>): Promise<LoadStatus>;
  updateLoad(patch: Partial<LoadSettings>, tag?: LoadTag): Promise<LoadStatus>;
  stopLoad(): Promise<LoadStatus>;
  /** `storage`: the node writes through (or behind) to the embedded PostgreSQL (Level 3). */
  startNode(
    config?: Partial<NodeConfig>,
    storage?: { writeMode: 'through' | 'behind' },
  ): Promise<NodeInfo>;
  /** Restarts a node (recorded as a start: its memory is empty again). */
  restartNode(id: string): Promise<NodeInfo>;
  /** Starts or stops the embedded PostgreSQL. */
  setDatabase(running: boolean): Promise<void>;
  /** Adds a shard (the first makes a cluster of the first node); its keys start moving. */
  addShard(): Promise<string>;
  /** Removes a shard: its keys drain to the others, then its node is retired. */
  removeShard(shard: string): Promise<void>;
  /** Waits until no keys are moving (at most `timeoutMs`). */
  moveOver(timeoutMs?: number): Promise<void>;
  /**
   * Level 6: dissolves the cluster there is (if any), then forms a replicated one; resolves
   * once every shard has a leader.
   */
  formReplicated(shards: number, replicas: number): Promise<ClusterState>;
  /** SIGKILLs the shard's leader; resolves with it and the term it led. */
  killLeader(shard: string): Promise<{ killed: string; term: number }>;
  /** SIGKILLs, SIGSTOPs or SIGCONTs one node. */
  signalNode(id: string, how: 'kill' | 'pause' | 'resume'): Promise<NodeInfo>;
  /** Removes replica `id` from its shard and adds a new one, which catches up. */
  replaceReplica(id: string): Promise<NodeInfo>;
  /** Records an answer to a question, judged by the caller against `view()`. */
  answer(correct: boolean, explain: string): void;
  /** The live state right now. */
  view(): CheckView;
  sleep(ms: number): Promise<void>;
}

export interface Action {
  /** The button's text; says what it does to the cluster. */
  readonly label: string;
  readonly run: (ctx: ActionContext) => Promise<void>;
}

/** Reads real state on a timer while its step is on screen and not yet done. */
export interface Poll {
  readonly everyMs: number;
  /** Polls only while this holds (default: always). */
  readonly when?: (view: CheckView) => boolean;
  readonly run: (ctx: ActionContext) => Promise<void>;
}

export type ChartKind =
  'throughput' | 'hitRate' | 'latency' | 'memory' | 'evictions' | 'readPath' | 'keys';

export interface ChartSpec {
  readonly chart: ChartKind;
  /** One node's series: the index among the nodes that are up (0: the first). */
  readonly node?: number;
  /** What to look for; shown under the chart. */
  readonly caption?: string;
  /** Default 120 s: a step's effect should fill the chart, not a sliver of it. */
  readonly windowSeconds?: number;
}

export interface Step {
  /** Short, imperative; also the step's name in the step list. */
  readonly title: string;
  /** What the step does and why it matters in a real backend. */
  readonly explain: ReactNode;
  /** In the order a reader should press them (a test presses them in this order). */
  readonly actions: readonly Action[];
  readonly check: (view: CheckView) => StepCheck;
  readonly poll?: Poll;
  readonly charts: readonly ChartSpec[];
  /** How to put back what the step changed. */
  readonly undo?: ReactNode;
  /** Extra material under the actions (a link, a snippet). */
  readonly aside?: (view: CheckView) => ReactNode;
}

export interface LevelWalkthrough {
  readonly n: number;
  readonly steps: readonly Step[];
}
