/**
 * A simulated packet network between named endpoints, after TigerBeetle's packet simulator
 * (src/testing/packet_simulator.zig): each directed link has a delay distribution, a loss
 * probability, a duplication (replay) probability and an ordering rule, and can be cut; all
 * of it is plain data, changeable at any virtual time (schedule the change on the scheduler).
 * Messages travel as scheduler events, so delivery order is decided by virtual time alone.
 *
 * Every link draws from its own stream (`network/<from>/<to>`), so traffic or a fault on one
 * link does not change the delays drawn on another.
 *
 * A cut link drops what is sent on it and what is in flight on it when it would arrive: a
 * partition that starts while a message is on the wire loses that message, as a pulled cable
 * does. Healing does not bring dropped messages back.
 */
import type { Rng } from '../../core/random.ts';
import { type DelayDistribution, delaySampler, type DelaySampler } from '../distributions.ts';
import { streamRng } from '../random.ts';
import type { Scheduler } from '../scheduler.ts';
import type { TraceHash } from '../trace.ts';
import type { ReceiveHandler, Transport } from './transport.ts';

export interface LinkOptions {
  /** One-way delay of each message. */
  readonly latency: DelayDistribution;
  /** Chance a message is lost, from 0 to 1. */
  readonly lossProbability: number;
  /** Chance a message that is not lost arrives twice (each copy with its own delay). */
  readonly duplicateProbability: number;
  /**
   * False (the default): the link is FIFO, like one TCP connection; a message never arrives
   * before one sent earlier on the link. True: every message takes its own delay, so a later
   * one can overtake an earlier one when delays vary.
   */
  readonly reorder: boolean;
}

/** 100 µs one way: two processes on one host, or one rack. */
export const DEFAULT_LINK: LinkOptions = {
  latency: { kind: 'constant', ms: 0.1 },
  lossProbability: 0,
  duplicateProbability: 0,
  reorder: false,
};

export interface NetworkOptions {
  /** The run's seed; each link derives its own stream from it. */
  readonly seed: number;
  /** Every link's options unless `setLink` says otherwise. */
  readonly link?: Partial<LinkOptions>;
  /** Fed (time, from, to) of every delivery, for a determinism check. */
  readonly trace?: TraceHash;
}

export interface NetworkStats {
  readonly sent: number;
  /** Deliveries, duplicates included. */
  readonly delivered: number;
  /** Lost to `lossProbability`. */
  readonly lost: number;
  /** Extra copies made by `duplicateProbability`. */
  readonly duplicated: number;
  /** Dropped by a cut link, at sending or on arrival. */
  readonly cut: number;
  /** Sent to an address nobody listens on. */
  readonly unroutable: number;
}

interface Endpoint<M> {
  readonly id: number;
  readonly address: string;
  readonly receive: ReceiveHandler<M>;
  /** Links from this endpoint, by destination id; made on first use. */
  readonly links: (Link | undefined)[];
}

interface Link {
  readonly from: number;
  readonly to: number;
  readonly rng: Rng;
  options: LinkOptions;
  sample: DelaySampler;
  isCut: boolean;
  /** Arrival time of the latest message, for FIFO links. */
  lastArrivalUs: number;
}

interface Packet<M> {
  readonly link: Link;
  readonly message: M;
}

export class Network<M> {
  private readonly endpoints: Endpoint<M>[] = [];
  private readonly byAddress = new Map<string, Endpoint<M>>();
  private readonly seed: number;
  private readonly trace: TraceHash | undefined;
  private defaults: LinkOptions;
  private defaultSampler: DelaySampler;

  private sentCount = 0;
  private deliveredCount = 0;
  private lostCount = 0;
  private duplicatedCount = 0;
  private cutCount = 0;
  private unroutableCount = 0;

  constructor(
    private readonly scheduler: Scheduler,
    options: NetworkOptions,
  ) {
    this.seed = options.seed;
    this.trace = options.trace;
    this.defaults = checkLink({ ...DEFAULT_LINK, ...options.link });
    this.defaultSampler = delaySampler(this.defaults.latency);
  }

  /** Starts delivering messages for `address` to `receive`; returns its transport. */
  listen(address: string, receive: ReceiveHandler<M>): Transport<M> {
    if (this.byAddress.has(address)) throw new Error(`${address} is already listening.`);
    const endpoint: Endpoint<M> = { id: this.endpoints.length, address, receive, links: [] };
    this.endpoints.push(endpoint);
    this.byAddress.set(address, endpoint);
    return { address, send: (to, message) => this.sendFrom(endpoint, to, message) };
  }

  /** Sends as `from` (which must be listening). */
  send(from: string, to: string, message: M): void {
    this.sendFrom(this.endpoint(from), to, message);
  }

  /** Sets options on the link from `from` to `to` (one direction); the rest stay. */
  setLink(from: string, to: string, options: Partial<LinkOptions>): void {
    const link = this.link(this.endpoint(from), this.endpoint(to));
    link.options = checkLink({ ...link.options, ...options });
    link.sample = delaySampler(link.options.latency);
  }

  /** Cuts the links between `a` and `b`: both ways, or only from a to b when `oneWay`. */
  cut(a: string, b: string, oneWay = false): void {
    this.setCut(a, b, true, oneWay);
  }

  /** Heals what `cut` did. */
  heal(a: string, b: string, oneWay = false): void {
    this.setCut(a, b, false, oneWay);
  }

  /** Cuts every link between a member of `side` and a member of `other`, both ways. */
  partition(side: readonly string[], other: readonly string[]): void {
    for (const a of side) for (const b of other) this.setCut(a, b, true, false);
  }

  /** Cuts `address` off from every other endpoint. */
  isolate(address: string): void {
    for (const other of this.endpoints) {
      if (other.address !== address) this.setCut(address, other.address, true, false);
    }
  }

  /** Heals every cut link. */
  healAll(): void {
    for (const endpoint of this.endpoints) {
      for (const link of endpoint.links) if (link !== undefined) link.isCut = false;
    }
  }

  isCut(from: string, to: string): boolean {
    return this.endpoint(from).links[this.endpoint(to).id]?.isCut ?? false;
  }

  get stats(): NetworkStats {
    return {
      sent: this.sentCount,
      delivered: this.deliveredCount,
      lost: this.lostCount,
      duplicated: this.duplicatedCount,
      cut: this.cutCount,
      unroutable: this.unroutableCount,
    };
  }

  private sendFrom(source: Endpoint<M>, to: string, message: M): void {
    this.sentCount++;
    const destination = this.byAddress.get(to);
    if (destination === undefined) {
      this.unroutableCount++;
      return;
    }
    const link = source.links[destination.id] ?? this.link(source, destination);
    if (link.isCut) {
      this.cutCount++;
      return;
    }
    const { lossProbability, duplicateProbability } = link.options;
    // Draw only for a fault that is on, so a link without faults draws delays alone.
    if (lossProbability > 0 && link.rng.next() < lossProbability) {
      this.lostCount++;
      return;
    }
    this.transmit(link, message);
    if (duplicateProbability > 0 && link.rng.next() < duplicateProbability) {
      this.duplicatedCount++;
      this.transmit(link, message);
    }
  }

  private transmit(link: Link, message: M): void {
    let arrivalUs = this.scheduler.nowUs + link.sample(link.rng);
    if (!link.options.reorder) {
      // Same-time arrivals keep their sending order: the scheduler breaks ties by insertion.
      if (arrivalUs < link.lastArrivalUs) arrivalUs = link.lastArrivalUs;
      link.lastArrivalUs = arrivalUs;
    }
    const packet: Packet<M> = { link, message };
    this.scheduler.at(arrivalUs, this.deliver, packet);
  }

  /** One function for every delivery (made once, not per packet). */
  private readonly deliver = (packet: Packet<M>): void => {
    const link = packet.link;
    if (link.isCut) {
      this.cutCount++;
      return;
    }
    this.deliveredCount++;
    const trace = this.trace;
    if (trace !== undefined) {
      trace.addInteger(this.scheduler.nowUs);
      trace.addWord(link.from);
      trace.addWord(link.to);
    }
    const from = this.endpoints[link.from]!;
    this.endpoints[link.to]!.receive(from.address, packet.message);
  };

  private setCut(a: string, b: string, isCut: boolean, oneWay: boolean): void {
    const from = this.endpoint(a);
    const to = this.endpoint(b);
    this.link(from, to).isCut = isCut;
    if (!oneWay) this.link(to, from).isCut = isCut;
  }

  private link(from: Endpoint<M>, to: Endpoint<M>): Link {
    let link = from.links[to.id];
    if (link === undefined) {
      link = {
        from: from.id,
        to: to.id,
        rng: streamRng(this.seed, `network/${from.address}/${to.address}`),
        options: this.defaults,
        sample: this.defaultSampler,
        isCut: false,
        lastArrivalUs: 0,
      };
      from.links[to.id] = link;
    }
    return link;
  }

  private endpoint(address: string): Endpoint<M> {
    const endpoint = this.byAddress.get(address);
    if (endpoint === undefined) throw new Error(`No endpoint listens on ${address}.`);
    return endpoint;
  }
}

function checkLink(options: LinkOptions): LinkOptions {
  for (const name of ['lossProbability', 'duplicateProbability'] as const) {
    const p = options[name];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be from 0 to 1 (got ${p}).`);
  }
  delaySampler(options.latency); // validates the distribution
  return options;
}
