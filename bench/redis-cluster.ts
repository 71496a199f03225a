/**
 * Redis Cluster failover, measured: 3 masters + 3 replicas as child processes of this one on
 * 127.0.0.1 (temporary dirs, free ports, no persistence), formed with `redis-cli --cluster
 * create`. Each round puts an open write load on the keys of one master, SIGKILLs it, and
 * times (as bench/replication.ts does for TinyCache) from the kill to the answer of the first
 * write sent after it that was acknowledged, through the promoted replica; and to the replica
 * calling itself master in its CLUSTER NODES. The killed node is then restarted on its dir
 * (it rejoins as a replica of the new master) before the next round.
 *
 * Every process started here is stopped by pid when done, on an error, and on SIGINT/SIGTERM.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { OpenWriter, progress, which } from './lib.ts';
import {
  encodeCommand,
  keySlot,
  parseClusterNodes,
  parseMoved,
  parseReply,
  RespError,
  servesSlot,
  type ClusterNode,
  type Reply,
} from './redis-proto.ts';

const run = promisify(execFile);

/** Intended writes a second to the master under test (TinyCache's failover load is the same). */
export const REDIS_WRITE_RATE = 600;
const KEYS = 1000;
const VALUE_BYTES = 64;
const WRITE_TIMEOUT_MS = 3000;
const MAX_IN_FLIGHT = 256;
/** Redirects followed for one write before it counts as failed. */
const MAX_REDIRECTS = 5;
const SETTLE_MS = 1000;
const POLL_MS = 20;

/** One connection to one node, commands pipelined, replies matched in order. */
class Connection {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: {
    resolve: (reply: Reply) => void;
    reject: (error: Error) => void;
  }[] = [];
  closed = false;

  constructor(readonly address: string) {
    const [host, port] = splitAddress(address);
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error(`connection to ${address} closed`)));
  }

  command(args: readonly string[], timeoutMs: number): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error(`connection to ${this.address} closed`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Replies come in order: one lost means the connection can no longer be trusted.
        this.fail(new Error(`no answer from ${this.address} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push({
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.write(encodeCommand(args));
    });
  }

  close(): void {
    this.fail(new Error('closed'));
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let at = 0;
    for (let parsed = parseReply(this.buffer, at); parsed !== null;) {
      this.pending.shift()?.resolve(parsed.reply);
      at = parsed.next;
      parsed = parseReply(this.buffer, at);
    }
    this.buffer = this.buffer.subarray(at);
  }

  private fail(error: Error): void {
    this.closed = true;
    this.socket.destroy();
    for (const p of this.pending.splice(0)) p.reject(error);
  }
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

/** One command on a connection of its own (for polls that must not wait behind the load). */
async function once(address: string, args: readonly string[], timeoutMs = 1000): Promise<Reply> {
  const connection = new Connection(address);
  try {
    return await connection.command(args, timeoutMs);
  } finally {
    connection.close();
  }
}

async function clusterNodes(address: string): Promise<ClusterNode[]> {
  const reply = await once(address, ['CLUSTER', 'NODES']);
  if (typeof reply !== 'string') throw new Error(`CLUSTER NODES on ${address}: ${String(reply)}`);
  return parseClusterNodes(reply);
}

/** A port free on 127.0.0.1 whose cluster bus port (port + 10000) is free too. */
async function freePortPair(taken: ReadonlySet<number>): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port)) continue;
    if ((await free(port)) && (await free(port + 10_000))) return port;
  }
  throw new Error('no free port pair found');
}

interface RedisNode {
  readonly port: number;
  readonly address: string;
  readonly dir: string;
  child: ChildProcess | null;
}

/** Six redis-server processes in cluster mode, and what it takes to stop them all. */
export class RedisCluster {
  private constructor(
    readonly nodes: readonly RedisNode[],
    private readonly nodeTimeoutMs: number,
    private readonly root: string,
  ) {}

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.stopNow();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  private readonly onExit = (): void => this.stopNow();

  static async start(nodeTimeoutMs: number): Promise<RedisCluster> {
    const root = mkdtempSync(join(tmpdir(), 'tinycache-bench-redis-cluster-'));
    const ports = new Set<number>();
    const nodes: RedisNode[] = [];
    for (let i = 0; i < 6; i++) {
      const port = await freePortPair(ports);
      ports.add(port);
      const dir = join(root, String(port));
      nodes.push({ port, address: `127.0.0.1:${port}`, dir, child: null });
    }
    const cluster = new RedisCluster(nodes, nodeTimeoutMs, root);
    process.once('SIGINT', cluster.onSignal);
    process.once('SIGTERM', cluster.onSignal);
    process.once('exit', cluster.onExit);
    try {
      await Promise.all(nodes.map((node) => cluster.startNode(node)));
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map((n) => n.address),
          '--cluster-replicas',
          '1',
          '--cluster-yes',
        ],
        { timeout: 60_000 },
      );
      await cluster.healthy(60_000);
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  private async startNode(node: RedisNode): Promise<void> {
    mkdirSync(node.dir, { recursive: true });
    // Diskless resync without delay: a restarted node catches up in ms (not part of a failover).
    const args = [
      ...['--port', String(node.port), '--bind', '127.0.0.1', '--dir', node.dir],
      ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
      ...['--cluster-node-timeout', String(this.nodeTimeoutMs)],
      ...['--appendonly', 'no', '--save', '', '--logfile', ''],
      ...['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'],
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    node.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server :${node.port} not ready`)),
        20_000,
      );
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          output = '';
          child.stdout.off('data', onData);
          child.stdout.resume();
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.resume();
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`redis-server :${node.port} exited (${code ?? signal}):\n${output}`));
      });
    });
  }

  /** SIGKILL one node by pid and wait for it to be gone. */
  async kill(node: RedisNode): Promise<void> {
    const child = node.child;
    if (child === null || child.pid === undefined) return;
    node.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  /** Starts a killed node again on its dir and port (its nodes.conf brings it back). */
  async restart(node: RedisNode): Promise<void> {
    await this.startNode(node);
  }

  /**
   * Until every node is up and says cluster_state:ok, and sees 3 masters (with all the slots)
   * each with a connected replica, whose replication link is up.
   */
  async healthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const problems: string[] = [];
        for (const node of this.nodes) {
          const info = await once(node.address, ['CLUSTER', 'INFO']);
          if (typeof info !== 'string' || !info.includes('cluster_state:ok')) {
            problems.push(`${node.address}: not ok`);
            continue;
          }
          const view = await clusterNodes(node.address);
          const masters = view.filter((n) => n.flags.includes('master') && n.slots.length > 0);
          const replicas = view.filter((n) => n.flags.includes('slave'));
          const bad = view.filter((n) => n.flags.some((f) => /fail|handshake|noaddr/.test(f)));
          if (masters.length !== 3 || replicas.length !== 3 || bad.length > 0) {
            problems.push(
              `${node.address}: ${masters.length} masters, ${replicas.length} replicas`,
            );
          }
          const me = view.find((n) => n.flags.includes('myself'));
          if (me?.flags.includes('slave')) {
            const repl = await once(node.address, ['INFO', 'replication']);
            if (typeof repl !== 'string' || !repl.includes('master_link_status:up')) {
              problems.push(`${node.address}: replication link down`);
            }
          }
        }
        if (problems.length === 0) return;
        last = problems.join('; ');
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy: ${last}`);
      await sleep(100);
    }
  }

  /** The node serving `slot` now, and its replica. */
  async masterOf(slot: number): Promise<{ master: RedisNode; replica: RedisNode }> {
    const live = this.nodes.find((n) => n.child !== null)!;
    const view = await clusterNodes(live.address);
    const master = view.find((n) => n.flags.includes('master') && servesSlot(n, slot));
    const replica = view.find((n) => n.masterId === master?.id && !n.flags.includes('fail'));
    const byAddress = (n: ClusterNode | undefined) =>
      this.nodes.find((r) => r.address === n?.address);
    const m = byAddress(master);
    const r = byAddress(replica);
    if (m === undefined || r === undefined) throw new Error(`no master and replica for ${slot}`);
    return { master: m, replica: r };
  }

  /** Kill every node still running (by pid), remove the temporary dirs; synchronous. */
  private stopNow(): void {
    for (const node of this.nodes) {
      const pid = node.child?.pid;
      if (pid !== undefined && node.child?.exitCode === null && node.child.signalCode === null) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('exit', this.onExit);
    await Promise.all(this.nodes.map((node) => this.kill(node)));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * A cluster client's write path, open model: SETs at REDIS_WRITE_RATE to the node it believes
 * serves the key's slot, MOVED redirects followed (and remembered); a node known to be down is
 * not tried: the write goes to another node, which redirects it. A failed write is not retried.
 */
class Writer extends OpenWriter {
  private readonly connections = new Map<string, Connection>();
  /** slot -> address the client sends it to. */
  private readonly route = new Map<number, string>();
  readonly down = new Set<string>();
  private cursor = 0;
  private seq = 0;
  private spread = 0;

  constructor(
    private readonly keys: readonly string[],
    private readonly addresses: readonly string[],
    owner: string,
  ) {
    super(REDIS_WRITE_RATE, MAX_IN_FLIGHT);
    for (const key of keys) this.route.set(keySlot(key), owner);
  }

  override async stop(): Promise<void> {
    await super.stop();
    for (const c of this.connections.values()) c.close();
  }

  protected arrival(): () => Promise<void> {
    return () => this.write(this.keys[this.cursor++ % this.keys.length]!);
  }

  private connection(address: string): Connection {
    let c = this.connections.get(address);
    if (c === undefined || c.closed) {
      c = new Connection(address);
      this.connections.set(address, c);
    }
    return c;
  }

  private async write(key: string): Promise<void> {
    const slot = keySlot(key);
    const value = `v${++this.seq}-`.padEnd(VALUE_BYTES, 'x');
    const sentAt = performance.now();
    let address = this.route.get(slot)!;
    if (this.down.has(address)) {
      const up = this.addresses.filter((a) => !this.down.has(a));
      address = up[this.spread++ % up.length]!;
    }
    try {
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        const reply = await this.connection(address).command(['SET', key, value], WRITE_TIMEOUT_MS);
        if (reply === 'OK') {
          this.acknowledged(sentAt);
          return;
        }
        const moved = reply instanceof RespError ? parseMoved(reply.message) : null;
        if (moved === null) break; // CLUSTERDOWN, TRYAGAIN, ...: failed
        this.route.set(moved.slot, moved.address);
        if (this.down.has(moved.address)) break;
        address = moved.address;
      }
    } catch {
      // reset, refused, timed out: failed
    }
    this.failures++;
  }
}

export interface RedisKill {
  /** From the SIGKILL to the answer of the first write sent after it that was acknowledged. */
  readonly writeMs: number;
  /** From the SIGKILL to the replica's CLUSTER NODES calling itself master. */
  readonly promotedMs: number | null;
  /** Writes failed from the kill until a second after the first acknowledged one. */
  readonly failed: number;
}

/** `kills` rounds of kill-the-master at `nodeTimeoutMs`; null when Redis is not installed. */
export async function redisClusterFailover(options: {
  nodeTimeoutMs: number;
  kills: number;
}): Promise<RedisKill[] | null> {
  if (which('redis-server') === null || which('redis-cli') === null) return null;
  const label = `Redis Cluster, node-timeout ${options.nodeTimeoutMs} ms`;
  progress(`${label}: starting 3 masters + 3 replicas`);
  const cluster = await RedisCluster.start(options.nodeTimeoutMs);
  const recoveryLimitMs = options.nodeTimeoutMs * 4 + 30_000;
  const addresses = cluster.nodes.map((n) => n.address);
  const outcomes: RedisKill[] = [];
  try {
    for (let k = 0; k < options.kills; k++) {
      // Each round the master of another third of the slots.
      const slot = [0, 5461, 10923][k % 3]!;
      const { master, replica } = await cluster.masterOf(slot);
      const view = await clusterNodes(master.address);
      const me = view.find((n) => n.flags.includes('myself'))!;
      const keys: string[] = [];
      for (let i = 0; keys.length < KEYS; i++) {
        if (servesSlot(me, keySlot(`rf-${i}`))) keys.push(`rf-${i}`);
      }
      const writer = new Writer(keys, addresses, master.address);
      try {
        writer.start();
        await sleep(SETTLE_MS);
        if (writer.acks === 0) throw new Error(`${label}: no write acknowledged before the kill`);
        let firstAck: number | null = null;
        let killedAt = Infinity;
        const unsubscribe = writer.onAck((sentAt, ackedAt) => {
          if (firstAck === null && sentAt >= killedAt) firstAck = ackedAt;
        });
        const failuresBefore = writer.failures;
        writer.down.add(master.address);
        killedAt = performance.now();
        await cluster.kill(master);
        let promotedAt: number | null = null;
        while (firstAck === null || promotedAt === null) {
          if (performance.now() - killedAt > recoveryLimitMs) break;
          if (promotedAt === null) {
            const mine = await clusterNodes(replica.address).catch(() => []);
            const self = mine.find((n) => n.flags.includes('myself'));
            if (self?.flags.includes('master')) promotedAt = performance.now();
          }
          await sleep(POLL_MS);
        }
        unsubscribe();
        if (firstAck === null) throw new Error(`${label}: kill ${k + 1}: no write acknowledged`);
        await sleep(1000);
        const writeMs = (firstAck as number) - killedAt;
        outcomes.push({
          writeMs,
          promotedMs: promotedAt === null ? null : promotedAt - killedAt,
          failed: writer.failures - failuresBefore,
        });
        progress(
          `${label}: kill ${k + 1}/${options.kills}: ${master.address}; first write after ${Math.round(writeMs)} ms, replica ${replica.address} master after ${promotedAt === null ? '-' : Math.round(promotedAt - killedAt)} ms, ${outcomes.at(-1)!.failed} failed`,
        );
      } finally {
        await writer.stop();
      }
      await cluster.restart(master);
      await cluster.healthy(recoveryLimitMs);
    }
    return outcomes;
  } finally {
    await cluster.close();
  }
}

/** `redis-server v=7.0.15`, as the installed server says. */
export function redisVersion(): string {
  try {
    const text = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    return `redis-server ${/v=(\S+)/.exec(text)?.[1] ?? 'unknown version'}`;
  } catch {
    return 'redis-server, version unknown';
  }
}
