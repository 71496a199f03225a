/**
 * Resharding under load: N shards (one node each, holding a real core/engine `Store`) behind a
 * real `ClusterMap` and its ring, cache-aside clients (sim/workload/cache-aside.ts) routing with
 * the map, and at `moveAtMs` M shards added (or K removed), moved by the protocol documented at
 * the top of core/cluster/cluster-map.ts:
 *
 *   e+1  the new ring, with `moving` (the old ring, the leaving shards). Every request for a key
 *        goes to its new owner N; the old owner O refuses it (`stale`), and the client sends
 *        it again. Each N pulls the moved keys from each O in throttled batches over the
 *        simulated network and applies a copy only if the key is not settled (Handoff, rule 3);
 *        N settles a key it writes or deletes (rule 2); a read of a key in transit that N
 *        neither holds nor settled reads through from O (rule 4).
 *   e+2  once every stream is done: `moving` is null, N forgets its ledger, O drops the moved
 *        keys and a removed shard stops (rule 5).
 *
 * With `transfer: false` (the naive approach) e+1 has no `moving`: keys simply change owner,
 * the old owners drop them, and the new owners fill by misses.
 *
 * The map reaches every node and every client at the same virtual time (no propagation
 * delay): a request already on its way to an old owner is refused and sent again, as a real
 * `stale_map` answer makes a client fetch the new map and retry. Copies (a batch, the answer
 * of a transfer read) are applied as they arrive, outside the node's queue; a pull and a
 * transfer read take their turn in the old owner's queue like any request.
 *
 * A RegisterChecker (sim/checker/register.ts) sees every acknowledged write and delete and
 * every value read: after the run it says whether any read returned a value older than a
 * write acknowledged before it began, or a deleted key came back.
 *
 * Streams: those of the cache scenario, plus `workload/<client>/deletes`.
 */
import type { PolicyName } from '../../core/config.ts';
import {
  type ClusterMap,
  type ClusterShard,
  Handoff,
  previousRingOf,
  ringOf,
} from '../../core/cluster/index.ts';
import { type Entry, Store, type StoredValue } from '../../core/engine/index.ts';
import type { Rng } from '../../core/random.ts';
import { DEFAULT_VNODES, movedRanges, type Ring, RING_SIZE } from '../../core/ring/index.ts';
import { keyName } from '../../core/workload/keys.ts';
import type { KeyDistribution } from '../../core/workload/samplers.ts';
import {
  type CheckSummary,
  RegisterChecker,
  VERSION_BYTES,
  versionedValue,
} from '../checker/register.ts';
import { type DelayDistribution, delaySampler, type DelaySampler } from '../distributions.ts';
import { type LinkOptions, Network, type NetworkStats } from '../network/network.ts';
import type { Transport } from '../network/transport.ts';
import { ServerQueue } from '../node/server-queue.ts';
import { streamRng } from '../random.ts';
import { type EventHandle, Scheduler } from '../scheduler.ts';
import { msFromUs, US_PER_SECOND, usFromMs } from '../time.ts';
import { TraceHash } from '../trace.ts';
import {
  type CacheAsideWorld,
  type KeyMessage,
  type KeyRequest,
  type KeyStatus,
} from '../workload/cache-aside.ts';
import { Recorder, type WorkloadSummary } from '../workload/recorder.ts';
import { clientNames, DEFAULT_CACHE_SCENARIO } from './cache.ts';
import { checkLoad, checkWhole, finishClients, maxEventsFor, startClients } from './clients.ts';
import { drain, type Progress } from './drain.ts';

/**
 * Test only: break one Handoff rule, so a test can see the checker catch it.
 * `copy-over-settled`: a copy from the old owner is applied even to a settled key (rule 3).
 * `delete-not-settled`: a delete at the new owner leaves no tombstone (rule 2).
 */
export type HandoffFault = 'none' | 'copy-over-settled' | 'delete-not-settled';

export interface ReshardingOptions {
  readonly seed: number;
  /** Shards before the move, one node each: `shard-<i>` served by `node-<i>`. */
  readonly shards: number;
  /** Shards added at the move (numbered after the others). */
  readonly add: number;
  /** Shards removed at the move: the last ones. */
  readonly remove: number;
  readonly vnodes: number;
  readonly clients: number;
  /** Arrivals per virtual second, over all clients. */
  readonly ratePerSecond: number;
  /** Clients issue requests for this long; the run then drains what is in flight. */
  readonly durationMs: number;
  /** When the map changes to e+1. */
  readonly moveAtMs: number;
  readonly keys: number;
  readonly distribution: KeyDistribution;
  /** Share of GETs; the rest are writes, of which `deleteRatio` are deletes. */
  readonly readRatio: number;
  readonly deleteRatio: number;
  /** At least VERSION_BYTES: a value carries its version for the checker. */
  readonly valueBytes: number;
  /** Every key written into its owner before the clients start, so the cache is warm. */
  readonly prefill: boolean;
  readonly maxMemoryBytes: number;
  readonly policy: PolicyName;
  readonly serviceTime: DelayDistribution;
  readonly loadTime: DelayDistribution;
  readonly link: LinkOptions;
  readonly timeoutMs: number;
  readonly maxQueueDepth: number;
  /** Stream the moved keys (true), or let them move by misses (false: the naive approach). */
  readonly transfer: boolean;
  /** Keys per pull. */
  readonly transferBatchKeys: number;
  /** Keys a receiving shard pulls per virtual second, at most. */
  readonly transferKeysPerSecond: number;
  readonly handoffFault: HandoffFault;
}

export const DEFAULT_RESHARDING: Omit<ReshardingOptions, 'seed'> = {
  shards: 100,
  add: 10,
  remove: 0,
  vnodes: DEFAULT_VNODES,
  clients: 8,
  ratePerSecond: 20_000,
  durationMs: 10_000,
  moveAtMs: 3_000,
  keys: 100_000,
  distribution: { kind: 'zipf', s: 0.99 },
  readRatio: 0.9,
  deleteRatio: 0.1,
  valueBytes: 256,
  prefill: true,
  // Room for every key on any shard: the balance figures count keys, not evictions.
  maxMemoryBytes: 64 * 1024 * 1024,
  policy: 'lru',
  serviceTime: DEFAULT_CACHE_SCENARIO.serviceTime,
  loadTime: DEFAULT_CACHE_SCENARIO.loadTime,
  link: DEFAULT_CACHE_SCENARIO.link,
  timeoutMs: 1000,
  maxQueueDepth: 1024,
  transfer: true,
  transferBatchKeys: 100,
  transferKeysPerSecond: 1_000,
  handoffFault: 'none',
};

/** A node's CPU time to read one entry into a batch. */
const COPY_US_PER_KEY = 1;

/** Max / mean of a set of figures (keys per shard, ring shares). */
export interface Balance {
  readonly shards: number;
  readonly maxOverMean: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

export interface ReshardingResult {
  readonly options: ReshardingOptions;
  readonly addedShards: readonly string[];
  readonly removedShards: readonly string[];
  /** Keys per shard in the stores just before the move, and at the end of the run. */
  readonly keysBefore: Balance;
  readonly keysAfter: Balance;
  /** Ring shares of the shards before and after. */
  readonly ringBefore: Balance;
  readonly ringAfter: Balance;
  /** Keys stored when the move began, and how many of them changed owner. */
  readonly storedKeys: number;
  readonly movedKeys: number;
  readonly movedFraction: number;
  /** What a perfect hash would move: the removed shards' keys plus the added shards' share. */
  readonly idealMovedFraction: number;
  /** The share of the ring whose owner changed. */
  readonly ringMovedFraction: number;
  /** Entries sent in batches, their key and value bytes, and how the receivers took them. */
  readonly streamedKeys: number;
  readonly streamedBytes: number;
  readonly batches: number;
  readonly copiesApplied: number;
  readonly copiesSkipped: number;
  /** Reads of keys in transit sent to the old owner, and how many found the key. */
  readonly transferReads: number;
  readonly transferReadHits: number;
  /** Client requests an old owner refused (each sent again). */
  readonly staleAnswers: number;
  readonly moveStartMs: number;
  /** When the map reached e+2 (with transfer) or the keys changed owner (without); null: never. */
  readonly moveEndMs: number | null;
  /** Hit rate over the whole seconds before the move. */
  readonly hitRateBefore: number | null;
  /** The lowest hit rate of a second from the move's second to the last second of arrivals. */
  readonly lowestHitRate: { readonly second: number; readonly hitRate: number } | null;
  readonly workload: WorkloadSummary;
  readonly check: CheckSummary;
  readonly network: NetworkStats;
  readonly virtualMs: number;
  readonly eventsProcessed: number;
  readonly traceHash: string;
}

/** Everything that travels: the clients' requests and answers, and the move's own. */
type Message = KeyMessage | Pull | Batch | TransferRead | TransferAnswer;

/** A receiving shard asks an old owner for the moved keys from `cursor` on. */
interface Pull {
  readonly kind: 'pull';
  readonly receiver: string;
  readonly cursor: number;
}

interface Copy {
  readonly key: string;
  readonly value: StoredValue;
  readonly expiresAt: number | null;
}

interface Batch {
  readonly kind: 'batch';
  readonly source: string;
  readonly cursor: number;
  readonly next: number;
  readonly done: boolean;
  readonly copies: readonly Copy[];
}

/** A new owner reads a key in transit from its old owner (rule 4). */
interface TransferRead {
  readonly kind: 'transfer-read';
  readonly id: number;
  readonly key: string;
}

interface TransferAnswer {
  readonly kind: 'transfer-answer';
  readonly id: number;
  readonly copy: Copy | null;
}

export function shardId(i: number): string {
  return `shard-${i}`;
}

function shardOf(i: number): ClusterShard {
  return { id: shardId(i), nodes: [{ id: `node-${i}`, url: `http://node-${i}.sim:7001` }] };
}

/** Runs the scenario to its end and returns what happened; the same options give the same. */
export function runReshardingScenario(
  options: Partial<ReshardingOptions> & { readonly seed: number },
  onProgress?: Progress,
): ReshardingResult {
  const o: ReshardingOptions = { ...DEFAULT_RESHARDING, ...options };
  checkOptions(o);
  const scheduler = new Scheduler();
  const trace = new TraceHash();
  const network = new Network<Message>(scheduler, { seed: o.seed, link: o.link, trace });
  const recorder = new Recorder();
  const checker = new RegisterChecker(o.keys, o.valueBytes);
  const cluster = new Cluster(scheduler, network, o);
  const world: CacheAsideWorld = {
    scheduler,
    recorder,
    trace,
    timeoutUs: usFromMs(o.timeoutMs),
    keyNames: [],
    route: (key) => cluster.addressOf(key),
    value: versionedValue(0, o.valueBytes), // unused: the checker gives every SET its value
    history: checker,
  };
  if (o.prefill) cluster.prefill(world.keyNames, checker);

  const stopUs = usFromMs(o.durationMs);
  const loops = startClients(world, network, clientNames(o.clients), o);
  scheduler.at(usFromMs(o.moveAtMs), () => cluster.startMove());
  // Each moved key takes a few events more: its pull share, its batch, its copy.
  const maxEvents = maxEventsFor(o, 4 * o.keys);
  drain(scheduler, maxEvents, `The resharding scenario with seed ${o.seed}`, stopUs, onProgress);
  const endUs = scheduler.nowUs;
  const workload = finishClients(loops, recorder, endUs, o);
  return cluster.result(o, workload, checker.summary(), {
    network: network.stats,
    virtualMs: msFromUs(endUs),
    eventsProcessed: scheduler.eventsRun,
    traceHash: trace.hex(),
  });
}

/** The map, the nodes, and the move's bookkeeping. */
class Cluster {
  readonly nodes: ShardNode[];
  private readonly byShard = new Map<string, ShardNode>();
  private map: ClusterMap;
  /** The rings of `map`, current and (during a move) previous. */
  ring: Ring;
  previous: Ring | null = null;
  private readonly before: ClusterMap;
  private readonly after: ClusterMap;
  private receiversLeft = 0;
  private moveStartUs = -1;
  private moveEndUs = -1;
  private storedKeys = 0;
  private movedKeys = 0;
  private keysBefore: Balance | null = null;

  constructor(
    readonly scheduler: Scheduler,
    readonly network: Network<Message>,
    readonly options: ReshardingOptions,
  ) {
    const o = options;
    const all = Array.from({ length: o.shards + o.add }, (_, i) => shardOf(i));
    const before = all.slice(0, o.shards);
    const kept = before.slice(0, o.shards - o.remove);
    this.before = { epoch: 1, vnodes: o.vnodes, shards: before, moving: null };
    // Epoch e+2; e+1 is this ring with `moving` (or, without transfer, this ring at epoch 2).
    this.after = {
      epoch: 3,
      vnodes: o.vnodes,
      shards: [...kept, ...all.slice(o.shards)],
      moving: null,
    };
    this.map = this.before;
    this.ring = ringOf(this.map);
    this.nodes = all.map((shard, i) => new ShardNode(this, shard.id, `node-${i}`));
    for (const node of this.nodes) this.byShard.set(node.shard, node);
  }

  /** The address of the node that serves `key` under the current map. */
  addressOf(key: string): string {
    return this.byShard.get(this.ring.owner(key))!.address;
  }

  node(shard: string): ShardNode {
    return this.byShard.get(shard)!;
  }

  prefill(keyNames: (string | undefined)[], checker: RegisterChecker): void {
    for (let keyId = 0; keyId < this.options.keys; keyId++) {
      const key = (keyNames[keyId] ??= keyName(keyId));
      this.node(this.ring.owner(key)).prefill(key, checker.prefilled(keyId, 0));
    }
  }

  /** Epoch e+1: the new ring (with `moving` when keys stream). */
  startMove(): void {
    const o = this.options;
    const from = ringOf(this.before);
    const to = ringOf(this.after);
    this.moveStartUs = this.scheduler.nowUs;
    this.keysBefore = balance(
      from.shards.map((s) => this.node(s).entries),
      from.shards.length,
    );
    for (const shard of from.shards) {
      for (const key of this.node(shard).keys()) {
        this.storedKeys++;
        if (to.owner(key) !== shard) this.movedKeys++;
      }
    }
    if (!o.transfer) {
      this.adopt({ ...this.after, epoch: 2 });
      this.moveEndUs = this.scheduler.nowUs;
      return;
    }
    const next: ClusterMap = {
      epoch: 2,
      vnodes: o.vnodes,
      shards: this.after.shards,
      moving: {
        fromRing: this.before.shards.map((s) => s.id),
        leaving: this.before.shards.filter((s) => !to.has(s.id)),
      },
    };
    // Who pulls from whom: the moved ranges, by receiver, sources in ring order.
    const sources = new Map<string, string[]>();
    for (const range of movedRanges(from, to)) {
      const list = sources.get(range.to) ?? [];
      if (!list.includes(range.from)) list.push(range.from);
      sources.set(range.to, list);
    }
    this.receiversLeft = sources.size;
    // Rule 1: every old owner adopts e+1 before anything streams.
    this.adopt(next);
    for (const [receiver, list] of sources) this.node(receiver).startPulling(list.sort());
    if (this.receiversLeft === 0) this.finishMove();
  }

  /** A receiver has pulled everything from its sources. */
  receiverDone(): void {
    if (--this.receiversLeft === 0) this.finishMove();
  }

  /** Epoch e+2 (rule 5). */
  private finishMove(): void {
    this.moveEndUs = this.scheduler.nowUs;
    this.adopt(this.after);
  }

  private adopt(map: ClusterMap): void {
    this.map = map;
    this.ring = ringOf(map);
    this.previous = previousRingOf(map);
    for (const node of this.nodes) node.adopt(map);
  }

  result(
    o: ReshardingOptions,
    workload: WorkloadSummary,
    check: CheckSummary,
    run: Pick<ReshardingResult, 'network' | 'virtualMs' | 'eventsProcessed' | 'traceHash'>,
  ): ReshardingResult {
    const from = ringOf(this.before);
    const to = ringOf(this.after);
    const shareOf = (ring: Ring) => balance([...ring.shares().values()], ring.shards.length);
    let ringMoved = 0;
    for (const r of movedRanges(from, to)) ringMoved += (r.end - r.start) / RING_SIZE;
    const n = o.shards;
    const k = o.remove;
    const sum = (f: (node: ShardNode) => number) =>
      this.nodes.reduce((total, node) => total + f(node), 0);
    const moveSecond = Math.floor(this.moveStartUs / US_PER_SECOND);
    const lastSecond = Math.ceil(o.durationMs / 1000) - 1;
    let hits = 0;
    let misses = 0;
    let lowest: ReshardingResult['lowestHitRate'] = null;
    for (const s of workload.series) {
      if (s.second < moveSecond) {
        hits += s.hits;
        misses += s.misses;
      } else if (s.second <= lastSecond && s.hitRate !== null) {
        if (lowest === null || s.hitRate < lowest.hitRate) {
          lowest = { second: s.second, hitRate: s.hitRate };
        }
      }
    }
    return {
      options: o,
      addedShards: to.shards.filter((s) => !from.has(s)),
      removedShards: from.shards.filter((s) => !to.has(s)),
      keysBefore: this.keysBefore ?? balance([], 0),
      keysAfter: balance(
        to.shards.map((s) => this.node(s).entries),
        to.shards.length,
      ),
      ringBefore: shareOf(from),
      ringAfter: shareOf(to),
      storedKeys: this.storedKeys,
      movedKeys: this.movedKeys,
      movedFraction: this.storedKeys === 0 ? 0 : this.movedKeys / this.storedKeys,
      idealMovedFraction: k / n + ((n - k) / n) * (o.add / (n - k + o.add)),
      ringMovedFraction: ringMoved,
      streamedKeys: sum((node) => node.stats.streamedKeys),
      streamedBytes: sum((node) => node.stats.streamedBytes),
      batches: sum((node) => node.stats.batches),
      copiesApplied: sum((node) => node.stats.copiesApplied),
      copiesSkipped: sum((node) => node.stats.copiesSkipped),
      transferReads: sum((node) => node.stats.transferReads),
      transferReadHits: sum((node) => node.stats.transferReadHits),
      staleAnswers: sum((node) => node.stats.staleAnswers),
      moveStartMs: msFromUs(this.moveStartUs),
      moveEndMs: this.moveEndUs < 0 ? null : msFromUs(this.moveEndUs),
      hitRateBefore: hits + misses === 0 ? null : hits / (hits + misses),
      lowestHitRate: lowest,
      workload,
      check,
      ...run,
    };
  }
}

interface NodeStats {
  streamedKeys: number;
  streamedBytes: number;
  batches: number;
  copiesApplied: number;
  copiesSkipped: number;
  transferReads: number;
  transferReadHits: number;
  staleAnswers: number;
}

/** A transfer read in flight: whose GET it answers. */
interface HeldRead {
  readonly from: string;
  readonly id: number;
  readonly key: string;
}

class ShardNode {
  private readonly store: Store;
  private readonly transport: Transport<Message>;
  private readonly queue: ServerQueue<Message>;
  private readonly service: DelaySampler;
  private readonly rng: Rng;
  private readonly scheduler: Scheduler;
  private readonly fault: HandoffFault;
  readonly stats: NodeStats = {
    streamedKeys: 0,
    streamedBytes: 0,
    batches: 0,
    copiesApplied: 0,
    copiesSkipped: 0,
    transferReads: 0,
    transferReadHits: 0,
    staleAnswers: 0,
  };
  /** The ledger of the move in progress, while this node receives keys (rules 2-4). */
  private handoff: Handoff | null = null;
  /** As an old owner: the keys each receiver is to pull, listed when e+1 arrived. */
  private outgoing = new Map<string, string[]>();
  /** As a receiver: the shards to pull from, the one being pulled, and where in its list. */
  private sources: readonly string[] = [];
  private sourceIndex = 0;
  private cursor = 0;
  private lastPullUs = 0;
  private retry: EventHandle = -1;
  private readonly held = new Map<number, HeldRead>();
  private nextReadId = 0;

  constructor(
    private readonly cluster: Cluster,
    readonly shard: string,
    readonly address: string,
  ) {
    const o = cluster.options;
    this.scheduler = cluster.scheduler;
    this.fault = o.handoffFault;
    this.store = new Store({
      maxMemoryBytes: o.maxMemoryBytes,
      maxKeyBytes: 1024,
      maxValueBytes: o.valueBytes,
      policy: o.policy,
    });
    this.service = delaySampler(o.serviceTime);
    this.rng = streamRng(o.seed, `node/${address}/service`);
    this.queue = new ServerQueue(this.scheduler, o.maxQueueDepth, (from, message) =>
      this.serve(from, message),
    );
    this.transport = cluster.network.listen(address, (from, message) =>
      this.receive(from, message),
    );
  }

  get entries(): number {
    return this.store.size;
  }

  keys(): IterableIterator<string> {
    return this.store.keys();
  }

  prefill(key: string, value: StoredValue): void {
    this.store.set(key, value, null, 0);
  }

  /** A new map: list what to send, or forget the ledger and drop what moved away. */
  adopt(map: ClusterMap): void {
    const ring = ringOf(map);
    if (map.moving !== null) {
      // e+1 as an old owner: the keys to stream, by receiver. Nothing is written here for
      // them from now on (rule 1), so the list is complete.
      this.outgoing = new Map();
      for (const key of this.store.keys()) {
        const owner = ring.owner(key);
        if (owner === this.shard) continue;
        const list = this.outgoing.get(owner);
        if (list === undefined) this.outgoing.set(owner, [key]);
        else list.push(key);
      }
      return;
    }
    // e+2, or the naive move: the ledger goes and so do the keys this shard no longer owns
    // (all of them, for a shard that left the ring).
    this.handoff = null;
    this.outgoing = new Map();
    const gone: string[] = [];
    for (const key of this.store.keys()) if (ring.owner(key) !== this.shard) gone.push(key);
    const nowMs = this.scheduler.nowMs;
    for (const key of gone) this.store.delete(key, nowMs);
  }

  private receive(from: string, message: Message): void {
    switch (message.kind) {
      case 'reply':
        return;
      case 'batch':
        this.applyBatch(message);
        return;
      case 'transfer-answer':
        this.answerHeldRead(message);
        return;
    }
    if (this.queue.full) {
      // A pull or transfer read is dropped (the pull is retried); a client is told at once.
      if (message.kind === 'get' || message.kind === 'set' || message.kind === 'delete') {
        this.reply(from, message.id, 'error', null);
      }
      return;
    }
    const extraUs = message.kind === 'pull' ? this.cluster.options.transferBatchKeys : 0;
    this.queue.offer(from, message, this.service(this.rng) + extraUs * COPY_US_PER_KEY);
  }

  private serve(from: string, message: Message): void {
    switch (message.kind) {
      case 'get':
      case 'set':
      case 'delete':
        this.serveKey(from, message);
        return;
      case 'pull':
        this.servePull(from, message);
        return;
      case 'transfer-read':
        this.serveTransferRead(from, message);
        return;
      default:
        return;
    }
  }

  private serveKey(from: string, request: KeyRequest): void {
    const cluster = this.cluster;
    const key = request.key;
    const h = cluster.ring.position(key);
    if (cluster.ring.ownerAt(h) !== this.shard) {
      // Not ours under the current map (rule 1): the client sends it again.
      this.stats.staleAnswers++;
      this.reply(from, request.id, 'stale', null);
      return;
    }
    const previous = cluster.previous;
    const old = previous === null ? this.shard : previous.ownerAt(h);
    const handoff = old === this.shard ? null : this.handoff;
    const nowMs = this.scheduler.nowMs;
    switch (request.kind) {
      case 'get': {
        const entry = this.store.get(key, nowMs);
        if (entry !== undefined) {
          this.reply(from, request.id, 'hit', entry);
        } else if (handoff !== null && handoff.readsThrough(key)) {
          // Rule 4: not here and not settled: the old owner may still hold it.
          const id = this.nextReadId++;
          this.held.set(id, { from, id: request.id, key });
          this.stats.transferReads++;
          const read: TransferRead = { kind: 'transfer-read', id, key };
          this.transport.send(cluster.node(old).address, read);
        } else {
          this.reply(from, request.id, 'miss', null);
        }
        return;
      }
      case 'set': {
        handoff?.settle(key); // rule 2
        const result = this.store.set(key, request.value!, null, nowMs);
        this.reply(from, request.id, result.ok ? 'stored' : 'error', null);
        return;
      }
      case 'delete': {
        if (this.fault !== 'delete-not-settled') handoff?.settle(key); // rule 2: a tombstone
        this.store.delete(key, nowMs);
        this.reply(from, request.id, 'deleted', null);
        return;
      }
    }
  }

  /** As an old owner: the next batch of keys for a receiver, from its own store. */
  private servePull(from: string, pull: Pull): void {
    const list = this.outgoing.get(pull.receiver) ?? [];
    const end = Math.min(list.length, pull.cursor + this.cluster.options.transferBatchKeys);
    const nowMs = this.scheduler.nowMs;
    const copies: Copy[] = [];
    for (let i = pull.cursor; i < end; i++) {
      const key = list[i]!;
      const entry = this.store.peek(key, nowMs);
      if (entry === undefined) continue; // evicted or expired since the list was made
      copies.push(copyOf(key, entry));
      this.stats.streamedKeys++;
      this.stats.streamedBytes += key.length + entry.bytes.length;
    }
    this.stats.batches++;
    const batch: Batch = {
      kind: 'batch',
      source: this.shard,
      cursor: pull.cursor,
      next: end,
      done: end >= list.length,
      copies,
    };
    this.transport.send(from, batch);
  }

  /** As an old owner: a receiver reads a key in transit from this store (rule 4). */
  private serveTransferRead(from: string, read: TransferRead): void {
    const cluster = this.cluster;
    const h = cluster.ring.position(read.key);
    const isOld =
      cluster.previous?.ownerAt(h) === this.shard && cluster.ring.ownerAt(h) !== this.shard;
    const entry = isOld ? this.store.peek(read.key, this.scheduler.nowMs) : undefined;
    const answer: TransferAnswer = {
      kind: 'transfer-answer',
      id: read.id,
      copy: entry === undefined ? null : copyOf(read.key, entry),
    };
    this.transport.send(from, answer);
  }

  /** The old owner answered a transfer read: keep the copy if the key is not settled. */
  private answerHeldRead(answer: TransferAnswer): void {
    const read = this.held.get(answer.id);
    if (read === undefined) return;
    this.held.delete(answer.id);
    const copy = answer.copy;
    if (copy !== null && this.applyCopy(copy)) {
      this.stats.transferReadHits++;
      this.reply(read.from, read.id, 'hit', copy.value);
      return;
    }
    // Settled meanwhile (a write or delete here wins), or not there: answer from this store.
    const entry = this.store.get(read.key, this.scheduler.nowMs);
    this.reply(read.from, read.id, entry === undefined ? 'miss' : 'hit', entry ?? null);
  }

  /** Rule 3: a copy lands only on a key not settled here, and then settles it. */
  private applyCopy(copy: Copy): boolean {
    const handoff = this.handoff;
    if (handoff === null) return false; // the move is over: the copy is stale news
    const accepted = handoff.acceptCopy(copy.key) || this.fault === 'copy-over-settled';
    if (!accepted) {
      this.stats.copiesSkipped++;
      return false;
    }
    const nowMs = this.scheduler.nowMs;
    if (copy.expiresAt !== null && !(copy.expiresAt > nowMs)) return false;
    this.stats.copiesApplied++;
    return this.store.set(copy.key, copy.value, copy.expiresAt, nowMs).ok;
  }

  // --- As a receiver: pulling the moved keys, one source after another, throttled.

  startPulling(sources: readonly string[]): void {
    this.handoff = new Handoff();
    this.sources = sources;
    this.sourceIndex = 0;
    this.cursor = 0;
    this.lastPullUs = -Infinity;
    this.pull();
  }

  /** @internal Sends the pull for the current source and cursor. */
  pull(): void {
    const source = this.sources[this.sourceIndex]!;
    this.lastPullUs = this.scheduler.nowUs;
    const pull: Pull = { kind: 'pull', receiver: this.shard, cursor: this.cursor };
    this.transport.send(this.cluster.node(source).address, pull);
    // Lost, or dropped by a full queue: ask again after a client's timeout.
    this.retry = this.scheduler.after(usFromMs(this.cluster.options.timeoutMs), pullAgain, this);
  }

  /** @internal */
  pullTimedOut(): void {
    this.retry = -1;
    this.pull();
  }

  private applyBatch(batch: Batch): void {
    const source = this.sources[this.sourceIndex];
    if (source !== batch.source || batch.cursor !== this.cursor || this.retry === -1) return;
    this.scheduler.cancel(this.retry);
    this.retry = -1;
    for (const copy of batch.copies) this.applyCopy(copy);
    if (batch.done) {
      this.sourceIndex++;
      this.cursor = 0;
    } else {
      this.cursor = batch.next;
    }
    if (this.sourceIndex === this.sources.length) {
      this.cluster.receiverDone();
      return;
    }
    // The throttle: the keys this pull covered, at transferKeysPerSecond, before the next.
    const keys = batch.next - batch.cursor;
    const intervalUs = Math.round(
      (keys / this.cluster.options.transferKeysPerSecond) * US_PER_SECOND,
    );
    const atUs = Math.max(this.scheduler.nowUs, this.lastPullUs + intervalUs);
    this.scheduler.at(atUs, pullNext, this);
  }

  private reply(to: string, id: number, status: KeyStatus, value: StoredValue | null): void {
    this.transport.send(to, { kind: 'reply', id, status, value });
  }
}

function copyOf(key: string, entry: Entry): Copy {
  return { key, value: entry, expiresAt: entry.expiresAt };
}

function pullNext(node: ShardNode): void {
  node.pull();
}

function pullAgain(node: ShardNode): void {
  node.pullTimedOut();
}

function balance(values: readonly number[], shards: number): Balance {
  if (values.length === 0) return { shards, maxOverMean: 0, min: 0, max: 0, mean: 0 };
  const max = Math.max(...values);
  const min = Math.min(...values);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { shards, maxOverMean: mean === 0 ? 0 : max / mean, min, max, mean };
}

function checkOptions(o: ReshardingOptions): void {
  checkLoad(o);
  checkWhole('shards', o.shards, 1, 4096);
  checkWhole('add', o.add, 0, 4096);
  checkWhole('remove', o.remove, 0, o.shards - 1);
  checkWhole('keys', o.keys, 1, 100_000_000);
  checkWhole('valueBytes', o.valueBytes, VERSION_BYTES, 1 << 20);
  checkWhole('maxQueueDepth', o.maxQueueDepth, 1, 1 << 20);
  checkWhole('transferBatchKeys', o.transferBatchKeys, 1, 1_000_000);
  if (!(o.transferKeysPerSecond > 0 && o.transferKeysPerSecond <= 1e9)) {
    throw new RangeError(
      `transferKeysPerSecond must be above 0 and at most 1e9 (got ${o.transferKeysPerSecond}).`,
    );
  }
  if (!(o.moveAtMs >= 0 && o.moveAtMs <= o.durationMs)) {
    throw new RangeError(`moveAtMs must be from 0 to durationMs (got ${o.moveAtMs}).`);
  }
  if (!(o.deleteRatio >= 0 && o.deleteRatio <= 1)) {
    throw new RangeError(`deleteRatio must be from 0 to 1 (got ${o.deleteRatio}).`);
  }
}
