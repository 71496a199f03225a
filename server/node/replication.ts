/**
 * Level 6 in a node process: the node started with `--data-dir` is a replica of its shard's
 * Raft group (server/node/raft/replica.ts), and its store is the group's ReplicatedCache's.
 *
 * Membership comes from the cluster map, by one mechanism: when the node adopts a map (PUT
 * /v1/cluster, or a peer's map after a 421), the shard that lists it gives its group, and
 * `shard.nodes` are the replicas (ids and URLs).
 * - First time, with an empty data dir: the group is bootstrapped with those nodes as its
 *   voters. The voters are written to `<data-dir>/replica.json` (with the node and shard id)
 *   before Raft writes anything, because core/raft needs a node's bootstrap voters again on
 *   every restart until a snapshot carries them.
 * - With a data dir that holds a group: the replica recovers from disk (term, vote, log,
 *   snapshot; voters from replica.json and the snapshot), whatever the map lists.
 * - Every map gives the transport the replicas' URLs (a node restarted on a new port reaches
 *   its peers through the next map).
 * - A node started with `--join` and an empty data dir joins a running group instead: its
 *   identity keeps the group's bootstrap voters (given by --join, read from the leader's GET
 *   /v1/raft/members), it is no voter until the leader adds it, and it catches up from the
 *   leader's log or snapshot (core/raft: a new member starts with no log).
 * - Membership changes are Raft conf changes (core/raft proposeConfChange) made on the leader
 *   (POST /v1/raft/members, `changeMembership`), one at a time; the map only says where the
 *   replicas listen. The control plane adds a node to the map before it asks the leader to
 *   add it (so the leader can reach it) and drops it from the map after its removal.
 *
 * Not combined yet: a replicated shard is formed, never resharded (a map that moves keys, or
 * changes the ring, is refused: moving keys between Raft groups is later work), and a node
 * with a database cannot have a data dir (refused at start).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { ClusterMap, ClusterShard } from '../../core/cluster/index.ts';
import type { StoreOptions } from '../../core/engine/index.ts';
import { createRng } from '../../core/random.ts';
import { ReplicatedCache } from '../../core/replicated/index.ts';
import { DiskStorage } from './raft/disk-storage.ts';
import { PeerTransport } from './raft/peer-transport.ts';
import { Replica, type ReplicaStatus } from './raft/replica.ts';

/** The group this data dir belongs to; written once, before Raft writes anything. */
export const IDENTITY_FILE = 'replica.json';
/**
 * The latest cluster map this node adopted, so that a node restarted by hand (no control
 * plane to hand it the map) knows its peers and routes at once; a newer map replaces it.
 */
export const MAP_FILE = 'cluster-map.json';

interface Identity {
  readonly version: 1;
  readonly node: string;
  readonly shard: string;
  /** The voters the group was bootstrapped with (core/raft RaftConfig.peers). */
  readonly voters: readonly string[];
}

/** Writes and linearizable reads not answered in this long fail with 503 (retry). */
export const REPLICA_REQUEST_TIMEOUT_MS = 1_500;

export interface ReplicationOptions {
  readonly nodeId: string;
  readonly dataDir: string;
  /** With an empty data dir: join the group bootstrapped with these voters (--join). */
  readonly join?: readonly string[] | undefined;
  readonly store: StoreOptions;
  readonly clock: () => number;
  readonly log: (line: string) => void;
}

export class Replication {
  readonly nodeId: string;
  readonly cache: ReplicatedCache;
  readonly transport: PeerTransport;
  readonly #dir: string;
  readonly #join: readonly string[] | undefined;
  readonly #clock: () => number;
  readonly #log: (line: string) => void;
  #identity: Identity | null;
  #replica: Replica | null = null;
  #storage: DiskStorage | null = null;
  #starting: Promise<void> | null = null;
  /** The latest map's shard of this node, applied once the replica runs. */
  #shard: ClusterShard | null = null;
  #closed = false;
  #failure: string | null = null;
  /** The latest map's write to MAP_FILE (one at a time, in order). */
  #saving: Promise<void> = Promise.resolve();

  private constructor(options: ReplicationOptions, identity: Identity | null) {
    this.nodeId = options.nodeId;
    this.#dir = options.dataDir;
    this.#join = options.join;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#identity = identity;
    this.cache = new ReplicatedCache(options.store);
    this.transport = new PeerTransport({
      nodeId: options.nodeId,
      peers: new Map(),
      onMessage: (m) => this.#replica?.receive(m),
      onPeerGone: (peer) => this.#replica?.peerGone(peer),
    });
  }

  /**
   * Opens the data dir (creating it) and reads which group it belongs to. Throws an Error
   * saying why when it belongs to another node.
   */
  static async open(options: ReplicationOptions): Promise<Replication> {
    await fs.mkdir(options.dataDir, { recursive: true });
    const identity = await readIdentity(options.dataDir);
    if (identity !== null && identity.node !== options.nodeId) {
      throw new Error(
        `${options.dataDir} holds node ${identity.node}'s Raft log (shard ${identity.shard}), not ${options.nodeId}'s; start with --node-id ${identity.node} or another --data-dir`,
      );
    }
    return new Replication(options, identity);
  }

  /** Takes the Raft connections of peers on the node's HTTP port (GET /v1/raft, upgraded). */
  attach(server: Server): void {
    this.transport.attach(server);
  }

  get replica(): Replica | null {
    return this.#replica;
  }

  status(): ReplicaStatus | null {
    return this.#replica?.status() ?? null;
  }

  /** Why this node serves no key of its shard right now (starting, or failed); null when running. */
  get notRunning(): string {
    if (this.#failure !== null) return `the replica could not start: ${this.#failure}`;
    return 'the replica is starting';
  }

  /**
   * Why this node must not adopt `next` (a string for the client), or null. A replicated
   * shard is formed, not resharded, in this step.
   */
  refusal(current: ClusterMap | null, next: ClusterMap): string | null {
    const why = 'moving keys between Raft groups is not built yet';
    if (next.moving !== null) {
      return `This node is a replica (--data-dir) and takes no resharding map (moving): ${why}.`;
    }
    if (current !== null) {
      const ids = (m: ClusterMap) => JSON.stringify(m.shards.map((s) => s.id).sort());
      if (ids(current) !== ids(next) || current.vnodes !== next.vnodes) {
        return `This node is a replica (--data-dir); the map changes the ring (${ids(current)} to ${ids(next)}): ${why}.`;
      }
    }
    const mine = next.shards.find((s) => s.nodes.some((n) => n.id === this.nodeId));
    const held = this.#identity?.shard ?? null;
    if (held !== null && mine !== undefined && mine.id !== held) {
      return `This node's data dir holds shard ${held}'s Raft group; the map puts it in shard ${mine.id}.`;
    }
    if (held !== null && mine === undefined && this.#replica !== null) {
      return `This node replicates shard ${held}; the map lists it in no shard (a removed replica is stopped, not sent maps).`;
    }
    return null;
  }

  /**
   * The map kept by an earlier run (MAP_FILE), to adopt at start; null when there is none or
   * it cannot be read (logged: the node then waits for a map, as a new one does).
   */
  async savedMap(): Promise<unknown> {
    try {
      return JSON.parse(await fs.readFile(join(this.#dir, MAP_FILE), 'utf8')) as unknown;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#log(`replication: ignoring ${join(this.#dir, MAP_FILE)}: ${String(error)}`);
      }
      return null;
    }
  }

  /** An adopted map: start the replica of this node's shard, or give it the peers' URLs. */
  onMap(shard: ClusterShard | null, map: ClusterMap): void {
    if (this.#closed) return;
    if (shard !== null) {
      this.#shard = shard;
      if (this.#replica !== null) this.#applyShard(this.#replica, shard);
      else {
        this.#starting ??= this.#start(shard).catch((error: unknown) => {
          this.#failure = error instanceof Error ? error.message : String(error);
          this.#log(`replication: ${this.#failure}`);
        });
      }
    }
    // Once the storage has opened the dir (it clears leftover .tmp files as it does).
    const opened = this.#starting ?? Promise.resolve();
    this.#saving = Promise.all([this.#saving, opened])
      .then(() => writeAtomically(this.#dir, MAP_FILE, `${JSON.stringify(map)}\n`))
      .catch((error: unknown) =>
        this.#log(`replication: could not keep the map: ${String(error)}`),
      );
  }

  async #start(shard: ClusterShard): Promise<void> {
    const storage = await DiskStorage.open(this.#dir, { log: this.#log });
    try {
      let identity = this.#identity;
      if (identity === null) {
        if (storage.lastIndex() > 0 || storage.hardState().term > 0) {
          throw new Error(
            `${this.#dir} holds a Raft log but no ${IDENTITY_FILE}: it was not made by this version`,
          );
        }
        const joining = this.#join !== undefined;
        identity = {
          version: 1,
          node: this.nodeId,
          shard: shard.id,
          voters: this.#join ?? shard.nodes.map((n) => n.id),
        };
        await writeIdentity(this.#dir, identity);
        this.#identity = identity;
        this.#log(
          joining
            ? `replication: joining shard ${shard.id} (formed with voters ${identity.voters.join(', ')}) in ${this.#dir}; waiting for its leader to add ${this.nodeId}`
            : `replication: bootstrapping shard ${shard.id} with voters ${identity.voters.join(', ')} in ${this.#dir}`,
        );
      } else {
        const hs = storage.hardState();
        this.#log(
          `replication: recovering shard ${identity.shard} from ${this.#dir} (term ${hs.term}, vote ${hs.vote ?? 'none'}, last index ${storage.lastIndex()})`,
        );
      }
      if (this.#closed) throw new Error('closed while starting');
      const replica = new Replica({
        id: this.nodeId,
        peers: identity.voters,
        storage,
        transport: this.transport,
        cache: this.cache,
        now: this.#clock,
        rng: createRng(randomInt(2 ** 31)),
        requestTimeoutMs: REPLICA_REQUEST_TIMEOUT_MS,
        onFatal: (error) => {
          this.#log(`replication: storage failed, the replica stopped: ${String(error)}`);
          queueMicrotask(() => {
            throw error;
          });
        },
      });
      replica.onLeaderChange((change) =>
        this.#log(`replication: term ${change.term}, leader ${change.leader ?? 'unknown'}`),
      );
      this.#storage = storage;
      this.#replica = replica;
      this.#applyShard(replica, this.#shard ?? shard);
      replica.start();
    } catch (error) {
      await storage.close().catch(() => {});
      throw error;
    }
  }

  #applyShard(replica: Replica, shard: ClusterShard): void {
    this.transport.setPeers(new Map(shard.nodes.map((n) => [n.id, n.url])));
    const voters = [...replica.status().voters].sort();
    const listed = shard.nodes.map((n) => n.id).sort();
    if (JSON.stringify(voters) !== JSON.stringify(listed)) {
      // Normal while a member is added or removed; the map never changes the voters.
      this.#log(
        `replication: the map lists ${listed.join(', ')} for shard ${shard.id}; the Raft group's voters are ${voters.join(', ')} (membership changes go through the leader)`,
      );
    }
  }

  /** The group as this replica sees it: voters now, the voters it was formed with. */
  membership(): {
    readonly voters: readonly string[];
    readonly bootstrap: readonly string[];
  } | null {
    const replica = this.#replica;
    const identity = this.#identity;
    if (replica === null || identity === null) return null;
    return { voters: replica.status().voters, bootstrap: identity.voters };
  }

  /** Stops the replica (finishing its Ready), then closes the transport and the storage. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#saving;
    await this.#starting;
    await this.#replica?.stop();
    this.transport.close();
    await this.#storage?.close();
  }
}

/** A client session for one request: the client's own when both headers are given. */
export interface Session {
  readonly client: string;
  readonly seq: number;
}

/** A fresh session: a write without X-TinyCache-Client/-Seq is never deduplicated. */
export function oneOffSession(): Session {
  return { client: `once-${randomUUID()}`, seq: 1 };
}

async function readIdentity(dir: string): Promise<Identity | null> {
  let text: string;
  try {
    text = await fs.readFile(join(dir, IDENTITY_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<Identity> | null;
  if (
    parsed === null ||
    parsed.version !== 1 ||
    typeof parsed.node !== 'string' ||
    typeof parsed.shard !== 'string' ||
    !Array.isArray(parsed.voters) ||
    parsed.voters.length === 0 ||
    !parsed.voters.every((v) => typeof v === 'string')
  ) {
    throw new Error(`${join(dir, IDENTITY_FILE)} is not a replica identity this version reads`);
  }
  return parsed as Identity;
}

function writeIdentity(dir: string, identity: Identity): Promise<void> {
  return writeAtomically(dir, IDENTITY_FILE, `${JSON.stringify(identity)}\n`);
}

/** tmp, fsync, rename, fsync the directory: whole or absent after a crash. */
async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  const file = await fs.open(tmp, 'w');
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.rename(tmp, path);
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
