/**
 * The first scenario: K cache nodes, each holding a real core/engine `Store`, and open-model
 * clients reading and writing through them over the simulated network, cache-aside: a GET
 * that misses loads the value from a backing store (a delay) and SETs it, and the request ends
 * when that SET is acknowledged. Which node serves a key is a plain function (`route`), so a
 * consistent-hash ring can be passed in place of the default modulo hash.
 *
 * A node is one single-threaded server, as a node process is: requests wait in a bounded FIFO
 * and each takes a service time; a full queue answers `error` at once (the 503 a real node
 * sends when overloaded). A request without an answer within `timeoutMs` ends as an error,
 * and a late answer is ignored, as a real client would.
 *
 * One seed decides the run; every component draws from its own stream (sim/random.ts):
 * `network/<from>/<to>`, `workload/<client>/{arrivals,keys,ops}`, `node/<node>/service`,
 * `client/<client>/load`.
 */
import type { PolicyName } from '../../core/config.ts';
import { Store } from '../../core/engine/index.ts';
import type { Rng } from '../../core/random.ts';
import type { KeyDistribution } from '../../core/workload/samplers.ts';
import { type DelayDistribution, delaySampler, type DelaySampler } from '../distributions.ts';
import { DEFAULT_LINK, type LinkOptions, Network, type NetworkStats } from '../network/network.ts';
import type { Transport } from '../network/transport.ts';
import { ServerQueue } from '../node/server-queue.ts';
import { streamRng } from '../random.ts';
import { Scheduler } from '../scheduler.ts';
import { msFromUs, usFromMs } from '../time.ts';
import { TraceHash } from '../trace.ts';
import {
  type CacheAsideWorld,
  type KeyMessage,
  type KeyRequest,
  type KeyStatus,
} from '../workload/cache-aside.ts';
import { Recorder, type WorkloadSummary } from '../workload/recorder.ts';
import { checkLoad, checkWhole, finishClients, maxEventsFor, startClients } from './clients.ts';
import { drain, type Progress } from './drain.ts';

export interface CacheScenarioOptions {
  readonly seed: number;
  /** Cache nodes, named by `nodeAddresses`. */
  readonly nodes: number;
  readonly clients: number;
  /** Arrivals per virtual second, over all clients. */
  readonly ratePerSecond: number;
  /** Clients issue requests for this long; the run then drains what is in flight. */
  readonly durationMs: number;
  readonly keys: number;
  readonly distribution: KeyDistribution;
  /** Share of GETs (cache-aside reads); the rest are SETs. */
  readonly readRatio: number;
  readonly valueBytes: number;
  /** TTL of every write; null for none. */
  readonly ttlMs: number | null;
  /** Each node's memory bound. */
  readonly maxMemoryBytes: number;
  readonly policy: PolicyName;
  /** A node's time per request. */
  readonly serviceTime: DelayDistribution;
  /** The backing store's time to load a value after a miss. */
  readonly loadTime: DelayDistribution;
  /** Every link's options. */
  readonly link: LinkOptions;
  readonly timeoutMs: number;
  /** Requests a node holds, the one in service included, before it refuses more. */
  readonly maxQueueDepth: number;
  /** Network faults at fixed virtual times (plain data, so a schedule replays with its seed). */
  readonly faults: readonly Fault[];
}

/**
 * A change to the network at `atMs`. Addresses are `node-<i>` and `client-<i>`. A fault
 * lasts until a `heal`, which mends every cut link.
 */
export type Fault =
  | { readonly atMs: number; readonly kind: 'isolate'; readonly address: string }
  | {
      readonly atMs: number;
      readonly kind: 'partition';
      readonly side: readonly string[];
      readonly other: readonly string[];
    }
  | { readonly atMs: number; readonly kind: 'heal' };

/** Which node serves `key`: an address from `nodeAddresses(nodes)`. */
export type Route = (key: string) => string;

export const DEFAULT_CACHE_SCENARIO: Omit<CacheScenarioOptions, 'seed'> = {
  nodes: 4,
  clients: 8,
  ratePerSecond: 10_000,
  durationMs: 10_000,
  keys: 100_000,
  distribution: { kind: 'zipf', s: 0.99 },
  readRatio: 0.9,
  valueBytes: 256,
  ttlMs: null,
  maxMemoryBytes: 4 * 1024 * 1024,
  policy: 'lru',
  // A node's CPU time per request, 12.4 µs measured at 80k req/s (README, bench playground),
  // to the clock's µs.
  serviceTime: { kind: 'constant', ms: 0.012 },
  // A database read behind the cache: 0.66 ms mean measured by bench db, with a long tail.
  loadTime: { kind: 'lognormal', medianMs: 0.5, sigma: 0.6, baseMs: 0.05 },
  // One data centre: 50 µs on the wire plus queueing with a 50 µs mean, as TigerBeetle's
  // packet simulator draws one-way delays (a minimum plus an exponential).
  link: { ...DEFAULT_LINK, latency: { kind: 'exponential', meanMs: 0.05, baseMs: 0.05 } },
  timeoutMs: 1000,
  maxQueueDepth: 1024,
  faults: [],
};

export interface NodeSummary {
  readonly address: string;
  /** Requests answered after service. */
  readonly served: number;
  /** Requests refused at once because the queue was full. */
  readonly refused: number;
  readonly entries: number;
  readonly memoryBytes: number;
  readonly evictions: number;
}

export interface CacheScenarioResult {
  readonly options: CacheScenarioOptions;
  /** Requests, hit rate, latency percentiles, and the per-second series. */
  readonly workload: WorkloadSummary;
  readonly nodes: readonly NodeSummary[];
  readonly network: NetworkStats;
  /** Virtual time when the last event ran. */
  readonly virtualMs: number;
  readonly eventsProcessed: number;
  /** FNV-1a over every delivery and every request's end: equal runs have equal hashes. */
  readonly traceHash: string;
}

/** `node-0` … `node-<count - 1>`. */
export function nodeAddresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `node-${i}`);
}

/** `client-0` … `client-<count - 1>`. */
export function clientNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `client-${i}`);
}

/** The default route: FNV-1a of the key, modulo the node count (no ring: every node moves). */
export function moduloRoute(addresses: readonly string[]): Route {
  return (key) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return addresses[(h >>> 0) % addresses.length]!;
  };
}

/** Runs the scenario to its end and returns what happened; the same options give the same. */
export function runCacheScenario(
  options: Partial<CacheScenarioOptions> & { readonly seed: number },
  route?: Route,
  onProgress?: Progress,
): CacheScenarioResult {
  const o: CacheScenarioOptions = { ...DEFAULT_CACHE_SCENARIO, ...options };
  checkOptions(o);
  const scheduler = new Scheduler();
  const trace = new TraceHash();
  const network = new Network<KeyMessage>(scheduler, { seed: o.seed, link: o.link, trace });
  const recorder = new Recorder();
  const addresses = nodeAddresses(o.nodes);
  const routeOf = route ?? moduloRoute(addresses);
  const world: World = {
    scheduler,
    recorder,
    trace,
    route: routeOf,
    value: {
      bytes: new Uint8Array(o.valueBytes),
      contentType: 'application/octet-stream',
      compressed: false,
      rawBytes: o.valueBytes,
    },
    ttlUs: o.ttlMs === null ? null : usFromMs(o.ttlMs),
    timeoutUs: usFromMs(o.timeoutMs),
    keyNames: [],
    history: null,
  };

  const nodes = addresses.map((address) => new CacheNode(world, network, address, o));
  const stopUs = usFromMs(o.durationMs);
  const known = new Set([...addresses, ...clientNames(o.clients)]);
  for (const fault of o.faults) {
    for (const address of faultAddresses(fault)) {
      if (!known.has(address))
        throw new RangeError(`A fault names ${address}, which is no node or client.`);
    }
    scheduler.at(usFromMs(fault.atMs), () => applyFault(network, fault));
  }
  const load = { ...o, deleteRatio: 0 };
  const loops = startClients(world, network, clientNames(o.clients), load);
  drain(
    scheduler,
    maxEventsFor(load),
    `The cache scenario with seed ${o.seed}`,
    stopUs,
    onProgress,
  );
  const endUs = scheduler.nowUs;
  const workload = finishClients(loops, recorder, endUs, load);
  return {
    options: o,
    workload,
    nodes: nodes.map((node) => node.summary()),
    network: network.stats,
    virtualMs: msFromUs(endUs),
    eventsProcessed: scheduler.eventsRun,
    traceHash: trace.hex(),
  };
}

/** What the scenario's nodes share with its clients. */
interface World extends CacheAsideWorld {
  readonly ttlUs: number | null;
}

class CacheNode {
  private readonly store: Store;
  private readonly transport: Transport<KeyMessage>;
  private readonly service: DelaySampler;
  private readonly rng: Rng;
  private readonly queue: ServerQueue<KeyRequest>;
  private refused = 0;

  constructor(
    private readonly world: World,
    network: Network<KeyMessage>,
    readonly address: string,
    options: CacheScenarioOptions,
  ) {
    this.store = new Store({
      maxMemoryBytes: options.maxMemoryBytes,
      maxKeyBytes: 1024,
      maxValueBytes: Math.max(1, options.valueBytes),
      policy: options.policy,
    });
    this.service = delaySampler(options.serviceTime);
    this.rng = streamRng(options.seed, `node/${address}/service`);
    this.queue = new ServerQueue(world.scheduler, options.maxQueueDepth, (from, request) =>
      this.serve(from, request),
    );
    this.transport = network.listen(address, (from, message) => this.receive(from, message));
  }

  private receive(from: string, message: KeyMessage): void {
    if (message.kind === 'reply') return;
    if (this.queue.full) {
      this.refused++;
      this.transport.send(from, { kind: 'reply', id: message.id, status: 'error', value: null });
      return;
    }
    this.queue.offer(from, message, this.service(this.rng));
  }

  /** Answers a request whose service time has passed. */
  private serve(from: string, request: KeyRequest): void {
    const nowMs = this.world.scheduler.nowMs;
    let status: KeyStatus;
    if (request.kind === 'get') {
      status = this.store.get(request.key, nowMs) === undefined ? 'miss' : 'hit';
    } else if (request.kind === 'set') {
      const ttlUs = this.world.ttlUs;
      const expiresAt = ttlUs === null ? null : msFromUs(this.world.scheduler.nowUs + ttlUs);
      const result = this.store.set(request.key, request.value!, expiresAt, nowMs);
      status = result.ok ? 'stored' : 'error';
    } else {
      this.store.delete(request.key, nowMs);
      status = 'deleted';
    }
    this.transport.send(from, { kind: 'reply', id: request.id, status, value: null });
  }

  summary(): NodeSummary {
    const stats = this.store.stats();
    return {
      address: this.address,
      served: this.queue.served,
      refused: this.refused,
      entries: stats.entries,
      memoryBytes: stats.memoryBytes,
      evictions: stats.evictions,
    };
  }
}

function faultAddresses(fault: Fault): readonly string[] {
  switch (fault.kind) {
    case 'isolate':
      return [fault.address];
    case 'partition':
      return [...fault.side, ...fault.other];
    case 'heal':
      return [];
  }
}

function applyFault(network: Network<KeyMessage>, fault: Fault): void {
  switch (fault.kind) {
    case 'isolate':
      network.isolate(fault.address);
      return;
    case 'partition':
      network.partition(fault.side, fault.other);
      return;
    case 'heal':
      network.healAll();
      return;
  }
}

function checkOptions(o: CacheScenarioOptions): void {
  checkWhole('nodes', o.nodes, 1, 10_000);
  checkLoad({ ...o, deleteRatio: 0 });
  checkWhole('valueBytes', o.valueBytes, 0, 1 << 20);
  checkWhole('maxQueueDepth', o.maxQueueDepth, 1, 1 << 20);
  for (const fault of o.faults) {
    if (!(fault.atMs >= 0 && fault.atMs <= o.durationMs + o.timeoutMs)) {
      throw new RangeError(`A fault's atMs must be from 0 to the run's end (got ${fault.atMs}).`);
    }
  }
  if (o.ttlMs !== null && !(o.ttlMs >= 0.001)) {
    throw new RangeError(`ttlMs must be at least 0.001 or null (got ${o.ttlMs}).`);
  }
}
