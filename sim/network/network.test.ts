import { describe, expect, it } from 'vitest';
import { Scheduler } from '../scheduler.ts';
import { TraceHash } from '../trace.ts';
import { type LinkOptions, Network } from './network.ts';

interface Arrival {
  readonly atUs: number;
  readonly from: string;
  readonly to: string;
  readonly message: number;
}

/** A network of `addresses` that records every arrival. */
function setup(link: Partial<LinkOptions>, addresses = ['a', 'b', 'c'], seed = 1) {
  const scheduler = new Scheduler();
  const trace = new TraceHash();
  const network = new Network<number>(scheduler, { seed, link, trace });
  const arrivals: Arrival[] = [];
  for (const address of addresses) {
    network.listen(address, (from, message) =>
      arrivals.push({ atUs: scheduler.nowUs, from, to: address, message }),
    );
  }
  return { scheduler, network, arrivals, trace };
}

describe('Network', () => {
  it('delivers after the link latency, naming the sender', () => {
    const { scheduler, network, arrivals } = setup({ latency: { kind: 'constant', ms: 2 } });
    scheduler.runUntil(500);
    network.send('a', 'b', 7);
    scheduler.runUntilIdle(10);
    expect(arrivals).toEqual([{ atUs: 2500, from: 'a', to: 'b', message: 7 }]);
    expect(network.stats).toMatchObject({ sent: 1, delivered: 1, lost: 0 });
  });

  it('a transport sends as its own address', () => {
    const scheduler = new Scheduler();
    const network = new Network<string>(scheduler, { seed: 1 });
    const got: string[] = [];
    const a = network.listen('a', () => {});
    network.listen('b', (from, message) => got.push(`${from}:${message}`));
    expect(a.address).toBe('a');
    a.send('b', 'hello');
    scheduler.runUntilIdle(10);
    expect(got).toEqual(['a:hello']);
  });

  it('draws delays from the distribution, within its bounds', () => {
    const { scheduler, network, arrivals } = setup({
      latency: { kind: 'uniform', minMs: 1, maxMs: 3 },
      reorder: true,
    });
    for (let i = 0; i < 2000; i++) network.send('a', 'b', i);
    scheduler.runUntilIdle(10_000);
    const delays = arrivals.map((x) => x.atUs);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(3000);
    const mean = delays.reduce((s, d) => s + d, 0) / delays.length;
    expect(mean).toBeGreaterThan(1900);
    expect(mean).toBeLessThan(2100);
  });

  it('keeps a link FIFO unless it may reorder', () => {
    const latency = { kind: 'exponential', meanMs: 1, baseMs: 0.1 } as const;
    const fifo = setup({ latency });
    const loose = setup({ latency, reorder: true });
    for (const { network, scheduler } of [fifo, loose]) {
      for (let i = 0; i < 500; i++) {
        network.send('a', 'b', i);
        scheduler.runUntil(scheduler.nowUs + 10);
      }
      scheduler.runUntilIdle(10_000);
    }
    const order = (arrivals: Arrival[]) => arrivals.map((x) => x.message);
    const sorted = Array.from({ length: 500 }, (_, i) => i);
    expect(order(fifo.arrivals)).toEqual(sorted);
    expect(order(loose.arrivals)).not.toEqual(sorted);
    expect([...order(loose.arrivals)].sort((x, y) => x - y)).toEqual(sorted);
  });

  it('loses about lossProbability of the messages, the same ones for the same seed', () => {
    const run = (seed: number) => {
      const { scheduler, network, arrivals } = setup({ lossProbability: 0.3 }, ['a', 'b'], seed);
      for (let i = 0; i < 10_000; i++) network.send('a', 'b', i);
      scheduler.runUntilIdle(100_000);
      return { stats: network.stats, got: arrivals.map((x) => x.message) };
    };
    const first = run(5);
    expect(first.stats.lost / first.stats.sent).toBeGreaterThan(0.28);
    expect(first.stats.lost / first.stats.sent).toBeLessThan(0.32);
    expect(first.stats.delivered + first.stats.lost).toBe(10_000);
    expect(run(5).got).toEqual(first.got);
    expect(run(6).got).not.toEqual(first.got);
  });

  it('duplicates messages when asked', () => {
    const { scheduler, network, arrivals } = setup({ duplicateProbability: 1 });
    network.send('a', 'b', 1);
    network.send('a', 'b', 2);
    scheduler.runUntilIdle(10);
    expect(arrivals.map((x) => x.message)).toEqual([1, 1, 2, 2]);
    expect(network.stats).toMatchObject({ sent: 2, delivered: 4, duplicated: 2 });
  });

  it('a partition drops messages sent across it and those in flight, until healed', () => {
    const { scheduler, network, arrivals } = setup({ latency: { kind: 'constant', ms: 1 } });
    // Cut a|b,c at 0.5 ms and heal at 2 ms, as a fault schedule would.
    scheduler.at(500, () => network.partition(['a'], ['b', 'c']));
    scheduler.at(2000, () => network.healAll());
    network.send('a', 'b', 1); // in flight when the cut comes: lost
    scheduler.runUntil(1000);
    network.send('a', 'c', 2); // sent across the cut: lost
    network.send('c', 'a', 3); // both ways
    network.send('b', 'c', 4); // same side: delivered
    scheduler.runUntil(2000);
    network.send('a', 'b', 5); // healed: delivered
    scheduler.runUntilIdle(100);
    expect(arrivals.map((x) => x.message)).toEqual([4, 5]);
    expect(network.stats).toMatchObject({ sent: 5, delivered: 2, cut: 3 });
  });

  it('cuts one way only when asked, and isolates an endpoint from all', () => {
    const { scheduler, network, arrivals } = setup({});
    network.cut('a', 'b', true);
    expect(network.isCut('a', 'b')).toBe(true);
    expect(network.isCut('b', 'a')).toBe(false);
    network.send('a', 'b', 1);
    network.send('b', 'a', 2);
    scheduler.runUntilIdle(10);
    network.heal('a', 'b');
    network.isolate('c');
    network.send('a', 'b', 3);
    network.send('a', 'c', 4);
    network.send('c', 'b', 5);
    scheduler.runUntilIdle(10);
    expect(arrivals.map((x) => x.message)).toEqual([2, 3]);
  });

  it('per-link options override the defaults in one direction', () => {
    const { scheduler, network, arrivals } = setup({ latency: { kind: 'constant', ms: 1 } });
    network.setLink('a', 'b', { latency: { kind: 'constant', ms: 50 } });
    network.send('a', 'b', 1);
    network.send('b', 'a', 2);
    scheduler.runUntilIdle(10);
    expect(arrivals.map((x) => [x.message, x.atUs])).toEqual([
      [2, 1000],
      [1, 50_000],
    ]);
  });

  it('counts messages to an address nobody listens on', () => {
    const { scheduler, network, arrivals } = setup({});
    network.send('a', 'nowhere', 1);
    scheduler.runUntilIdle(10);
    expect(arrivals).toEqual([]);
    expect(network.stats.unroutable).toBe(1);
    expect(() => network.send('nowhere', 'a', 1)).toThrow(/No endpoint/);
  });

  it('gives each link its own stream: traffic on one does not move delays on another', () => {
    const latency = { kind: 'uniform', minMs: 0, maxMs: 10 } as const;
    const delaysAtoB = (extraTraffic: boolean) => {
      const { scheduler, network, arrivals } = setup({ latency, reorder: true });
      for (let i = 0; i < 100; i++) {
        if (extraTraffic) network.send('a', 'c', -1);
        network.send('a', 'b', i);
      }
      scheduler.runUntilIdle(1000);
      return arrivals.filter((x) => x.to === 'b').map((x) => [x.message, x.atUs]);
    };
    expect(delaysAtoB(true)).toEqual(delaysAtoB(false));
  });

  it('refuses probabilities outside [0, 1] and malformed delays', () => {
    const scheduler = new Scheduler();
    expect(() => new Network(scheduler, { seed: 1, link: { lossProbability: 2 } })).toThrow(
      /lossProbability/,
    );
    expect(
      () =>
        new Network(scheduler, {
          seed: 1,
          link: { latency: { kind: 'uniform', minMs: 5, maxMs: 1 } },
        }),
    ).toThrow(/maxMs/);
  });
});
