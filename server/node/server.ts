/**
 * The cache node's REST face (API.md §2): a plain node:http server around one engine Store.
 *
 * The GET hit path is kept lean on purpose: no router objects, no URL parsing beyond
 * slicing the request line's path, one Map lookup in the store, one writeHead with a flat
 * header array, and metrics recorded into typed arrays.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  type NodeConfig,
  parseTtlSeconds,
  TTL_RULE,
  ttlMs,
  validateConfigPatch,
} from '../../core/config.ts';
import { keyRefusal, Store, type StoreStats, utf8ByteLength } from '../../core/engine/index.ts';
import type { Entry, StoredValue } from '../../core/engine/types.ts';
import { type CacheError, cacheError } from '../../core/errors.ts';
import { owned, readBody } from './body.ts';
import { acceptsGzip, inflate, InflateLimitError, maybeCompress } from './compression.ts';
import { rawErrorResponse, sendError } from './http-errors.ts';
import { createNodeMetrics, type NodeMetrics, type Op } from './metrics.ts';
import { type ReadSource, registerDbMetrics } from '../db/metrics.ts';
import {
  type Arrival,
  type ClusterNode,
  type Decision,
  leaderStep,
  type Target,
} from '../../core/cluster/index.ts';
import { CLUSTER_HEADERS, ClusterRole, refusedConnection } from './cluster.ts';
import { registerRaftMetrics } from './raft/metrics.ts';
import type { ConfChange } from '../../core/raft/index.ts';
import { MembershipRefused, NotLeader, Unavailable } from './raft/replica.ts';
import { oneOffSession, Replication, type Session } from './replication.ts';
import type { PeerAnswer } from './peer-client.ts';
import { registerClusterMetrics } from './cluster-metrics.ts';
import { type PeerRequest, PeerUnreachable } from './peer-client.ts';
import { DbUnavailable, type Persistence } from '../db/persistence.ts';
import type { WriteBehind } from '../db/write-behind.ts';
import type { DbEntry } from '../db/store.ts';

const KEYS_PREFIX = '/v1/keys/';
const TRANSFER_PREFIX = '/v1/transfer';
/** Level 6: a replica's group, and membership changes on its leader. */
const MEMBERS_PATH = '/v1/raft/members';
/** Largest cluster map or transfer request body (a map of a thousand shards fits). */
const MAX_CLUSTER_BODY_BYTES = 4 * 1024 * 1024;
const MEMBERS_BODY = {
  maxBytes: 4096,
  tooLarge: cacheError('bad_request', 'The body passes 4096 bytes.'),
  example: '{"add": "n4"} or {"remove": "n2"}',
};
const CLUSTER_BODY = {
  maxBytes: MAX_CLUSTER_BODY_BYTES,
  tooLarge: cacheError('bad_request', `The body passes ${MAX_CLUSTER_BODY_BYTES} bytes.`),
  example: 'a cluster map (GET /v1/cluster shows one)',
};
/** Headers of one connection, not of the answer: not relayed from a peer (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'upgrade']);

/** A key request this node serves in a cluster: how it came, under which map, and the move. */
interface Routed {
  readonly arrival: Arrival;
  readonly epoch: number;
  /** The key's old owner while it moves here; null when it is not in transit. */
  readonly fallback: Target | null;
  /** Level 6, a write this node proposes as its shard's leader: the client's session. */
  readonly session?: Session;
}
const KEY_METHODS = 'GET, HEAD, PUT, DELETE';
/** Largest `PATCH /v1/config` body; a config is a few hundred bytes. */
const MAX_CONFIG_BODY_BYTES = 64 * 1024;
/** Room for an 8 KiB key percent-encoded (×3) plus ordinary headers. */
const MAX_HEADER_BYTES = 32 * 1024;
/** Slow clients: headers must arrive within this, and a whole request within REQUEST_TIMEOUT. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Active expiry: how often, how many entries per step, and the time cap per tick. */
const EXPIRE_INTERVAL_MS = 100;
const EXPIRE_BUDGET = 1000;
const EXPIRE_MAX_MS_PER_TICK = 5;
/**
 * Longest Content-Type a value may carry (RFC 6838 §4.2 allows 127 characters for each of
 * type and subtype). Content types are interned (see internContentType), so a stored entry
 * shares its type string instead of holding a copy outside the byte accounting.
 */
const MAX_CONTENT_TYPE_BYTES = 255;
/** Distinct content types kept for sharing; past this, a value keeps its own (short) copy. */
const MAX_INTERNED_CONTENT_TYPES = 1024;
const contentTypes = new Map<string, string>();

function internContentType(header: string | undefined): string {
  if (header === undefined) return 'application/octet-stream';
  const known = contentTypes.get(header);
  if (known !== undefined) return known;
  if (contentTypes.size >= MAX_INTERNED_CONTENT_TYPES) return header;
  contentTypes.set(header, header);
  return header;
}

/**
 * The status recorded in metrics for a request whose client went away before it was whole
 * (nothing stored, nobody to answer); nginx's convention, never sent.
 */
const CLIENT_CLOSED_REQUEST = 499;
/** How often Node checks connections for the header and request timeouts. */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Requests queued on one connection behind an unfinished write before it is closed. */
const MAX_PIPELINED_REQUESTS = 256;
/** Most bytes of a refused request's body read and thrown away before cutting the connection. */
const DISCARD_MAX_BYTES = 16 * 1024 * 1024;
/** How long a shutdown waits for requests in flight before closing their connections. */
const SHUTDOWN_GRACE_MS = 5_000;
/** Level 6: how long a request waits for its shard to have a known leader before a 503. */
const LEADER_WAIT_MS = 1_000;
/** Level 6: how often a waiting request looks again. */
const LEADER_POLL_MS = 20;
/** Level 6 request headers: a client's session (both, or none), and the read consistency. */
const SESSION_HEADERS = {
  client: 'x-tinycache-client',
  seq: 'x-tinycache-seq',
  consistency: 'x-tinycache-consistency',
} as const;
/** Longest X-TinyCache-Client, in UTF-8 bytes (core/replicated MAX_CLIENT_BYTES). */
const MAX_CLIENT_ID_BYTES = 256;

export interface NodeOptions {
  readonly host: string;
  /** 0 picks a free port; the chosen one is in `CacheNode.port`. */
  readonly port: number;
  readonly config: NodeConfig;
  /** Wall clock in ms; injectable for tests of TTL. */
  readonly clock?: () => number;
  /**
   * Level 3: PostgreSQL behind the cache. Writes go through it before they are acknowledged;
   * a miss reads through it.
   */
  readonly database?: Persistence;
  /** With `database`: acknowledge writes once queued here, and flush them in batches. */
  readonly writeBehind?: WriteBehind;
  /**
   * Level 5: this node's id in cluster maps (`PUT /v1/cluster`). Default `host:port`. Until
   * it is sent a map, the node is a lone cache.
   */
  readonly nodeId?: string;
  /** Level 5: keys a second this node copies at most when it gains keys in a move. */
  readonly transferKeysPerSecond?: number;
  /** Where the node's own notes go (a map adopted, keys moved). Default: stdout. */
  readonly log?: (line: string) => void;
  /**
   * Level 6: the node is a replica of its shard's Raft group, its Raft log, hard state and
   * snapshots in this directory (server/node/replication.ts). Needs `nodeId`; not with a
   * `database`.
   */
  readonly dataDir?: string;
  /**
   * Level 6: with an empty `dataDir`, join the running group formed with these voters (not
   * this node) instead of forming one: the node waits for the leader to add it.
   */
  readonly join?: readonly string[] | undefined;
}

export interface CacheNode {
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly cluster: ClusterRole;
  readonly metrics: NodeMetrics;
  config(): NodeConfig;
  /** Stops accepting, lets requests in flight finish (up to a grace period), then closes. */
  close(): Promise<void>;
}

/** JSON of `/v1/stats`: the engine's figures plus the node's uptime in seconds. */
function statsBody(stats: () => StoreStats, startedAt: number, now: number): string {
  const s = stats();
  const reads = s.hits + s.misses;
  return JSON.stringify({
    ...s,
    hitRate: reads === 0 ? null : s.hits / reads,
    uptime: Math.floor((now - startedAt) / 1000),
  });
}

/** The metrics `op` of a request on a key, by its method. */
function keyOp(method: string | undefined): Op {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'get';
    case 'PUT':
      return 'set';
    case 'DELETE':
      return 'delete';
    default:
      return 'other';
  }
}

/** The path and query of an absolute-form request target, or `/` if it has none. */
function absolutePath(target: string): string {
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return target;
  }
}

function isJsonType(contentType: string): boolean {
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return media === 'application/json' || media.endsWith('+json');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isValidJson(bytes: Uint8Array): boolean {
  try {
    JSON.parse(utf8.decode(bytes));
    return true;
  } catch {
    return false;
  }
}

/** How memory holds a row read from the database. */
function storedValue(row: DbEntry): StoredValue {
  return {
    bytes: row.value,
    contentType: row.contentType,
    compressed: row.compressed,
    rawBytes: row.rawBytes,
  };
}

function dbEntry(key: string, value: StoredValue, expiresAt: number | null): DbEntry {
  return {
    key,
    value: Buffer.from(value.bytes.buffer, value.bytes.byteOffset, value.bytes.byteLength),
    contentType: value.contentType,
    compressed: value.compressed,
    rawBytes: value.rawBytes,
    expiresAt,
  };
}

/** `[[start, end], ...]` with whole positions 0 <= start < end <= 2^32. */
function isRangeList(value: unknown): value is [number, number][] {
  return (
    Array.isArray(value) &&
    value.length <= 1_000_000 &&
    value.every(
      (r) =>
        Array.isArray(r) &&
        r.length === 2 &&
        Number.isInteger(r[0]) &&
        Number.isInteger(r[1]) &&
        r[0] >= 0 &&
        r[0] < r[1] &&
        r[1] <= 2 ** 32,
    )
  );
}

function showKey(key: string): string {
  return key.length > 64 ? `${JSON.stringify(key.slice(0, 64))}…` : JSON.stringify(key);
}

export async function startNode(options: NodeOptions): Promise<CacheNode> {
  const clock = options.clock ?? Date.now;
  const database = options.database;
  const writeBehind = database === undefined ? undefined : options.writeBehind;
  const startedAt = clock();
  let config: NodeConfig = options.config;
  const storeOptions = {
    maxMemoryBytes: config.maxMemoryBytes,
    maxKeyBytes: config.maxKeyBytes,
    maxValueBytes: config.maxValueBytes,
    policy: config.policy,
  };
  const log = options.log ?? ((line: string) => console.log(line));
  // Level 6: a replica's store is its ReplicatedCache's, which changes only through Raft.
  let replication: Replication | null = null;
  if (options.dataDir !== undefined) {
    if (options.nodeId === undefined) throw new Error('a node with a data dir needs a node id');
    if (database !== undefined) {
      throw new Error('a node with a database cannot be a replica (data dir) yet');
    }
    replication = await Replication.open({
      nodeId: options.nodeId,
      dataDir: options.dataDir,
      join: options.join,
      store: storeOptions,
      clock,
      log,
    });
  }
  const store = replication?.cache.engine ?? new Store(storeOptions);
  const replicated = replication;
  const storeStats = (): StoreStats => replicated?.cache.stats() ?? store.stats();
  // Read from the store when scraped: the engine keeps the one count of everything.
  const metrics = createNodeMetrics(storeStats);
  registerRaftMetrics(metrics.registry, () => replicated?.replica ?? null);
  const timeRead =
    database === undefined ? undefined : registerDbMetrics(metrics.registry, database, writeBehind);
  const requests = metrics.requests;
  // Level 5. Made once the port is known (its default id is host:port); no request is
  // handled before that.
  let clusterRole: ClusterRole | undefined;
  const onForward = registerClusterMetrics(metrics.registry, () => clusterRole);

  /** Counts an answer; a GET on a node with a database also says where its answer came from. */
  const finish = (op: Op, status: number, start: number, source?: ReadSource): void => {
    const seconds = (performance.now() - start) / 1000;
    requests.record(op, status, seconds);
    if (source !== undefined) timeRead?.(source, seconds);
  };

  const fail = (
    res: ServerResponse,
    op: Op,
    start: number,
    error: CacheError,
    source?: ReadSource,
  ): void => {
    finish(op, sendError(res, error), start, source);
  };

  /**
   * For errors found before the body was read. The unread body is read and thrown away
   * before answering, so that the client, which may still be sending, reads the answer
   * instead of a reset connection. Past DISCARD_MAX_BYTES (or when the client is waiting
   * for `100 Continue` and will send nothing) the answer goes at once and the connection
   * closes: nobody gets to stream gigabytes at us.
   */
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    op: Op,
    start: number,
    error: CacheError,
  ): void => {
    if (req.complete || req.readableEnded) {
      fail(res, op, start, error);
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (req.headers.expect !== undefined || declared > DISCARD_MAX_BYTES) {
      finish(op, sendError(res, error, { Connection: 'close' }), start);
      return;
    }
    let discarded = 0;
    const onData = (chunk: Buffer): void => {
      discarded += chunk.length;
      if (discarded > DISCARD_MAX_BYTES) {
        req.off('data', onData);
        req.off('end', onEnd);
        finish(op, sendError(res, error, { Connection: 'close' }), start);
      }
    };
    const onEnd = (): void => fail(res, op, start, error);
    req.on('data', onData);
    req.once('end', onEnd);
    req.resume();
  };

  const sendJson = (res: ServerResponse, status: number, body: string, head = false): void => {
    res.writeHead(status, [
      'Content-Type',
      'application/json',
      'Content-Length',
      String(Buffer.byteLength(body)),
    ]);
    res.end(head ? undefined : body);
  };

  /** Answers a hit. `body` is undefined for HEAD; `length` is what GET would send. */
  const sendEntry = (
    res: ServerResponse,
    entry: Entry,
    body: Uint8Array | undefined,
    length: number,
    gzipped: boolean,
    now: number,
  ): void => {
    const headers = ['Content-Type', entry.contentType, 'Content-Length', String(length)];
    if (entry.expiresAt !== null)
      headers.push('X-TTL-Ms', String(Math.ceil(entry.expiresAt - now)));
    if (entry.compressed) headers.push('Vary', 'Accept-Encoding');
    if (gzipped) headers.push('Content-Encoding', 'gzip');
    res.writeHead(200, headers);
    res.end(body);
  };

  /** Answers with a stored entry: as stored (gzip) when the client takes it, else inflated. */
  const answerEntry = (
    req: IncomingMessage,
    res: ServerResponse,
    entry: Entry,
    head: boolean,
    start: number,
    now: number,
    source: ReadSource,
  ): void => {
    if (!entry.compressed || acceptsGzip(req.headers['accept-encoding'])) {
      const body = entry.bytes;
      sendEntry(res, entry, head ? undefined : body, body.length, entry.compressed, now);
      finish('get', 200, start, source);
      return;
    }
    if (head) {
      sendEntry(res, entry, undefined, entry.rawBytes, false, now);
      finish('get', 200, start, source);
      return;
    }
    inflate(entry.bytes, entry.rawBytes).then(
      (raw) => {
        sendEntry(res, entry, raw, raw.length, false, now);
        finish('get', 200, start, source);
      },
      () =>
        fail(res, 'get', start, cacheError('internal_error', 'A stored value failed to inflate.')),
    );
  };

  const queueFull = () =>
    cacheError(
      'unavailable',
      `The write-behind queue is full (${writeBehind?.depth} keys waiting for the database); try again shortly.`,
    );

  const notFound = (key: string) => cacheError('not_found', `No value for key ${showKey(key)}.`);

  /** A database failure, as the client sees it: 503 with Retry-After. */
  const dbRefusal = (error: unknown): CacheError =>
    cacheError(
      'unavailable',
      error instanceof DbUnavailable ? error.message : `The database failed: ${String(error)}`,
    );

  const handleGet = (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    head: boolean,
    start: number,
    fallback: Target | null,
  ): Promise<void> | undefined => {
    const now = clock();
    const entry = store.get(key, now);
    if (entry !== undefined) {
      answerEntry(req, res, entry, head, start, now, 'memory');
      return;
    }
    if (fallback !== null) return readInTransit(req, res, key, head, start, fallback);
    if (database === undefined) {
      fail(res, 'get', start, notFound(key));
      return;
    }
    return readThrough(req, res, key, head, start);
  };

  /**
   * A miss of a key moving here from `fallback` (resharding): read it from the old owner
   * unless it was settled here, keep it as the move's copy, and answer with it.
   */
  const readInTransit = async (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    head: boolean,
    start: number,
    fallback: Target,
  ): Promise<void> => {
    let entry: Entry | null;
    try {
      entry = await clusterRole!.readThrough(key, fallback);
    } catch (error) {
      fail(res, 'get', start, peerRefusal(fallback, error));
      return;
    }
    if (entry === null || (entry.expiresAt !== null && entry.expiresAt <= clock())) {
      fail(res, 'get', start, notFound(key));
      return;
    }
    answerEntry(req, res, entry, head, start, clock(), 'memory');
  };

  /** A peer that could not be asked, as the client sees it: 503 with Retry-After. */
  const peerRefusal = (to: Target, error: unknown): CacheError =>
    cacheError(
      'unavailable',
      error instanceof PeerUnreachable
        ? `Shard ${to.shard} (${error.message}); try again shortly.`
        : `Shard ${to.shard} (${to.node.url}) failed: ${String(error)}`,
    );

  /** A miss with a database: load the key from it, keep it in memory, answer with it. */
  const readThrough = async (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    head: boolean,
    start: number,
  ): Promise<void> => {
    // Write-behind: a write not yet flushed is newer than the database's row.
    const pending = writeBehind?.pending(key);
    if (pending !== undefined) {
      if (pending.op === 'put') keep(key, pending.entry);
      answerRow(req, res, key, pending.op === 'put' ? pending.entry : null, head, start, 'memory');
      return;
    }
    let found: DbEntry | null;
    try {
      found = await database!.readThrough(key, (row) => keep(key, row));
    } catch (error) {
      fail(res, 'get', start, dbRefusal(error));
      return;
    }
    answerRow(req, res, key, found, head, start, 'database');
  };

  /**
   * Puts a row from the database (or the write-behind queue) in memory. Memory may decline it
   * (too big after a config change, expired meanwhile): the answer comes from the row anyway.
   */
  const keep = (key: string, row: DbEntry): void => {
    store.set(key, storedValue(row), row.expiresAt, clock());
  };

  /** Answers with a row, or 404 when there is none or it has expired. */
  const answerRow = (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    row: DbEntry | null,
    head: boolean,
    start: number,
    source: ReadSource,
  ): void => {
    const now = clock();
    if (row === null || (row.expiresAt !== null && row.expiresAt <= now)) {
      fail(res, 'get', start, notFound(key), source);
      return;
    }
    const entry = { ...storedValue(row), expiresAt: row.expiresAt };
    answerEntry(req, res, entry, head, start, now, source);
  };

  const handlePut = async (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    query: string,
    expectsContinue: boolean,
    start: number,
    routed: Routed | null,
    /** The body, when a forwarder read it before finding the key is its own after all. */
    body?: Uint8Array,
  ): Promise<void> => {
    let ttlSeconds = config.defaultTtlSeconds;
    if (query !== '') {
      const ttlText = new URLSearchParams(query).get('ttl');
      if (ttlText !== null) {
        const parsed = parseTtlSeconds(ttlText);
        if (parsed === undefined) {
          refuse(
            req,
            res,
            'set',
            start,
            cacheError('invalid_ttl', `ttl must be ${TTL_RULE}; got ${JSON.stringify(ttlText)}.`),
          );
          return;
        }
        ttlSeconds = parsed;
      }
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const gzipped = encoding === 'gzip' || encoding === 'x-gzip';
    if (!gzipped && encoding !== 'identity') {
      refuse(
        req,
        res,
        'set',
        start,
        cacheError(
          'unsupported_encoding',
          `Content-Encoding ${JSON.stringify(encoding)} is not supported; send the value as it is, or gzip it.`,
        ),
      );
      return;
    }
    const typeLength = req.headers['content-type']?.length ?? 0;
    if (typeLength > MAX_CONTENT_TYPE_BYTES) {
      refuse(
        req,
        res,
        'set',
        start,
        cacheError(
          'invalid_content_type',
          `The Content-Type is ${typeLength} characters; the limit is ${MAX_CONTENT_TYPE_BYTES}.`,
        ),
      );
      return;
    }
    const { maxValueBytes } = config;
    const tooLarge = (size: string) =>
      cacheError(
        'value_too_large',
        `The value is ${size}; the limit is ${maxValueBytes} bytes (max-value-bytes).`,
      );
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxValueBytes) {
      refuse(req, res, 'set', start, tooLarge(`${declared} bytes`));
      return;
    }
    if (expectsContinue) res.writeContinue();

    const read =
      body !== undefined
        ? { kind: 'ok' as const, body: Buffer.from(body.buffer, body.byteOffset, body.length) }
        : await readBody(req, maxValueBytes);
    if (read.kind === 'aborted') {
      finish('set', CLIENT_CLOSED_REQUEST, start);
      return;
    }
    if (read.kind === 'too_large') {
      refuse(req, res, 'set', start, tooLarge(`over ${maxValueBytes} bytes`));
      return;
    }
    let raw = read.body;
    if (gzipped) {
      try {
        raw = await inflate(raw, maxValueBytes);
      } catch (error) {
        const refusal =
          error instanceof InflateLimitError
            ? tooLarge(`over ${maxValueBytes} bytes once inflated`)
            : cacheError('bad_request', 'The body says Content-Encoding: gzip but is not gzip.');
        fail(res, 'set', start, refusal);
        return;
      }
    }
    const contentType = internContentType(req.headers['content-type']);
    if (isJsonType(contentType) && !isValidJson(raw)) {
      fail(
        res,
        'set',
        start,
        cacheError(
          'invalid_json',
          'The body is not valid JSON; send valid JSON or use another Content-Type (e.g. text/plain).',
        ),
      );
      return;
    }
    const compressing = maybeCompress(raw, config.compressThresholdBytes);
    const packed = compressing === null ? null : await compressing;
    const now = clock();
    // Whole milliseconds, at least one: `expiresAt` is epoch ms, and a TTL never lands in the past.
    const expiresAt = ttlSeconds === null ? null : now + ttlMs(ttlSeconds);
    // Inflated and gzip output can be views into shared memory; store bytes that own theirs.
    const stored = owned(packed ?? raw);
    const value = { bytes: stored, contentType, compressed: packed !== null, rawBytes: raw.length };
    let created: boolean;
    let answeredExpiresAt = expiresAt;
    if (routed !== null && clusterRole!.epoch !== routed.epoch) {
      // The map changed while the body arrived: if the key moved away meanwhile, this node
      // must not take the write (the move's copy may have left already); its owner does.
      const decision = clusterRole!.decide(key, routed.arrival);
      if (decision !== null && decision.action !== 'serve') {
        const path = `${KEYS_PREFIX}${encodeURIComponent(key)}${query === '' ? '' : `?${query}`}`;
        const request = {
          method: 'PUT' as const,
          path,
          headers: { 'content-type': contentType },
          body: raw,
        };
        const served = await relay(res, 'set', key, decision, routed.arrival, request, start);
        if (served === null) return;
        // Its owner's newer map, fetched on the way, gives the key back to this node.
        routed = { ...routed, epoch: clusterRole!.epoch, fallback: served.fallback };
      } else {
        routed = { ...routed, fallback: decision?.fallback ?? null };
      }
    }
    if (replication !== null && routed?.session !== undefined) {
      // Level 6: refusals first (bad input changes nothing), then through Raft; answered
      // once the entry is applied here.
      const refusal = store.check(key, value, expiresAt, now);
      if (refusal !== undefined) {
        fail(res, 'set', start, refusal);
        return;
      }
      let written;
      try {
        written = await replication.replica!.write({
          kind: 'set',
          ...routed.session,
          key,
          bytes: stored,
          contentType,
          compressed: packed !== null,
          rawBytes: raw.length,
          ttlMs: ttlSeconds === null ? null : ttlMs(ttlSeconds),
        });
      } catch (error) {
        fail(res, 'set', start, replicaRefusal(res, error));
        return;
      }
      const outcome = written.outcome;
      if (!outcome.ok) {
        fail(res, 'set', start, cacheError(outcome.code, outcome.message));
        return;
      }
      if (outcome.kind !== 'set') {
        fail(res, 'set', start, sessionMismatch(routed.session, 'a DELETE'));
        return;
      }
      created = outcome.created;
      answeredExpiresAt = written.expiresAt;
    } else if (database === undefined) {
      const result = store.set(key, value, expiresAt, now);
      if (!result.ok) {
        fail(res, 'set', start, result.error);
        return;
      }
      // A write here of a key moving here wins over the old owner's copy (core/cluster).
      if (routed?.fallback != null) clusterRole!.settle(key);
      created = result.value.created;
    } else {
      // The same refusals with or without a database, before the database sees the write.
      const refusal = store.check(key, value, expiresAt, now);
      if (refusal !== undefined) {
        fail(res, 'set', start, refusal);
        return;
      }
      if (writeBehind !== undefined) {
        if (!writeBehind.hasRoom(key)) {
          fail(res, 'set', start, queueFull());
          return;
        }
        const result = store.set(key, value, expiresAt, now);
        if (!result.ok) {
          fail(res, 'set', start, result.error);
          return;
        }
        writeBehind.enqueue(key, { op: 'put', entry: dbEntry(key, value, expiresAt) });
        created = result.value.created;
      } else {
        try {
          created = await database.inOrder(key, async () => {
            await database.write(dbEntry(key, value, expiresAt));
            // Committed: the write stands. Memory follows (a refusal now, after a config
            // change meanwhile, only means this value is read through later).
            const result = store.set(key, value, expiresAt, clock());
            return !result.ok || result.value.created;
          });
        } catch (error) {
          fail(res, 'set', start, dbRefusal(error));
          return;
        }
      }
    }
    const status = created ? 201 : 200;
    sendJson(
      res,
      status,
      JSON.stringify({
        key,
        bytes: raw.length,
        storedBytes: stored.length,
        compressed: packed !== null,
        expiresAt: answeredExpiresAt,
      }),
    );
    finish('set', status, start);
  };

  // -------------------------------------------------------------------------------------
  // Level 6: keys of this node's shard when it is a replica of the shard's Raft group.

  /** The client's session from X-TinyCache-Client and -Seq (both), else a one-off one. */
  const sessionOf = (req: IncomingMessage): Session | CacheError => {
    const client = req.headers[SESSION_HEADERS.client];
    const seqText = req.headers[SESSION_HEADERS.seq];
    if (typeof client !== 'string' || typeof seqText !== 'string') return oneOffSession();
    if (client === '' || utf8ByteLength(client) > MAX_CLIENT_ID_BYTES) {
      return cacheError(
        'bad_request',
        `X-TinyCache-Client must be 1 to ${MAX_CLIENT_ID_BYTES} bytes.`,
      );
    }
    const seq = Number(seqText);
    if (!/^\d+$/.test(seqText.trim()) || !Number.isSafeInteger(seq) || seq < 1) {
      return cacheError(
        'bad_request',
        `X-TinyCache-Seq must be a whole number >= 1, one per request of the client; got ${JSON.stringify(seqText)}.`,
      );
    }
    return { client, seq };
  };

  const sessionMismatch = (session: Session, was: string): CacheError =>
    cacheError(
      'bad_request',
      `Request ${session.seq} of client ${JSON.stringify(session.client)} was ${was}; a retry must repeat the same request.`,
    );

  /** ?consistency= or X-TinyCache-Consistency: linearizable (default) or stale. */
  const consistencyOf = (
    req: IncomingMessage,
    query: string,
  ): 'linearizable' | 'stale' | CacheError => {
    const fromQuery = query === '' ? null : new URLSearchParams(query).get('consistency');
    const header = req.headers[SESSION_HEADERS.consistency];
    const asked = fromQuery ?? (typeof header === 'string' ? header.trim() : null);
    if (asked === null || asked === 'linearizable') return 'linearizable';
    if (asked === 'stale') return 'stale';
    return cacheError(
      'bad_request',
      `consistency must be linearizable or stale; got ${JSON.stringify(asked)}.`,
    );
  };

  /** The shard, leader and term headers of a key answer of a replicated shard. */
  const replicaHeaders = (res: ServerResponse, leader: string | null, term: number): void => {
    const shard = clusterRole!.shard;
    if (shard !== null) res.setHeader(CLUSTER_HEADERS.shard, shard);
    if (leader !== null) res.setHeader(CLUSTER_HEADERS.leader, leader);
    res.setHeader(CLUSTER_HEADERS.term, String(term));
  };

  /** A Replica's refusal as the client sees it: 503 with Retry-After (and the leader known). */
  const replicaRefusal = (res: ServerResponse, error: unknown): CacheError => {
    const shard = clusterRole!.shard ?? '?';
    if (error instanceof NotLeader) {
      if (error.leader !== null && !res.headersSent) {
        res.setHeader(CLUSTER_HEADERS.leader, error.leader);
      }
      return cacheError(
        'unavailable',
        error.leader === null
          ? `No leader for shard ${shard} (${error.message}); retry shortly.`
          : `Shard ${shard}: ${error.message} Retry (at ${error.leader}).`,
      );
    }
    if (error instanceof Unavailable) {
      return cacheError('unavailable', `Shard ${shard}: ${error.message}`);
    }
    return cacheError('internal_error', `Shard ${shard}: the replica failed: ${String(error)}`);
  };

  /** The node of this node's shard with id `id` in the current map, or null. */
  const shardNode = (id: string): ClusterNode | null => {
    const map = clusterRole!.map;
    const shard = map?.shards.find((s) => s.id === clusterRole!.shard);
    return shard?.nodes.find((n) => n.id === id) ?? null;
  };

  /**
   * A key of this node's shard on a replica: stale reads from this replica; writes and
   * linearizable reads on the leader, sent on to it from a follower (core/cluster
   * `leaderStep`), waiting up to LEADER_WAIT_MS while no leader is known.
   */
  const serveReplicated = async (
    req: IncomingMessage,
    res: ServerResponse,
    op: Op,
    key: string,
    query: string,
    expectsContinue: boolean,
    start: number,
    routed: Routed,
    body?: Uint8Array,
  ): Promise<void> => {
    const rep = replication!;
    const cluster = clusterRole!;
    const shard = cluster.shard!;
    const consistency = consistencyOf(req, query);
    if (typeof consistency !== 'string') {
      refuse(req, res, op, start, consistency);
      return;
    }
    const session = sessionOf(req);
    if (!('seq' in session)) {
      refuse(req, res, op, start, session);
      return;
    }
    if (op === 'get' && consistency === 'stale') {
      const replica = rep.replica;
      if (replica === null) {
        fail(res, op, start, cacheError('unavailable', `Shard ${shard}: ${rep.notRunning}.`));
        return;
      }
      const status = replica.status();
      replicaHeaders(res, status.leader, status.term);
      let entry;
      try {
        entry = await replica.read(key, 'stale');
      } catch (error) {
        fail(res, op, start, replicaRefusal(res, error));
        return;
      }
      if (entry === undefined) fail(res, op, start, notFound(key));
      else answerEntry(req, res, entry, req.method === 'HEAD', start, clock(), 'memory');
      return;
    }
    const deadline = performance.now() + LEADER_WAIT_MS;
    for (;;) {
      const status = rep.status();
      const step = leaderStep(cluster.nodeId, status?.leader ?? null, routed.arrival);
      if (step.action === 'serve' && op === 'get') {
        // A read changes nothing: when leadership is lost before it is confirmed, it is
        // asked again (here, or at the new leader) within the wait.
        replicaHeaders(res, cluster.nodeId, status!.term);
        let entry;
        try {
          entry = await rep.replica!.read(key, 'linearizable');
        } catch (error) {
          const again =
            error instanceof NotLeader &&
            routed.arrival.toLeader !== true &&
            performance.now() < deadline;
          if (again) {
            await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
            continue;
          }
          fail(res, op, start, replicaRefusal(res, error));
          return;
        }
        if (entry === undefined) fail(res, op, start, notFound(key));
        else answerEntry(req, res, entry, req.method === 'HEAD', start, clock(), 'memory');
        return;
      }
      if (step.action === 'serve') break;
      if (step.action === 'forward') {
        const leader = shardNode(step.leader);
        if (leader !== null) {
          if (op === 'set' && body === undefined) {
            const read = await readForwardBody(req, res, op, expectsContinue, start);
            if (read === null) return;
            body = read;
          }
          const sent = await toLeader(req, res, op, key, query, start, leader, body);
          if (sent) return;
          // The leader is down and never saw it (a refused connection): wait for the next.
          if (performance.now() >= deadline) {
            const message = `No leader for shard ${shard}: ${leader.id} is down; retry shortly.`;
            fail(res, op, start, cacheError('unavailable', message));
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
          continue;
        }
      }
      if (step.action === 'refuse') {
        if (status !== null) replicaHeaders(res, step.leader, status.term);
        const message = `Node ${cluster.nodeId} no longer leads shard ${shard} (${step.leader === null ? 'no leader known' : `${step.leader} does`}); retry.`;
        refuse(req, res, op, start, cacheError('unavailable', message));
        return;
      }
      if (performance.now() >= deadline) {
        if (status !== null) replicaHeaders(res, status.leader, status.term);
        const why = status === null ? ` (${rep.notRunning})` : '';
        const message = `No leader for shard ${shard}${why}; retry shortly.`;
        refuse(req, res, op, start, cacheError('unavailable', message));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
    }
    const replica = rep.replica!;
    replicaHeaders(res, cluster.nodeId, replica.status().term);
    if (op === 'set') {
      return handlePut(req, res, key, query, expectsContinue, start, { ...routed, session }, body);
    }
    // A write is proposed once: after a NotLeader it may still commit, and only the client,
    // with its session, may safely send it again.
    let written;
    try {
      written = await replica.write({ kind: 'delete', ...session, key });
    } catch (error) {
      fail(res, op, start, replicaRefusal(res, error));
      return;
    }
    const outcome = written.outcome;
    if (!outcome.ok) fail(res, op, start, cacheError(outcome.code, outcome.message));
    else if (outcome.kind !== 'delete') fail(res, op, start, sessionMismatch(session, 'a PUT'));
    else answerDelete(res, key, outcome.existed, start);
  };

  /**
   * Sends a key request of this node's shard on to its leader, and answers with its answer.
   * False, with nothing answered, when the leader refused the connection (it is down and
   * never saw the request): the caller may wait for the next leader.
   */
  const toLeader = async (
    req: IncomingMessage,
    res: ServerResponse,
    op: Op,
    key: string,
    query: string,
    start: number,
    leader: ClusterNode,
    body: Uint8Array | undefined,
  ): Promise<boolean> => {
    const request = {
      method: (req.method ?? 'GET') as 'GET' | 'HEAD' | 'PUT' | 'DELETE',
      path: `${KEYS_PREFIX}${encodeURIComponent(key)}${query === '' ? '' : `?${query}`}`,
      headers: forwardHeaders(req),
      body,
    };
    const shard = clusterRole!.shard!;
    let answer: PeerAnswer;
    try {
      answer = await clusterRole!.forwardToLeader({ shard, node: leader }, request);
    } catch (error) {
      if (refusedConnection(error)) return false;
      fail(res, op, start, peerRefusal({ shard, node: leader }, error));
      return true;
    }
    sendPeerAnswer(res, op, answer, request.method, start);
    return true;
  };

  const handleKey = (
    req: IncomingMessage,
    res: ServerResponse,
    url: string,
    expectsContinue: boolean,
    start: number,
  ): Promise<void> | undefined => {
    const method = req.method;
    const op = keyOp(method);
    if (op === 'other') {
      finish(
        op,
        sendError(
          res,
          cacheError(
            'unsupported_method',
            `${method} is not supported on keys; use ${KEY_METHODS}.`,
          ),
          { Allow: KEY_METHODS, Connection: 'close' },
        ),
        start,
      );
      return;
    }
    const q = url.indexOf('?');
    const rawKey = q === -1 ? url.slice(KEYS_PREFIX.length) : url.slice(KEYS_PREFIX.length, q);
    let key = rawKey;
    // decodeURIComponent also makes the key a string of its own: a slice of the URL would keep
    // the whole request target (query and all) alive in the store, unaccounted.
    if (q !== -1 || rawKey.includes('%')) {
      try {
        key = decodeURIComponent(rawKey);
      } catch {
        refuse(
          req,
          res,
          op,
          start,
          cacheError('invalid_key', 'The key has malformed percent-encoding (e.g. a lone "%").'),
        );
        return;
      }
    }
    if (key === '' || rawKey.includes('/')) {
      refuse(
        req,
        res,
        op,
        start,
        cacheError(
          'invalid_key',
          key === ''
            ? 'The key is empty; put it after /v1/keys/.'
            : 'A key is one path segment; percent-encode "/" as %2F.',
        ),
      );
      return;
    }
    // A key of n UTF-16 units has at most 3n UTF-8 bytes: short keys skip the count.
    if (key.length > config.maxKeyBytes / 3) {
      const refusal = keyRefusal(utf8ByteLength(key), config.maxKeyBytes);
      if (refusal !== undefined) {
        refuse(req, res, op, start, refusal);
        return;
      }
    }
    let routed: Routed | null = null;
    const cluster = clusterRole!;
    const query = q === -1 ? '' : url.slice(q + 1);
    if (cluster.map !== null) {
      const arrival = cluster.arrival(req);
      const decision = cluster.decide(key, arrival)!;
      if (decision.action !== 'serve') {
        return forwardKey(req, res, op, url, key, query, expectsContinue, decision, arrival, start);
      }
      routed = { arrival, epoch: cluster.epoch, fallback: decision.fallback };
    } else if (replication !== null) {
      // A replica serves its shard's keys through Raft, and learns its shard from a map.
      const message = `Node ${cluster.nodeId} is a replica (--data-dir) with no cluster map yet; send it one (PUT /v1/cluster).`;
      refuse(req, res, op, start, cacheError('unavailable', message));
      return;
    } else if (req.headers[CLUSTER_HEADERS.forwardedBy] !== undefined) {
      // A peer forwarded a key to a node with no map (restarted, not yet told): it must not
      // serve it as a lone cache. Epoch 0 makes the peer send its map, then the request.
      res.setHeader(CLUSTER_HEADERS.epoch, '0');
      const message = 'This node has no cluster map yet; send it yours.';
      refuse(req, res, op, start, cacheError('stale_map', message));
      return;
    }
    return serveKey(req, res, op, key, query, expectsContinue, start, routed);
  };

  /** A key request this node serves (its own key, or any key on a lone node). */
  const serveKey = (
    req: IncomingMessage,
    res: ServerResponse,
    op: Op,
    key: string,
    query: string,
    expectsContinue: boolean,
    start: number,
    routed: Routed | null,
    body?: Uint8Array,
  ): Promise<void> | undefined => {
    const shard = clusterRole!.shard;
    if (replication !== null && routed !== null && shard !== null) {
      return serveReplicated(req, res, op, key, query, expectsContinue, start, routed, body);
    }
    if (routed !== null && shard !== null) res.setHeader(CLUSTER_HEADERS.shard, shard);
    const fallback = routed?.fallback ?? null;
    if (op === 'get') {
      return handleGet(req, res, key, req.method === 'HEAD', start, fallback);
    } else if (op === 'set') {
      return handlePut(req, res, key, query, expectsContinue, start, routed, body);
    } else {
      if (fallback !== null) return deleteInTransit(res, key, start, fallback);
      if (database !== undefined) return deleteThrough(res, key, start);
      answerDelete(res, key, store.delete(key, clock()), start);
    }
  };

  /**
   * DELETE of a key moving here from `fallback`: it existed if this node or the old owner
   * (not yet copied) held it; either way it is settled here, so no copy brings it back.
   */
  const deleteInTransit = async (
    res: ServerResponse,
    key: string,
    start: number,
    fallback: Target,
  ): Promise<void> => {
    let elsewhere: boolean;
    try {
      elsewhere = await clusterRole!.oldOwnerHolds(key, fallback);
    } catch (error) {
      fail(res, 'delete', start, peerRefusal(fallback, error));
      return;
    }
    clusterRole!.settle(key);
    answerDelete(res, key, store.delete(key, clock()) || elsewhere, start);
  };

  /**
   * A key request this node does not serve: forward it to the owner (the body read first,
   * so it can be sent again after the maps are brought up to date), or refuse it.
   */
  const forwardKey = async (
    req: IncomingMessage,
    res: ServerResponse,
    op: Op,
    url: string,
    key: string,
    query: string,
    expectsContinue: boolean,
    decision: Exclude<Decision, { action: 'serve' }>,
    arrival: Arrival,
    start: number,
  ): Promise<void> => {
    if (decision.action === 'refuse') {
      res.setHeader(CLUSTER_HEADERS.epoch, String(clusterRole!.epoch));
      refuse(req, res, op, start, cacheError(decision.error.code, decision.error.message));
      return;
    }
    let body: Uint8Array | undefined;
    if (op === 'set') {
      const read = await readForwardBody(req, res, op, expectsContinue, start);
      if (read === null) return;
      body = read;
    }
    const method = (req.method ?? 'GET') as 'GET' | 'HEAD' | 'PUT' | 'DELETE';
    const request = { method, path: url, headers: forwardHeaders(req), body };
    const served = await relay(res, op, key, decision, arrival, request, start);
    if (served === null) return;
    // The newer map, fetched on the way, makes the key this node's own.
    const routed = { arrival, epoch: clusterRole!.epoch, fallback: served.fallback };
    return serveKey(req, res, op, key, query, false, start, routed, body);
  };

  /** A PUT's body, read to be sent on to a peer; null once a refusal has been answered. */
  const readForwardBody = async (
    req: IncomingMessage,
    res: ServerResponse,
    op: Op,
    expectsContinue: boolean,
    start: number,
  ): Promise<Buffer | null> => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > config.maxValueBytes) {
      const message = `The value is ${declared} bytes; the limit is ${config.maxValueBytes} bytes (max-value-bytes).`;
      refuse(req, res, op, start, cacheError('value_too_large', message));
      return null;
    }
    // The body is read here to be sent on: a client waiting for 100 Continue gets it now.
    if (expectsContinue) res.writeContinue();
    const read = await readBody(req, config.maxValueBytes);
    if (read.kind === 'aborted') {
      finish(op, CLIENT_CLOSED_REQUEST, start);
      return null;
    }
    if (read.kind === 'too_large') {
      refuse(
        req,
        res,
        op,
        start,
        cacheError('value_too_large', `The value is over ${config.maxValueBytes} bytes.`),
      );
      return null;
    }
    return read.body;
  };

  /** The client's headers a forwarded key request carries on. */
  const forwardHeaders = (req: IncomingMessage): Record<string, string> => {
    const headers: Record<string, string> = {};
    for (const name of [
      'content-type',
      'content-encoding',
      'accept-encoding',
      SESSION_HEADERS.client,
      SESSION_HEADERS.seq,
      SESSION_HEADERS.consistency,
    ]) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    return headers;
  };

  /** Answers with a peer's answer (its headers but the connection's own), noting the hop. */
  const sendPeerAnswer = (
    res: ServerResponse,
    op: Op,
    answer: PeerAnswer,
    method: string,
    start: number,
  ): void => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (!HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers[CLUSTER_HEADERS.forwardedBy] = clusterRole!.nodeId;
    res.writeHead(answer.status, headers);
    res.end(method === 'HEAD' ? undefined : answer.body);
    finish(op, answer.status, start);
  };

  /**
   * Sends a key request to its owner and answers with the owner's answer. Resolves with the
   * decision to serve it here when the maps, brought up to date on the way, say so (nothing
   * is answered then); else with null.
   */
  const relay = async (
    res: ServerResponse,
    op: Op,
    key: string,
    decision: Exclude<Decision, { action: 'serve' }>,
    arrival: Arrival,
    request: PeerRequest,
    start: number,
  ): Promise<Extract<Decision, { action: 'serve' }> | null> => {
    const cluster = clusterRole!;
    if (decision.action === 'refuse') {
      res.setHeader(CLUSTER_HEADERS.epoch, String(cluster.epoch));
      fail(res, op, start, cacheError(decision.error.code, decision.error.message));
      return null;
    }
    let answer;
    try {
      answer = await cluster.forward(decision.to, request, () => cluster.decide(key, arrival));
    } catch (error) {
      fail(res, op, start, peerRefusal(decision.to, error));
      return null;
    }
    if ('serveHere' in answer) return answer.serveHere;
    if ('refused' in answer) {
      fail(res, op, start, answer.refused);
      return null;
    }
    sendPeerAnswer(res, op, answer, request.method, start);
    return null;
  };

  /** DELETE with a database: gone from the database first, then from memory. */
  const deleteThrough = async (res: ServerResponse, key: string, start: number): Promise<void> => {
    let removed: boolean;
    if (writeBehind !== undefined) {
      if (!writeBehind.hasRoom(key)) {
        fail(res, 'delete', start, queueFull());
        return;
      }
      const pending = writeBehind.pending(key);
      removed = store.delete(key, clock()) || pending?.op === 'put';
      if (!removed && pending === undefined) {
        try {
          removed = await database!.exists(key);
        } catch (error) {
          fail(res, 'delete', start, dbRefusal(error));
          return;
        }
      }
      if (removed) writeBehind.enqueue(key, { op: 'delete' });
    } else {
      try {
        removed = await database!.inOrder(key, async () => {
          const fromDb = await database!.remove(key);
          return store.delete(key, clock()) || fromDb;
        });
      } catch (error) {
        fail(res, 'delete', start, dbRefusal(error));
        return;
      }
    }
    answerDelete(res, key, removed, start);
  };

  /** A DELETE's answer: 204 when the key existed, else 404. */
  const answerDelete = (res: ServerResponse, key: string, removed: boolean, start: number) => {
    if (!removed) {
      fail(res, 'delete', start, notFound(key));
      return;
    }
    res.writeHead(204);
    res.end();
    finish('delete', 204, start);
  };

  const handleConfigPatch = async (
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
  ): Promise<void> => {
    const input = await readJsonBody(req, res, start, {
      maxBytes: MAX_CONFIG_BODY_BYTES,
      tooLarge: cacheError('invalid_config', 'The configuration body is too large.'),
      example: '{"policy":"wtinylfu"}',
    });
    if (input === undefined) return;
    const patch = validateConfigPatch(input);
    if (!patch.ok) {
      fail(res, 'other', start, patch.error);
      return;
    }
    config = { ...config, ...patch.value };
    store.configure(
      {
        maxMemoryBytes: config.maxMemoryBytes,
        maxKeyBytes: config.maxKeyBytes,
        maxValueBytes: config.maxValueBytes,
        policy: config.policy,
      },
      clock(),
    );
    sendJson(res, 200, JSON.stringify(config));
    finish('other', 200, start);
  };

  /**
   * `PUT /v1/cluster`: a cluster map from the control plane or a peer, adopted when newer.
   * `PATCH /v1/cluster`: `{ "keysPerSecond": n }`, the pace of the keys this node copies in.
   */
  const handleClusterWrite = async (
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
  ): Promise<void> => {
    const body = await readJsonBody(req, res, start);
    if (body === undefined) return;
    const cluster = clusterRole!;
    if (req.method === 'PATCH') {
      const pace = (body as { keysPerSecond?: unknown } | null)?.keysPerSecond;
      if (typeof pace !== 'number' || !Number.isInteger(pace) || pace < 1 || pace > 10_000_000) {
        fail(
          res,
          'other',
          start,
          cacheError(
            'bad_request',
            'Send {"keysPerSecond": n}, a whole number from 1 to 10,000,000.',
          ),
        );
        return;
      }
      cluster.setKeysPerSecond(pace);
      sendJson(res, 200, JSON.stringify(cluster.info()), false);
      finish('other', 200, start);
      return;
    }
    const adopted = cluster.adopt(body);
    if (!adopted.ok) {
      fail(res, 'other', start, adopted.error);
      return;
    }
    sendJson(res, 200, JSON.stringify(adopted.value), false);
    finish('other', 200, start);
  };

  /** A small JSON body, or undefined once a refusal has been sent. */
  const readJsonBody = async (
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    limit: { maxBytes: number; tooLarge: CacheError; example: string } = CLUSTER_BODY,
  ): Promise<unknown> => {
    const read = await readBody(req, limit.maxBytes);
    if (read.kind === 'aborted') {
      finish('other', CLIENT_CLOSED_REQUEST, start);
      return undefined;
    }
    if (read.kind === 'too_large') {
      refuse(req, res, 'other', start, limit.tooLarge);
      return undefined;
    }
    try {
      return JSON.parse(read.body.toString('utf8')) as unknown;
    } catch {
      const message = `The body is not valid JSON; send e.g. ${limit.example}.`;
      fail(res, 'other', start, cacheError('invalid_json', message));
      return undefined;
    }
  };

  /**
   * The old owner's side of a move (node to node, not for clients):
   *   POST   /v1/transfer               {"ranges": [[start, end], ...]}: a snapshot of those keys
   *   GET    /v1/transfer/{id}?offset=&limit=   a page of its entries, as they are now
   *   DELETE /v1/transfer/{id}
   *   GET    /v1/transfer/keys/{key}    one key in transit, from this node's own store
   * A sender with a newer map than this node's gets 421 and this node's epoch, and sends it.
   */
  const handleTransfer = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    url: string,
    start: number,
  ): Promise<void> => {
    const cluster = clusterRole!;
    const stale = (message: string) => {
      res.setHeader(CLUSTER_HEADERS.epoch, String(cluster.epoch));
      refuse(req, res, 'other', start, cacheError('stale_map', message));
    };
    const senderEpoch = Number(req.headers[CLUSTER_HEADERS.epoch]);
    if (Number.isInteger(senderEpoch) && senderEpoch > cluster.epoch) {
      stale(
        `This node has cluster map epoch ${cluster.epoch}, older than the sender's ${senderEpoch}.`,
      );
      return;
    }
    const method = req.method ?? 'GET';
    const rest = path.slice(TRANSFER_PREFIX.length);
    if (rest === '' && method === 'POST') {
      const body = await readJsonBody(req, res, start);
      if (body === undefined) return;
      const ranges = (body as { ranges?: unknown } | null)?.ranges;
      if (!isRangeList(ranges)) {
        fail(
          res,
          'other',
          start,
          cacheError(
            'bad_request',
            'Send {"ranges": [[start, end], ...]} with 0 <= start < end <= 2^32.',
          ),
        );
        return;
      }
      sendJson(res, 200, JSON.stringify(await cluster.openSnapshot(ranges)), false);
      finish('other', 200, start);
      return;
    }
    if (rest.startsWith('/keys/') && method === 'GET') {
      let key: string;
      try {
        key = decodeURIComponent(rest.slice('/keys/'.length));
      } catch {
        fail(
          res,
          'other',
          start,
          cacheError('invalid_key', 'The key has malformed percent-encoding.'),
        );
        return;
      }
      const decision = cluster.decide(key, { ...cluster.arrival(req), transfer: true });
      if (decision?.action === 'refuse') {
        stale(decision.error.message);
        return;
      }
      const entry = cluster.readOwn(key);
      if (entry === null) {
        fail(res, 'other', start, notFound(key));
        return;
      }
      sendJson(res, 200, JSON.stringify(entry), false);
      finish('other', 200, start);
      return;
    }
    const id = rest.slice(1);
    if (rest.startsWith('/') && id !== '' && !id.includes('/')) {
      if (method === 'DELETE') {
        const closed = cluster.closeSnapshot(id);
        if (closed) {
          res.writeHead(204);
          res.end();
        }
        return closed
          ? void finish('other', 204, start)
          : fail(res, 'other', start, noSnapshot(id));
      }
      if (method === 'GET') {
        const params = new URLSearchParams(
          url.includes('?') ? url.slice(url.indexOf('?') + 1) : '',
        );
        const offset = Number(params.get('offset') ?? 0);
        const limit = Number(params.get('limit') ?? 500);
        if (
          !Number.isInteger(offset) ||
          offset < 0 ||
          !Number.isInteger(limit) ||
          limit < 1 ||
          limit > 10_000
        ) {
          fail(
            res,
            'other',
            start,
            cacheError('bad_request', 'offset >= 0 and limit from 1 to 10,000.'),
          );
          return;
        }
        const page = cluster.readSnapshot(id, offset, limit);
        if (page === null) return fail(res, 'other', start, noSnapshot(id));
        sendJson(res, 200, JSON.stringify(page), false);
        finish('other', 200, start);
        return;
      }
    }
    refuse(
      req,
      res,
      'other',
      start,
      cacheError('not_found', `No transfer route ${method} ${path}.`),
    );
  };

  const noSnapshot = (id: string) =>
    cacheError('not_found', `No transfer ${JSON.stringify(id)} (done, or idle for a minute).`);

  /** A replica's part of /healthz: its Raft role, term, leader and log positions. */
  const replicaHealth = (rep: Replication) => {
    const status = rep.status();
    return {
      node: rep.nodeId,
      shard: clusterRole!.shard,
      role: status?.role ?? 'starting',
      term: status?.term ?? 0,
      leader: status?.leader ?? null,
      commit: status?.commit ?? 0,
      applied: status?.applied ?? 0,
    };
  };

  /** 405 with the methods `path` takes (API.md: a 405 carries `Allow`). */
  const methodNotAllowed = (
    res: ServerResponse,
    method: string,
    path: string,
    methods: string,
    start: number,
  ): void => {
    finish(
      'other',
      sendError(
        res,
        cacheError('unsupported_method', `${method} is not supported on ${path}; use ${methods}.`),
        { Allow: methods, Connection: 'close' },
      ),
      start,
    );
  };

  /**
   * Level 6, a replica's group (API: GET and POST /v1/raft/members):
   *   GET   the voters now, the voters the group was formed with (what a joining node passes
   *         as --join), and this replica's view of the leader and log;
   *   POST  {"add": id} or {"remove": id} on the leader: one conf change, answered once it is
   *         applied on the leader (200 and the voters). A follower answers 503 naming the
   *         leader; a change the group cannot make now (one pending, no commit yet in this
   *         term) 503, one it cannot make at all (already a voter, not a voter, the last)
   *         409 membership_refused.
   */
  const handleMembers = async (
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
  ): Promise<void> => {
    const rep = replication;
    if (rep === null) {
      fail(
        res,
        'other',
        start,
        cacheError('not_found', 'This node is not a replica (no --data-dir), so it has no group.'),
      );
      return;
    }
    const method = req.method ?? 'GET';
    // What /healthz says of the replica, with the group and the snapshot position.
    const members = () => {
      const status = rep.status();
      const group = rep.membership();
      return {
        ...replicaHealth(rep),
        voters: group?.voters ?? [],
        bootstrap: group?.bootstrap ?? [],
        snapshotIndex: status?.snapshotIndex ?? 0,
        snapshotsInstalled: status?.snapshotsInstalled ?? 0,
      };
    };
    if (method === 'GET' || method === 'HEAD') {
      sendJson(res, 200, JSON.stringify(members()), method === 'HEAD');
      finish('other', 200, start);
      return;
    }
    if (method !== 'POST') {
      methodNotAllowed(res, method, MEMBERS_PATH, 'GET, HEAD, POST', start);
      return;
    }
    const body = await readJsonBody(req, res, start, MEMBERS_BODY);
    if (body === undefined) return;
    const change = confChangeOf(body);
    if (typeof change === 'string') {
      fail(res, 'other', start, cacheError('bad_request', change));
      return;
    }
    const replica = rep.replica;
    if (replica === null) {
      fail(
        res,
        'other',
        start,
        cacheError('unavailable', `Shard ${clusterRole!.shard}: ${rep.notRunning}.`),
      );
      return;
    }
    try {
      await replica.changeMembership(change);
    } catch (error) {
      if (error instanceof MembershipRefused) {
        const transient =
          error.reason === 'pending-conf-change' || error.reason === 'no-commit-in-term';
        fail(
          res,
          'other',
          start,
          cacheError(
            transient ? 'unavailable' : 'membership_refused',
            transient ? `${error.message} Retry shortly.` : error.message,
          ),
        );
        return;
      }
      fail(res, 'other', start, replicaRefusal(res, error));
      return;
    }
    log(
      `replication: ${change.type === 'add' ? 'added' : 'removed'} ${change.node}; voters ${rep.membership()?.voters.join(', ') ?? '?'}`,
    );
    sendJson(res, 200, JSON.stringify(members()), false);
    finish('other', 200, start);
  };

  /** Everything that is not a key: stats, config, metrics, health. */
  const handleAdmin = (
    req: IncomingMessage,
    res: ServerResponse,
    url: string,
    start: number,
  ): Promise<void> | undefined => {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    const allow = (methods: string): void => methodNotAllowed(res, method, path, methods, start);
    if (path.startsWith(TRANSFER_PREFIX)) return handleTransfer(req, res, path, url, start);
    if (path === MEMBERS_PATH) return handleMembers(req, res, start);
    switch (path) {
      case '/v1/cluster':
        if (method === 'PUT' || method === 'PATCH') return handleClusterWrite(req, res, start);
        if (!read) return void allow('GET, HEAD, PUT, PATCH');
        sendJson(res, 200, JSON.stringify(clusterRole!.info()), method === 'HEAD');
        finish('other', 200, start);
        return;
      case '/v1/keys':
        refuse(
          req,
          res,
          keyOp(method),
          start,
          cacheError('invalid_key', 'The key is empty; put it after /v1/keys/.'),
        );
        return;
      case '/v1/stats':
        if (!read) return void allow('GET, HEAD');
        sendJson(res, 200, statsBody(storeStats, startedAt, clock()), method === 'HEAD');
        finish('other', 200, start);
        return;
      case '/v1/config':
        if (method === 'PATCH') {
          return handleConfigPatch(req, res, start);
        }
        if (!read) return void allow('GET, HEAD, PATCH');
        sendJson(res, 200, JSON.stringify(config), method === 'HEAD');
        finish('other', 200, start);
        return;
      case '/healthz':
        if (!read) return void allow('GET, HEAD');
        sendJson(
          res,
          200,
          JSON.stringify({
            status: 'ok',
            role: 'leader',
            uptime: Math.floor((clock() - startedAt) / 1000),
            ...(clusterRole!.map === null
              ? {}
              : {
                  node: clusterRole!.nodeId,
                  shard: clusterRole!.shard,
                  epoch: clusterRole!.epoch,
                }),
            ...(replication === null ? {} : replicaHealth(replication)),
          }),
          method === 'HEAD',
        );
        finish('other', 200, start);
        return;
      case '/metrics':
        if (!read) return void allow('GET, HEAD');
        metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, {
              'Content-Type': metrics.registry.contentType,
              'Content-Length': Buffer.byteLength(text),
            });
            res.end(method === 'HEAD' ? undefined : text);
            finish('other', 200, start);
          },
          () =>
            fail(res, 'other', start, cacheError('internal_error', 'Collecting metrics failed.')),
        );
        return;
      default:
        refuse(
          req,
          res,
          'other',
          start,
          cacheError(
            'not_found',
            `No route ${path}; the routes are /v1/keys/{key}, /v1/stats, /v1/config, /v1/cluster, /v1/raft/members, /metrics and /healthz.`,
          ),
        );
    }
  };

  /**
   * Runs one request. Returns a promise when the request changes state after waiting (a PUT
   * reads its body and may compress it; a config PATCH reads its body), so that `handle` can
   * hold back later requests on the same connection until it is done.
   */
  const dispatch = (
    req: IncomingMessage,
    res: ServerResponse,
    expectsContinue: boolean,
    start: number,
  ): Promise<void> | undefined => {
    try {
      if (req.httpVersionMajor !== 1) {
        refuse(req, res, 'other', start, cacheError('bad_request', 'Only HTTP/1.x is served.'));
        return undefined;
      }
      let url = req.url ?? '/';
      // Absolute form (`GET http://host/v1/keys/a`), which RFC 9112 §3.2.2 says a server
      // must accept: route by its path.
      if (url.charCodeAt(0) !== 47 /* "/" */) url = absolutePath(url);
      if (url.startsWith(KEYS_PREFIX)) return handleKey(req, res, url, expectsContinue, start);
      return handleAdmin(req, res, url, start);
    } catch (error) {
      // A bug must not take the node down with every other client's data in it.
      console.error('tinycache node: unexpected error', error);
      if (!res.headersSent) {
        fail(
          res,
          'other',
          start,
          cacheError('internal_error', 'The node hit an unexpected error.'),
        );
      } else {
        res.destroy();
      }
      return undefined;
    }
  };

  /**
   * Requests pipelined on one connection take effect in the order they were sent: while a
   * state-changing request is still waiting (for its body, for gzip), later ones on that
   * connection queue behind it. Node already sends the answers in order; this keeps the
   * effects in order too (PUT a, PUT b, GET must read b). A GET hit is synchronous and never
   * waits unless something is queued before it. The queue is bounded: past
   * MAX_PIPELINED_REQUESTS the connection is closed.
   */
  const pipelines = new WeakMap<Socket, { tail: Promise<void>; depth: number }>();

  /** Requests not yet answered (a replica's shutdown waits for them). */
  let inFlight = 0;
  const handle = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const start = performance.now();
    inFlight++;
    res.once('close', () => inFlight--);
    const socket = req.socket;
    const pipeline = pipelines.get(socket);
    if (pipeline === undefined) {
      const work = dispatch(req, res, expectsContinue, start);
      if (work !== undefined) queue(socket, { tail: work, depth: 1 }, work);
      return;
    }
    pipeline.depth += 1;
    if (pipeline.depth > MAX_PIPELINED_REQUESTS) {
      // Node parses every request already read, whatever we pause: cut the connection. What
      // is queued on it finds its client gone and stores nothing; nothing was acknowledged.
      requests.record('other', CLIENT_CLOSED_REQUEST, 0);
      socket.destroy();
      return;
    }
    queue(
      socket,
      pipeline,
      pipeline.tail.then(() => dispatch(req, res, expectsContinue, start)),
    );
  };

  const queue = (
    socket: Socket,
    pipeline: { tail: Promise<void>; depth: number },
    work: Promise<void>,
  ): void => {
    const tail: Promise<void> = work.then(
      () => settle(socket, pipeline, tail),
      () => settle(socket, pipeline, tail),
    );
    pipeline.tail = tail;
    pipelines.set(socket, pipeline);
  };

  const settle = (
    socket: Socket,
    pipeline: { tail: Promise<void>; depth: number },
    tail: Promise<void>,
  ): void => {
    pipeline.depth -= 1;
    if (pipeline.tail !== tail) return;
    pipelines.delete(socket);
  };

  const server: Server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      // Host is not used for routing; a request without one is served, not refused bare.
      requireHostHeader: false,
      noDelay: true,
      keepAlive: true,
    },
    (req, res) => handle(req, res, false),
  );
  // `Expect: 100-continue` (curl sends it for large bodies): refuse an oversized value before
  // the client uploads it.
  server.on('checkContinue', (req, res) => handle(req, res, true));
  // Any other Expect value: 417 (RFC 9110 §10.1.1), in the JSON error shape.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const start = performance.now();
    refuse(
      req,
      res,
      req.url?.startsWith(KEYS_PREFIX) ? keyOp(req.method) : 'other',
      start,
      cacheError(
        'expectation_failed',
        `Expect: ${String(req.headers.expect)} is not supported; only 100-continue is.`,
      ),
    );
  });
  // Level 6: the Raft connections of the shard's other replicas ride this port.
  replication?.attach(server);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (
      !socket.writable ||
      error.code === 'ECONNRESET' ||
      error.code?.startsWith('ERR_HTTP_REQUEST_TIMEOUT')
    ) {
      socket.destroy();
      return;
    }
    const refusal =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? cacheError('headers_too_large', `Request headers pass ${MAX_HEADER_BYTES} bytes.`)
        : cacheError('bad_request', 'The request is not valid HTTP/1.1.');
    requests.record('other', refusal.code === 'headers_too_large' ? 431 : 400, 0);
    socket.end(rawErrorResponse(refusal));
  });

  // Active expiry: reclaim dead keys nobody reads. Like Redis's expire cycle, run again at
  // once while a step keeps finding expired entries, within a time cap per tick.
  // A replica's entries expire by the log's clock instead (core/replicated), the same on
  // every replica.
  const expiry = setInterval(() => {
    if (replication !== null) return;
    const tickStart = performance.now();
    while (
      store.expireStep(clock(), EXPIRE_BUDGET) > EXPIRE_BUDGET / 4 &&
      performance.now() - tickStart < EXPIRE_MAX_MS_PER_TICK
    );
  }, EXPIRE_INTERVAL_MS);
  expiry.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const bound = (server.address() as AddressInfo).port;
      clusterRole = new ClusterRole({
        nodeId: options.nodeId ?? `${options.host}:${bound}`,
        store,
        clock,
        log,
        onForward,
        keysPerSecond: options.transferKeysPerSecond,
        // Moves keep memory's rules, not a database's (the rows of every shard in one table,
        // writes that commit there first): not combined yet.
        joinRefusal:
          database === undefined
            ? null
            : 'This node writes to PostgreSQL; a node with a database cannot join a cluster yet.',
        replication,
      });
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const cluster = clusterRole!;
  // A replica restarted by hand takes up the map it had (a newer one from the control plane
  // or a peer replaces it as usual).
  if (replication !== null) {
    const saved = await replication.savedMap();
    if (saved !== null) {
      const adopted = cluster.adopt(saved);
      log(
        adopted.ok
          ? `replication: took up the saved cluster map (epoch ${adopted.value.epoch})`
          : `replication: the saved cluster map was refused: ${adopted.error.message}`,
      );
    }
  }

  /**
   * A replica's shutdown: stop accepting, let requests in flight finish (their writes need
   * the replica), then stop the replica (finishing its Ready), its transport and storage.
   */
  const closeReplica = async (rep: Replication): Promise<void> => {
    clearInterval(expiry);
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    force.unref();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const deadline = performance.now() + SHUTDOWN_GRACE_MS;
    while (inFlight > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await rep.close();
    cluster.close();
    await closed;
    clearTimeout(force);
  };

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    store,
    cluster,
    metrics,
    config: () => config,
    close() {
      if (replication !== null) {
        closing ??= closeReplica(replication);
        return closing;
      }
      closing ??= new Promise<void>((resolve) => {
        clearInterval(expiry);
        cluster.close();
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** `{"add": id}` or `{"remove": id}` as a conf change, or why not (a sentence). */
function confChangeOf(body: unknown): ConfChange | string {
  const example = 'Send {"add": "n4"} or {"remove": "n2"}: one of them, a node id.';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return example;
  const keys = Object.keys(body);
  if (keys.length !== 1 || (keys[0] !== 'add' && keys[0] !== 'remove')) return example;
  const node = (body as Record<string, unknown>)[keys[0]];
  if (typeof node !== 'string' || !/^[A-Za-z0-9._:-]{1,200}$/.test(node)) {
    return `${example} A node id is letters, digits, ".", "_", ":" or "-", 1 to 200 of them.`;
  }
  return { type: keys[0], node };
}
