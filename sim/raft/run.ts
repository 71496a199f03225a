/**
 * A replicated shard in the simulator: N replicas, each the real core/raft `RaftNode` over a
 * `MemoryStorage` (its disk) and the real core/replicated `ReplicatedCache` (its state
 * machine), and closed-loop clients with sessions, all over the simulated packet network
 * (sim/network), with crashes, restarts, partitions, loss, duplication, reordering, clock
 * drift and leadership transfers drawn from one seed. Every Raft invariant is checked after
 * every event that touches a replica; the client history is checked for linearizability per
 * key afterwards; then liveness: once the faults stop, a leader must be elected and every
 * pending request must complete within a bound.
 *
 * The driver follows core/raft's Ready contract (types.ts) exactly, synchronously: persist
 * the snapshot, entries and hard state to the replica's storage, send the messages, restore
 * and apply, serve reads whose index is applied, advance. So "persisted" means "in the
 * storage", and a crash keeps the storage and nothing else.
 *
 * Clocks. Each replica ticks every `tickMs` of its own timer, which runs fast or slow by up to
 * `clockDriftPpm`; its wall clock (the `now` of TTLs: the time a leader stamps on a write,
 * and the time a read is judged at) is off true time by up to `clockDriftPpm / 1000` ms (the
 * drift of one second: an NTP-disciplined clock). Reads use ReadIndex (core/raft readIndex),
 * which is safe with no clock assumption at all: drift only changes liveness (who times out
 * first) and TTL expiry, which the linearizability checker judges with that offset bound
 * (`clockSkew`).
 *
 * Streams (sim/random.ts): `network/<from>/<to>`, `raft/<node>/<incarnation>` (election
 * timeouts), `clock/<node>`, `faults`, `client/<client>`.
 */
import type { Rng } from '../../core/random.ts';
import {
  type Entry,
  type HardState,
  MemoryStorage,
  type Message,
  RaftChecker,
  type RaftConfig,
  RaftNode,
  type RaftTransport,
  raftState,
  type ReadState,
  type Role,
  type Violation,
} from '../../core/raft/index.ts';
import type { Applied, Command, Outcome } from '../../core/replicated/types.ts';
import { checkLinearizability, type Operation } from '../checker/linearizability.ts';
import type { DelayDistribution } from '../distributions.ts';
import { Network } from '../network/network.ts';
import { streamRng } from '../random.ts';
import { Scheduler } from '../scheduler.ts';
import { msFromUs, usFromMs } from '../time.ts';
import { TraceHash } from '../trace.ts';
import { decodeCommand, encodeCommand, ReplicatedCache } from '../../core/replicated/index.ts';
import type {
  ClientOperation,
  FaultEvent,
  RaftFaults,
  RaftSimOptions,
  RaftSimReport,
  RoleSpan,
} from './types.ts';

/** A network and replicas that never fail: the baseline a scenario adds faults to. */
export const NO_FAULTS: RaftFaults = {
  crashes: false,
  partitions: false,
  loss: 0,
  duplication: 0,
  reordering: false,
  clockDriftPpm: 0,
};

export const DEFAULT_RAFT_SIM: RaftSimOptions = {
  seed: 1,
  replicas: 3,
  clients: 4,
  keys: 5,
  faultMs: 20_000,
  livenessMs: 10_000,
  faults: {
    crashes: true,
    partitions: true,
    loss: 0.05,
    duplication: 0.02,
    reordering: true,
    // ±5%: a hundred times a quartz oscillator's drift, so timers race in every order.
    clockDriftPpm: 50_000,
  },
  tickMs: 10,
  snapshotEvery: 64,
  // About three entries of ~350 accounted bytes: replicas evict on their own, often.
  maxMemoryBytes: 1200,
  record: false,
};

/**
 * What a test may add to a run: a script of faults at chosen times, Raft knobs, and hooks
 * that plant a bug. `runRaft` is `runRaftWith(options, {})`.
 */
export interface RaftSimExtras {
  readonly onProgress?: (doneMs: number, totalMs: number) => void;
  /** Called once before the run starts: schedule faults with `world.at(ms, …)`. */
  readonly script?: (world: RaftWorld) => void;
  /** Raft knobs for every replica. */
  readonly raft?: Partial<
    Pick<
      RaftConfig,
      | 'electionTicks'
      | 'heartbeatTicks'
      | 'preVote'
      | 'checkQuorum'
      | 'maxEntriesPerAppend'
      | 'maxInflightAppends'
    >
  >;
  /** The random fault schedule's knobs (when crashes or partitions are on). */
  readonly chaos?: Partial<ChaosOptions>;
  /** What the driver writes as hard state (a planted bug may drop the vote). */
  readonly persistHardState?: (node: string, hardState: HardState) => HardState;
  /**
   * Random membership changes during the faults (off when absent): now and then the leader is
   * asked to remove a voter (often a crashed one, sometimes itself) or to add a replica (a
   * fresh one, or one removed earlier, with its storage). Drawn from the `membership` stream.
   */
  readonly membership?: Partial<MembershipChaos>;
}

export interface MembershipChaos {
  /** Time between two membership decisions, ms: uniform in [min, max]. */
  readonly gapMs: readonly [number, number];
  /** Never remove below this many voters. */
  readonly minVoters: number;
  /** Never add above this many voters. */
  readonly maxVoters: number;
  /** Of removals: the chance the leader removes itself. */
  readonly removeLeaderChance: number;
  /** Of additions: the chance to re-add a removed replica rather than start a fresh one. */
  readonly readdChance: number;
}

const DEFAULT_MEMBERSHIP: MembershipChaos = {
  gapMs: [100, 600],
  minVoters: 2,
  maxVoters: 5,
  removeLeaderChance: 0.2,
  readdChance: 0.3,
};

/** At most this many replicas ever, bootstrap group included. */
const MAX_REPLICAS = 12;

export interface ChaosOptions {
  /** Time between two fault decisions, ms: uniform in [min, max]. */
  readonly gapMs: readonly [number, number];
  /** How long a crashed replica stays down, ms. */
  readonly downMs: readonly [number, number];
  /** How long a partition lasts, ms. */
  readonly partitionMs: readonly [number, number];
  /** Of the decisions: the chance to crash (when crashes are on). */
  readonly crashChance: number;
  /** Of crashes: the chance the leader is the one crashed. */
  readonly crashLeaderChance: number;
  /** Of the decisions: the chance of a leadership transfer. */
  readonly transferChance: number;
}

const DEFAULT_CHAOS: ChaosOptions = {
  gapMs: [100, 1000],
  downMs: [50, 2500],
  partitionMs: [100, 3000],
  crashChance: 0.45,
  crashLeaderChance: 0.5,
  transferChance: 0.1,
};

/** What a script sees of the run. Replicas are `n1`…, clients `c1`…. */
export interface RaftWorld {
  readonly replicas: readonly string[];
  /** Runs `fn` at virtual time `ms`. */
  at(ms: number, fn: () => void): void;
  nowMs(): number;
  crash(id: string): void;
  restart(id: string): void;
  isUp(id: string): boolean;
  /** Only the replicas within each group talk to one another (clients reach every replica). */
  partition(...groups: readonly (readonly string[])[]): void;
  /** Cuts the link(s) between two replicas. */
  cut(a: string, b: string, oneWay?: boolean): void;
  /** Heals every link between replicas. */
  heal(): void;
  /** The live replica leading the highest term any live replica leads, or null. */
  leader(): string | null;
  transfer(to: string): void;
  /** The replica's Raft node (null while down), for scripts that look inside. */
  node(id: string): RaftNode | null;
  /**
   * Starts replica `id` with empty storage if there is none by that name (never reuse a name
   * for a new disk), then asks the leader to add it. True when the leader accepted the change
   * (it is in force once applied); false without a leader or while a change is pending.
   */
  addReplica(id: string): boolean;
  /** Asks the leader to remove `id` (which keeps running until crashed). True when accepted. */
  removeReplica(id: string): boolean;
  /** The voters as the leader applied them (the bootstrap group until a change applies). */
  voters(): readonly string[];
}

/** Latency of every link: 0.5 ms plus an exponential of mean 2 ms (a tail past 10 ms). */
const LATENCY: DelayDistribution = { kind: 'exponential', baseMs: 0.5, meanMs: 2 };
/** A client gives an attempt this long before it tries another replica. */
const CLIENT_TIMEOUT_TICKS = 12;
/** A client told "no leader known" waits this long before trying again. */
const NO_LEADER_BACKOFF_TICKS = 3;
/** Violations kept in the report (a broken run repeats the same one after every event). */
const MAX_VIOLATIONS = 20;
/** An NTP-disciplined wall clock is off by the drift accumulated over this long. */
const WALL_CLOCK_RESYNC_MS = 1000;

// ---- Messages on the wire ------------------------------------------------------------------

interface ClientRequest {
  readonly type: 'request';
  readonly client: string;
  /** The client's operation number (reads included); replies carry it back. */
  readonly op: number;
  readonly attempt: number;
  readonly kind: 'get' | 'set' | 'delete';
  readonly key: string;
  /** Writes: the session's sequence number, the same on every retry. */
  readonly seq: number;
  readonly value: string | null;
  readonly ttlMs: number | null;
}

type ClientReply =
  | {
      readonly type: 'redirect';
      readonly op: number;
      readonly attempt: number;
      readonly leader: string | null;
    }
  | { readonly type: 'read'; readonly op: number; readonly value: string | null }
  | { readonly type: 'written'; readonly op: number; readonly applied: Applied };

interface Wire {
  /** The receiver's incarnation when sent: a restarted replica drops what was sent to its past. */
  readonly incarnation: number;
  readonly body: Message | ClientRequest | ClientReply;
}

// ---- State ---------------------------------------------------------------------------------

interface PendingRead {
  readonly client: string;
  readonly op: number;
  readonly key: string;
}

interface Replica {
  readonly id: string;
  readonly index: number;
  readonly storage: MemoryStorage;
  /** Timer rate: one tick every tickMs / rate of true time. */
  readonly rate: number;
  /** Wall clock minus true time, ms. */
  readonly offsetMs: number;
  node: RaftNode | null;
  machine: ReplicatedCache | null;
  /** The last index the machine applied (or restored from a snapshot). */
  applied: number;
  incarnation: number;
  tickHandle: number | null;
  /** Writes proposed here for a client, by `client/seq`: answered when applied. */
  readonly pendingWrites: Map<string, { client: string; op: number }>;
  /** Reads asked of Raft here, by ctx. */
  readonly pendingReads: Map<string, PendingRead>;
  /** Confirmed reads waiting for their index to be applied. */
  readStates: ReadState[];
  span: { role: RoleSpan['role']; term: number; fromMs: number } | null;
  /** Its Raft messages' way out: the simulated network behind the driver's interface. */
  readonly transport: RaftTransport;
}

interface ClientState {
  readonly id: string;
  readonly index: number;
  readonly rng: Rng;
  op: number;
  seq: number;
  attempt: number;
  target: number;
  timeout: number | null;
  current: {
    readonly request: ClientRequest;
    readonly invokedMs: number;
    attempts: number;
    /** Index in history. */
    readonly at: number;
  } | null;
}

/** Runs one simulated shard; the same options give the same report, byte for byte. */
export function runRaft(
  options: RaftSimOptions,
  onProgress?: (doneMs: number, totalMs: number) => void,
): RaftSimReport {
  return runRaftWith(options, onProgress === undefined ? {} : { onProgress });
}

export function runRaftWith(options: RaftSimOptions, extras: RaftSimExtras): RaftSimReport {
  validateOptions(options);
  return new Run(options, extras).run();
}

class Run {
  readonly o: RaftSimOptions;
  readonly extras: RaftSimExtras;
  readonly chaos: ChaosOptions;
  readonly scheduler = new Scheduler();
  readonly trace = new TraceHash();
  readonly network: Network<Wire>;
  /** Every replica ever started, in order: the bootstrap group, then those added. */
  readonly ids: string[] = [];
  /** The group the log starts from: every replica's RaftConfig.peers. */
  readonly bootstrap: readonly string[];
  readonly replicas: Replica[] = [];
  readonly clients: ClientState[] = [];
  readonly checker = new RaftChecker();
  readonly faultRng: Rng;
  readonly membershipRng: Rng;
  readonly encoder = new TextEncoder();
  readonly decoder = new TextDecoder();

  // What the report counts.
  invariantChecks = 0;
  readonly violations: Violation[] = [];
  readonly history: ClientOperation[] = [];
  /** Each history entry's session sequence number (0 for a get). */
  readonly opSeq: number[] = [];
  /** For each history entry: the write's (index) where it was acknowledged, the expiry chosen. */
  readonly ackIndex = new Map<number, number>();
  /** `client/seq` of the latest entry applied at each index, on any replica. */
  readonly appliedAt = new Map<number, string>();
  /** `client/seq` → expiresAt of its first application (null: none). */
  readonly firstApplied = new Map<string, number | null>();
  readonly deduplicated = new Set<string>();
  readonly leaders = new Set<string>();
  readonly faultEvents: FaultEvent[] = [];
  readonly roles: RoleSpan[] = [];
  readonly traffic = new Map<string, number>();
  readonly buckets: number[] = [];
  maxTerm = 0;
  maxCommit = 0;
  snapshotsSent = 0;
  crashes = 0;
  partitions = 0;
  transfers = 0;
  membershipChanges = 0;
  lastVoters: readonly string[] = [];
  /** A partition's number; its heal only heals it if no other partition replaced it. */
  partitionEpoch = 0;
  faultsOver = false;
  leaderAfterMs: number | null = null;
  lastCompletionUs = 0;
  maxOffsetMs = 0;

  constructor(options: RaftSimOptions, extras: RaftSimExtras) {
    this.o = options;
    this.extras = extras;
    this.chaos = { ...DEFAULT_CHAOS, ...extras.chaos };
    this.faultRng = streamRng(options.seed, 'faults');
    this.membershipRng = streamRng(options.seed, 'membership');
    this.network = new Network<Wire>(this.scheduler, {
      seed: options.seed,
      trace: this.trace,
      link: {
        latency: LATENCY,
        lossProbability: options.faults.loss,
        duplicateProbability: options.faults.duplication,
        reorder: options.faults.reordering,
      },
    });
    this.bootstrap = Array.from({ length: options.replicas }, (_, i) => `n${i + 1}`);
    for (const id of this.bootstrap) this.createReplica(id);
    this.lastVoters = this.bootstrap;
    for (let index = 0; index < options.clients; index++) {
      const id = `c${index + 1}`;
      const rng = streamRng(options.seed, `client/${id}`);
      const client: ClientState = {
        id,
        index,
        rng,
        op: 0,
        seq: 0,
        attempt: 0,
        target: rng.nextInt(options.replicas),
        timeout: null,
        current: null,
      };
      this.clients.push(client);
      this.network.listen(id, (_from, wire) => this.receiveAtClient(client, wire));
    }
  }

  get nowMs(): number {
    return this.scheduler.nowMs;
  }

  /**
   * A replica with empty storage, not started, listening on the network: one of the bootstrap
   * group, or a new one a membership change adds (its clock from its own stream).
   */
  createReplica(id: string): Replica {
    const ppm = this.o.faults.clockDriftPpm / 1e6;
    const clock = streamRng(this.o.seed, `clock/${id}`);
    const rate = 1 + ppm * (2 * clock.next() - 1);
    const offsetMs = ppm * WALL_CLOCK_RESYNC_MS * (2 * clock.next() - 1);
    this.maxOffsetMs = Math.max(this.maxOffsetMs, Math.abs(offsetMs));
    const replica: Replica = {
      id,
      index: this.ids.length,
      storage: new MemoryStorage(),
      rate,
      offsetMs,
      node: null,
      machine: null,
      applied: 0,
      incarnation: 0,
      tickHandle: null,
      pendingWrites: new Map(),
      pendingReads: new Map(),
      readStates: [],
      span: null,
      transport: { send: (messages) => this.sendRaft(id, messages) },
    };
    this.ids.push(id);
    this.replicas.push(replica);
    this.network.listen(id, (from, wire) => this.receiveAtReplica(replica, from, wire));
    return replica;
  }

  run(): RaftSimReport {
    const o = this.o;
    for (const replica of this.replicas) this.start(replica);
    for (const client of this.clients) {
      this.scheduler.after(usFromMs(client.rng.next() * 5 * o.tickMs), () => this.nextOp(client));
    }
    if (o.faults.crashes || o.faults.partitions) this.scheduleChaos();
    if (this.extras.membership !== undefined) this.scheduleMembership();
    this.extras.script?.(this.world());
    this.scheduler.at(usFromMs(o.faultMs), () => this.stopFaults());

    const totalMs = o.faultMs + o.livenessMs;
    const stepMs = 100;
    for (let doneMs = 0; doneMs < totalMs;) {
      doneMs = Math.min(totalMs, doneMs + stepMs);
      this.scheduler.runUntil(usFromMs(doneMs));
      if (doneMs >= o.faultMs && this.leaderAfterMs !== null && this.drained()) break;
      if (doneMs % 1000 === 0) this.extras.onProgress?.(doneMs, totalMs);
    }
    return this.report();
  }

  // ---- Replicas --------------------------------------------------------------------------

  /** Starts (or restarts) a replica from its storage: what it persisted, nothing else. */
  start(replica: Replica): void {
    replica.incarnation++;
    const snapshot = replica.storage.snapshot();
    const machine = new ReplicatedCache({
      maxMemoryBytes: this.o.maxMemoryBytes,
      maxKeyBytes: 250,
      maxValueBytes: 1 << 20,
      policy: 'lru',
    });
    if (snapshot.index > 0) machine.restore(snapshot);
    replica.machine = machine;
    replica.applied = snapshot.index;
    replica.node = new RaftNode({
      ...this.extras.raft,
      id: replica.id,
      peers: this.bootstrap,
      storage: replica.storage,
      rng: streamRng(this.o.seed, `raft/${replica.id}/${replica.incarnation}`),
      applied: snapshot.index,
    });
    this.checker.restarted(replica.id, snapshot.index);
    this.scheduleTick(replica, this.clockRngFor(replica).next());
    this.flush(replica);
  }

  clockRngFor(replica: Replica): Rng {
    return streamRng(this.o.seed, `clock/${replica.id}/${replica.incarnation}`);
  }

  crash(replica: Replica): void {
    if (replica.node === null) return;
    replica.node = null;
    replica.machine = null;
    if (replica.tickHandle !== null) this.scheduler.cancel(replica.tickHandle);
    replica.tickHandle = null;
    replica.incarnation++;
    replica.pendingWrites.clear();
    replica.pendingReads.clear();
    replica.readStates = [];
    this.trace.addWord(0xdead0000 + replica.index);
    this.noteRole(replica);
  }

  /** The replica's next tick, `fraction` of an interval from now (1: a whole one). */
  scheduleTick(replica: Replica, fraction: number): void {
    const intervalUs = Math.max(1, Math.round((usFromMs(this.o.tickMs) / replica.rate) * fraction));
    replica.tickHandle = this.scheduler.after(intervalUs, this.tick, replica);
  }

  readonly tick = (replica: Replica): void => {
    const node = replica.node;
    if (node === null) return;
    node.tick();
    this.flush(replica);
    this.scheduleTick(replica, 1);
  };

  wallClock(replica: Replica): number {
    return Math.floor(this.nowMs + replica.offsetMs);
  }

  /** Runs the replica's Ready loop, in the order core/raft/types.ts Ready prescribes. */
  flush(replica: Replica): void {
    const node = replica.node;
    const machine = replica.machine;
    if (node === null || machine === null) return;
    const storage = replica.storage;
    while (node.hasReady()) {
      const ready = node.ready();
      // 1. Persist: snapshot, entries, hard state.
      if (ready.snapshot !== null) storage.applySnapshot(ready.snapshot);
      storage.append(ready.entries);
      if (ready.hardState !== null) {
        const persist = this.extras.persistHardState;
        storage.setHardState(
          persist === undefined ? ready.hardState : persist(replica.id, ready.hardState),
        );
      }
      // 2. Send.
      for (const m of ready.messages) if (m.type === 'MsgSnap') this.snapshotsSent++;
      replica.transport.send(ready.messages);
      // 3. Restore, then apply.
      if (ready.snapshot !== null) {
        machine.restore(ready.snapshot);
        replica.applied = ready.snapshot.index;
        this.noteViolations(this.checker.restoredSnapshot(replica.id, ready.snapshot));
      }
      for (const entry of ready.committedEntries) this.apply(replica, machine, entry);
      if (ready.committedEntries.length > 0) {
        this.noteViolations(this.checker.applied(replica.id, ready.committedEntries));
      }
      // 4. Serve reads whose index is applied.
      if (ready.readStates.length > 0) replica.readStates.push(...ready.readStates);
      this.serveReads(replica, machine);
      // 5. Advance.
      node.advance(ready);
      if (ready.softState !== null && ready.softState.role !== 'leader') {
        // Reads not yet confirmed are dropped by Raft when leadership is lost; clients retry.
        replica.pendingReads.clear();
      }
      this.compact(replica, machine);
    }
    this.noteRole(replica);
    if (node.log.committed > this.maxCommit) this.maxCommit = node.log.committed;
    this.checkInvariants();
  }

  apply(replica: Replica, machine: ReplicatedCache, entry: Entry): void {
    // A conf change is Raft's (the node switches membership on advance): the machine counts it
    // applied and changes nothing.
    const applied = machine.apply(entry);
    replica.applied = entry.index;
    this.trace.addWord(entry.index);
    this.trace.addWord(entry.term);
    if (applied === null) {
      this.appliedAt.set(entry.index, '');
      return;
    }
    const name = `${applied.client}/${applied.seq}`;
    this.appliedAt.set(entry.index, name);
    if (applied.duplicate) this.deduplicated.add(name);
    else if (!this.firstApplied.has(name)) {
      const command = decodeCommand(entry.data);
      this.firstApplied.set(name, command.kind === 'set' ? command.expiresAt : null);
    }
    const pending = replica.pendingWrites.get(name);
    if (pending !== undefined) {
      replica.pendingWrites.delete(name);
      this.reply(replica, pending.client, { type: 'written', op: pending.op, applied });
    }
  }

  serveReads(replica: Replica, machine: ReplicatedCache): void {
    if (replica.readStates.length === 0) return;
    const waiting: ReadState[] = [];
    for (const read of replica.readStates) {
      if (read.index > replica.applied) {
        waiting.push(read);
        continue;
      }
      const ctx = this.decoder.decode(read.ctx);
      const pending = replica.pendingReads.get(ctx);
      if (pending === undefined) continue;
      replica.pendingReads.delete(ctx);
      const entry = machine.get(pending.key, this.wallClock(replica));
      const value = entry === undefined ? null : this.decoder.decode(entry.bytes);
      this.reply(replica, pending.client, { type: 'read', op: pending.op, value });
    }
    replica.readStates = waiting;
  }

  /** §7: once snapshotEvery entries are applied past the snapshot, snapshot and compact. */
  compact(replica: Replica, machine: ReplicatedCache): void {
    const storage = replica.storage;
    const applied = replica.applied;
    if (applied - storage.snapshot().index < this.o.snapshotEvery) return;
    if (applied > storage.lastIndex()) return;
    // The members as of `applied` (the node has advanced past it), for whoever restores it.
    storage.createSnapshot(applied, machine.snapshot(), replica.node?.voters());
    storage.compact(applied);
  }

  checkInvariants(): void {
    const states = [];
    for (const replica of this.replicas) {
      if (replica.node !== null) states.push(raftState(replica.node));
    }
    this.invariantChecks++;
    this.noteViolations(this.checker.check(states));
  }

  noteViolations(violations: readonly Violation[]): void {
    for (const v of violations) {
      if (this.violations.length >= MAX_VIOLATIONS) return;
      if (this.violations.some((w) => w.message === v.message)) continue;
      this.violations.push(v);
    }
  }

  /** Records a role or term change (and 'down') as a span, and in the trace. */
  noteRole(replica: Replica): void {
    const node = replica.node;
    const role: RoleSpan['role'] = node === null ? 'down' : node.role;
    const term = node === null ? (replica.span?.term ?? 0) : node.term;
    const span = replica.span;
    if (span !== null && span.role === role && span.term === term) return;
    const now = this.nowMs;
    if (span !== null && this.o.record && now > span.fromMs) {
      this.roles.push({
        node: replica.id,
        fromMs: span.fromMs,
        toMs: now,
        role: span.role,
        term: span.term,
      });
    }
    replica.span = { role, term, fromMs: now };
    this.trace.addWord(replica.index);
    this.trace.addWord(roleCode(role));
    this.trace.addInteger(term);
    if (term > this.maxTerm) this.maxTerm = term;
    if (role === 'leader') this.leaders.add(`${term}/${replica.id}`);
    if (this.faultsOver && this.leaderAfterMs === null && this.leader() !== null) {
      this.leaderAfterMs = msFromUs(this.scheduler.nowUs - usFromMs(this.o.faultMs));
    }
  }

  leader(): string | null {
    let best: RaftNode | null = null;
    let maxTerm = 0;
    for (const replica of this.replicas) {
      const node = replica.node;
      if (node === null) continue;
      maxTerm = Math.max(maxTerm, node.term);
      if (node.role === 'leader' && (best === null || node.term > best.term)) best = node;
    }
    return best !== null && best.term === maxTerm ? best.id : null;
  }

  // ---- The network -----------------------------------------------------------------------

  /** The replicas' RaftTransport: each message to its peer's current incarnation. */
  sendRaft(from: string, messages: readonly Message[]): void {
    for (const m of messages) {
      const to = this.replicas[this.ids.indexOf(m.to)];
      if (to === undefined) continue;
      this.network.send(from, m.to, { incarnation: to.incarnation, body: m });
    }
  }

  reply(replica: Replica, client: string, body: ClientReply): void {
    this.network.send(replica.id, client, { incarnation: 0, body });
  }

  receiveAtReplica(replica: Replica, from: string, wire: Wire): void {
    this.count(from, replica.id, wire.body);
    const node = replica.node;
    if (node === null || wire.incarnation !== replica.incarnation) return;
    const body = wire.body;
    if (body.type === 'request') this.handleRequest(replica, node, body);
    else if (body.type !== 'redirect' && body.type !== 'read' && body.type !== 'written') {
      node.step(body);
      this.flush(replica);
    }
  }

  count(from: string, to: string, body: Wire['body']): void {
    if (!this.o.record) return;
    const bucket = Math.floor(this.nowMs / 100);
    while (this.buckets.length <= bucket) this.buckets.push(0);
    this.buckets[bucket]!++;
    const type = body.type === 'request' ? body.kind : body.type;
    const name = `${from}>${to}>${type}`;
    this.traffic.set(name, (this.traffic.get(name) ?? 0) + 1);
  }

  /** A client's request at a replica: only the leader serves it; others say who leads. */
  handleRequest(replica: Replica, node: RaftNode, request: ClientRequest): void {
    const redirect = (leader: string | null): void =>
      this.reply(replica, request.client, {
        type: 'redirect',
        op: request.op,
        attempt: request.attempt,
        leader,
      });
    if (node.role !== 'leader') {
      redirect(node.leader);
      return;
    }
    if (request.kind === 'get') {
      // Thesis §6.4 ReadIndex: served once the leader confirmed it still leads and applied.
      const ctx = `${request.client}/${request.op}/${request.attempt}`;
      replica.pendingReads.set(ctx, { client: request.client, op: request.op, key: request.key });
      node.readIndex(this.encoder.encode(ctx));
      this.flush(replica);
      return;
    }
    const at = this.wallClock(replica);
    const base = { client: request.client, seq: request.seq, key: request.key, at };
    let command: Command;
    if (request.kind === 'set') {
      const bytes = this.encoder.encode(request.value ?? '');
      command = {
        ...base,
        kind: 'set',
        bytes,
        contentType: 'text/plain',
        compressed: false,
        rawBytes: bytes.length,
        expiresAt: request.ttlMs === null ? null : at + request.ttlMs,
      };
    } else {
      command = { ...base, kind: 'delete' };
    }
    const result = node.propose(encodeCommand(command));
    if (!result.accepted) {
      redirect(result.leader);
      return;
    }
    replica.pendingWrites.set(`${request.client}/${request.seq}`, {
      client: request.client,
      op: request.op,
    });
    this.flush(replica);
  }

  // ---- Clients ---------------------------------------------------------------------------

  nextOp(client: ClientState): void {
    if (this.faultsOver) return;
    const rng = client.rng;
    const key = `k${rng.nextInt(this.o.keys) + 1}`;
    const r = rng.next();
    const kind: ClientRequest['kind'] = r < 0.5 ? 'get' : r < 0.9 ? 'set' : 'delete';
    client.op++;
    if (kind !== 'get') client.seq++;
    const ttl = kind === 'set' && rng.next() < 0.3 ? 50 + rng.nextInt(2000) : null;
    const request: ClientRequest = {
      type: 'request',
      client: client.id,
      op: client.op,
      attempt: 0,
      kind,
      key,
      seq: kind === 'get' ? 0 : client.seq,
      value: kind === 'set' ? `${client.id}:${client.seq}` : null,
      ttlMs: ttl,
    };
    this.history.push({
      client: client.id,
      key,
      kind,
      invokedMs: this.nowMs,
      returnedMs: null,
      result: null,
      ...(request.value === null ? {} : { value: request.value }),
      attempts: 0,
    });
    this.opSeq.push(request.seq);
    client.current = { request, invokedMs: this.nowMs, attempts: 0, at: this.history.length - 1 };
    this.send(client);
  }

  send(client: ClientState): void {
    const current = client.current;
    if (current === null) return;
    current.attempts++;
    client.attempt++;
    const request = { ...current.request, attempt: client.attempt };
    const to = this.ids[client.target]!;
    this.network.send(client.id, to, {
      incarnation: this.replicas[client.target]!.incarnation,
      body: request,
    });
    if (client.timeout !== null) this.scheduler.cancel(client.timeout);
    client.timeout = this.scheduler.after(usFromMs(CLIENT_TIMEOUT_TICKS * this.o.tickMs), () => {
      client.timeout = null;
      // No answer: try the next replica.
      client.target = (client.target + 1) % this.ids.length;
      this.send(client);
    });
  }

  receiveAtClient(client: ClientState, wire: Wire): void {
    const body = wire.body;
    const current = client.current;
    if (current === null || body.type === 'request' || !('op' in body)) return;
    if (body.op !== current.request.op) return;
    if (body.type === 'redirect') {
      if (body.attempt !== client.attempt) return;
      if (client.timeout !== null) this.scheduler.cancel(client.timeout);
      client.timeout = null;
      const hinted = body.leader === null ? -1 : this.ids.indexOf(body.leader);
      if (hinted >= 0 && hinted !== client.target) {
        client.target = hinted;
        this.send(client);
      } else {
        client.target = client.rng.nextInt(this.ids.length);
        client.timeout = this.scheduler.after(
          usFromMs(NO_LEADER_BACKOFF_TICKS * this.o.tickMs),
          () => {
            client.timeout = null;
            this.send(client);
          },
        );
      }
      return;
    }
    let result: string | null;
    if (body.type === 'read') result = body.value;
    else result = outcomeResult(body.applied.outcome);
    if (body.type === 'written' && body.applied.outcome.ok)
      this.ackIndex.set(current.at, body.applied.index);
    this.finish(client, result);
  }

  finish(client: ClientState, result: string | null): void {
    const current = client.current!;
    if (client.timeout !== null) this.scheduler.cancel(client.timeout);
    client.timeout = null;
    const now = this.nowMs;
    this.history[current.at] = {
      ...this.history[current.at]!,
      returnedMs: now,
      result,
      attempts: current.attempts,
    };
    this.trace.addWord(0xc0000000 + client.index);
    this.trace.addInteger(this.scheduler.nowUs);
    this.trace.addWord(stringHash(result ?? '\u0000'));
    client.current = null;
    this.lastCompletionUs = this.scheduler.nowUs;
    const thinkMs = client.rng.next() * 2 * this.o.tickMs;
    this.scheduler.after(usFromMs(thinkMs), () => this.nextOp(client));
  }

  drained(): boolean {
    return this.clients.every((client) => client.current === null);
  }

  // ---- Faults ----------------------------------------------------------------------------

  fault(kind: FaultEvent['kind'], detail: string): void {
    this.faultEvents.push({ atMs: this.nowMs, kind, detail });
    if (kind === 'crash') this.crashes++;
    if (kind === 'partition') this.partitions++;
    if (kind === 'transfer') this.transfers++;
  }

  crashReplica(id: string): void {
    const replica = this.replica(id);
    if (replica.node === null) return;
    const node = replica.node;
    this.fault('crash', `${id} crashed (${node.role} of term ${node.term})`);
    this.crash(replica);
  }

  restartReplica(id: string): void {
    const replica = this.replica(id);
    if (replica.node !== null) return;
    this.fault('restart', `${id} restarted`);
    this.start(replica);
  }

  partition(groups: readonly (readonly string[])[]): void {
    this.network.healAll();
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a !== b && !groups.some((g) => g.includes(a) && g.includes(b)))
          this.network.cut(a, b, true);
      }
    }
    this.partitionEpoch++;
    this.fault('partition', groups.map((g) => `{${g.join(', ')}}`).join(' | '));
  }

  cut(a: string, b: string, oneWay: boolean): void {
    this.network.cut(a, b, oneWay);
    this.partitionEpoch++;
    this.fault('partition', oneWay ? `${a} -> ${b} cut` : `${a} <-> ${b} cut`);
  }

  heal(): void {
    this.network.healAll();
    this.partitionEpoch++;
    this.fault('heal', 'every link healed');
  }

  transfer(to: string): void {
    const leader = this.leader();
    if (leader === null || leader === to) return;
    const replica = this.replica(leader);
    this.fault('transfer', `${leader} hands leadership to ${to}`);
    replica.node!.transferLeader(to);
    this.flush(replica);
  }

  replica(id: string): Replica {
    const replica = this.replicas[this.ids.indexOf(id)];
    if (replica === undefined) throw new Error(`No replica ${id}`);
    return replica;
  }

  scheduleChaos(): void {
    const rng = this.faultRng;
    const [min, max] = this.chaos.gapMs;
    this.scheduler.after(usFromMs(min + rng.next() * (max - min)), () => {
      if (this.faultsOver) return;
      this.chaosStep();
      this.scheduleChaos();
    });
  }

  chaosStep(): void {
    const rng = this.faultRng;
    const c = this.chaos;
    const f = this.o.faults;
    const r = rng.next();
    const up = this.ids.filter((id) => this.replica(id).node !== null);
    const leader = this.leader();
    const uniform = ([min, max]: readonly [number, number]): number =>
      usFromMs(min + rng.next() * (max - min));
    if (r < c.transferChance) {
      const others = up.filter((id) => id !== leader);
      if (leader !== null && others.length > 0) this.transfer(others[rng.nextInt(others.length)]!);
      return;
    }
    if (f.crashes && (!f.partitions || r < c.transferChance + c.crashChance)) {
      if (up.length === 0) return;
      const victim =
        leader !== null && rng.next() < c.crashLeaderChance ? leader : up[rng.nextInt(up.length)]!;
      this.crashReplica(victim);
      const incarnation = this.replica(victim).incarnation;
      this.scheduler.after(uniform(c.downMs), () => {
        if (this.replica(victim).incarnation === incarnation) this.restartReplica(victim);
      });
      return;
    }
    if (!f.partitions) return;
    const kind = rng.nextInt(3);
    if (kind === 0 && leader !== null) {
      this.partition([[leader], this.ids.filter((id) => id !== leader)]);
    } else if (kind === 1 || leader === null) {
      const shuffled = shuffle(this.ids, rng);
      const minority = 1 + rng.nextInt(Math.max(1, Math.floor((this.ids.length - 1) / 2)));
      this.partition([shuffled.slice(0, minority), shuffled.slice(minority)]);
    } else {
      const a = this.ids[rng.nextInt(this.ids.length)]!;
      const others = this.ids.filter((id) => id !== a);
      if (others.length === 0) return;
      this.cut(a, others[rng.nextInt(others.length)]!, rng.next() < 0.5);
    }
    const epoch = this.partitionEpoch;
    this.scheduler.after(uniform(c.partitionMs), () => {
      if (!this.faultsOver && this.partitionEpoch === epoch) this.heal();
    });
  }

  /** At faultMs: heal every link, restart every crashed replica, stop loss and duplication. */
  stopFaults(): void {
    this.faultsOver = true;
    this.network.healAll();
    const addresses = [...this.ids, ...this.clients.map((c) => c.id)];
    for (const a of addresses) {
      for (const b of addresses) {
        if (a !== b) this.network.setLink(a, b, { lossProbability: 0, duplicateProbability: 0 });
      }
    }
    this.fault('heal', 'faults stop: every link healed, loss and duplication off');
    for (const id of this.ids) this.restartReplica(id);
    if (this.leaderAfterMs === null && this.leader() !== null) this.leaderAfterMs = 0;
    this.lastCompletionUs = this.scheduler.nowUs;
  }

  // ---- Membership changes (core/raft proposeConfChange) ------------------------------------

  /** The leader's membership as it applied it; the last known one without a leader. */
  voters(): readonly string[] {
    const leader = this.leader();
    if (leader !== null) this.lastVoters = this.replica(leader).node!.voters();
    return this.lastVoters;
  }

  proposeMembership(type: 'add' | 'remove', id: string): boolean {
    const leader = this.leader();
    if (leader === null) return false;
    const replica = this.replica(leader);
    const result = replica.node!.proposeConfChange({ type, node: id });
    this.flush(replica);
    if (result.accepted) {
      this.membershipChanges++;
      this.trace.addWord(type === 'add' ? 0xadd00000 : 0xde100000);
      this.trace.addWord(this.replica(id).index);
    }
    return result.accepted;
  }

  addReplica(id: string): boolean {
    if (!this.ids.includes(id)) {
      if (this.ids.length >= MAX_REPLICAS) return false;
      this.start(this.createReplica(id));
    }
    return this.proposeMembership('add', id);
  }

  removeReplica(id: string): boolean {
    if (!this.ids.includes(id)) return false;
    return this.proposeMembership('remove', id);
  }

  scheduleMembership(): void {
    const m = { ...DEFAULT_MEMBERSHIP, ...this.extras.membership };
    const rng = this.membershipRng;
    const [min, max] = m.gapMs;
    this.scheduler.after(usFromMs(min + rng.next() * (max - min)), () => {
      if (this.faultsOver) return;
      this.membershipStep(m);
      this.scheduleMembership();
    });
  }

  membershipStep(m: MembershipChaos): void {
    const rng = this.membershipRng;
    const leader = this.leader();
    if (leader === null) return;
    const voters = this.replica(leader).node!.voters();
    const remove =
      voters.length >= m.maxVoters || (voters.length > m.minVoters && rng.next() < 0.5);
    if (remove) {
      const down = voters.filter((id) => this.replica(id).node === null);
      const victim =
        rng.next() < m.removeLeaderChance
          ? leader
          : down.length > 0 && rng.next() < 0.7
            ? down[rng.nextInt(down.length)]!
            : voters[rng.nextInt(voters.length)]!;
      this.removeReplica(victim);
      return;
    }
    const removed = this.ids.filter((id) => !voters.includes(id));
    if (removed.length > 0 && (rng.next() < m.readdChance || this.ids.length >= MAX_REPLICAS)) {
      this.addReplica(removed[rng.nextInt(removed.length)]!);
      return;
    }
    this.addReplica(`n${this.ids.length + 1}`);
  }

  world(): RaftWorld {
    return {
      replicas: this.ids,
      at: (ms, fn) => {
        this.scheduler.at(usFromMs(ms), fn);
      },
      nowMs: () => this.nowMs,
      crash: (id) => this.crashReplica(id),
      restart: (id) => this.restartReplica(id),
      isUp: (id) => this.replica(id).node !== null,
      partition: (...groups) => this.partition(groups),
      cut: (a, b, oneWay = false) => this.cut(a, b, oneWay),
      heal: () => this.heal(),
      leader: () => this.leader(),
      transfer: (to) => this.transfer(to),
      node: (id) => this.replica(id).node,
      addReplica: (id) => this.addReplica(id),
      removeReplica: (id) => this.removeReplica(id),
      voters: () => this.voters(),
    };
  }

  // ---- The report ------------------------------------------------------------------------

  report(): RaftSimReport {
    const o = this.o;
    const endMs = this.nowMs;
    // Close the timeline's open spans.
    if (o.record) {
      for (const replica of this.replicas) {
        const span = replica.span;
        if (span !== null && endMs > span.fromMs) {
          this.roles.push({
            node: replica.id,
            fromMs: span.fromMs,
            toMs: endMs,
            role: span.role,
            term: span.term,
          });
        }
      }
    }
    const history = this.history;
    // Lost writes: an acknowledged write whose index now holds another entry.
    let lostWrites = 0;
    for (const [at, index] of this.ackIndex) {
      const op = history[at]!;
      const seq = this.opSeq[at]!;
      if (this.appliedAt.get(index) !== `${op.client}/${seq}`) lostWrites++;
    }
    const operations: Operation[] = history.map((op, at) => {
      const expiresAt = this.firstApplied.get(`${op.client}/${this.opSeq[at]!}`);
      return toCheckerOperation(op, expiresAt ?? null);
    });
    const check = checkLinearizability(operations, {
      absentAllowed: true,
      // Each replica's wall clock is off true time by at most maxOffsetMs; +1 for whole ms.
      clockSkew: this.maxOffsetMs + 1,
    });
    const linearizable = check.ok === true ? 'yes' : check.ok === false ? 'no' : 'unknown';
    const linearizability =
      check.ok === true
        ? null
        : check.ok === false
          ? check.explanation
          : `key ${JSON.stringify(check.key)}: the search hit its state bound`;

    const answered = history.filter((op) => op.returnedMs !== null);
    const unanswered = history.filter((op) => op.returnedMs === null || op.result === 'error');
    const gets = answered.filter((op) => op.kind === 'get');
    const leaderAfterMs = this.leaderAfterMs;
    const drained = this.drained();
    const drainedAfterMs = drained
      ? msFromUs(Math.max(0, this.lastCompletionUs - usFromMs(o.faultMs)))
      : null;
    const livenessOk =
      leaderAfterMs !== null &&
      leaderAfterMs <= o.livenessMs &&
      drainedAfterMs !== null &&
      drainedAfterMs <= o.livenessMs;
    const pending = this.clients.filter((c) => c.current !== null).map((c) => c.id);
    const livenessDetail = livenessOk
      ? `after the faults stopped a leader was elected in ${fmt(leaderAfterMs)} ms and every request completed within ${fmt(drainedAfterMs)} ms`
      : leaderAfterMs === null
        ? `no leader within ${o.livenessMs} ms after the faults stopped`
        : `a leader after ${fmt(leaderAfterMs)} ms, but ${pending.length} client(s) still waiting (${pending.join(', ')}) after ${o.livenessMs} ms`;
    const stats = this.network.stats;
    const report: RaftSimReport = {
      options: o,
      virtualMs: endMs,
      events: this.scheduler.eventsRun,
      raft: {
        terms: this.maxTerm,
        leaders: this.leaders.size,
        snapshotsSent: this.snapshotsSent,
        committedEntries: this.maxCommit,
      },
      faults: { crashes: this.crashes, partitions: this.partitions, transfers: this.transfers },
      ...(this.membershipChanges > 0 || this.extras.membership !== undefined
        ? { membership: { changes: this.membershipChanges, voters: [...this.voters()] } }
        : {}),
      messages: {
        sent: stats.sent,
        delivered: stats.delivered,
        lost: stats.lost + stats.cut,
        duplicated: stats.duplicated,
      },
      clients: {
        operations: history.length,
        acknowledged: history.length - unanswered.length,
        unanswered: unanswered.length,
        retries: history.reduce((sum, op) => sum + Math.max(0, op.attempts - 1), 0),
        deduplicated: this.deduplicated.size,
        getHits: gets.filter((op) => op.result !== null).length,
        getMisses: gets.filter((op) => op.result === null).length,
      },
      checks: {
        invariantChecks: this.invariantChecks,
        violations: this.violations,
        lostWrites,
        linearizable,
        linearizability,
        liveness: { ok: livenessOk, leaderAfterMs, drainedAfterMs, detail: livenessDetail },
      },
      ok: this.violations.length === 0 && lostWrites === 0 && linearizable === 'yes' && livenessOk,
      traceHash: this.trace.hex(),
      timeline: o.record
        ? {
            nodes: this.ids,
            roles: this.roles,
            faults: this.faultEvents,
            traffic: [...this.traffic].map(([name, count]) => {
              const [from, to, type] = name.split('>') as [string, string, string];
              return { from, to, type, count };
            }),
            messagesPerBucket: this.buckets,
            history,
          }
        : null,
    };
    return report;
  }
}

function toCheckerOperation(op: ClientOperation, expiresAt: number | null): Operation {
  const base = {
    client: op.client,
    key: op.key,
    invokedAt: op.invokedMs,
    returnedAt: op.returnedMs,
  };
  if (op.kind === 'get') return { ...base, kind: 'get', result: op.result };
  const result = op.result === 'ok' ? 'ok' : 'error';
  if (op.kind === 'delete') return { ...base, kind: 'delete', result };
  return {
    ...base,
    kind: 'set',
    value: op.value ?? '',
    result,
    ...(expiresAt === null ? {} : { expiresAt }),
  };
}

function outcomeResult(outcome: Outcome): string {
  return outcome.ok ? 'ok' : 'error';
}

const ROLE_CODES: Record<Role | 'down', number> = {
  follower: 1,
  'pre-candidate': 2,
  candidate: 3,
  leader: 4,
  down: 5,
};

function roleCode(role: Role | 'down'): number {
  return ROLE_CODES[role];
}

/** FNV-1a over a string's UTF-16 code units, for the trace. */
function stringHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A virtual time in ms as the report prints it (whole µs). */
function fmt(ms: number | null): string {
  return ms === null ? '-' : String(Math.round(ms * 1000) / 1000);
}

function validateOptions(o: RaftSimOptions): void {
  const whole = (name: string, value: number, min: number): void => {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(
        `RaftSimOptions.${name} must be a whole number >= ${min} (got ${value}).`,
      );
    }
  };
  whole('seed', o.seed, Number.MIN_SAFE_INTEGER);
  whole('replicas', o.replicas, 1);
  if (o.replicas > 9)
    throw new RangeError(`RaftSimOptions.replicas must be at most 9 (got ${o.replicas}).`);
  whole('clients', o.clients, 0);
  whole('keys', o.keys, 1);
  whole('faultMs', o.faultMs, 0);
  whole('livenessMs', o.livenessMs, 1);
  whole('snapshotEvery', o.snapshotEvery, 1);
  whole('maxMemoryBytes', o.maxMemoryBytes, 1);
  if (!(o.tickMs > 0)) throw new RangeError(`RaftSimOptions.tickMs must be > 0 (got ${o.tickMs}).`);
  for (const name of ['loss', 'duplication'] as const) {
    const p = o.faults[name];
    if (!(p >= 0 && p < 1))
      throw new RangeError(`RaftSimOptions.faults.${name} must be in [0, 1) (got ${p}).`);
  }
  const ppm = o.faults.clockDriftPpm;
  if (!(ppm >= 0 && ppm < 500_000)) {
    throw new RangeError(
      `RaftSimOptions.faults.clockDriftPpm must be in [0, 500000) (got ${ppm}).`,
    );
  }
}
