/**
 * A tiny network of RaftNodes for tests, in the spirit of etcd's raft_test.go network and
 * MIT 6.824's config.go (not part of the Raft API). Every node is driven by the same loop a
 * real driver runs: step or tick, then persist the Ready's entries and hard state, send its
 * messages, apply its committed entries and advance. Messages wait in one FIFO queue until
 * delivered; links can be cut and messages dropped by a rule, all deterministically. The
 * Raft invariants are checked after every delivery; a violation throws.
 */
import { createRng, type Rng } from '../random.ts';
import { RaftChecker, raftState, type Violation } from './invariants.ts';
import { RaftNode, type ConfChangeResult, type RaftConfig } from './raft.ts';
import { MemoryStorage } from './storage.ts';
import type { ConfChange, Entry, Message, NodeId, ReadState } from './types.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const encode = (text: string): Uint8Array => encoder.encode(text);
export const decode = (data: Uint8Array): string => decoder.decode(data);

/** The tests' state machine is the list of values applied; a snapshot holds it as JSON. */
const encodeState = (applied: readonly string[]): Uint8Array => encode(JSON.stringify(applied));
const decodeState = (data: Uint8Array): string[] => JSON.parse(decode(data)) as string[];

export type NetworkOptions = Partial<
  Omit<RaftConfig, 'id' | 'peers' | 'storage' | 'rng' | 'applied'>
> & {
  /** Seeds every node's election-timeout randomness (node i gets seed + i). */
  readonly seed?: number;
  /** Drops each message with this probability (from its own seeded stream). */
  readonly lossRate?: number;
  /** Delivers each message twice with this probability. */
  readonly duplicateRate?: number;
  /** Delivers a random message in flight instead of the oldest. */
  readonly reorder?: boolean;
};

/** A log written as its entries' terms, with (optionally) the payload `${index}@${term}`. */
export function entriesOfTerms(terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, data: encode(`${i + 1}@${term}`) }));
}

export class Network {
  /** The group the log starts from: every node's RaftConfig.peers. */
  readonly bootstrap: readonly NodeId[];
  readonly storages = new Map<NodeId, MemoryStorage>();
  /** Live nodes; a crashed node is absent until restarted. */
  readonly nodes = new Map<NodeId, RaftNode>();
  /** What each node's state machine applied, as strings (the leaders' empty entries left out). */
  readonly applied = new Map<NodeId, string[]>();
  /** Every read state each node's Readies handed out, in order. */
  readonly readStates = new Map<NodeId, ReadState[]>();
  readonly checker = new RaftChecker();
  /** Every message delivered so far, in order. */
  readonly delivered: Message[] = [];
  /** Messages sent and not yet delivered or dropped. */
  queue: Message[] = [];
  /** The probability that a delivery drops its message (from the network's seeded stream). */
  lossRate: number;
  duplicateRate: number;
  reorder: boolean;

  readonly #options: NetworkOptions;
  /** Every node ever started (the bootstrap group, then those added), in order. */
  readonly #ids: NodeId[] = [];
  readonly #seed: number;
  readonly #cut = new Set<string>();
  readonly #rngs = new Map<NodeId, Rng>();
  readonly #faultRng: Rng;
  #dropRule: ((m: Message) => boolean) | null = null;

  constructor(ids: readonly NodeId[], options: NetworkOptions = {}) {
    this.bootstrap = [...ids];
    this.#options = options;
    this.lossRate = options.lossRate ?? 0;
    this.duplicateRate = options.duplicateRate ?? 0;
    this.reorder = options.reorder ?? false;
    this.#seed = options.seed ?? 1;
    this.#faultRng = createRng(this.#seed * 7919 + 13);
    for (const id of ids) this.addNode(id);
  }

  /** Every node ever started, down or removed included. */
  get ids(): readonly NodeId[] {
    return this.#ids;
  }

  /**
   * Starts a new node with empty storage (node i gets seed + i). It is in no configuration
   * until a leader adds it (proposeConfChange), and learns its membership from the log or a
   * snapshot.
   */
  addNode(id: NodeId): void {
    if (this.storages.has(id)) throw new Error(`${id} already exists`);
    this.#rngs.set(id, createRng(this.#seed + this.#ids.length));
    this.#ids.push(id);
    this.storages.set(id, new MemoryStorage());
    this.start(id);
  }

  /**
   * A network whose nodes start from the logs given as terms (etcd's test style), all at
   * `term` with `commit` committed, as if they had been running: `{ n1: [1, 2], n2: [1] }`.
   */
  static fromLogs(
    logs: Readonly<Record<NodeId, readonly number[]>>,
    state: { term: number; commit: number },
    options: NetworkOptions = {},
  ): Network {
    const network = new Network(Object.keys(logs), options);
    for (const [id, terms] of Object.entries(logs)) {
      const storage = new MemoryStorage();
      storage.append(entriesOfTerms(terms));
      storage.setHardState({ term: state.term, vote: null, commit: state.commit });
      network.storages.set(id, storage);
      network.start(id);
    }
    return network;
  }

  node(id: NodeId): RaftNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`${id} is down`);
    return node;
  }

  // ---- Faults ----------------------------------------------------------------------------

  /** Messages between a and b (both ways) are dropped. */
  cut(a: NodeId, b: NodeId): void {
    this.#cut.add(`${a}>${b}`).add(`${b}>${a}`);
  }

  /** Cuts `id` off from every other node. */
  isolate(id: NodeId): void {
    for (const other of this.ids) if (other !== id) this.cut(id, other);
  }

  /** Only the nodes in each group talk to one another: `partition(['n1','n2'], ['n3'])`. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    this.heal();
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (!groups.some((group) => group.includes(a) && group.includes(b))) this.cut(a, b);
      }
    }
  }

  /** Restores every link (crashed nodes stay down). */
  heal(): void {
    this.#cut.clear();
  }

  /** Drops every message for which `rule` is true, until changed (null: none). */
  dropWhen(rule: ((m: Message) => boolean) | null): void {
    this.#dropRule = rule;
  }

  /**
   * The node stops; it keeps what it persisted. Messages to it are lost; those it sent are
   * still in flight (it persisted what they depend on before sending them).
   */
  crash(id: NodeId): void {
    this.nodes.delete(id);
    this.queue = this.queue.filter((m) => m.to !== id);
  }

  /** The node starts again from its storage; its state machine replays the committed log. */
  restart(id: NodeId): void {
    this.crash(id);
    this.start(id);
  }

  /**
   * The driver snapshots `id`'s state machine at its applied index and compacts its log up to
   * there (§7). Returns the snapshot's index (the old one when nothing was applied since).
   */
  compact(id: NodeId): number {
    this.flush(id);
    const index = this.node(id).log.applied;
    const storage = this.storages.get(id)!;
    if (index <= storage.snapshot().index) return storage.snapshot().index;
    storage.createSnapshot(index, encodeState(this.applied.get(id)!), this.node(id).voters());
    storage.compact(index);
    return index;
  }

  private start(id: NodeId): void {
    const storage = this.storages.get(id)!;
    const node = new RaftNode({
      ...this.#options,
      id,
      peers: this.bootstrap,
      storage: this.storages.get(id)!,
      rng: this.#rngs.get(id)!,
    });
    this.nodes.set(id, node);
    // The state machine restarts from the stored snapshot, then replays the entries after it.
    const snapshot = storage.snapshot();
    this.applied.set(id, snapshot.index > 0 ? decodeState(snapshot.data) : []);
    this.checker.restarted(id, snapshot.index);
  }

  // ---- Driving ---------------------------------------------------------------------------

  /** Runs a node's Ready loop as a driver would: persist, send, apply, advance. */
  flush(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    const storage = this.storages.get(id)!;
    while (node.hasReady()) {
      const ready = node.ready();
      if (ready.snapshot !== null) storage.applySnapshot(ready.snapshot);
      storage.append(ready.entries);
      if (ready.hardState !== null) storage.setHardState(ready.hardState);
      this.queue.push(...ready.messages);
      if (ready.readStates.length > 0) {
        this.readStates.set(id, [...(this.readStates.get(id) ?? []), ...ready.readStates]);
      }
      if (ready.snapshot !== null) {
        this.applied.set(id, decodeState(ready.snapshot.data));
        this.#fail(this.checker.restoredSnapshot(id, ready.snapshot));
      }
      const applied = this.applied.get(id)!;
      for (const entry of ready.committedEntries) {
        // A conf change is Raft's, not the state machine's: a no-op here.
        if (entry.type !== 'conf-change' && entry.data.length > 0) applied.push(decode(entry.data));
      }
      this.#fail(this.checker.applied(id, ready.committedEntries));
      node.advance(ready);
    }
  }

  /**
   * Delivers the oldest message in flight (a random one with `reorder`), or drops it; false
   * when nothing is in flight.
   */
  deliverOne(): boolean {
    const at = this.reorder ? this.#faultRng.nextInt(this.queue.length) : 0;
    const m = this.queue.splice(at, 1)[0];
    if (m === undefined) return false;
    if (this.duplicateRate > 0 && this.#faultRng.next() < this.duplicateRate) this.queue.push(m);
    const node = this.nodes.get(m.to);
    if (node === undefined || this.#dropped(m)) return true;
    this.delivered.push(m);
    node.step(m);
    this.flush(m.to);
    this.checkInvariants();
    return true;
  }

  /** Delivers until nothing is in flight. */
  deliverAll(maxMessages = 100_000): void {
    for (let i = 0; i < maxMessages; i++) if (!this.deliverOne()) return;
    throw new Error(`still delivering after ${maxMessages} messages`);
  }

  /** `ticks` rounds of: every live node ticks, then every message in flight is delivered. */
  tick(ticks = 1): void {
    for (let t = 0; t < ticks; t++) {
      for (const id of this.ids) {
        const node = this.nodes.get(id);
        if (node === undefined) continue;
        node.tick();
        this.flush(id);
      }
      this.deliverAll();
    }
  }

  /** `id` campaigns now; its election runs to the end. */
  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.flush(id);
    this.deliverAll();
  }

  /** Proposes on `id` (which must lead) and delivers what follows. Returns the entry's index. */
  propose(id: NodeId, text: string): number {
    const result = this.node(id).propose(encode(text));
    if (!result.accepted) throw new Error(`${id} is not the leader (leader: ${result.leader})`);
    this.flush(id);
    this.deliverAll();
    return result.index;
  }

  /** Proposes a membership change on `id` and delivers what follows; returns the answer. */
  proposeConfChange(id: NodeId, cc: ConfChange): ConfChangeResult {
    const result = this.node(id).proposeConfChange(cc);
    this.flush(id);
    this.deliverAll();
    return result;
  }

  /** The read states `id` has been handed, as `index:ctx`. */
  reads(id: NodeId): string[] {
    return (this.readStates.get(id) ?? []).map((read) => `${read.index}:${decode(read.ctx)}`);
  }

  /**
   * Proposes `text` on whoever leads, again on the next leader if it is lost, until every
   * live member has applied it (6.824's `one()`). Returns the leader that got it committed.
   */
  agree(text: string, maxTicks = 500): NodeId {
    let ticks = 0;
    while (ticks < maxTicks) {
      const leader = this.leader();
      if (leader === null) {
        this.tick();
        ticks++;
        continue;
      }
      this.node(leader).propose(encode(text));
      this.flush(leader);
      this.deliverAll();
      for (let wait = 0; wait < 20 && ticks < maxTicks; wait++, ticks++) {
        // Every live member (a removed node no longer hears of new entries).
        const members = this.nodes.get(leader)?.voters() ?? [...this.nodes.keys()];
        const everywhere = members
          .filter((id) => this.nodes.has(id))
          .every((id) => this.applied.get(id)!.includes(text));
        if (everywhere) return leader;
        this.tick();
      }
    }
    throw new Error(`no agreement on ${text} after ${maxTicks} ticks`);
  }

  /** Ticks until some live node leads in the highest term seen; returns it. */
  waitForLeader(maxTicks = 200): NodeId {
    for (let t = 0; t < maxTicks; t++) {
      const leader = this.leader();
      if (leader !== null) return leader;
      this.tick();
    }
    throw new Error(`no leader after ${maxTicks} ticks`);
  }

  /** The live node that leads in the highest term any live node leads in, or null. */
  leader(): NodeId | null {
    let best: RaftNode | null = null;
    for (const node of this.nodes.values()) {
      if (node.role === 'leader' && (best === null || node.term > best.term)) best = node;
    }
    return best?.id ?? null;
  }

  /** The live nodes that consider themselves leaders, with their terms. */
  leaders(): string[] {
    return [...this.nodes.values()]
      .filter((node) => node.role === 'leader')
      .map((node) => `${node.id}@${node.term}`);
  }

  /** The terms of a live node's log, in order. */
  terms(id: NodeId): number[] {
    const log = this.node(id).log;
    return log.slice(log.firstIndex(), log.lastIndex() + 1).map((entry) => entry.term);
  }

  checkInvariants(): void {
    this.#fail(this.checker.check([...this.nodes.values()].map(raftState)));
  }

  #dropped(m: Message): boolean {
    if (this.#cut.has(`${m.from}>${m.to}`)) return true;
    if (this.#dropRule?.(m) === true) return true;
    return this.lossRate > 0 && this.#faultRng.next() < this.lossRate;
  }

  #fail(violations: readonly Violation[]): void {
    if (violations.length > 0) {
      throw new Error(violations.map((v) => `${v.invariant}: ${v.message}`).join('\n'));
    }
  }
}
