/**
 * The load generator's loop: drives a target with GET/PUT requests on keys (or GETs of one
 * fixed path), in a closed model (N connections, one request in flight each) or an open model
 * (a fixed rate, latency measured from each request's intended send time, so a stalling server
 * is not flattered: coordinated omission, corrected as in wrk2).
 *
 * A module without console output or process exits, so the CLI, a worker thread and tests run
 * the same code: progress goes to a callback, stopping is stop() or an AbortSignal, settings
 * change through update() while it runs, and snapshot() gives the figures of the last second.
 */
import { createRng, type Rng } from '../../core/random.ts';
import { keyName } from '../../core/workload/keys.ts';
import { createKeySampler, MAX_KEYS, type KeySampler } from '../../core/workload/samplers.ts';
import { ArrivalSchedule } from '../../core/workload/schedule.ts';
import { generateValue, type GeneratedValue } from '../../core/workload/values.ts';
import { DEFAULT_RETRY_POLICY, nextRetryDelayMs } from '../client/backoff.ts';
import { HttpConnection, type ConnectionOwner, type RequestKind } from './connection.ts';
import { LatencyHistogram, type LatencySummaryMs } from './histogram.ts';
import { STAMP_BYTES, type WriteLedger } from './ledger.ts';

export const LOAD_MODES = ['closed', 'open'] as const;
export type LoadMode = (typeof LOAD_MODES)[number];
export const LOAD_DISTRIBUTIONS = ['uniform', 'zipf'] as const;
export type LoadDistribution = (typeof LOAD_DISTRIBUTIONS)[number];

/** Plain data, so it crosses a worker boundary and a tRPC call unchanged. */
export interface LoadOptions {
  /** The target's base URL (http only), e.g. `http://127.0.0.1:7001`. */
  readonly url: string;
  /** Fixed-path mode: every request is `GET path` (an anchor such as a bare HTTP server). */
  readonly path: string | null;
  readonly mode: LoadMode;
  /** Closed model: how many connections. Open model: the most it may open. */
  readonly connections: number;
  /** Open model: intended requests per second. */
  readonly rate: number;
  /** Null: runs until stop() or the signal aborts. */
  readonly durationSeconds: number | null;
  /** Load before measuring starts, not counted. */
  readonly warmupSeconds: number;
  /** Share of requests that are GETs; the rest are PUTs. */
  readonly readRatio: number;
  /** Keys are `keyName(0 .. keys-1)`. */
  readonly keys: number;
  readonly distribution: LoadDistribution;
  readonly zipfS: number;
  readonly valueBytes: number;
  /** JSON text (compressible) instead of random bytes. */
  readonly compressible: boolean;
  /** Keys 0 .. prefillKeys-1 are written once before the load starts, so reads can hit. */
  readonly prefillKeys: number;
  readonly seed: number;
  /**
   * A request unanswered for this long counts as a `timeout` error and its connection is
   * replaced; an open-model arrival that waited this long for a connection fails too (with
   * the last connection error, or `timeout`).
   */
  readonly timeoutMs: number;
  /**
   * Level 6: null (the default, and `tinycache bench`'s) sends requests as before. A string
   * makes the run a client that rides out a leader's failure: each write carries a session,
   * `X-TinyCache-Client: <sessions>-<n>` and `X-TinyCache-Seq` (1, 2, … per session), and a
   * request answered 503 or lost with its connection (an error, a close, a timeout) is sent
   * again, the same bytes, same seq, after a full-jitter backoff (server/client/backoff.ts),
   * until the retry bound; only then is it an error. Retries are counted apart
   * (Counters.retries), and a retried request's latency runs from its first send. A node
   * applies a (client, seq) once, so a retried write is not applied twice; and it refuses a
   * seq below its latest for that client, so a session has one write in flight: a run keeps
   * a session per write in flight, taken from a free list when a write goes out and given
   * back once it is answered or given up (at most connections + pending retries of them).
   * Retrying 503s suits any node (an election, a database that went away); the live load
   * sets this, the CLI does not. Prefill writes are not retried.
   */
  readonly sessions: string | null;
}

/** What update() may change while the load runs. */
export type LoadPatch = Partial<
  Pick<
    LoadOptions,
    | 'mode'
    | 'connections'
    | 'rate'
    | 'readRatio'
    | 'keys'
    | 'distribution'
    | 'zipfS'
    | 'valueBytes'
    | 'compressible'
  >
>;

const PATCH_FIELDS = [
  'mode',
  'connections',
  'rate',
  'readRatio',
  'keys',
  'distribution',
  'zipfS',
  'valueBytes',
  'compressible',
] as const satisfies readonly (keyof LoadPatch)[];

export const DEFAULT_LOAD_OPTIONS: LoadOptions = {
  url: 'http://127.0.0.1:7001',
  path: null,
  mode: 'closed',
  connections: 50,
  rate: 1000,
  durationSeconds: 10,
  warmupSeconds: 0,
  readRatio: 0.9,
  keys: 10_000,
  distribution: 'zipf',
  zipfS: 0.99,
  valueBytes: 64,
  compressible: false,
  prefillKeys: 0,
  seed: 1,
  timeoutMs: 10_000,
  sessions: null,
};

export const LOAD_LIMITS = {
  connections: { min: 1, max: 10_000 },
  rate: { min: 0, max: 10_000_000 },
  valueBytes: { min: 0, max: 512 * 1024 * 1024 },
  zipfS: { min: 0, max: 10 },
} as const;

export type LoadPhase = 'prefill' | 'warmup' | 'measure' | 'done';

/** The figures of the last full second (the dashboard polls this), plus running totals. */
export interface LoadSnapshot {
  readonly running: boolean;
  readonly phase: LoadPhase;
  /** Seconds measured so far (0 during prefill and warmup). */
  readonly elapsedSeconds: number;
  readonly durationSeconds: number | null;
  /** Answers per second over the last second (any phase). */
  readonly requestsPerSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Errors in the last second. */
  readonly errors: number;
  /** GET 200 / (GET 200 + GET 404) in the last second; null without reads. */
  readonly hitRate: number | null;
  /** Since measuring started. */
  readonly totalRequests: number;
  readonly totalErrors: number;
  /** Prefill writes answered with success, and those that failed, so far. */
  readonly prefilledKeys: number;
  readonly prefillFailed: number;
  readonly openConnections: number;
}

/** How the prefill went: every key asked for is stored, failed, or was cut short by a stop. */
export interface PrefillOutcome {
  /** Keys asked for (0 .. keys-1). */
  readonly keys: number;
  /** Writes answered 2xx. */
  readonly stored: number;
  readonly failed: number;
  /**
   * Failed writes by kind: status and error code (`"413 value_too_large"`), a bare status when
   * the body named no code, or a socket error (`"ECONNREFUSED"`, `"timeout"`).
   */
  readonly failures: Readonly<Record<string, number>>;
}

/** The settings of a result: as LoadOptions, but `rate` is null in the closed model. */
export type LoadResultOptions = Omit<LoadOptions, 'rate'> & { readonly rate: number | null };

export interface LoadResult {
  readonly target: string;
  readonly path: string | null;
  readonly mode: LoadMode;
  readonly connections: number;
  /** Intended requests per second (open model); null in the closed model. */
  readonly rate: number | null;
  /** Measured time, excluding prefill and warmup; to the ms. */
  readonly durationSeconds: number;
  /** Answers received (any status). */
  readonly requests: number;
  /** To 0.1. */
  readonly requestsPerSecond: number;
  /** Latency of the answers, from intended send time (open) or send time (closed); to the µs. */
  readonly latencyMs: LatencySummaryMs | null;
  /**
   * Open model: how late this client sent each request through its own delays (timers firing
   * late, a busy event loop), not counting time spent waiting for a free connection. Already
   * part of latencyMs; when it is a large share of it, the client is the bottleneck. A lower
   * bound: an answer that arrived while the client was busy counts its connection as busy
   * until read. Null in the closed model.
   */
  readonly sendLagMs: LatencySummaryMs | null;
  readonly reads: number;
  readonly writes: number;
  readonly hits: number;
  readonly misses: number;
  /** To 0.0001. */
  readonly hitRate: number | null;
  /** By kind: an HTTP status (`"500"`) or a socket error (`"ECONNREFUSED"`, `"timeout"`). */
  readonly errors: Readonly<Record<string, number>>;
  readonly errorCount: number;
  /** Answers by HTTP status. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Bytes this client received and sent while measuring. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Requests in flight or waiting for a connection when the load stopped; not counted above. */
  readonly unfinished: number;
  /** Null when nothing was prefilled. */
  readonly prefill: PrefillOutcome | null;
  readonly stoppedBy: 'duration' | 'stop' | 'abort';
  /** The settings in force at the end (after any update()). */
  readonly options: LoadResultOptions;
}

export interface LoadHooks {
  /** Called once a second with snapshot(). */
  readonly onProgress?: (snapshot: LoadSnapshot) => void;
  /** Called once when the prefill is over (not when there is none), before the load begins. */
  readonly onPrefillDone?: (outcome: PrefillOutcome) => void;
  readonly signal?: AbortSignal;
  /**
   * Also counts every answer and error of the measured load here, so several runs (one per
   * target) can report figures of their union, percentiles included.
   */
  readonly sink?: Counters;
  /**
   * A smart client's share of a cluster (Level 5): the keys this run's target owns. Keys are
   * drawn from the load's distribution until one is owned (at most OWNED_DRAWS tries), so
   * runs against every shard together send the distribution, each key straight to its
   * owner. The prefill is not filtered.
   */
  readonly owns?: (keyId: number) => boolean;
  /**
   * Level 6, with `sessions`: each write's value is stamped (its first STAMP_BYTES; values
   * shorter, and compressible JSON ones, are not) and its acknowledgement recorded here, for
   * the live load's verifier.
   */
  readonly ledger?: WriteLedger;
}

/** Draws for an owned key before a run sends one it does not own (to be forwarded). */
const OWNED_DRAWS = 64;

export interface LoadHandle {
  /** The settings now in force. */
  readonly options: LoadOptions;
  /** Changes settings while running; throws RangeError naming a bad field, changing nothing. */
  update(patch: LoadPatch): void;
  snapshot(): LoadSnapshot;
  /** Stops at once; in-flight requests are abandoned and reported as unfinished. */
  stop(): void;
  readonly done: Promise<LoadResult>;
}

/** Starts a load; throws RangeError naming the first bad option. */
export function startLoad(options: Partial<LoadOptions>, hooks: LoadHooks = {}): LoadHandle {
  const run = new LoadRun(checkLoadOptions({ ...DEFAULT_LOAD_OPTIONS, ...options }), hooks);
  return {
    get options() {
      return run.options;
    },
    update: (patch) => run.update(patch),
    snapshot: () => run.snapshot(),
    stop: () => run.stop('stop'),
    done: run.done,
  };
}

export interface Target {
  readonly host: string;
  readonly port: number;
  /** The Host header. */
  readonly authority: string;
  /** The URL's path without a trailing slash ('' for the root). */
  readonly basePath: string;
}

/** Parses the target URL; throws RangeError when it is not an http:// URL. */
export function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`url must be an http:// URL such as http://127.0.0.1:7001 (got ${url}).`);
  }
  if (parsed.protocol !== 'http:') {
    throw new RangeError(`url must use http:// (got ${parsed.protocol}).`);
  }
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 80 : Number(parsed.port),
    authority: parsed.host,
    basePath: parsed.pathname.replace(/\/+$/, ''),
  };
}

export function checkLoadOptions(options: LoadOptions): LoadOptions {
  parseTarget(options.url);
  if (options.path !== null && !/^\/[\x21-\x7e]*$/.test(options.path)) {
    throw new RangeError(`path must start with / and contain no spaces (got ${options.path}).`);
  }
  checkPatch(options);
  if (options.durationSeconds !== null) checkRange('durationSeconds', options.durationSeconds, 0);
  checkRange('warmupSeconds', options.warmupSeconds, 0, Infinity, true);
  checkRange('timeoutMs', options.timeoutMs, 0);
  checkRange('prefillKeys', options.prefillKeys, 0, MAX_KEYS, true, true);
  if (!Number.isInteger(options.seed)) throw new RangeError(`seed must be a whole number.`);
  if (options.sessions !== null && !/^[\x21-\x7e]{1,200}$/.test(options.sessions)) {
    throw new RangeError('sessions must be null or 1 to 200 visible ASCII characters.');
  }
  return options;
}

function checkPatch(patch: LoadPatch): void {
  if (patch.mode !== undefined && !LOAD_MODES.includes(patch.mode)) {
    throw new RangeError(`mode must be one of ${LOAD_MODES.join(', ')}.`);
  }
  if (patch.distribution !== undefined && !LOAD_DISTRIBUTIONS.includes(patch.distribution)) {
    throw new RangeError(`distribution must be one of ${LOAD_DISTRIBUTIONS.join(', ')}.`);
  }
  if (patch.compressible !== undefined && typeof patch.compressible !== 'boolean') {
    throw new RangeError('compressible must be true or false.');
  }
  const { connections, rate, valueBytes, zipfS } = LOAD_LIMITS;
  if (patch.connections !== undefined) {
    checkRange('connections', patch.connections, connections.min, connections.max, true, true);
  }
  if (patch.rate !== undefined) checkRange('rate', patch.rate, rate.min, rate.max, true);
  if (patch.readRatio !== undefined) checkRange('readRatio', patch.readRatio, 0, 1, true);
  if (patch.keys !== undefined) checkRange('keys', patch.keys, 1, MAX_KEYS, true, true);
  if (patch.zipfS !== undefined) checkRange('zipfS', patch.zipfS, zipfS.min, zipfS.max, true);
  if (patch.valueBytes !== undefined) {
    checkRange('valueBytes', patch.valueBytes, valueBytes.min, valueBytes.max, true, true);
  }
}

function checkRange(
  name: string,
  value: unknown,
  min: number,
  max = Infinity,
  minInclusive = false,
  integer = false,
): void {
  const ok =
    typeof value === 'number' &&
    (minInclusive ? value >= min : value > min) &&
    value <= max &&
    (!integer || Number.isInteger(value));
  if (!ok) {
    const kind = integer ? 'a whole number' : 'a number';
    const low = minInclusive ? `>= ${min}` : `> ${min}`;
    const high = max === Infinity ? '' : ` and <= ${max}`;
    throw new RangeError(`${name} must be ${kind} ${low}${high} (got ${String(value)}).`);
  }
}

/** Most distinct values kept for writes, and the memory they may take together. */
const VALUE_POOL_SIZE = 16;
const VALUE_POOL_MAX_BYTES = 64 * 1024 * 1024;
/** How often timeouts are checked and the last-second figures rolled. */
const TICK_MS = 100;
const MAX_RECONNECT_DELAY_MS = 1000;
/** How early an open-model arrival may be sent (see pump). */
const EARLY_MS = 1;
/**
 * The prefill gives up after this many connection attempts in a row fail with no connection
 * open (the target is down); the load then begins and reports the errors.
 */
const PREFILL_CONNECT_ATTEMPTS = 5;

/** Answer counts over some span; a run keeps one for its total and one per second. */
export class Counters {
  requests = 0;
  reads = 0;
  writes = 0;
  hits = 0;
  misses = 0;
  errorCount = 0;
  bytesRead = 0;
  bytesWritten = 0;
  /** Requests sent again (see LoadOptions.sessions); not in `requests` or `errorCount`. */
  retries = 0;
  readonly errors = new Map<string, number>();
  readonly statuses = new Float64Array(1000);
  readonly latency = new LatencyHistogram();

  recordAnswer(kind: RequestKind, status: number, latencyMs: number, ok: boolean): void {
    this.requests++;
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    this.latency.recordMs(latencyMs);
    if (kind === 'get') {
      this.reads++;
      if (status === 200) this.hits++;
      else if (status === 404) this.misses++;
    } else if (kind === 'put') {
      this.writes++;
    }
    if (!ok) this.recordError(String(status));
  }

  recordError(kind: string, count = 1): void {
    this.errorCount += count;
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + count);
  }

  reset(): void {
    this.requests = this.reads = this.writes = this.hits = this.misses = 0;
    this.errorCount = this.bytesRead = this.bytesWritten = this.retries = 0;
    this.errors.clear();
    this.statuses.fill(0);
    this.latency.reset();
  }
}

export interface SecondFigures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly errors: number;
  readonly hitRate: number | null;
}

/** The figures of `counters` gathered over `seconds`. */
export function secondFigures(counters: Counters, seconds: number): SecondFigures {
  const lookups = counters.hits + counters.misses;
  const { latency } = counters;
  return {
    requestsPerSecond: round(counters.requests / seconds, 1),
    p50Ms: latency.count > 0 ? latency.percentileMs(50) : null,
    p99Ms: latency.count > 0 ? latency.percentileMs(99) : null,
    errors: counters.errorCount,
    hitRate: lookups > 0 ? round(counters.hits / lookups, 4) : null,
  };
}

const NO_FIGURES: SecondFigures = {
  requestsPerSecond: 0,
  p50Ms: null,
  p99Ms: null,
  errors: 0,
  hitRate: null,
};

/** A request of a run with sessions, kept until answered or given up, to send again. */
interface Pending {
  readonly kind: RequestKind;
  readonly head: string;
  readonly body: Uint8Array | undefined;
  readonly latencyStartMs: number;
  readonly firstMs: number;
  /** Retries so far. */
  attempt: number;
  readonly session: Session | null;
  readonly keyId: number;
  /** The ledger's write number; 0 when not stamped. */
  readonly stamp: number;
}

/** A client session (see LoadOptions.sessions): the head prefix up to the seq, and its seq. */
interface Session {
  readonly prefix: string;
  seq: number;
}

/** The head lines of session `id` up to its seq's digits. */
export function sessionPrefix(id: string): string {
  return `X-TinyCache-Client: ${id}\r\nX-TinyCache-Seq: `;
}

class LoadRun implements ConnectionOwner {
  options: LoadOptions;
  readonly done: Promise<LoadResult>;

  private readonly target: Target;
  private readonly keyPrefix: string;
  private readonly requestTail: string;
  private readonly fixedRequest: Buffer | null;
  private readonly rng: Rng;
  /** Sessions and retries on (LoadOptions.sessions), for key requests. */
  private readonly retrying: boolean;
  private readonly jitter: Rng;
  private readonly pending = new Map<HttpConnection, Pending>();
  private readonly freeSessions: Session[] = [];
  private sessionCount = 0;
  /** Retries whose backoff is over, waiting for a connection. */
  private dueRetries: Pending[] = [];
  /** Retries waiting out their backoff. */
  private readonly retryTimers = new Map<NodeJS.Timeout, Pending>();
  private sampler: KeySampler;
  private values: GeneratedValue[];
  private valueIndex = 0;

  private readonly connections = new Set<HttpConnection>();
  private idle: HttpConnection[] = [];
  private connecting = 0;
  private connectFailures = 0;
  /** The kind of the last failed connection attempt (`ECONNREFUSED`, `timeout`). */
  private lastConnectError = 'timeout';
  private nextConnectAtMs = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;

  private phase: LoadPhase;
  private prefillSent = 0;
  private prefillAnswered = 0;
  private prefillStored = 0;
  private readonly prefillFailures = new Map<string, number>();
  private schedule: ArrivalSchedule | null = null;
  private nextArrival = 0;
  private arrivalTimer: NodeJS.Timeout | null = null;

  private readonly total = new Counters();
  private readonly second = new Counters();
  /** Open model: the generator's own lateness per request (see LoadResult.sendLagMs). */
  private readonly sendLag = new LatencyHistogram();
  private secondStartMs: number;
  private lastSecond = NO_FIGURES;
  /** 0 until measuring starts. */
  private measureStartMs = 0;
  private endMs: number | null = null;

  private readonly ticker: NodeJS.Timeout;
  private phaseTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private resolve!: (result: LoadResult) => void;

  constructor(
    options: LoadOptions,
    private readonly hooks: LoadHooks,
  ) {
    this.options = options;
    this.done = new Promise((resolve) => (this.resolve = resolve));
    this.target = parseTarget(options.url);
    this.keyPrefix = `${this.target.basePath}/v1/keys/`;
    this.requestTail = ` HTTP/1.1\r\nHost: ${this.target.authority}\r\n`;
    this.fixedRequest =
      options.path === null ? null : Buffer.from(`GET ${options.path}${this.requestTail}\r\n`);
    this.rng = createRng(options.seed);
    this.retrying = options.sessions !== null && options.path === null;
    this.jitter = createRng(options.seed ^ 0x7e1a);
    this.sampler = this.makeSampler();
    this.values = this.makeValues();
    this.secondStartMs = now();
    this.ticker = setInterval(() => this.tick(), TICK_MS);

    const prefillKeys = Math.min(options.prefillKeys, options.keys);
    this.options = { ...options, prefillKeys: options.path === null ? prefillKeys : 0 };
    this.phase = 'prefill';

    const signal = hooks.signal;
    if (signal?.aborted) {
      queueMicrotask(() => this.stop('abort'));
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.options.prefillKeys > 0) this.fill();
    else this.beginLoad();
  }

  update(patch: LoadPatch): void {
    checkPatch(patch);
    if (this.stopped) return;
    const before = this.options;
    const known = PATCH_FIELDS.filter((field) => patch[field] !== undefined);
    this.options = { ...before, ...Object.fromEntries(known.map((f) => [f, patch[f]])) };
    const changed = (field: keyof LoadPatch) =>
      patch[field] !== undefined && patch[field] !== before[field];
    if (changed('keys') || changed('distribution') || changed('zipfS')) {
      this.sampler = this.makeSampler();
    }
    if (changed('valueBytes') || changed('compressible')) this.values = this.makeValues();
    if (this.phase === 'prefill') return; // the rest applies when the load begins
    if (changed('mode') || changed('rate')) {
      this.clearArrivalTimer();
      if (this.options.mode === 'closed') {
        this.schedule = null;
      } else if (this.schedule === null) {
        this.startSchedule();
      } else {
        this.schedule.setRate(now(), this.options.rate);
      }
    }
    while (this.connections.size > this.options.connections && this.idle.length > 0) {
      this.retire(this.idle.pop() as HttpConnection);
    }
    this.fill();
  }

  snapshot(): LoadSnapshot {
    const measured = this.measureStartMs > 0; // measuring, or done after measuring
    const until = this.endMs ?? now();
    return {
      running: !this.stopped,
      phase: this.phase,
      elapsedSeconds: measured ? round((until - this.measureStartMs) / 1000, 3) : 0,
      durationSeconds: this.options.durationSeconds,
      ...this.lastSecond,
      totalRequests: measured ? this.total.requests : 0,
      totalErrors: measured ? this.total.errorCount : 0,
      prefilledKeys: this.prefillStored,
      prefillFailed: this.prefillAnswered - this.prefillStored,
      openConnections: this.connections.size,
    };
  }

  stop(reason: LoadResult['stoppedBy']): void {
    if (this.stopped) return;
    this.stopped = true;
    const endMs = now();
    this.endMs = endMs;
    clearInterval(this.ticker);
    if (this.phaseTimer) clearTimeout(this.phaseTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const timer of this.retryTimers.keys()) clearTimeout(timer);
    this.clearArrivalTimer();
    this.hooks.signal?.removeEventListener('abort', this.onAbort);

    const measuring = this.phase === 'measure';
    let unfinished = 0;
    for (const connection of this.connections) if (connection.busy) unfinished++;
    unfinished += this.retryTimers.size + this.dueRetries.length;
    // Abandoned writes are over for the ledger: they may or may not take effect.
    for (const pending of [...this.pending.values(), ...this.retryTimers.values()]) {
      this.settle(pending, false);
    }
    for (const pending of this.dueRetries) this.settle(pending, false);
    this.pending.clear();
    this.retryTimers.clear();
    this.dueRetries = [];
    if (this.schedule) unfinished += Math.max(0, this.schedule.dueCount(endMs) - this.nextArrival);
    for (const connection of this.connections) connection.close();
    this.connections.clear();
    this.idle = [];
    this.phase = 'done';
    this.resolve(
      this.result(measuring ? (endMs - this.measureStartMs) / 1000 : 0, unfinished, reason),
    );
  }

  // ConnectionOwner: what connections report.

  onConnect(connection: HttpConnection): void {
    this.connecting--;
    this.connectFailures = 0;
    this.nextConnectAtMs = 0;
    this.onIdle(connection);
  }

  onResponse(
    connection: HttpConnection,
    status: number,
    _bodyBytes: number,
    body: Buffer | null,
  ): void {
    if (this.stopped) return;
    const kind = connection.kind;
    const latencyMs = connection.idleSinceMs - connection.latencyStartMs;
    const ok = this.isOk(kind, status);
    if (this.retrying && kind !== 'prefill') {
      const pending = this.pending.get(connection);
      if (pending !== undefined) {
        this.pending.delete(connection);
        if (status === 503 && this.retryLater(pending)) {
          if (!connection.closing) this.onIdle(connection);
          return;
        }
        this.settle(pending, ok);
      }
    }
    this.total.recordAnswer(kind, status, latencyMs, ok);
    this.second.recordAnswer(kind, status, latencyMs, ok);
    this.hooks.sink?.recordAnswer(kind, status, latencyMs, ok);
    if (kind === 'prefill') this.onPrefillAnswered(ok ? null : failureKind(status, body));
    if (!connection.closing) this.onIdle(connection);
  }

  onRequestError(connection: HttpConnection, kind: string): void {
    if (this.stopped) return;
    if (this.retrying && connection.kind !== 'prefill') {
      const pending = this.pending.get(connection);
      if (pending !== undefined) {
        this.pending.delete(connection);
        if (this.retryLater(pending)) return;
        this.settle(pending, false);
      }
    }
    this.recordError(kind);
    if (connection.kind === 'prefill') this.onPrefillAnswered(kind);
  }

  onConnectError(_connection: HttpConnection, kind: string): void {
    if (this.stopped) return;
    this.connecting--;
    this.recordError(kind);
    this.lastConnectError = kind;
    this.connectFailures++;
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, 10 * 2 ** (this.connectFailures - 1));
    this.nextConnectAtMs = now() + delay;
    if (this.phase === 'prefill' && this.connectFailures >= PREFILL_CONNECT_ATTEMPTS) {
      let connected = false;
      for (const connection of this.connections) connected ||= connection.connected;
      // Nothing is in flight without a connection: the keys not yet written fail with `kind`.
      if (!connected) this.endPrefill(kind);
    }
  }

  /**
   * Sends `pending` again after its backoff; false when the retry bound leaves no room (the
   * caller counts the failure).
   */
  private retryLater(pending: Pending): boolean {
    const delay = nextRetryDelayMs(
      DEFAULT_RETRY_POLICY,
      pending.attempt,
      pending.firstMs,
      now(),
      this.jitter,
    );
    if (delay === null) return false;
    pending.attempt++;
    this.total.retries++;
    this.second.retries++;
    if (this.hooks.sink !== undefined) this.hooks.sink.retries++;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.dueRetries.push(pending);
      this.fill();
    }, delay);
    this.retryTimers.set(timer, pending);
    return true;
  }

  /** `pending` is over: its session is free again, and the ledger learns how it went. */
  private settle(pending: Pending, ok: boolean): void {
    if (pending.session !== null) this.freeSessions.push(pending.session);
    const ledger = this.hooks.ledger;
    if (pending.stamp !== 0 && ledger !== undefined) {
      if (ok) ledger.acked(pending.keyId, pending.stamp);
      else ledger.failed(pending.stamp);
    }
  }

  private transmit(connection: HttpConnection, pending: Pending, t: number): void {
    this.pending.set(connection, pending);
    this.count(pending.head.length + (pending.body?.length ?? 0));
    connection.send(pending.kind, pending.latencyStartMs, t, pending.head, pending.body);
  }

  /** Due retries go out first, on idle connections; more open when none is idle. */
  private sendDueRetries(): void {
    while (this.dueRetries.length > 0 && this.idle.length > 0) {
      this.transmit(this.idle.pop() as HttpConnection, this.dueRetries.shift() as Pending, now());
    }
    if (this.dueRetries.length > 0) this.openUpTo(this.options.connections, this.dueRetries.length);
  }

  private recordError(kind: string, count = 1): void {
    this.total.recordError(kind, count);
    this.second.recordError(kind, count);
    this.hooks.sink?.recordError(kind, count);
  }

  onClose(connection: HttpConnection): void {
    this.connections.delete(connection);
    if (this.stopped) return;
    const at = this.idle.indexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
    this.fill();
  }

  onBytesRead(bytes: number): void {
    this.total.bytesRead += bytes;
    this.second.bytesRead += bytes;
  }

  // The loop.

  private readonly onAbort = () => this.stop('abort');

  /** Prefill done (or none): start the load, then measure after the warmup. */
  private beginLoad(): void {
    if (this.options.mode === 'open') this.startSchedule();
    if (this.options.warmupSeconds > 0) {
      this.phase = 'warmup';
      this.phaseTimer = setTimeout(() => this.beginMeasure(), this.options.warmupSeconds * 1000);
    } else {
      this.beginMeasure();
    }
    this.fill();
  }

  private beginMeasure(): void {
    this.phase = 'measure';
    this.total.reset();
    this.sendLag.reset();
    this.measureStartMs = now();
    const duration = this.options.durationSeconds;
    if (duration !== null) {
      this.phaseTimer = setTimeout(() => this.stop('duration'), duration * 1000);
    }
  }

  private startSchedule(): void {
    this.schedule = new ArrivalSchedule(now(), this.options.rate);
    this.nextArrival = 0;
  }

  /** A prefill write was answered: stored (`failure` null) or failed. */
  private onPrefillAnswered(failure: string | null): void {
    this.prefillAnswered++;
    if (failure === null) this.prefillStored++;
    else this.prefillFailures.set(failure, (this.prefillFailures.get(failure) ?? 0) + 1);
    if (this.phase === 'prefill' && this.prefillAnswered >= this.options.prefillKeys) {
      this.endPrefill(null);
    }
  }

  /** Ends the prefill; `giveUp` (an error kind) fails the keys not yet written. */
  private endPrefill(giveUp: string | null): void {
    if (giveUp !== null) {
      const unsent = this.options.prefillKeys - this.prefillSent;
      this.prefillSent += unsent;
      this.prefillAnswered += unsent;
      this.prefillFailures.set(giveUp, (this.prefillFailures.get(giveUp) ?? 0) + unsent);
    }
    const outcome = this.prefillOutcome();
    if (outcome !== null) this.hooks.onPrefillDone?.(outcome);
    if (!this.stopped) this.beginLoad();
  }

  private prefillOutcome(): PrefillOutcome | null {
    if (this.options.prefillKeys === 0) return null;
    return {
      keys: this.options.prefillKeys,
      stored: this.prefillStored,
      failed: this.prefillAnswered - this.prefillStored,
      failures: Object.fromEntries(this.prefillFailures),
    };
  }

  /** A connection can take a request. */
  private onIdle(connection: HttpConnection): void {
    if (this.stopped) return;
    if (this.phase === 'prefill') {
      if (this.prefillSent < this.options.prefillKeys) this.sendPrefill(connection, now());
      else this.idle.push(connection);
    } else if (this.connections.size > this.options.connections) {
      this.retire(connection);
    } else if (this.dueRetries.length > 0) {
      this.transmit(connection, this.dueRetries.shift() as Pending, now());
    } else if (this.options.mode === 'closed') {
      const t = now();
      this.sendNext(connection, t, t);
    } else {
      this.idle.push(connection);
      this.pump();
    }
  }

  /** Puts every idle connection to work and opens the connections the model wants. */
  private fill(): void {
    if (this.stopped) return;
    if (this.phase === 'prefill') {
      const wanted = Math.min(this.options.connections, this.options.prefillKeys);
      this.openUpTo(wanted, this.options.prefillKeys - this.prefillSent);
      while (this.idle.length > 0 && this.prefillSent < this.options.prefillKeys) {
        this.sendPrefill(this.idle.pop() as HttpConnection, now());
      }
    } else if (this.options.mode === 'closed') {
      if (this.dueRetries.length > 0) this.sendDueRetries();
      while (this.idle.length > 0) this.onIdle(this.idle.pop() as HttpConnection);
      this.openUpTo(this.options.connections, Infinity);
    } else {
      if (this.dueRetries.length > 0) this.sendDueRetries();
      this.pump();
    }
  }

  /**
   * Open model: sends every arrival that is due, on idle connections, oldest first.
   *
   * Node's timers fire up to about 1 ms late, which would add up to 1 ms to every latency at a
   * low rate. Rather than busy-wait, arrivals go out up to EARLY_MS before their time and a
   * latency runs from the earlier of the intended and the actual send time: a request is not
   * charged for the generator's timer slack, but always for the time it waited to be sent.
   */
  private pump(): void {
    const schedule = this.schedule;
    if (schedule === null || this.stopped) return;
    let t = now();
    this.expireArrivals(schedule, t);
    const due = schedule.dueCount(t + EARLY_MS);
    while (this.nextArrival < due) {
      const connection = this.idle.pop();
      if (connection === undefined) break;
      if (this.connections.size > this.options.connections) {
        this.retire(connection);
        continue;
      }
      const intended = schedule.intendedTime(this.nextArrival);
      // Late past the later of the intended time and the moment a connection was free: the
      // generator's own delay, not the server's.
      this.sendLag.recordMs(Math.max(0, t - Math.max(intended, connection.idleSinceMs)));
      this.sendNext(connection, Math.min(t, intended), t);
      this.nextArrival++;
      t = now();
    }
    const waiting = due - this.nextArrival;
    if (waiting > 0) {
      // Arrivals wait for a connection: that wait is part of their latency.
      this.openUpTo(this.options.connections, waiting);
    } else if (this.arrivalTimer === null) {
      const next = schedule.intendedTime(this.nextArrival);
      if (Number.isFinite(next)) {
        this.arrivalTimer = setTimeout(
          () => {
            this.arrivalTimer = null;
            this.pump();
          },
          next - EARLY_MS - t,
        );
      }
    }
  }

  /**
   * Arrivals that waited timeoutMs for a connection (the target is down or saturated) fail,
   * as a client with that timeout would give up on them, rather than go out in a burst.
   */
  private expireArrivals(schedule: ArrivalSchedule, t: number): void {
    const expired = schedule.dueCount(t - this.options.timeoutMs) - this.nextArrival;
    if (expired <= 0) return;
    this.recordError(this.connectFailures > 0 ? this.lastConnectError : 'timeout', expired);
    this.nextArrival += expired;
  }

  /** Opens connections up to `wanted`, with at most `needed` connecting at once. */
  private openUpTo(wanted: number, needed: number): void {
    const t = now();
    if (t < this.nextConnectAtMs) {
      if (this.reconnectTimer === null && this.connections.size < wanted) {
        this.reconnectTimer = setTimeout(() => {
          this.reconnectTimer = null;
          this.fill();
        }, this.nextConnectAtMs - t);
      }
      return;
    }
    while (this.connections.size < wanted && this.connecting < needed) {
      this.connecting++;
      this.connections.add(new HttpConnection(this.target.host, this.target.port, this));
      if (this.connectFailures > 0) break; // probe one at a time while the target refuses
    }
  }

  private retire(connection: HttpConnection): void {
    this.connections.delete(connection);
    connection.close();
  }

  private sendPrefill(connection: HttpConnection, t: number): void {
    const value = this.nextValue();
    const head = this.putHead(keyName(this.prefillSent++), value);
    this.count(head.length + value.bytes.length);
    connection.send('prefill', t, t, head, value.bytes, true);
  }

  private sendNext(connection: HttpConnection, latencyStartMs: number, t: number): void {
    if (this.fixedRequest !== null) {
      this.count(this.fixedRequest.length);
      connection.sendRaw('path', latencyStartMs, t, this.fixedRequest);
      return;
    }
    let id = this.sampler.next();
    const owns = this.hooks.owns;
    if (owns !== undefined) {
      for (let i = 1; i < OWNED_DRAWS && !owns(id); i++) id = this.sampler.next();
    }
    const key = keyName(id);
    const read = this.rng.next() < this.options.readRatio;
    if (this.retrying) {
      this.sendWithSession(connection, latencyStartMs, t, id, key, read);
      return;
    }
    if (read) {
      const head = `GET ${this.keyPrefix}${key}${this.requestTail}\r\n`;
      this.count(head.length);
      connection.send('get', latencyStartMs, t, head);
    } else {
      const value = this.nextValue();
      const head = this.putHead(key, value);
      this.count(head.length + value.bytes.length);
      connection.send('put', latencyStartMs, t, head, value.bytes);
    }
  }

  /** sendNext with sessions: the request is kept to be sent again (see LoadOptions.sessions). */
  private sendWithSession(
    connection: HttpConnection,
    latencyStartMs: number,
    t: number,
    keyId: number,
    key: string,
    read: boolean,
  ): void {
    if (read) {
      const head = `GET ${this.keyPrefix}${key}${this.requestTail}\r\n`;
      const pending: Pending = {
        kind: 'get',
        head,
        body: undefined,
        latencyStartMs,
        firstMs: t,
        attempt: 0,
        session: null,
        keyId,
        stamp: 0,
      };
      this.transmit(connection, pending, t);
      return;
    }
    const value = this.nextValue();
    let session = this.freeSessions.pop();
    if (session === undefined) {
      session = {
        prefix: sessionPrefix(`${this.options.sessions}-${++this.sessionCount}`),
        seq: 0,
      };
    }
    session.seq++;
    let body: Uint8Array = value.bytes;
    let stamp = 0;
    const ledger = this.hooks.ledger;
    // JSON values stay whole (a node refuses JSON that does not parse): not stamped.
    if (ledger !== undefined && body.length >= STAMP_BYTES && !isJsonValue(value)) {
      stamp = ledger.sent();
      body = Buffer.from(body);
      ledger.stamp(stamp, body);
    }
    const head =
      `PUT ${this.keyPrefix}${key}${this.requestTail}${session.prefix}${session.seq}\r\n` +
      `Content-Type: ${value.contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;
    const pending: Pending = {
      kind: 'put',
      head,
      body,
      latencyStartMs,
      firstMs: t,
      attempt: 0,
      session,
      keyId,
      stamp,
    };
    this.transmit(connection, pending, t);
  }

  /** Keys are `keyName` output, URL-safe as they are. */
  private putHead(key: string, value: GeneratedValue): string {
    return (
      `PUT ${this.keyPrefix}${key}${this.requestTail}` +
      `Content-Type: ${value.contentType}\r\nContent-Length: ${value.bytes.length}\r\n\r\n`
    );
  }

  private nextValue(): GeneratedValue {
    const value = this.values[this.valueIndex % this.values.length] as GeneratedValue;
    this.valueIndex++;
    return value;
  }

  private count(bytesWritten: number): void {
    this.total.bytesWritten += bytesWritten;
    this.second.bytesWritten += bytesWritten;
  }

  private isOk(kind: RequestKind, status: number): boolean {
    if (kind === 'get') return status === 200 || status === 404; // 404 is a miss
    if (kind === 'path') return status < 400;
    return status >= 200 && status < 300;
  }

  private tick(): void {
    const t = now();
    for (const connection of this.connections) {
      const since = connection.busy ? connection.sentMs : connection.openedMs;
      if ((connection.busy || !connection.connected) && t - since > this.options.timeoutMs) {
        connection.fail('timeout');
      }
    }
    if (this.schedule !== null && !this.stopped) this.expireArrivals(this.schedule, t);
    this.schedule?.forgetBefore(this.nextArrival);
    if (t - this.secondStartMs >= 1000) this.rollSecond(t);
  }

  private rollSecond(t: number): void {
    this.lastSecond = secondFigures(this.second, (t - this.secondStartMs) / 1000);
    this.second.reset();
    this.secondStartMs = t;
    this.hooks.onProgress?.(this.snapshot());
  }

  private clearArrivalTimer(): void {
    if (this.arrivalTimer !== null) clearTimeout(this.arrivalTimer);
    this.arrivalTimer = null;
  }

  private makeSampler(): KeySampler {
    const { keys, distribution, zipfS } = this.options;
    return createKeySampler(
      keys,
      distribution === 'zipf' ? { kind: 'zipf', s: zipfS } : { kind: 'uniform' },
      this.rng,
    );
  }

  private makeValues(): GeneratedValue[] {
    const { valueBytes, compressible, seed } = this.options;
    const count = Math.max(
      1,
      Math.min(VALUE_POOL_SIZE, Math.floor(VALUE_POOL_MAX_BYTES / Math.max(1, valueBytes))),
    );
    // A stream of its own, so changing values does not shift the key stream.
    const rng = createRng(seed ^ 0x5a17);
    return Array.from({ length: count }, () => generateValue(valueBytes, rng, compressible));
  }

  private result(
    durationSeconds: number,
    unfinished: number,
    stoppedBy: LoadResult['stoppedBy'],
  ): LoadResult {
    const c = this.total;
    const measured = durationSeconds > 0;
    const statuses: Record<string, number> = {};
    c.statuses.forEach((n, status) => {
      if (n > 0 && measured) statuses[status] = n;
    });
    const lookups = c.hits + c.misses;
    const { mode, connections, url, path } = this.options;
    const rate = mode === 'open' ? this.options.rate : null;
    return {
      target: url,
      path,
      mode,
      connections,
      rate,
      durationSeconds: round(durationSeconds, 3),
      requests: measured ? c.requests : 0,
      requestsPerSecond: measured ? round(c.requests / durationSeconds, 1) : 0,
      latencyMs: measured ? roundSummary(c.latency.summary()) : null,
      sendLagMs: measured && mode === 'open' ? roundSummary(this.sendLag.summary()) : null,
      reads: measured ? c.reads : 0,
      writes: measured ? c.writes : 0,
      hits: measured ? c.hits : 0,
      misses: measured ? c.misses : 0,
      hitRate: measured && lookups > 0 ? round(c.hits / lookups, 4) : null,
      errors: measured ? Object.fromEntries(c.errors) : {},
      errorCount: measured ? c.errorCount : 0,
      statuses,
      bytesRead: measured ? c.bytesRead : 0,
      bytesWritten: measured ? c.bytesWritten : 0,
      unfinished: measured ? unfinished : 0,
      prefill: this.prefillOutcome(),
      stoppedBy,
      options: { ...this.options, rate },
    };
  }
}

function isJsonValue(value: GeneratedValue): boolean {
  return value.contentType === 'application/json';
}

function now(): number {
  return performance.now();
}

/** `x` to `digits` decimals, for figures meant to be read (JSON, the dashboard). */
function round(x: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(x * scale) / scale;
}

/** Latencies to the µs, the histogram's own precision at the low end. */
function roundSummary(summary: LatencySummaryMs | null): LatencySummaryMs | null {
  if (summary === null) return null;
  const { min, mean, p50, p90, p99, p999, max } = summary;
  const r = (ms: number) => round(ms, 3);
  return {
    min: r(min),
    mean: r(mean),
    p50: r(p50),
    p90: r(p90),
    p99: r(p99),
    p999: r(p999),
    max: r(max),
  };
}

/**
 * What a failed write is counted as: its status, with the error code when the body is a
 * TinyCache error (`{"error":{"code":"value_too_large",…}}`), as in `413 value_too_large`.
 */
export function failureKind(status: number, body: Buffer | null): string {
  if (body === null || body.length === 0) return String(status);
  const code = /^\s*\{\s*"error"\s*:\s*\{[^{}]*?"code"\s*:\s*"([a-z0-9_]{1,64})"/.exec(
    body.toString('latin1'),
  )?.[1];
  return code === undefined ? String(status) : `${status} ${code}`;
}
