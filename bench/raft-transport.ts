/**
 * The Raft peer transport (server/node/raft/peer-transport.ts) between two transports in this
 * process over 127.0.0.1: messages and megabytes per second for MsgApp batches of several sizes
 * and for heartbeats, codec included (every send encodes, every frame decodes). The anchor,
 * measured in the same run, is a bare net.Socket pair carrying the same frames, pre-encoded,
 * one way, with nothing decoded: what the loopback and Node's socket layer allow here.
 *
 * The sender keeps a window of messages in flight (sent, not yet received), as a Raft leader's
 * inflight limit does, so the bounded queue never drops; the table says if one did.
 */
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeMessage } from '../core/raft/codec.ts';
import type { Message } from '../core/raft/types.ts';
import { PeerTransport } from '../server/node/raft/peer-transport.ts';
import { formatRate, formatRatio, median, progress, table } from './lib.ts';

/** Messages in flight at most: well under the transport's 4096-message queue… */
const WINDOW_MESSAGES = 1024;
/** …and its 64 MiB. */
const WINDOW_BYTES = 16 * 1024 * 1024;

/** How many messages of this case may be in flight. */
const windowFor = (c: Case): number =>
  Math.max(
    1,
    Math.min(WINDOW_MESSAGES, Math.floor(WINDOW_BYTES / encodeMessage(c.message).length)),
  );

interface Case {
  readonly name: string;
  readonly message: Message;
}

interface Round {
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
  readonly writesPerMessage: number;
  readonly dropped: number;
}

function appCase(entries: number, entryBytes: number): Case {
  return {
    name: `MsgApp, ${entries} × ${entryBytes} B entries`,
    message: {
      type: 'MsgApp',
      from: 'n1',
      to: 'n2',
      term: 5,
      prevLogIndex: 100_000,
      prevLogTerm: 5,
      entries: Array.from({ length: entries }, (_, i) => ({
        term: 5,
        index: 100_001 + i,
        data: new Uint8Array(entryBytes).fill(i & 0xff),
      })),
      commit: 99_000,
    },
  };
}

const CASES: readonly Case[] = [
  {
    name: 'MsgHeartbeat',
    message: { type: 'MsgHeartbeat', from: 'n1', to: 'n2', term: 5, commit: 99_000, readRound: 0 },
  },
  appCase(1, 128),
  appCase(64, 128),
  appCase(64, 4096),
];

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

async function transportRound(c: Case, seconds: number): Promise<Round> {
  const server = createServer((_req, res) => res.end());
  const port = await listen(server);
  const window = windowFor(c);
  let received = 0;
  let pump: () => void = () => {};
  const receiver = new PeerTransport({
    nodeId: 'n2',
    peers: new Map(),
    onMessage: () => {
      received++;
      if (received % Math.ceil(window / 4) === 0) pump();
    },
  });
  receiver.attach(server);
  const sender = new PeerTransport({
    nodeId: 'n1',
    peers: new Map([['n2', `http://127.0.0.1:${port}`]]),
    onMessage: () => {},
  });
  let sent = 0;
  let running = true;
  pump = () => {
    if (!running) return;
    const batch: Message[] = [];
    while (sent + batch.length - received < window) batch.push(c.message);
    sent += batch.length;
    sender.send(batch);
  };
  // Warm up (dial, JIT), then measure.
  pump();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = { received, stats: sender.stats().peers.get('n2')! };
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = (performance.now() - start) / 1000;
  const after = sender.stats().peers.get('n2')!;
  running = false;
  const messages = received - before.received;
  const round: Round = {
    messagesPerSecond: messages / elapsed,
    bytesPerSecond: (messages * (encodeMessage(c.message).length + 4)) / elapsed,
    writesPerMessage:
      (after.writes - before.stats.writes) / (after.sentMessages - before.stats.sentMessages),
    dropped: after.droppedMessages,
  };
  sender.close();
  receiver.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return round;
}

/** The anchor: the same frames, pre-encoded, written in the same window over a bare socket. */
async function bareRound(c: Case, seconds: number): Promise<Round> {
  const payload = encodeMessage(c.message);
  const frame = Buffer.alloc(4 + payload.length);
  frame.writeUInt32BE(payload.length);
  frame.set(payload, 4);
  const window = windowFor(c);
  let receivedBytes = 0;
  let pump: () => void = () => {};
  const sink = createTcpServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const before = Math.floor(receivedBytes / frame.length);
      receivedBytes += chunk.length;
      if (Math.floor(receivedBytes / frame.length) - before > 0) pump();
    });
  });
  const port = await listen(sink);
  const client: Socket = connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise((resolve) => client.once('connect', resolve));
  let sent = 0;
  let running = true;
  let scheduled = false;
  pump = () => {
    if (!running || scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const inFlight = sent - Math.floor(receivedBytes / frame.length);
      const n = window - inFlight;
      if (n <= 0) return;
      // One write per turn, as the transport batches.
      client.write(Buffer.concat(Array.from({ length: n }, () => frame)));
      sent += n;
    });
  };
  pump();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = receivedBytes;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = (performance.now() - start) / 1000;
  running = false;
  const bytes = receivedBytes - before;
  client.destroy();
  await new Promise((resolve) => sink.close(resolve));
  return {
    messagesPerSecond: bytes / frame.length / elapsed,
    bytesPerSecond: bytes / elapsed,
    writesPerMessage: 0,
    dropped: 0,
  };
}

const mb = (bytesPerSecond: number): string => (bytesPerSecond / 1e6).toFixed(1);

export async function raftTransportBench({
  seconds,
  rounds,
}: {
  seconds: number;
  rounds: number;
}): Promise<string> {
  const rows = [
    [
      'case',
      'frame B',
      'msg/s',
      'MB/s',
      'bare msg/s',
      'bare MB/s',
      'vs bare',
      'writes/msg',
      'dropped',
    ],
  ];
  for (const c of CASES) {
    const ours: Round[] = [];
    const bare: Round[] = [];
    for (let round = 1; round <= rounds; round++) {
      progress(`raft-transport: ${c.name}, round ${round}/${rounds}`);
      ours.push(await transportRound(c, seconds));
      bare.push(await bareRound(c, seconds));
    }
    const rate = median(ours.map((r) => r.messagesPerSecond));
    const bareRate = median(bare.map((r) => r.messagesPerSecond));
    rows.push([
      c.name,
      String(encodeMessage(c.message).length + 4),
      formatRate(rate),
      mb(median(ours.map((r) => r.bytesPerSecond))),
      formatRate(bareRate),
      mb(median(bare.map((r) => r.bytesPerSecond))),
      formatRatio(rate, bareRate),
      median(ours.map((r) => r.writesPerMessage)).toFixed(3),
      String(ours.reduce((sum, r) => sum + r.dropped, 0)),
    ]);
  }
  return [
    `Raft peer transport: two PeerTransports in one process over 127.0.0.1, up to ${WINDOW_MESSAGES} messages ` +
      `(${WINDOW_BYTES / 1024 / 1024} MiB) in flight, ` +
      `codec included; anchor: a bare net.Socket carrying the same frames pre-encoded, one way ` +
      `(${seconds} s a round, ${rounds} rounds, medians)`,
    table(rows),
  ].join('\n');
}
