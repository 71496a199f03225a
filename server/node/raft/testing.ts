/**
 * Test helpers for Replicas in one process: a loopback network of RaftTransports that can cut
 * a replica off (a partition or a killed process) or pause it (SIGSTOP: its messages wait and
 * its clock stops), MemoryStorage behind PersistentStorage's asynchronous save, and a ticker
 * that can be paused.
 */
import {
  MemoryStorage,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Snapshot,
} from '../../../core/raft/index.ts';
import type { PersistentStorage, PersistUpdate, RaftTransport, Ticker } from './replica.ts';

/**
 * Replicas' transports over the event loop. Each send is delivered in a later macrotask, in
 * order per link. A node that is `cut` loses everything to and from it; a `paused` node's
 * inbound and outbound messages wait and are delivered, in order, when it resumes (a
 * stopped process's socket buffers, as after SIGSTOP/SIGCONT).
 */
export class LoopbackNetwork {
  readonly #receivers = new Map<NodeId, (m: Message) => void>();
  readonly #cut = new Set<NodeId>();
  readonly #paused = new Map<NodeId, Message[]>();
  readonly #inboundOnly = new Set<NodeId>();
  /** Every message delivered, by type: tests check that a snapshot was sent. */
  readonly delivered = new Map<Message['type'], number>();

  /** The transport `id` sends through. */
  transport(id: NodeId): RaftTransport {
    return {
      send: (messages) => {
        for (const m of messages) {
          if (m.from !== id) throw new Error(`${id} sent a message from ${m.from}`);
          this.#post(m);
        }
      },
    };
  }

  /** Where messages to `id` go (replaces the previous receiver: a restarted replica). */
  listen(id: NodeId, receive: (m: Message) => void): void {
    this.#receivers.set(id, receive);
  }

  /** Drops every message to and from `id` until heal(id). */
  cut(id: NodeId): void {
    this.#cut.add(id);
  }

  heal(id: NodeId): void {
    this.#cut.delete(id);
  }

  /**
   * Holds every message to and from `id` (or, 'inbound', only those to it) until resume(id).
   * Pausing again with 'both' holds its outbound messages too.
   */
  pause(id: NodeId, direction: 'both' | 'inbound' = 'both'): void {
    const held = this.#paused.get(id);
    if (held === undefined) this.#paused.set(id, []);
    if (direction === 'inbound') this.#inboundOnly.add(id);
    else this.#inboundOnly.delete(id);
  }

  resume(id: NodeId): void {
    const held = this.#paused.get(id);
    this.#paused.delete(id);
    this.#inboundOnly.delete(id);
    for (const m of held ?? []) this.#post(m);
  }

  #post(m: Message): void {
    setImmediate(() => this.#deliver(m));
  }

  #deliver(m: Message): void {
    if (this.#cut.has(m.from) || this.#cut.has(m.to)) return;
    const held =
      this.#paused.get(m.to) ??
      (this.#inboundOnly.has(m.from) ? undefined : this.#paused.get(m.from));
    if (held !== undefined) {
      held.push(m);
      return;
    }
    this.delivered.set(m.type, (this.delivered.get(m.type) ?? 0) + 1);
    this.#receivers.get(m.to)?.(m);
  }
}

/**
 * MemoryStorage behind an asynchronous save, with DiskStorage's semantics: reads see an update
 * at once, and its promise resolves later (after `delayMs`, or a macrotask), in call order,
 * reporting each "fsync" to onFsync. `hold()` keeps saves from completing until `release()`,
 * as a paused process's fsync would.
 */
export class AsyncMemoryStorage implements PersistentStorage {
  /** What is durable: a restarted replica reads it back. */
  readonly memory = new MemoryStorage();
  readonly delayMs: number;
  saves = 0;
  onFsync?: ((seconds: number) => void) | undefined;
  #chain: Promise<void> = Promise.resolve();
  #held: Promise<void> | null = null;
  #release: (() => void) | null = null;

  constructor(delayMs = 0) {
    this.delayMs = delayMs;
  }

  hardState(): HardState {
    return this.memory.hardState();
  }

  snapshot(): Snapshot {
    return this.memory.snapshot();
  }

  firstIndex(): number {
    return this.memory.firstIndex();
  }

  lastIndex(): number {
    return this.memory.lastIndex();
  }

  term(index: number): number {
    return this.memory.term(index);
  }

  entries(low: number, high: number): readonly Entry[] {
    return this.memory.entries(low, high);
  }

  save(update: PersistUpdate): Promise<void> {
    try {
      if (update.snapshot !== null) this.memory.applySnapshot(update.snapshot);
      this.memory.append(update.entries);
      if (update.hardState !== null) this.memory.setHardState(update.hardState);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.#durable(() => this.saves++);
  }

  createSnapshot(index: number, data: Uint8Array, voters?: readonly NodeId[]): Promise<Snapshot> {
    let snapshot: Snapshot;
    try {
      snapshot = this.memory.createSnapshot(index, data, voters);
      this.memory.compact(index);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.#durable(() => {}).then(() => snapshot);
  }

  #durable(then: () => void): Promise<void> {
    const done = this.#chain.then(async () => {
      const started = performance.now();
      await sleep(this.delayMs);
      while (this.#held !== null) await this.#held;
      then();
      this.onFsync?.((performance.now() - started) / 1000);
    });
    this.#chain = done.catch(() => {});
    return done;
  }

  hold(): void {
    if (this.#held !== null) return;
    this.#held = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  release(): void {
    this.#release?.();
    this.#held = null;
    this.#release = null;
  }
}

/** A ticker that stops delivering ticks while paused (a stopped process's timers). */
export class PausableTicker {
  paused = false;
  /** Ticks delivered so far. */
  ticks = 0;
  readonly ticker: Ticker = (tick, ms) => {
    const handle = setInterval(() => {
      if (this.paused) return;
      this.ticks++;
      tick();
    }, ms);
    return () => clearInterval(handle);
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `condition()` holds, checking every few ms; rejects after `timeoutMs`. */
export async function eventually(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}
