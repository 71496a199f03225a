/**
 * The supervisor (DESIGN.md, "Processes"): starts `tinycache node` child processes on free
 * ports, watches them, and signals them on request. It signals only the children it spawned,
 * through their ChildProcess handles (which never signal a pid once it has been reaped), and
 * each child exits by itself when the supervisor's process dies (its IPC channel closes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG, type NodeConfig, validateConfigPatch } from '../../core/config.ts';
import { TINYCACHE_BIN as BIN } from '../bin.ts';
import { LogRing } from './log-ring.ts';
import type { RaftRole, RaftStatus } from './raft-status.ts';

/** How long a node may take from spawn to listening. */
export const START_TIMEOUT_MS = 20_000;
/** How long a SIGTERMed node may take to exit before it is SIGKILLed. */
export const STOP_GRACE_MS = 6_000;
/** Lines of output kept per node. */
export const LOG_LINES = 500;

export type NodeStatus = 'starting' | 'up' | 'paused' | 'down';

/** Level 3: the PostgreSQL a node writes through (or behind) to. */
export interface NodeStorage {
  readonly databaseUrl: string;
  readonly writeMode: 'through' | 'behind';
}

/** A node as the control plane shows it (API.md §4): plain data, safe to serialise. */
export interface NodeInfo {
  readonly id: string;
  /** Empty until the node listens. */
  readonly url: string;
  /** Null while the node is down. */
  readonly pid: number | null;
  /** 0 until the node listens. */
  readonly port: number;
  readonly status: NodeStatus;
  /**
   * A replica's Raft role as last read (Level 6; 'follower' until read and while down); a
   * node without a Raft group leads its shard, or itself when alone.
   */
  readonly role: RaftRole;
  /**
   * A replica's Raft term as last read; null for a node without a Raft group. (Optional in
   * the type only, so NodeInfo values made before Level 6 still type-check; always set.)
   */
  readonly term?: number | null;
  /** Where a replica keeps its Raft log (`--data-dir`); null for a node without one. */
  readonly dataDir?: string | null;
  /** The cluster shard the node serves (Level 5); null for a lone node outside the cluster. */
  readonly shard: string | null;
  /** When the current process was spawned, in ms since the epoch. */
  readonly startedAt: number;
  readonly config: NodeConfig;
  /** Null: memory only. The database's URL is not shown, only how the node writes to it. */
  readonly storage: { readonly writeMode: NodeStorage['writeMode'] } | null;
  /** How the last process exited; null while it runs. */
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
}

export type ControlErrorCode =
  | 'unknown_node'
  | 'unknown_shard'
  | 'node_down'
  | 'node_starting'
  | 'invalid_config'
  | 'busy'
  | 'start_failed'
  | 'no_leader'
  | 'membership_refused'
  | 'unsupported';

/** A refused supervisor request; `code` is what a control-plane API maps to its own errors. */
export class ControlError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

/** The first message a node sends over its IPC channel (server/node/command.ts). */
interface ListeningMessage {
  type: 'listening';
  url: string;
  port: number;
  pid: number;
}

function isListening(message: unknown): message is ListeningMessage {
  const m = message as Partial<ListeningMessage> | null;
  return m?.type === 'listening' && typeof m.url === 'string' && typeof m.port === 'number';
}

/** One supervised node: its current process (if any) and what outlives it. */
interface Entry {
  readonly id: string;
  /** What the node starts with, and restarts with: kept up to date by setConfig(). */
  config: NodeConfig;
  readonly storage: NodeStorage | null;
  /** Set by the cluster (Level 5): the shard the node serves, or null. */
  shard: string | null;
  /** A replica's `--data-dir`, kept across its restarts and removed when it is retired. */
  readonly dataDir: string | null;
  /** A replica that joined a running group: the group's bootstrap voters (`--join`). */
  readonly join: readonly string[] | null;
  /** A replica's last known role and term; null until read (and always for other nodes). */
  raft: RaftStatus | null;
  readonly log: LogRing;
  child: ChildProcess | null;
  status: NodeStatus;
  url: string;
  port: number;
  startedAt: number;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  /** The supervisor asked for this exit (stop, kill, restart, close). */
  exitRequested: boolean;
  /** Resolves when the current process has exited. */
  exited: Promise<void>;
}

function nodeArgs(
  id: string,
  port: number,
  config: NodeConfig,
  storage: NodeStorage | null,
  dataDir: string | null,
  join: readonly string[] | null = null,
): string[] {
  const args = [
    'node',
    '--node-id',
    id,
    '--port',
    String(port),
    '--policy',
    config.policy,
    '--max-memory',
    String(config.maxMemoryBytes),
    '--max-key-bytes',
    String(config.maxKeyBytes),
    '--max-value-bytes',
    String(config.maxValueBytes),
    '--compress-threshold',
    String(config.compressThresholdBytes),
  ];
  if (config.defaultTtlSeconds !== null) {
    // TTLs last whole milliseconds (ttlMs), so three decimals say it exactly, and never in
    // exponent form, which the CLI's plain-decimal rule refuses.
    args.push('--default-ttl', String(Math.max(config.defaultTtlSeconds, 0.001).toFixed(3)));
  }
  if (storage !== null) {
    args.push('--database-url', storage.databaseUrl, '--write-mode', storage.writeMode);
  }
  if (dataDir !== null) args.push('--data-dir', dataDir);
  // Read only while the data dir is empty: a restarted replica recovers its group from disk.
  if (join !== null) args.push('--join', join.join(','));
  return args;
}

export type NodeListener = (node: NodeInfo) => void;

export interface SupervisorOptions {
  /**
   * Where replicas keep their data: `<dataRoot>/nodes/<id>` (the playground's `.tinycache/`,
   * beside the embedded PostgreSQL's files). Without one, no node can be a replica.
   */
  readonly dataRoot?: string | null;
  /**
   * Start a new replica on what its directory already holds (`tinycache cluster --data-dir`
   * run again) instead of emptying it: node ids repeat from one run to the next, so by
   * default a new node must not recover another run's log.
   */
  readonly reuseDataDirs?: boolean;
}

export interface StartOptions {
  /** Level 6: run the shard's Raft group, with a data directory of its own. */
  readonly replica?: boolean;
  /**
   * Level 6, with `replica`: join a running group formed with these voters (its leader adds
   * the node) instead of forming one.
   */
  readonly join?: readonly string[];
}

export class Supervisor {
  private readonly nodes = new Map<string, Entry>();
  private readonly listeners = new Set<NodeListener>();
  private readonly removedListeners = new Set<(id: string) => void>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: SupervisorOptions = {}) {}

  /** Where replicas' data directories are made; null when replicas cannot be started. */
  get dataRoot(): string | null {
    return this.options.dataRoot ?? null;
  }

  /** Starts a node; resolves once it listens, rejects if it exits first or takes too long. */
  async start(
    config: Partial<NodeConfig> = {},
    preferredPort = 0,
    storage: NodeStorage | null = null,
    { replica = false, join: voters }: StartOptions = {},
  ): Promise<NodeInfo> {
    if (this.closed) throw new ControlError('start_failed', 'The supervisor is closed.');
    const patch = validateConfigPatch(config);
    if (!patch.ok) throw new ControlError('invalid_config', patch.error.message);
    const root = this.dataRoot;
    if (replica && root === null) {
      throw new ControlError(
        'unsupported',
        'This supervisor has no data root, so it cannot start a replica (it needs a --data-dir).',
      );
    }
    const id = `n${this.nextId++}`;
    const dataDir = replica && root !== null ? join(root, 'nodes', id) : null;
    if (dataDir !== null) {
      if (this.options.reuseDataDirs !== true) rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true });
    }
    const entry: Entry = {
      id,
      config: { ...DEFAULT_CONFIG, ...patch.value },
      storage,
      shard: null,
      dataDir,
      join: dataDir !== null && voters !== undefined ? [...voters] : null,
      raft: null,
      log: new LogRing(LOG_LINES),
      child: null,
      status: 'down',
      url: '',
      port: 0,
      startedAt: 0,
      exitCode: null,
      exitSignal: null,
      exitRequested: false,
      exited: Promise.resolve(),
    };
    this.nodes.set(id, entry);
    await this.spawnPreferring(entry, preferredPort);
    return this.info(entry);
  }

  list(): NodeInfo[] {
    return [...this.nodes.values()].map((entry) => this.info(entry));
  }

  get(id: string): NodeInfo {
    return this.info(this.entry(id));
  }

  /** The node's last `lines` lines of output (stdout and stderr) and supervisor notes. */
  logs(id: string, lines?: number): string[] {
    return this.entry(id).log.tail(lines);
  }

  /** Calls `listener` with the node on every status or config change; returns the unsubscribe. */
  subscribe(listener: NodeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Records a config the node now runs with (applied to it over REST by the caller), so a
   * restart keeps it.
   */
  setConfig(id: string, config: NodeConfig): NodeInfo {
    const entry = this.entry(id);
    entry.config = { ...config };
    this.emit(entry);
    return this.info(entry);
  }

  /** Calls `listener` with the id of every node retired; returns the unsubscribe. */
  subscribeRemoved(listener: (id: string) => void): () => void {
    this.removedListeners.add(listener);
    return () => this.removedListeners.delete(listener);
  }

  /**
   * Retires a node for good (a shard removed from the cluster): it leaves every list at once,
   * so nothing new is sent to it, and is stopped `drainMs` later, once requests already on
   * their way to it are answered. A replica's data directory goes with it.
   */
  async retire(id: string, drainMs = 0): Promise<void> {
    const entry = this.entry(id);
    this.nodes.delete(id);
    for (const listener of this.removedListeners) listener(id);
    if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
    await this.terminate(entry);
    if (entry.dataDir !== null) rmSync(entry.dataDir, { recursive: true, force: true });
  }

  /**
   * Records a replica's Raft role and term as just read from it (the monitor's scrape, or a
   * /healthz poll); ignored for a node without a Raft group, which always leads.
   */
  setRaft(id: string, raft: RaftStatus): NodeInfo {
    const entry = this.entry(id);
    if (entry.dataDir === null || entry.status !== 'up') return this.info(entry);
    if (entry.raft?.role !== raft.role || entry.raft.term !== raft.term) {
      entry.raft = { role: raft.role, term: raft.term };
      this.emit(entry);
    }
    return this.info(entry);
  }

  /** Records the cluster shard the node serves (null: a lone node), for every view of it. */
  setShard(id: string, shard: string | null): NodeInfo {
    const entry = this.entry(id);
    if (entry.shard !== shard) {
      entry.shard = shard;
      this.emit(entry);
    }
    return this.info(entry);
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(id: string): Promise<NodeInfo> {
    const entry = this.running(id);
    entry.exitRequested = true;
    entry.child!.kill('SIGKILL');
    await entry.exited;
    return this.info(entry);
  }

  /** SIGSTOP: the node keeps its sockets but answers nothing until resumed. */
  pause(id: string): NodeInfo {
    const entry = this.running(id);
    if (entry.status === 'starting') {
      // Paused before it listens, it would miss its start deadline.
      throw new ControlError('node_starting', `Node ${id} is starting; pause it once it is up.`);
    }
    entry.child!.kill('SIGSTOP');
    this.setStatus(entry, 'paused');
    return this.info(entry);
  }

  /** SIGCONT. */
  resume(id: string): NodeInfo {
    const entry = this.running(id);
    entry.child!.kill('SIGCONT');
    if (entry.status === 'paused') this.setStatus(entry, 'up');
    return this.info(entry);
  }

  /** SIGTERM and wait for the exit; SIGKILL after STOP_GRACE_MS. */
  async stop(id: string): Promise<NodeInfo> {
    const entry = this.running(id);
    await this.terminate(entry);
    return this.info(entry);
  }

  /** Stops the node if it runs, then starts it again with the same id and config. */
  async restart(id: string): Promise<NodeInfo> {
    if (this.closed) throw new ControlError('start_failed', 'The supervisor is closed.');
    const entry = this.entry(id);
    if (entry.status !== 'down') await this.terminate(entry);
    // The same port when it is still free, so clients find the node where it was.
    await this.spawnPreferring(entry, entry.port);
    return this.info(entry);
  }

  /** Stops every node it started and waits for their exits. Later starts are refused. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.nodes.values()]
        .filter((entry) => entry.status !== 'down')
        .map((entry) => this.terminate(entry)),
    );
  }

  private entry(id: string): Entry {
    const entry = this.nodes.get(id);
    if (entry === undefined) {
      const known = [...this.nodes.keys()].join(', ') || 'none';
      throw new ControlError(
        'unknown_node',
        `No node ${JSON.stringify(id)}; the nodes are ${known}.`,
      );
    }
    return entry;
  }

  /** The entry, when it has a live process to signal. */
  private running(id: string): Entry {
    const entry = this.entry(id);
    if (entry.status === 'down' || entry.child === null) {
      throw new ControlError('node_down', `Node ${id} is down; restart it first.`);
    }
    return entry;
  }

  private info(entry: Entry): NodeInfo {
    return {
      id: entry.id,
      url: entry.url,
      pid: entry.status === 'down' ? null : (entry.child?.pid ?? null),
      port: entry.port,
      status: entry.status,
      role: entry.dataDir === null ? 'leader' : (entry.raft?.role ?? 'follower'),
      term: entry.dataDir === null ? null : (entry.raft?.term ?? 0),
      dataDir: entry.dataDir,
      shard: entry.shard,
      startedAt: entry.startedAt,
      config: { ...entry.config },
      storage: entry.storage === null ? null : { writeMode: entry.storage.writeMode },
      exitCode: entry.exitCode,
      exitSignal: entry.exitSignal,
    };
  }

  private setStatus(entry: Entry, status: NodeStatus): void {
    if (entry.status === status) return;
    entry.status = status;
    // A replica that stops or starts again leads nothing until it is read again; its term
    // is on disk, so the last one known stays.
    if (status !== 'up' && status !== 'paused' && entry.raft !== null) {
      entry.raft = { role: 'follower', term: entry.raft.term };
    }
    this.emit(entry);
  }

  private emit(entry: Entry): void {
    const node = this.info(entry);
    for (const listener of this.listeners) listener(node);
  }

  private async terminate(entry: Entry): Promise<void> {
    const child = entry.child;
    if (child === null || entry.status === 'down') return;
    entry.exitRequested = true;
    child.kill('SIGTERM');
    // A stopped process handles SIGTERM only once it runs again.
    if (entry.status === 'paused') child.kill('SIGCONT');
    const force = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await entry.exited;
    clearTimeout(force);
  }

  /** Spawns on `port` (0: any free port), or on any free port when that one is taken. */
  private async spawnPreferring(entry: Entry, port: number): Promise<void> {
    try {
      await this.spawn(entry, port);
    } catch (error) {
      if (port === 0 || this.closed) throw error;
      entry.log.push(
        `[supervisor] ${entry.id} could not start on port ${port}; trying a free port`,
      );
      await this.spawn(entry, 0);
    }
  }

  /** Spawns the entry's process on `port` (0: any free one) and waits until it listens. */
  private spawn(entry: Entry, port: number): Promise<void> {
    // The node's database is what the supervisor says, never one inherited from our env.
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const child = spawn(
      process.execPath,
      [BIN, ...nodeArgs(entry.id, port, entry.config, entry.storage, entry.dataDir, entry.join)],
      {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env,
      },
    );
    entry.child = child;
    entry.url = '';
    entry.port = 0;
    entry.startedAt = Date.now();
    entry.exitCode = null;
    entry.exitSignal = null;
    entry.exitRequested = false;
    this.setStatus(entry, 'starting');
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => entry.log.write('out', chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => entry.log.write('err', chunk));

    let settle: (error?: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    const timer = setTimeout(() => {
      settle(
        new ControlError(
          'start_failed',
          `Node ${entry.id} did not start within ${START_TIMEOUT_MS} ms; it was killed.`,
        ),
      );
      entry.exitRequested = true;
      child.kill('SIGKILL');
    }, START_TIMEOUT_MS);

    child.on('message', (message) => {
      if (!isListening(message) || entry.status !== 'starting') return;
      entry.url = message.url;
      entry.port = message.port;
      clearTimeout(timer);
      this.setStatus(entry, 'up');
      settle();
    });

    entry.exited = new Promise<void>((resolve) => {
      // 'close' waits for stdout and stderr to end, so the log holds the last words.
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        entry.log.flush('out');
        entry.log.flush('err');
        entry.exitCode = code;
        entry.exitSignal = signal;
        const how = signal === null ? `code ${code}` : signal;
        const why = entry.exitRequested ? 'exited' : 'exited unexpectedly';
        entry.log.push(`[supervisor] ${entry.id} (pid ${child.pid}) ${why} with ${how}`);
        this.setStatus(entry, 'down');
        const last = entry.log.tail(5).join('\n');
        settle(
          new ControlError(
            'start_failed',
            `Node ${entry.id} exited with ${how} before listening:\n${last}`,
          ),
        );
        resolve();
      });
      child.on('error', (error) => {
        // Spawning failed: no 'close' follows an error without a process.
        if (child.pid !== undefined) return;
        clearTimeout(timer);
        entry.log.push(`[supervisor] ${entry.id} could not be spawned: ${error.message}`);
        this.setStatus(entry, 'down');
        settle(
          new ControlError(
            'start_failed',
            `Node ${entry.id} could not be spawned: ${error.message}`,
          ),
        );
        resolve();
      });
    });
    return ready;
  }
}
