/**
 * A simulated replicated shard: the options of a run and the report it gives. The run itself
 * (run.ts) drives the real core/raft and core/replicated through the simulated network, with
 * faults drawn from one seed; `tinycache sim raft`, the sweep, the benchmark and the /sim page
 * all read this report, and nothing else.
 *
 * Times in the report are virtual milliseconds since the run began.
 */
import type { Violation } from '../../core/raft/index.ts';

export interface RaftFaults {
  /** Crash a replica now and then (losing all but what it persisted), and restart it later. */
  readonly crashes: boolean;
  /** Partitions that come and go (a minority or the leader cut off, one-way cuts). */
  readonly partitions: boolean;
  /** Chance each message is lost, 0..1. */
  readonly loss: number;
  /** Chance a delivered message arrives twice, 0..1. */
  readonly duplication: number;
  /** Messages on a link may overtake each other. */
  readonly reordering: boolean;
  /** Each replica's clock runs fast or slow by up to this many parts per million. */
  readonly clockDriftPpm: number;
}

export interface RaftSimOptions {
  readonly seed: number;
  /** Replicas in the shard: 3 or 5 (any odd number from 1 to 9 works). */
  readonly replicas: number;
  /** Clients, each with one request outstanding at a time, retrying through leader changes. */
  readonly clients: number;
  /** Distinct keys the clients touch (few keys: many operations per key for the checker). */
  readonly keys: number;
  /** Virtual time with faults, ms. */
  readonly faultMs: number;
  /**
   * After the faults stop (network healed, every replica restarted), the bound within which a
   * leader must be elected and every client's pending request must complete, ms (liveness).
   */
  readonly livenessMs: number;
  readonly faults: RaftFaults;
  /** One Raft tick, ms of the replica's own clock. */
  readonly tickMs: number;
  /** Compact a replica's log once this many applied entries follow its snapshot. */
  readonly snapshotEvery: number;
  /** Each replica's memory bound; small enough that replicas evict on their own. */
  readonly maxMemoryBytes: number;
  /** Keep the timeline for drawing (the /sim page); the CLI and the sweep leave it off. */
  readonly record: boolean;
}

/** A span of one replica in one role (a crashed replica has role 'down'). */
export interface RoleSpan {
  readonly node: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly role: 'follower' | 'pre-candidate' | 'candidate' | 'leader' | 'down';
  readonly term: number;
}

/** One fault, as it happened. */
export interface FaultEvent {
  readonly atMs: number;
  readonly kind: 'crash' | 'restart' | 'partition' | 'heal' | 'transfer';
  /** In words, e.g. "n2 crashed (leader of term 4)" or "{n1} | {n2, n3}". */
  readonly detail: string;
}

/** One client request as the client saw it (the checker's input). */
export interface ClientOperation {
  readonly client: string;
  readonly key: string;
  readonly kind: 'get' | 'set' | 'delete';
  readonly invokedMs: number;
  /** Null: no answer before the run ended (the write may or may not have happened). */
  readonly returnedMs: number | null;
  /** get: the value or null; set/delete: 'ok' or 'error'. */
  readonly result: string | null;
  /** set: the value written. */
  readonly value?: string;
  /** How many times the client sent it (1 + retries). */
  readonly attempts: number;
}

export interface RaftSimReport {
  readonly options: RaftSimOptions;
  /** Virtual time the run took, ms. */
  readonly virtualMs: number;
  /** Scheduler events processed. */
  readonly events: number;
  readonly raft: {
    /** Highest term reached. */
    readonly terms: number;
    /** Distinct (term, leader) pairs. */
    readonly leaders: number;
    readonly snapshotsSent: number;
    readonly committedEntries: number;
  };
  /**
   * Membership changes (present when the run made any, or asked for random ones): how many the
   * leader accepted, and the voters as the last leader applied them.
   */
  readonly membership?: { readonly changes: number; readonly voters: readonly string[] };
  readonly faults: {
    readonly crashes: number;
    readonly partitions: number;
    readonly transfers: number;
  };
  readonly messages: {
    readonly sent: number;
    readonly delivered: number;
    readonly lost: number;
    readonly duplicated: number;
  };
  readonly clients: {
    readonly operations: number;
    readonly acknowledged: number;
    /** Requests that ended in an error or got no answer. */
    readonly unanswered: number;
    readonly retries: number;
    /** Retried writes the sessions answered without applying them again. */
    readonly deduplicated: number;
    readonly getHits: number;
    readonly getMisses: number;
  };
  readonly checks: {
    /** Every Raft invariant after every event: what was checked, and what broke. */
    readonly invariantChecks: number;
    readonly violations: readonly Violation[];
    /** Acknowledged writes not in the final committed state (must be 0). */
    readonly lostWrites: number;
    readonly linearizable: 'yes' | 'no' | 'unknown';
    /** When not linearizable: the key and a short explanation. */
    readonly linearizability: string | null;
    readonly liveness: {
      readonly ok: boolean;
      /** After faults stopped: when a leader was elected, and when the last request completed. */
      readonly leaderAfterMs: number | null;
      readonly drainedAfterMs: number | null;
      readonly detail: string;
    };
  };
  /** Safety and liveness both held. */
  readonly ok: boolean;
  /** Hash of every delivery and decision: the same seed gives the same hash. */
  readonly traceHash: string;
  /** Present when `record` was set. */
  readonly timeline: {
    readonly nodes: readonly string[];
    readonly roles: readonly RoleSpan[];
    readonly faults: readonly FaultEvent[];
    /** Messages delivered, by sender, receiver and type. */
    readonly traffic: readonly {
      readonly from: string;
      readonly to: string;
      readonly type: string;
      readonly count: number;
    }[];
    /** Messages delivered per 100 ms bucket, for a chart. */
    readonly messagesPerBucket: readonly number[];
    readonly history: readonly ClientOperation[];
  } | null;
}
