/**
 * Raft messages between node processes over TCP: the real RaftTransport (core/raft/transport.ts;
 * the simulator's is sim/raft/run.ts over sim/network).
 *
 * - It rides the node's HTTP port: a peer dials `GET /v1/raft` with `Connection: Upgrade`,
 *   `Upgrade: tinycache-raft/1` and `X-TinyCache-Node: <its id>`; `attach(server)` answers
 *   101 and from then on the socket carries frames one way, dialler to listener. Each node
 *   dials each peer for its own outbound messages (etcd's rafthttp streams do the same), so a
 *   pair of nodes shares two connections and no request/response pairing exists.
 * - A frame is `[u32 big-endian payload length][payload = encodeMessage(m)]`.
 * - One persistent outbound connection per peer, dialled when there is something to send,
 *   redialled after a failure with exponential backoff and jitter (capped at maxBackoffMs).
 * - Batching: messages sent in one turn of the event loop go out in one `socket.write` of
 *   their frames together (flushed from setImmediate).
 * - Bounded queues: per peer, at most maxQueueMessages messages and maxQueueBytes bytes wait
 *   for the socket (while dialling, or while the socket is not drained). When full, *new*
 *   messages are dropped and counted: Raft retransmits (heartbeats, MsgApp probes), so losing
 *   the newest is as safe as losing the oldest and keeps what is queued in order. One
 *   message larger than maxQueueBytes (a snapshot) is taken when the queue is empty.
 * - Frames longer than maxFrameBytes are refused on read (the connection is closed) and never
 *   sent; undecodable frames close their connection and are counted.
 * Delivery is at most once: what sits in a socket that breaks is lost, which Raft tolerates.
 */
import { request, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { decodeMessage, encodeMessage } from '../../../core/raft/codec.ts';
import type { RaftTransport } from '../../../core/raft/transport.ts';
import type { Message, NodeId } from '../../../core/raft/types.ts';

export const RAFT_PATH = '/v1/raft';
export const RAFT_PROTOCOL = 'tinycache-raft/1';
export const NODE_HEADER = 'x-tinycache-node';

export const DEFAULT_MAX_QUEUE_MESSAGES = 4096;
export const DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MIN_BACKOFF_MS = 20;
export const DEFAULT_MAX_BACKOFF_MS = 1000;
/** A dial that has not upgraded by then is abandoned (and retried with backoff). */
export const DEFAULT_DIAL_TIMEOUT_MS = 2000;

const FRAME_HEADER_BYTES = 4;
const REFUSAL = `This port upgrades only GET ${RAFT_PATH} to ${RAFT_PROTOCOL}, with X-TinyCache-Node.\n`;

export interface PeerTransportOptions {
  /** This node's id: sent in X-TinyCache-Node when dialling. */
  readonly nodeId: NodeId;
  /** Peer id → base URL (`http://host:port`). May include this node; it is never dialled. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Called once per decoded inbound message. */
  readonly onMessage: (m: Message) => void;
  /**
   * Called when the last connection a peer dialled here is closed by its end (its process
   * died, or it closed the link): a hint that the peer is gone, which a follower takes to
   * mean its leader is (RaftNode.leaderLost). Not called for connections this side drops.
   */
  readonly onPeerGone?: (peer: NodeId) => void;
  readonly maxQueueMessages?: number;
  readonly maxQueueBytes?: number;
  readonly maxFrameBytes?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly dialTimeoutMs?: number;
  /** [0, 1) for backoff jitter; Math.random unless a test pins it. */
  readonly random?: () => number;
}

/** What happened on the links with one peer, both directions; counters only grow. */
export interface PeerCounters {
  sentMessages: number;
  sentBytes: number;
  /** `socket.write` calls: batching makes this far smaller than sentMessages. */
  writes: number;
  receivedMessages: number;
  receivedBytes: number;
  /** Dropped on send: queue full, frame too large, peer unknown or removed. */
  droppedMessages: number;
  droppedBytes: number;
  /** Outbound connections established after the first one. */
  reconnects: number;
  /** Dials that failed (refused, timed out, answered without 101). */
  failedDials: number;
  /** Inbound connections closed for an undecodable or oversized frame. */
  malformedFrames: number;
}

export interface PeerTransportStats {
  readonly peers: ReadonlyMap<NodeId, Readonly<PeerCounters>>;
  /** Upgrade requests refused (wrong path, protocol or missing node id). */
  readonly refusedUpgrades: number;
}

const newCounters = (): PeerCounters => ({
  sentMessages: 0,
  sentBytes: 0,
  writes: 0,
  receivedMessages: 0,
  receivedBytes: 0,
  droppedMessages: 0,
  droppedBytes: 0,
  reconnects: 0,
  failedDials: 0,
  malformedFrames: 0,
});

/** The outbound side of one peer: its queue and its connection. */
interface Outbound {
  url: string;
  /** Encoded payloads (without frame headers) waiting for the socket. */
  queue: Uint8Array[];
  queuedBytes: number;
  state: 'idle' | 'dialling' | 'open' | 'backoff';
  socket: Duplex | null;
  /** The dial in progress, to abort on close. */
  dial: ReturnType<typeof request> | null;
  timer: NodeJS.Timeout | null;
  /** Consecutive failures since the last successful connection. */
  failures: number;
  connectedOnce: boolean;
  /** The socket said write() would buffer: wait for 'drain'. */
  draining: boolean;
}

/** Splits a byte stream into frame payloads; throws on a frame longer than the limit. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The current frame's payload length once its header is read. */
  private expected: number | null = null;

  constructor(private readonly maxFrameBytes: number) {}

  /** The complete payloads `chunk` finishes (views into the received bytes). */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.expected === null) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const length = this.flatten().readUInt32BE(0);
        if (length > this.maxFrameBytes) {
          throw new RangeError(`frame of ${length} bytes passes the limit ${this.maxFrameBytes}`);
        }
        this.expected = length;
      }
      const total = FRAME_HEADER_BYTES + this.expected;
      if (this.buffered < total) break;
      const all = this.flatten();
      frames.push(all.subarray(FRAME_HEADER_BYTES, total));
      this.chunks = total === all.length ? [] : [all.subarray(total)];
      this.buffered -= total;
      this.expected = null;
    }
    return frames;
  }

  /** The buffered bytes as one Buffer (copies only when they span chunks). */
  private flatten(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }
}

export class PeerTransport implements RaftTransport {
  private readonly nodeId: NodeId;
  private readonly onMessage: (m: Message) => void;
  private readonly onPeerGone: (peer: NodeId) => void;
  /** Inbound connections this side ended (replaced, malformed): their close is no news. */
  private readonly dropped = new WeakSet<Duplex>();
  private readonly maxQueueMessages: number;
  private readonly maxQueueBytes: number;
  private readonly maxFrameBytes: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly dialTimeoutMs: number;
  private readonly random: () => number;

  private urls = new Map<NodeId, string>();
  private readonly outbound = new Map<NodeId, Outbound>();
  private readonly inbound = new Map<NodeId, Set<Duplex>>();
  private readonly counters = new Map<NodeId, PeerCounters>();
  private readonly servers: { server: Server; listener: UpgradeListener }[] = [];
  private refusedUpgrades = 0;
  /** Peers with something queued since the last flush. */
  private readonly dirty = new Set<NodeId>();
  private flushScheduled: NodeJS.Immediate | null = null;
  private closed = false;

  constructor(options: PeerTransportOptions) {
    this.nodeId = options.nodeId;
    this.onMessage = options.onMessage;
    this.onPeerGone = options.onPeerGone ?? (() => {});
    this.maxQueueMessages = positive(
      'maxQueueMessages',
      options.maxQueueMessages ?? DEFAULT_MAX_QUEUE_MESSAGES,
    );
    this.maxQueueBytes = positive(
      'maxQueueBytes',
      options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES,
    );
    this.maxFrameBytes = positive(
      'maxFrameBytes',
      options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    );
    if (this.maxFrameBytes > 0xffffffff) {
      throw new TypeError('maxFrameBytes must fit the u32 frame length (at most 4 GiB - 1)');
    }
    this.minBackoffMs = positive('minBackoffMs', options.minBackoffMs ?? DEFAULT_MIN_BACKOFF_MS);
    this.maxBackoffMs = positive('maxBackoffMs', options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
    this.dialTimeoutMs = positive(
      'dialTimeoutMs',
      options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    );
    this.random = options.random ?? Math.random;
    this.setPeers(options.peers);
  }

  // ---- Sending -------------------------------------------------------------------------------

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const payload = encodeMessage(m);
      const peer = this.outboundFor(m.to);
      if (peer === null || !this.admits(peer, payload.length)) {
        const c = this.countersFor(m.to);
        c.droppedMessages++;
        c.droppedBytes += payload.length;
        continue;
      }
      peer.queue.push(payload);
      peer.queuedBytes += payload.length;
      this.dirty.add(m.to);
    }
    if (this.dirty.size > 0 && this.flushScheduled === null) {
      this.flushScheduled = setImmediate(() => {
        this.flushScheduled = null;
        for (const id of this.dirty) this.flush(id);
        this.dirty.clear();
      });
    }
  }

  private admits(peer: Outbound, bytes: number): boolean {
    if (bytes > this.maxFrameBytes) return false;
    if (peer.queue.length === 0) return true;
    return (
      peer.queue.length < this.maxQueueMessages && peer.queuedBytes + bytes <= this.maxQueueBytes
    );
  }

  /** Writes everything queued for `id` in one socket.write, dialling first if need be. */
  private flush(id: NodeId): void {
    const peer = this.outbound.get(id);
    if (peer === undefined || peer.queue.length === 0) return;
    if (peer.state === 'idle') this.dial(id, peer);
    if (peer.state !== 'open' || peer.socket === null || peer.draining) return;
    const frames = Buffer.allocUnsafe(peer.queue.length * FRAME_HEADER_BYTES + peer.queuedBytes);
    let at = 0;
    for (const payload of peer.queue) {
      frames.writeUInt32BE(payload.length, at);
      frames.set(payload, at + FRAME_HEADER_BYTES);
      at += FRAME_HEADER_BYTES + payload.length;
    }
    const c = this.countersFor(id);
    c.sentMessages += peer.queue.length;
    c.sentBytes += frames.length;
    c.writes++;
    peer.queue = [];
    peer.queuedBytes = 0;
    if (!peer.socket.write(frames)) peer.draining = true;
  }

  // ---- Dialling --------------------------------------------------------------------------------

  private dial(id: NodeId, peer: Outbound): void {
    peer.state = 'dialling';
    const url = new URL(RAFT_PATH, peer.url);
    const req = request(url, {
      method: 'GET',
      headers: { Connection: 'Upgrade', Upgrade: RAFT_PROTOCOL, 'X-TinyCache-Node': this.nodeId },
      timeout: this.dialTimeoutMs,
      // Not pooled: the socket leaves HTTP once upgraded.
      agent: false,
    });
    peer.dial = req;
    const fail = (): void => {
      if (peer.dial !== req) return;
      peer.dial = null;
      req.destroy();
      this.countersFor(id).failedDials++;
      this.backoff(id, peer);
    };
    req.on('timeout', fail);
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      fail();
    });
    req.on('upgrade', (res: IncomingMessage, socket: Socket) => {
      if (peer.dial !== req) {
        socket.destroy();
        return;
      }
      peer.dial = null;
      if (res.headers.upgrade?.toLowerCase() !== RAFT_PROTOCOL) {
        socket.destroy();
        this.countersFor(id).failedDials++;
        this.backoff(id, peer);
        return;
      }
      this.opened(id, peer, socket);
    });
    req.end();
  }

  private opened(id: NodeId, peer: Outbound, socket: Socket): void {
    if (peer.connectedOnce) this.countersFor(id).reconnects++;
    peer.connectedOnce = true;
    peer.failures = 0;
    peer.state = 'open';
    peer.socket = socket;
    peer.draining = false;
    socket.setNoDelay(true);
    // The dial timeout was an idle timeout on this socket; an idle Raft link is fine.
    socket.setTimeout(0);
    // The listener never writes on this connection; read only to notice it closing.
    socket.resume();
    socket.on('drain', () => {
      peer.draining = false;
      this.flush(id);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (peer.socket !== socket) return;
      peer.socket = null;
      peer.draining = false;
      this.backoff(id, peer);
    });
    this.flush(id);
  }

  /** Waits min(maxBackoff, minBackoff · 2^failures), jittered to [½, 1] of it, then redials if
   * anything is queued (else goes idle: the next send dials). */
  private backoff(id: NodeId, peer: Outbound): void {
    if (this.closed || this.outbound.get(id) !== peer) return;
    const ceiling = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** peer.failures);
    peer.failures = Math.min(peer.failures + 1, 30);
    peer.state = 'backoff';
    peer.timer = setTimeout(
      () => {
        peer.timer = null;
        peer.state = 'idle';
        if (peer.queue.length > 0) this.flush(id);
      },
      ceiling * (0.5 + 0.5 * this.random()),
    );
    peer.timer.unref();
  }

  // ---- Receiving -------------------------------------------------------------------------------

  /** Serves `GET /v1/raft` upgrades on the node's HTTP server; refuses every other upgrade. */
  attach(server: Server): void {
    const listener: UpgradeListener = (req, socket, head) => this.accept(req, socket, head);
    server.on('upgrade', listener);
    this.servers.push({ server, listener });
  }

  private accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    const from = req.headers[NODE_HEADER];
    if (
      this.closed ||
      req.method !== 'GET' ||
      path !== RAFT_PATH ||
      req.headers.upgrade?.toLowerCase() !== RAFT_PROTOCOL ||
      typeof from !== 'string' ||
      from === ''
    ) {
      this.refusedUpgrades++;
      socket.on('error', () => socket.destroy());
      socket.end(
        'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n' +
          `Content-Length: ${Buffer.byteLength(REFUSAL)}\r\n\r\n${REFUSAL}`,
      );
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${RAFT_PROTOCOL}\r\n\r\n`,
    );
    setNoDelay(socket);
    // A peer that dials again has restarted or lost its old connection: keep only the newest.
    const sockets = this.inbound.get(from) ?? new Set<Duplex>();
    for (const old of sockets) this.drop(old);
    sockets.clear();
    sockets.add(socket);
    this.inbound.set(from, sockets);
    const reader = new FrameReader(this.maxFrameBytes);
    const counters = this.countersFor(from);
    const receive = (chunk: Buffer): void => {
      if (socket.destroyed) return;
      let messages: Message[];
      try {
        messages = reader.push(chunk).map((payload) => {
          counters.receivedBytes += FRAME_HEADER_BYTES + payload.length;
          return decodeMessage(payload);
        });
      } catch {
        counters.malformedFrames++;
        this.drop(socket);
        return;
      }
      // A connection speaks for the node it named when it upgraded, to this node: a message
      // claiming another sender or addressed elsewhere is refused with the connection (a
      // peer that mixes ids up is broken, and Raft must never take a vote or an ack from a
      // node that did not send it).
      if (messages.some((m) => m.from !== from || m.to !== this.nodeId)) {
        counters.malformedFrames++;
        this.drop(socket);
        return;
      }
      for (const m of messages) {
        counters.receivedMessages++;
        this.onMessage(m);
      }
    };
    socket.on('error', () => socket.destroy());
    // The HTTP server's sockets are half-open: the peer's FIN ends only its side. Nothing is
    // ever written back on this link, so close it when the peer does.
    socket.on('end', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && !this.closed && !this.dropped.has(socket)) this.onPeerGone(from);
    });
    socket.on('data', receive);
    if (head.length > 0) receive(head);
  }

  /** Ends an inbound connection from this side: its close says nothing of the peer. */
  private drop(socket: Duplex): void {
    this.dropped.add(socket);
    socket.destroy();
  }

  // ---- Membership, metrics, lifetime -----------------------------------------------------------

  /**
   * The peers to talk to from now on. A removed peer's queue is dropped (counted) and its
   * connection closed; a peer whose URL changed is redialled at the new one.
   */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    for (const [id, url] of peers) {
      if (id !== this.nodeId) new URL(url); // throws TypeError on a malformed URL, at the door
    }
    this.urls = new Map([...peers].filter(([id]) => id !== this.nodeId));
    for (const [id, peer] of this.outbound) {
      const url = this.urls.get(id);
      if (url === peer.url) continue;
      this.outbound.delete(id);
      this.shut(peer);
      if (url === undefined) {
        const c = this.countersFor(id);
        c.droppedMessages += peer.queue.length;
        c.droppedBytes += peer.queuedBytes;
      } else {
        const replacement = this.outboundFor(id)!;
        replacement.queue = peer.queue;
        replacement.queuedBytes = peer.queuedBytes;
        if (peer.queue.length > 0) this.flush(id);
      }
    }
  }

  stats(): PeerTransportStats {
    const peers = new Map<NodeId, Readonly<PeerCounters>>();
    for (const [id, c] of this.counters) peers.set(id, { ...c });
    return { peers, refusedUpgrades: this.refusedUpgrades };
  }

  /** Ends every connection and timer and stops serving upgrades; sends after it are ignored. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    for (const peer of this.outbound.values()) this.shut(peer);
    this.outbound.clear();
    for (const sockets of this.inbound.values()) for (const s of sockets) s.destroy();
    this.inbound.clear();
    for (const { server, listener } of this.servers) server.off('upgrade', listener);
    this.servers.length = 0;
  }

  private shut(peer: Outbound): void {
    if (peer.timer !== null) clearTimeout(peer.timer);
    peer.timer = null;
    peer.dial?.destroy();
    peer.dial = null;
    const socket = peer.socket;
    peer.socket = null;
    socket?.destroy();
  }

  private outboundFor(id: NodeId): Outbound | null {
    const existing = this.outbound.get(id);
    if (existing !== undefined) return existing;
    const url = this.urls.get(id);
    if (url === undefined) return null;
    const peer: Outbound = {
      url,
      queue: [],
      queuedBytes: 0,
      state: 'idle',
      socket: null,
      dial: null,
      timer: null,
      failures: 0,
      connectedOnce: false,
      draining: false,
    };
    this.outbound.set(id, peer);
    return peer;
  }

  private countersFor(id: NodeId): PeerCounters {
    let c = this.counters.get(id);
    if (c === undefined) {
      c = newCounters();
      this.counters.set(id, c);
    }
    return c;
  }
}

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`PeerTransport option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Upgraded sockets are net.Sockets; small frames (votes, heartbeats) must not wait for Nagle. */
function setNoDelay(socket: Duplex): void {
  if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
}
