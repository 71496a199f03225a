/**
 * A cache-aside client over the simulated network, shared by the scenarios: a GET that misses
 * loads the value from a backing store (a delay) and SETs it, and the request ends when that
 * SET is acknowledged; a write is a SET, a delete a DELETE. Where a key's requests go is asked
 * on every send (`route`), so a scenario can change its cluster map while requests are in
 * flight; a node that no longer owns a key answers `stale`, and the client sends the request
 * again under the map it has now (the `stale_map` answer of core/cluster).
 *
 * A request without an answer within the timeout ends as an error, and a late answer is
 * ignored, as a real client would. A scenario may watch what the client was told (a
 * `History`, such as sim/checker's), to check it against what the nodes hold.
 */
import type { Rng } from '../../core/random.ts';
import type { StoredValue } from '../../core/engine/index.ts';
import { keyName } from '../../core/workload/keys.ts';
import { type DelayDistribution, delaySampler, type DelaySampler } from '../distributions.ts';
import type { Network } from '../network/network.ts';
import type { Transport } from '../network/transport.ts';
import { streamRng } from '../random.ts';
import type { Scheduler } from '../scheduler.ts';
import type { TraceHash } from '../trace.ts';
import type { Outcome, Recorder } from './recorder.ts';
import { RequestWindow, type WindowedRequest } from './request-window.ts';

/** A request from a client to a node. One shape for every kind, so call sites stay monomorphic. */
export interface KeyRequest {
  readonly kind: 'get' | 'set' | 'delete';
  readonly id: number;
  readonly key: string;
  /** The value, for a set; null otherwise. */
  readonly value: StoredValue | null;
}

/**
 * A node's answer: `hit` (with the value), `miss`, `stored`, `deleted` (whether or not the
 * key was there), `stale` (this node does not own the key under its map: send it again under
 * the current one) or `error` (refused: a full queue, a write the store would not take).
 */
export type KeyStatus = 'hit' | 'miss' | 'stored' | 'deleted' | 'stale' | 'error';

export interface KeyReply {
  readonly kind: 'reply';
  readonly id: number;
  readonly status: KeyStatus;
  /** The value, for a hit; null otherwise. */
  readonly value: StoredValue | null;
}

export type KeyMessage = KeyRequest | KeyReply;

/** What a History keeps of a read while it is in flight. */
export interface ReadFence {
  readonly issuedUs: number;
  /** The latest issue time of a write acknowledged before the read was issued. */
  readonly setUs: number;
  /** The latest issue time of a delete acknowledged before the read was issued. */
  readonly deleteUs: number;
}

/** What a client tells a checker: every write, delete and read, with virtual times. */
export interface History {
  /** A SET is about to be sent for `keyId`: the value it writes (a fresh version). */
  valueToWrite(keyId: number, nowUs: number): StoredValue;
  /** The SET of `value`, first sent at `sentUs`, was acknowledged. */
  setAcknowledged(keyId: number, value: StoredValue, sentUs: number, nowUs: number): void;
  /** A DELETE issued at `issuedUs` was acknowledged. */
  deleteAcknowledged(keyId: number, issuedUs: number, nowUs: number): void;
  /** A read is issued: what it must not be older than (the history's own record). */
  readIssued(keyId: number, nowUs: number): ReadFence;
  /** A read issued with `fence` returned `value`. */
  readReturned(keyId: number, fence: ReadFence, value: StoredValue, nowUs: number): void;
}

/** What the clients of a scenario share. */
export interface CacheAsideWorld {
  readonly scheduler: Scheduler;
  readonly recorder: Recorder;
  readonly trace: TraceHash;
  readonly timeoutUs: number;
  /** keyName(id), made once per key on first use. */
  readonly keyNames: (string | undefined)[];
  /** The node that serves `key` now. */
  route(key: string): string;
  /** The value a SET writes when no history gives one (its bytes are never read). */
  readonly value: StoredValue;
  readonly history: History | null;
}

export interface CacheAsideOptions {
  readonly seed: number;
  /** The backing store's time to load a value after a miss. */
  readonly loadTime: DelayDistribution;
  /** Share of writes that are deletes, from 0 to 1. */
  readonly deleteRatio: number;
}

/** Sends of one phase of a request (a GET, the SET after a miss, a DELETE) before it fails. */
export const MAX_SENDS = 4;

type Op = 'read' | 'write' | 'delete';

/** A request in flight: a GET, the load after its miss, then the SET that fills the cache. */
interface Pending extends WindowedRequest {
  readonly client: CacheAsideClient<{ readonly kind: string }>;
  readonly keyId: number;
  readonly key: string;
  readonly op: Op;
  phase: 'get' | 'load' | 'set' | 'delete';
  /** The value the SET writes, once chosen (a resend writes the same). */
  value: StoredValue | null;
  /** When the SET was first sent. */
  setSentUs: number;
  /** The history's record of a read. */
  fence: ReadFence | null;
  /** Sends of the current phase. */
  sends: number;
}

/**
 * A client on a network that may carry more than the key protocol (`M`: a scenario's own
 * messages between nodes); it sends KeyRequests and reads only KeyReplies.
 */
export class CacheAsideClient<M extends { readonly kind: string } = KeyMessage> {
  private readonly transport: Transport<M | KeyMessage>;
  private readonly load: DelaySampler;
  private readonly loadRng: Rng;
  private readonly deleteRng: Rng;
  private readonly deleteRatio: number;
  private readonly window: RequestWindow<Pending>;

  constructor(
    private readonly world: CacheAsideWorld,
    network: Network<M | KeyMessage>,
    address: string,
    options: CacheAsideOptions,
  ) {
    if (!(options.deleteRatio >= 0 && options.deleteRatio <= 1)) {
      throw new RangeError(`deleteRatio must be from 0 to 1 (got ${options.deleteRatio}).`);
    }
    this.load = delaySampler(options.loadTime);
    this.loadRng = streamRng(options.seed, `client/${address}/load`);
    this.deleteRng = streamRng(options.seed, `workload/${address}/deletes`);
    this.deleteRatio = options.deleteRatio;
    this.window = new RequestWindow(world.scheduler, world.timeoutUs, timeOut);
    this.transport = network.listen(address, (_from, message) => this.receive(message));
  }

  /** Starts a request for key `keyId` (the OpenLoop's `issue`). */
  issue(keyId: number, read: boolean): void {
    const world = this.world;
    const key = (world.keyNames[keyId] ??= keyName(keyId));
    // Draw only when deletes are on, so a run without them draws as it always did.
    const op: Op = read
      ? 'read'
      : this.deleteRatio > 0 && this.deleteRng.next() < this.deleteRatio
        ? 'delete'
        : 'write';
    const p: Pending = {
      client: this,
      id: 0,
      keyId,
      key,
      op,
      issuedUs: world.scheduler.nowUs,
      phase: op === 'read' ? 'get' : op === 'delete' ? 'delete' : 'set',
      done: false,
      value: null,
      setSentUs: 0,
      fence:
        op === 'read' && world.history !== null
          ? world.history.readIssued(keyId, world.scheduler.nowUs)
          : null,
      sends: 0,
    };
    this.window.add(p);
    this.send(p);
  }

  private send(p: Pending): void {
    const world = this.world;
    p.sends++;
    let request: KeyRequest;
    if (p.phase === 'set') {
      if (p.value === null) {
        p.setSentUs = world.scheduler.nowUs;
        p.value =
          world.history === null ? world.value : world.history.valueToWrite(p.keyId, p.setSentUs);
      }
      request = { kind: 'set', id: p.id, key: p.key, value: p.value };
    } else {
      request = {
        kind: p.phase === 'delete' ? 'delete' : 'get',
        id: p.id,
        key: p.key,
        value: null,
      };
    }
    this.transport.send(world.route(p.key), request);
  }

  private receive(received: M | KeyMessage): void {
    if (received.kind !== 'reply') return;
    const message = received as KeyReply;
    const p = this.window.find(message.id);
    // Late (after a timeout) or duplicated: the request has ended already.
    if (p === undefined) return;
    const world = this.world;
    switch (message.status) {
      case 'hit':
        if (p.phase !== 'get') return;
        if (world.history !== null && p.fence !== null && message.value !== null) {
          world.history.readReturned(p.keyId, p.fence, message.value, world.scheduler.nowUs);
        }
        this.end(p, 'hit');
        return;
      case 'miss':
        if (p.phase !== 'get') return;
        p.phase = 'load';
        world.scheduler.after(this.load(this.loadRng), loaded, p);
        return;
      case 'stored':
        if (p.phase !== 'set') return;
        world.history?.setAcknowledged(p.keyId, p.value!, p.setSentUs, world.scheduler.nowUs);
        this.end(p, p.op === 'read' ? 'miss' : 'write');
        return;
      case 'deleted':
        if (p.phase !== 'delete') return;
        world.history?.deleteAcknowledged(p.keyId, p.issuedUs, world.scheduler.nowUs);
        this.end(p, 'write');
        return;
      case 'stale':
        // The node's map moved the key elsewhere; ours has moved too (or will): send again.
        if (p.phase === 'load') return;
        if (p.sends >= MAX_SENDS) this.end(p, 'error');
        else this.send(p);
        return;
      case 'error':
        this.end(p, 'error');
        return;
    }
  }

  /** @internal The backing store answered: fill the cache. */
  loaded(p: Pending): void {
    if (p.done) return;
    p.phase = 'set';
    p.sends = 0;
    this.send(p);
  }

  /** @internal Ends a request, recording how. */
  end(p: Pending, outcome: Outcome): void {
    this.window.close(p);
    const world = this.world;
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

function timeOut(p: Pending): void {
  p.client.end(p, 'error');
}
