/**
 * How a Raft driver hands messages to the network (DESIGN.md: the peer transport is a tiny
 * interface with a real implementation, server/node/raft/peer-transport.ts over TCP, and a
 * simulated one, sim/raft/run.ts over sim/network). Delivery is at most once and unordered
 * across reconnects; Raft tolerates loss, duplication and reordering (§5.3, §5.5).
 */
import type { Message } from './types.ts';

/** How a driver sends Raft messages; the simulator's network and the TCP transport both implement it. */
export interface RaftTransport {
  /** Queues messages for their `to` peers; never blocks, may drop when a peer's queue is full (Raft tolerates loss). */
  send(messages: readonly Message[]): void;
}
