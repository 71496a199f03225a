/**
 * Three Replicas over real PeerTransports (node:http servers on 127.0.0.1) and DiskStorage in
 * temporary directories, with fsync on: a leader is elected, writes commit, the leader is
 * killed (its server, transport and storage closed), a new leader takes over, and the killed
 * node restarted from its directory on the same port catches up.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeId } from '../../../core/raft/index.ts';
import { createRng } from '../../../core/random.ts';
import { ReplicatedCache } from '../../../core/replicated/index.ts';
import { DiskStorage } from './disk-storage.ts';
import { PeerTransport } from './peer-transport.ts';
import { Replica, type WriteRequest } from './replica.ts';
import { eventually } from './testing.ts';

const TEXT = new TextEncoder();
const DECODE = new TextDecoder();

function set(client: string, seq: number, key: string, value: string): WriteRequest {
  const bytes = TEXT.encode(value);
  return {
    kind: 'set',
    client,
    seq,
    key,
    bytes,
    contentType: 'text/plain',
    compressed: false,
    rawBytes: bytes.length,
    ttlMs: null,
  };
}

interface Node {
  readonly id: NodeId;
  readonly dir: string;
  port: number;
  server: Server;
  transport: PeerTransport;
  storage: DiskStorage;
  replica: Replica;
  up: boolean;
}

async function listen(port: number): Promise<Server> {
  const server = createServer((_req, res) => res.end('not raft\n'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

class DiskShard {
  readonly ids = ['n1', 'n2', 'n3'];
  readonly nodes = new Map<NodeId, Node>();
  readonly urls = new Map<NodeId, string>();
  #incarnation = 0;

  static async create(): Promise<DiskShard> {
    const shard = new DiskShard();
    const servers = new Map<NodeId, Server>();
    for (const id of shard.ids) {
      const server = await listen(0);
      servers.set(id, server);
      shard.urls.set(id, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    for (const id of shard.ids) {
      const dir = await mkdtemp(join(tmpdir(), `tinycache-replica-${id}-`));
      await shard.boot(id, dir, servers.get(id)!);
    }
    return shard;
  }

  /** Starts `id` on `server` from the storage in `dir`. */
  async boot(id: NodeId, dir: string, server: Server): Promise<Node> {
    const storage = await DiskStorage.open(dir, { log: () => {} });
    let replica: Replica | null = null;
    const transport = new PeerTransport({
      nodeId: id,
      peers: this.urls,
      onMessage: (m) => replica?.receive(m),
      minBackoffMs: 5,
      maxBackoffMs: 50,
    });
    transport.attach(server);
    replica = new Replica({
      id,
      peers: this.ids,
      storage,
      transport,
      cache: new ReplicatedCache({
        maxMemoryBytes: 1 << 20,
        maxKeyBytes: 250,
        maxValueBytes: 1 << 16,
        policy: 'lru',
      }),
      now: () => Date.now(),
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: 2,
      snapshotEvery: 8,
      rng: createRng(++this.#incarnation),
    });
    const node: Node = {
      id,
      dir,
      port: (server.address() as AddressInfo).port,
      server,
      transport,
      storage,
      replica,
      up: true,
    };
    this.nodes.set(id, node);
    replica.start();
    return node;
  }

  node(id: NodeId): Node {
    return this.nodes.get(id)!;
  }

  /** Kills `id`: stops its replica and closes its transport, server and storage. */
  async kill(id: NodeId): Promise<void> {
    const node = this.node(id);
    if (!node.up) return;
    node.up = false;
    node.transport.close();
    await node.replica.stop();
    await closeServer(node.server);
    await node.storage.close();
  }

  /** Restarts `id` from its directory, on its port (its peers know that URL). */
  async restart(id: NodeId): Promise<Node> {
    const node = this.node(id);
    return this.boot(id, node.dir, await listen(node.port));
  }

  leader(among = this.ids): Replica | null {
    let best: Replica | null = null;
    let maxTerm = 0;
    for (const id of among) {
      const node = this.node(id);
      if (!node.up) continue;
      const s = node.replica.status();
      maxTerm = Math.max(maxTerm, s.term);
      if (s.role === 'leader' && (best === null || s.term > best.status().term)) {
        best = node.replica;
      }
    }
    return best !== null && best.status().term === maxTerm ? best : null;
  }

  async waitLeader(among = this.ids): Promise<Replica> {
    await eventually(() => this.leader(among) !== null, 'a leader', 10_000);
    return this.leader(among)!;
  }

  async close(): Promise<void> {
    for (const id of this.ids) await this.kill(id);
    for (const node of this.nodes.values()) await rm(node.dir, { recursive: true, force: true });
  }
}

let shard: DiskShard | null = null;
afterEach(async () => {
  await shard?.close();
  shard = null;
});

async function stale(replica: Replica, key: string): Promise<string | null> {
  const entry = await replica.read(key, 'stale');
  return entry === undefined ? null : DECODE.decode(entry.bytes);
}

describe('Replica over PeerTransport and DiskStorage', () => {
  it('elects, commits, fails over when the leader is killed, and the restarted node catches up from disk', async () => {
    shard = await DiskShard.create();
    const first = await shard.waitLeader();
    for (let seq = 1; seq <= 20; seq++) {
      const applied = await first.write(set('c1', seq, `k${seq}`, `v${seq}`));
      expect(applied.outcome.ok).toBe(true);
    }
    const entry = await first.read('k20', 'linearizable');
    expect(entry === undefined ? null : DECODE.decode(entry.bytes)).toBe('v20');
    expect(first.fsyncDurations.count).toBeGreaterThan(0);

    const killed = first.id;
    const term = first.status().term;
    await shard.kill(killed);
    const survivors = shard.ids.filter((id) => id !== killed);
    const second = await shard.waitLeader(survivors);
    expect(second.status().term).toBeGreaterThan(term);
    for (let seq = 21; seq <= 30; seq++) await second.write(set('c1', seq, `k${seq}`, `v${seq}`));

    const restarted = await shard.restart(killed);
    // Term and log came back from disk.
    expect(restarted.replica.status().term).toBeGreaterThanOrEqual(term);
    expect(restarted.replica.status().lastIndex).toBeGreaterThanOrEqual(21);
    const commit = second.status().commit;
    await eventually(
      () => restarted.replica.status().applied >= commit,
      'the restarted node catches up',
      10_000,
    );
    for (const seq of [1, 20, 21, 30]) {
      expect(await stale(restarted.replica, `k${seq}`)).toBe(`v${seq}`);
    }
    expect(restarted.replica.status().leader).toBe(second.id);
  });
});
