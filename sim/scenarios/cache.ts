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
import { Store, type StoredValue } from '../../core/engine/index.ts';
import type { Rng } from '../../core/random.ts';
import { keyName } from '../../core/workload/keys.ts';
import type { KeyDistribution } from '../../core/workload/samplers.ts';
import { type DelayDistribution, delaySampler, type DelaySampler } from '../distributions.ts';
import { DEFAULT_LINK, type LinkOptions, Network, type NetworkStats } from '../network/network.ts';
import type { Transport } from '../network/transport.ts';
import { streamRng } from '../random.ts';
import { type EventHandle, Scheduler } from '../scheduler.ts';
import { msFromUs, usFromMs } from '../time.ts';
import { TraceHash } from '../trace.ts';
import { OpenLoop } from '../workload/open-loop.ts';
import { type Outcome, Recorder, type WorkloadSummary } from '../workload/recorder.ts';

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
): CacheScenarioResult {
  const o: CacheScenarioOptions = { ...DEFAULT_CACHE_SCENARIO, ...options };
  checkOptions(o);
  const scheduler = new Scheduler();
  const trace = new TraceHash();
  const network = new Network<CacheMessage>(scheduler, { seed: o.seed, link: o.link, trace });
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
  const loops = clientNames(o.clients).map((name) => {
    const client = new CacheClient(world, network, name, o);
    const loop = new OpenLoop(
      scheduler,
      o.seed,
      `workload/${name}`,
      {
        ratePerSecond: o.ratePerSecond / o.clients,
        keys: o.keys,
        distribution: o.distribution,
        readRatio: o.readRatio,
        startUs: 0,
        stopUs,
      },
      (keyId, read) => client.issue(keyId, read),
    );
    loop.start();
    return loop;
  });

  // Every request ends by its timeout, so the queue empties; the bound catches a scenario that
  // schedules without end (about 8 events make a request; duplicates add a few).
  const expected = (o.ratePerSecond * o.durationMs) / 1000;
  const maxEvents = Math.ceil(expected * 64) + 1_000_000;
  scheduler.runUntilIdle(maxEvents);
  if (scheduler.pending > 0) {
    throw new Error(
      `The cache scenario with seed ${o.seed} ran ${maxEvents} events without draining.`,
    );
  }
  const issued = loops.reduce((sum, loop) => sum + loop.issued, 0);
  const endUs = scheduler.nowUs;
  const workload = recorder.finish(Math.max(endUs, stopUs));
  if (workload.requests !== issued) {
    throw new Error(`${issued} requests were issued but ${workload.requests} ended.`);
  }
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

/** A request to a node, and a node's answer to it. */
type CacheMessage = CacheRequest | CacheReply;

interface CacheRequest {
  readonly kind: 'get' | 'set';
  readonly id: number;
  readonly key: string;
  /** The value, for a set. */
  readonly value: StoredValue | null;
}

interface CacheReply {
  readonly kind: 'reply';
  readonly id: number;
  readonly status: 'hit' | 'miss' | 'stored' | 'error';
}

/** What the scenario's parts share. */
interface World {
  readonly scheduler: Scheduler;
  readonly recorder: Recorder;
  readonly trace: TraceHash;
  readonly route: Route;
  /** Every write stores this value (its bytes are never read, so one buffer serves). */
  readonly value: StoredValue;
  readonly ttlUs: number | null;
  readonly timeoutUs: number;
  /** keyName(id), made once per key on first use. */
  readonly keyNames: (string | undefined)[];
}

class CacheNode {
  private readonly store: Store;
  private readonly transport: Transport<CacheMessage>;
  private readonly service: DelaySampler;
  private readonly rng: Rng;
  /** The bounded FIFO: senders and requests in two rings of `capacity`. */
  private readonly senders: string[];
  private readonly requests: (CacheRequest | undefined)[];
  private head = 0;
  private queued = 0;
  private busyUntilUs = 0;
  private served = 0;
  private refused = 0;

  constructor(
    private readonly world: World,
    network: Network<CacheMessage>,
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
    this.senders = new Array<string>(options.maxQueueDepth).fill('');
    this.requests = new Array<CacheRequest | undefined>(options.maxQueueDepth).fill(undefined);
    this.transport = network.listen(address, (from, message) => this.receive(from, message));
  }

  private receive(from: string, message: CacheMessage): void {
    if (message.kind === 'reply') return;
    const capacity = this.requests.length;
    if (this.queued === capacity) {
      this.refused++;
      this.transport.send(from, { kind: 'reply', id: message.id, status: 'error' });
      return;
    }
    const tail = (this.head + this.queued) % capacity;
    this.senders[tail] = from;
    this.requests[tail] = message;
    this.queued++;
    // FIFO and one at a time: this request ends one service time after the previous one.
    const startUs = Math.max(this.world.scheduler.nowUs, this.busyUntilUs);
    this.busyUntilUs = startUs + this.service(this.rng);
    this.world.scheduler.at(this.busyUntilUs, serveNext, this);
  }

  /** Answers the request at the head of the queue (its service time has passed). */
  serve(): void {
    const head = this.head;
    const from = this.senders[head]!;
    const request = this.requests[head]!;
    this.requests[head] = undefined;
    this.head = (head + 1) % this.requests.length;
    this.queued--;
    this.served++;
    const nowMs = this.world.scheduler.nowMs;
    let status: CacheReply['status'];
    if (request.kind === 'get') {
      status = this.store.get(request.key, nowMs) === undefined ? 'miss' : 'hit';
    } else {
      const ttlUs = this.world.ttlUs;
      const expiresAt = ttlUs === null ? null : msFromUs(this.world.scheduler.nowUs + ttlUs);
      const result = this.store.set(request.key, request.value!, expiresAt, nowMs);
      status = result.ok ? 'stored' : 'error';
    }
    this.transport.send(from, { kind: 'reply', id: request.id, status });
  }

  summary(): NodeSummary {
    const stats = this.store.stats();
    return {
      address: this.address,
      served: this.served,
      refused: this.refused,
      entries: stats.entries,
      memoryBytes: stats.memoryBytes,
      evictions: stats.evictions,
    };
  }
}

function serveNext(node: CacheNode): void {
  node.serve();
}

/** A request in flight: a GET, the load after its miss, then the SET that fills the cache. */
interface Pending {
  readonly client: CacheClient;
  readonly id: number;
  readonly key: string;
  readonly read: boolean;
  readonly issuedUs: number;
  phase: 'get' | 'load' | 'set';
  done: boolean;
}

/** Stands in the window for a request that has ended, so the request itself can be collected. */
const ENDED: Pending = {
  client: undefined as unknown as CacheClient,
  id: -1,
  key: '',
  read: false,
  issuedUs: 0,
  phase: 'get',
  done: true,
};

/** Ended requests the window keeps before it drops them from its front. */
const COMPACT_AFTER = 4096;

class CacheClient {
  private readonly transport: Transport<CacheMessage>;
  private readonly load: DelaySampler;
  private readonly loadRng: Rng;
  /**
   * Requests by id, from id `firstId`, in issue order. Ids are consecutive, so an answer finds
   * its request by subtraction; and as every request has the same timeout, deadlines come in
   * this order too, so one timer per client (armed for the oldest request still open) replaces
   * a timer per request: no event and no cancel for the requests that end in time.
   */
  private window: Pending[] = [];
  private firstId = 0;
  /** window[0, oldest) have ended. */
  private oldest = 0;
  /** Requests not yet ended. */
  private open = 0;
  /** The timer's event, or -1 when none is armed. */
  private timer: EventHandle = -1;

  constructor(
    private readonly world: World,
    network: Network<CacheMessage>,
    address: string,
    options: CacheScenarioOptions,
  ) {
    this.load = delaySampler(options.loadTime);
    this.loadRng = streamRng(options.seed, `client/${address}/load`);
    this.transport = network.listen(address, (_from, message) => this.receive(message));
  }

  issue(keyId: number, read: boolean): void {
    const world = this.world;
    const key = (world.keyNames[keyId] ??= keyName(keyId));
    const p: Pending = {
      client: this,
      id: this.firstId + this.window.length,
      key,
      read,
      issuedUs: world.scheduler.nowUs,
      phase: read ? 'get' : 'set',
      done: false,
    };
    this.window.push(p);
    this.open++;
    if (this.timer === -1) this.armTimer(p);
    this.send(p);
  }

  private send(p: Pending): void {
    const request: CacheRequest =
      p.phase === 'get'
        ? { kind: 'get', id: p.id, key: p.key, value: null }
        : { kind: 'set', id: p.id, key: p.key, value: this.world.value };
    this.transport.send(this.world.route(p.key), request);
  }

  private receive(message: CacheMessage): void {
    if (message.kind !== 'reply') return;
    const p = this.window[message.id - this.firstId];
    // Late (after a timeout) or duplicated: the request has ended already.
    if (p === undefined || p.done) return;
    switch (message.status) {
      case 'hit':
        if (p.phase === 'get') this.end(p, 'hit');
        return;
      case 'miss':
        if (p.phase !== 'get') return;
        p.phase = 'load';
        this.world.scheduler.after(this.load(this.loadRng), loaded, p);
        return;
      case 'stored':
        if (p.phase === 'set') this.end(p, p.read ? 'miss' : 'write');
        return;
      case 'error':
        this.end(p, 'error');
        return;
    }
  }

  /** The backing store answered: fill the cache. */
  loaded(p: Pending): void {
    if (p.done) return;
    p.phase = 'set';
    this.send(p);
  }

  /** Ends every request whose deadline has come, then waits for the next deadline. */
  expire(): void {
    this.timer = -1;
    const world = this.world;
    const window = this.window;
    let oldest = this.oldest;
    while (oldest < window.length) {
      const p = window[oldest]!;
      if (!p.done) {
        if (p.issuedUs + world.timeoutUs > world.scheduler.nowUs) break;
        this.end(p, 'error');
      }
      oldest++;
    }
    if (oldest >= COMPACT_AFTER && oldest * 2 >= window.length) {
      this.window = window.slice(oldest);
      this.firstId += oldest;
      oldest = 0;
    }
    this.oldest = oldest;
    if (this.open > 0) this.armTimer(this.window[oldest]!);
  }

  private armTimer(p: Pending): void {
    this.timer = this.world.scheduler.at(p.issuedUs + this.world.timeoutUs, expire, this);
  }

  private end(p: Pending, outcome: Outcome): void {
    p.done = true;
    this.window[p.id - this.firstId] = ENDED;
    const world = this.world;
    // With nothing open the timer has nothing to end; cancelled, it does not outlive the run.
    if (--this.open === 0 && this.timer !== -1) {
      world.scheduler.cancel(this.timer);
      this.timer = -1;
    }
    const latencyUs = world.scheduler.nowUs - p.issuedUs;
    world.recorder.record(outcome, latencyUs, world.scheduler.nowUs);
    world.trace.addWord(OUTCOME_CODES[outcome]);
    world.trace.addInteger(latencyUs);
  }
}

const OUTCOME_CODES: Record<Outcome, number> = { hit: 1, miss: 2, write: 3, error: 4 };

function loaded(p: Pending): void {
  p.client.loaded(p);
}

function expire(client: CacheClient): void {
  client.expire();
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

function applyFault(network: Network<CacheMessage>, fault: Fault): void {
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
  const whole = (name: string, value: number, min: number, max: number): void => {
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      throw new RangeError(`${name} must be a whole number from ${min} to ${max} (got ${value}).`);
    }
  };
  whole('nodes', o.nodes, 1, 10_000);
  whole('clients', o.clients, 1, 10_000);
  whole('valueBytes', o.valueBytes, 0, 1 << 20);
  whole('maxQueueDepth', o.maxQueueDepth, 1, 1 << 20);
  for (const fault of o.faults) {
    if (!(fault.atMs >= 0 && fault.atMs <= o.durationMs + o.timeoutMs)) {
      throw new RangeError(`A fault's atMs must be from 0 to the run's end (got ${fault.atMs}).`);
    }
  }
  if (!(o.durationMs > 0 && o.durationMs <= 24 * 3600 * 1000)) {
    throw new RangeError(`durationMs must be above 0 and at most a day (got ${o.durationMs}).`);
  }
  if (!(o.timeoutMs > 0 && o.timeoutMs <= 3600 * 1000)) {
    throw new RangeError(`timeoutMs must be above 0 and at most an hour (got ${o.timeoutMs}).`);
  }
  if (o.ttlMs !== null && !(o.ttlMs >= 0.001)) {
    throw new RangeError(`ttlMs must be at least 0.001 or null (got ${o.ttlMs}).`);
  }
  const expected = (o.ratePerSecond * o.durationMs) / 1000;
  if (!(expected <= 1e9)) {
    throw new RangeError(`ratePerSecond × durationMs asks for ${expected} requests; 1e9 at most.`);
  }
}
