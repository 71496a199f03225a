import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../../core/raft/codec.ts';
import { randomEntries } from '../../../core/raft/codec-testing.ts';
import type { Message, MsgApp, MsgHeartbeat, MsgSnap, NodeId } from '../../../core/raft/types.ts';
import { createRng } from '../../../core/random.ts';
import { PeerTransport, type PeerTransportOptions } from './peer-transport.ts';

interface TestNode {
  readonly id: NodeId;
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  readonly transport: PeerTransport;
  readonly inbox: Message[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The node server's options (server/node/server.ts), with its timeouts scaled down. */
const NODE_LIKE_OPTIONS = {
  headersTimeout: 200,
  requestTimeout: 300,
  connectionsCheckingInterval: 50,
  requireHostHeader: false,
  noDelay: true,
  keepAlive: true,
};

async function listen(port = 0): Promise<Server> {
  const server = createServer(NODE_LIKE_OPTIONS, (_req, res) => res.end('not raft\n'));
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

/** A node: a real HTTP server on 127.0.0.1 with a PeerTransport attached. */
async function startNode(
  id: NodeId,
  peers: () => ReadonlyMap<NodeId, string>,
  options: Partial<PeerTransportOptions> = {},
  port = 0,
): Promise<TestNode> {
  const server = await listen(port);
  const bound = (server.address() as AddressInfo).port;
  const inbox: Message[] = [];
  const transport = new PeerTransport({
    nodeId: id,
    peers: peers(),
    onMessage: (m) => inbox.push(m),
    ...options,
  });
  transport.attach(server);
  const node = { id, server, port: bound, url: `http://127.0.0.1:${bound}`, transport, inbox };
  cleanups.push(async () => {
    transport.close();
    if (server.listening) await closeServer(server);
  });
  return node;
}

/** Nodes that know each other's URLs. */
async function cluster(ids: readonly NodeId[], options: Partial<PeerTransportOptions> = {}) {
  const urls = new Map<NodeId, string>();
  const nodes: TestNode[] = [];
  for (const id of ids) nodes.push(await startNode(id, () => new Map(), options));
  for (const node of nodes) urls.set(node.id, node.url);
  for (const node of nodes) node.transport.setPeers(urls);
  return { nodes, urls };
}

async function waitFor(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const heartbeat = (from: NodeId, to: NodeId, commit: number): MsgHeartbeat => ({
  type: 'MsgHeartbeat',
  from,
  to,
  term: 3,
  commit,
  readRound: 0,
});

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b);

/** A raw TCP client speaking HTTP by hand: what it sent, and everything it got until close. */
function rawClient(port: number, request: string): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  socket.write(request);
  return { socket, closed };
}

const upgradeRequest = (path: string, protocol: string, node = 'evil'): string =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n` +
  `X-TinyCache-Node: ${node}\r\n\r\n`;

function frame(payload: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

describe('PeerTransport (real sockets on 127.0.0.1)', () => {
  it('three nodes exchange messages in every direction', async () => {
    const { nodes } = await cluster(['n1', 'n2', 'n3']);
    for (const from of nodes) {
      from.transport.send(
        nodes.filter((to) => to !== from).map((to, i) => heartbeat(from.id, to.id, i + 1)),
      );
    }
    await waitFor('two messages at each node', () => nodes.every((n) => n.inbox.length === 2));
    for (const node of nodes) {
      const senders = node.inbox.map((m) => m.from).sort();
      expect(senders).toEqual(nodes.filter((n) => n !== node).map((n) => n.id));
      for (const m of node.inbox) expect(m.to).toBe(node.id);
    }
    const n1 = nodes[0]!.transport.stats().peers;
    expect(n1.get('n2')).toMatchObject({
      sentMessages: 1,
      receivedMessages: 1,
      droppedMessages: 0,
    });
  });

  it('delivers a large MsgApp batch and a 20 MiB MsgSnap intact', async () => {
    const { nodes } = await cluster(['n1', 'n2']);
    const [n1, n2] = nodes as [TestNode, TestNode];
    const app: MsgApp = {
      type: 'MsgApp',
      from: 'n1',
      to: 'n2',
      term: 9,
      prevLogIndex: 41,
      prevLogTerm: 8,
      entries: randomEntries(createRng(7), 5_000, 400),
      commit: 40,
    };
    const data = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 1021) data[i] = (i >> 10) & 0xff;
    const snap: MsgSnap = {
      type: 'MsgSnap',
      from: 'n1',
      to: 'n2',
      term: 9,
      snapshot: { index: 1_000_000, term: 8, data },
    };
    n1.transport.send([app, snap]);
    await waitFor('both messages', () => n2.inbox.length === 2);
    const [gotApp, gotSnap] = n2.inbox as [MsgApp, MsgSnap];
    expect(gotApp.entries.length).toBe(5_000);
    expect(
      gotApp.entries.every((e, i) => {
        const sent = app.entries[i]!;
        return e.index === sent.index && e.term === sent.term && sameBytes(e.data, sent.data);
      }),
    ).toBe(true);
    expect(gotSnap.snapshot.index).toBe(1_000_000);
    expect(sameBytes(gotSnap.snapshot.data, data)).toBe(true);
  });

  it('reconnects to a peer restarted on the same port, and later messages arrive', async () => {
    const urls = new Map<NodeId, string>();
    const n1 = await startNode('n1', () => urls, { minBackoffMs: 10 });
    let n2 = await startNode('n2', () => urls);
    urls.set('n1', n1.url).set('n2', n2.url);
    n1.transport.setPeers(urls);
    n1.transport.send([heartbeat('n1', 'n2', 1)]);
    await waitFor('first message', () => n2.inbox.length === 1);

    // n2 dies: its transport and server close; then a new n2 listens on the same port.
    n2.transport.close();
    await closeServer(n2.server);
    n1.transport.send([heartbeat('n1', 'n2', 2)]); // lost or queued: Raft tolerates either
    n2 = await startNode('n2', () => urls, {}, n2.port);
    let commit = 3;
    await waitFor('a message after the restart', () => {
      n1.transport.send([heartbeat('n1', 'n2', commit++)]);
      return n2.inbox.some((m) => m.type === 'MsgHeartbeat' && m.commit >= 3);
    });
    expect(n1.transport.stats().peers.get('n2')!.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('bounds each peer queue by count and bytes, dropping new messages and counting them', async () => {
    // A peer nobody listens on: everything waits in the queue.
    const gone = await listen();
    const deadUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await closeServer(gone);
    const byCount = new PeerTransport({
      nodeId: 'n1',
      peers: new Map([['n2', deadUrl]]),
      onMessage: () => {},
      maxQueueMessages: 10,
    });
    cleanups.push(() => byCount.close());
    byCount.send(Array.from({ length: 25 }, (_, i) => heartbeat('n1', 'n2', i)));
    expect(byCount.stats().peers.get('n2')).toMatchObject({ droppedMessages: 15 });

    const byBytes = new PeerTransport({
      nodeId: 'n1',
      peers: new Map([['n2', deadUrl]]),
      onMessage: () => {},
      maxQueueBytes: 1000,
    });
    cleanups.push(() => byBytes.close());
    const big = (size: number): Message => ({
      type: 'MsgReadIndex',
      from: 'n1',
      to: 'n2',
      term: 1,
      ctx: new Uint8Array(size),
    });
    const size = encodeMessage(big(2000)).length;
    // Alone in an empty queue a message larger than the bound is taken (a snapshot must pass);
    // behind it nothing fits.
    byBytes.send([big(2000), big(10)]);
    expect(byBytes.stats().peers.get('n2')).toMatchObject({ droppedMessages: 1 });
    // An unknown peer: dropped and counted too.
    byBytes.send([heartbeat('n1', 'n9', 1)]);
    expect(byBytes.stats().peers.get('n9')).toMatchObject({ droppedMessages: 1 });
    expect(size).toBeGreaterThan(1000);
  });

  it('closes a connection that sends a malformed or oversized frame, and only that one', async () => {
    const { nodes } = await cluster(['n1', 'n2'], { maxFrameBytes: 1024 * 1024 });
    const [n1, n2] = nodes as [TestNode, TestNode];
    n1.transport.send([heartbeat('n1', 'n2', 1)]);
    await waitFor('first message', () => n2.inbox.length === 1);

    const garbage = rawClient(n2.port, upgradeRequest('/v1/raft', 'tinycache-raft/1'));
    garbage.socket.write(frame(Uint8Array.of(1, 2, 3)));
    expect(await garbage.closed).toMatch(/^HTTP\/1\.1 101 /);

    const oversized = rawClient(n2.port, upgradeRequest('/v1/raft', 'tinycache-raft/1', 'huge'));
    oversized.socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    expect(await oversized.closed).toMatch(/^HTTP\/1\.1 101 /);

    const stats = n2.transport.stats().peers;
    expect(stats.get('evil')?.malformedFrames).toBe(1);
    expect(stats.get('huge')?.malformedFrames).toBe(1);
    n1.transport.send([heartbeat('n1', 'n2', 2)]);
    await waitFor('a later message on the good connection', () => n2.inbox.length === 2);
    expect(n1.transport.stats().peers.get('n2')!.reconnects).toBe(0);
  });

  it('closes a connection whose messages claim another sender or another receiver, delivering none', async () => {
    const { nodes } = await cluster(['n1', 'n2']);
    const n2 = nodes[1]!;
    // The connection names itself "evil" and sends a vote as if from n1 (a forged grant).
    const spoof = rawClient(n2.port, upgradeRequest('/v1/raft', 'tinycache-raft/1'));
    spoof.socket.write(frame(encodeMessage(heartbeat('n1', 'n2', 1))));
    expect(await spoof.closed).toMatch(/^HTTP\/1\.1 101 /);
    // Named rightly, but addressed to a node that is not this one.
    const misaddressed = rawClient(n2.port, upgradeRequest('/v1/raft', 'tinycache-raft/1', 'n3'));
    misaddressed.socket.write(frame(encodeMessage(heartbeat('n3', 'n9', 1))));
    expect(await misaddressed.closed).toMatch(/^HTTP\/1\.1 101 /);
    const stats = n2.transport.stats().peers;
    expect(stats.get('evil')).toMatchObject({ malformedFrames: 1, receivedMessages: 0 });
    expect(stats.get('n3')).toMatchObject({ malformedFrames: 1, receivedMessages: 0 });
    expect(n2.inbox).toHaveLength(0);
  });

  it('says a peer is gone when its connection closes from its end, not when this side drops one', async () => {
    const gone: NodeId[] = [];
    const { nodes } = await cluster(['n1', 'n2', 'n3'], { onPeerGone: (id) => gone.push(id) });
    const [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    n1.transport.send([heartbeat('n1', 'n2', 1)]);
    n3.transport.send([heartbeat('n3', 'n2', 1)]);
    await waitFor('both connections', () => n2.inbox.length === 2);
    // A spoofed connection naming n3 replaces n3's own (dropped here: no news), then is
    // refused for what it sends (dropped here too).
    const spoof = rawClient(n2.port, upgradeRequest('/v1/raft', 'tinycache-raft/1', 'n3'));
    spoof.socket.write(frame(Uint8Array.of(1, 2, 3)));
    await spoof.closed;
    expect(gone).toEqual([]);
    // n1's process ends: its transport closes its connections.
    n1.transport.close();
    await waitFor('n1 gone', () => gone.length === 1);
    expect(gone).toEqual(['n1']);
  });

  it('refuses every other upgrade with 400 and closes it', async () => {
    const { nodes } = await cluster(['n1']);
    const port = nodes[0]!.port;
    for (const request of [
      upgradeRequest('/v1/other', 'websocket'),
      upgradeRequest('/v1/raft', 'websocket'),
      upgradeRequest('/v1/raft', 'tinycache-raft/1').replace(/X-TinyCache-Node: .*\r\n/, ''),
    ]) {
      const { closed } = rawClient(port, request);
      expect(await closed).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    }
    expect(nodes[0]!.transport.stats().refusedUpgrades).toBe(3);
  });

  it('batches: 1000 messages sent in one tick go out in one socket write', async () => {
    const { nodes } = await cluster(['n1', 'n2']);
    const [n1, n2] = nodes as [TestNode, TestNode];
    n1.transport.send([heartbeat('n1', 'n2', 0)]);
    await waitFor('the connection', () => n2.inbox.length === 1);
    const writesBefore = n1.transport.stats().peers.get('n2')!.writes;
    for (let i = 1; i <= 1000; i++) n1.transport.send([heartbeat('n1', 'n2', i)]);
    await waitFor('1000 messages', () => n2.inbox.length === 1001);
    const writes = n1.transport.stats().peers.get('n2')!.writes - writesBefore;
    expect(writes).toBe(1);
    // In order, as sent.
    expect(n2.inbox.map((m) => (m as MsgHeartbeat).commit)).toEqual(
      Array.from({ length: 1001 }, (_, i) => i),
    );
    expect(n2.transport.stats().peers.get('n1')!.receivedMessages).toBe(1001);
  });

  it("keeps an idle link open past the HTTP server's header and request timeouts", async () => {
    const { nodes } = await cluster(['n1', 'n2']);
    const [n1, n2] = nodes as [TestNode, TestNode];
    n1.transport.send([heartbeat('n1', 'n2', 1)]);
    await waitFor('first message', () => n2.inbox.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 800));
    n1.transport.send([heartbeat('n1', 'n2', 2)]);
    await waitFor('second message', () => n2.inbox.length === 2);
    expect(n1.transport.stats().peers.get('n2')).toMatchObject({ reconnects: 0, failedDials: 0 });
  });

  it('follows membership: a removed peer is dropped, a moved one redialled at its new URL', async () => {
    const { nodes, urls } = await cluster(['n1', 'n2', 'n3']);
    const [n1, n2] = nodes as [TestNode, TestNode, TestNode];
    n1.transport.send([heartbeat('n1', 'n2', 6)]);
    await waitFor('the message at the first address', () => n2.inbox.length === 1);
    // n2 restarts on another port (a second transport named n2); n3 leaves.
    const { nodes: restarted } = await cluster(['n2']);
    const n2again = restarted[0]!;
    const moved = new Map(urls).set('n2', n2again.url);
    moved.delete('n3');
    n1.transport.setPeers(moved);
    n1.transport.send([heartbeat('n1', 'n2', 7), heartbeat('n1', 'n3', 8)]);
    await waitFor('the message at the new address', () => n2again.inbox.length === 1);
    expect(n2again.inbox[0]).toMatchObject({ to: 'n2', commit: 7 });
    expect(n2.inbox).toHaveLength(1);
    expect(n1.transport.stats().peers.get('n3')).toMatchObject({ droppedMessages: 1 });
  });
});
