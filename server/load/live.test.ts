import { describe, expect, it } from 'vitest';
import { type ClusterMap, ringOf } from '../../core/cluster/index.ts';
import { startFixture } from './kv-fixture.ts';
import { LiveLoad, shareOf } from './live.ts';
import { startLoad } from './load.ts';
import { DEFAULT_LOAD_SETTINGS } from './settings.ts';

describe('shareOf', () => {
  it('splits connections and rate evenly over the targets', () => {
    const settings = { ...DEFAULT_LOAD_SETTINGS, connections: 30, rate: 3000 };
    const share = shareOf(settings, 3, 'http://127.0.0.1:7001');
    expect(share).toMatchObject({ url: 'http://127.0.0.1:7001', connections: 10, rate: 1000 });
    expect(share.durationSeconds).toBeNull();
  });

  it('gives every target at least one connection', () => {
    const settings = { ...DEFAULT_LOAD_SETTINGS, connections: 1 };
    expect(shareOf(settings, 4, 'http://127.0.0.1:7001').connections).toBe(1);
  });

  it('refuses bad settings, naming the field', () => {
    const settings = { ...DEFAULT_LOAD_SETTINGS, readRatio: 2 };
    expect(() => shareOf(settings, 1, 'http://127.0.0.1:7001')).toThrow(/readRatio/);
  });
});

describe('smart routing in a cluster', () => {
  const map = (urls: readonly string[]): ClusterMap => ({
    epoch: 1,
    vnodes: 256,
    shards: urls.map((url, i) => ({ id: `s${i + 1}`, nodes: [{ id: `n${i + 1}`, url }] })),
    moving: null,
  });

  async function drive(routing: 'any' | 'smart') {
    const fixtures = [await startFixture(), await startFixture()];
    try {
      const cluster = map(fixtures.map((f) => f.url));
      const targets = fixtures.map((f, i) => ({ id: `n${i + 1}`, url: f.url, shard: `s${i + 1}` }));
      const settings = {
        ...DEFAULT_LOAD_SETTINGS,
        routing,
        mode: 'closed' as const,
        connections: 4,
        readRatio: 0,
        keys: 200,
        distribution: 'uniform' as const,
      };
      const load = new LiveLoad(
        settings,
        targets,
        (options, sink, owns) => startLoad(options, { sink, owns }),
        cluster,
      );
      await new Promise((resolve) => setTimeout(resolve, 400));
      load.stop();
      const ring = ringOf(cluster);
      // For each node: of the keys it was sent, how many it does not own.
      return fixtures.map((f, i) => ({
        sent: f.store.size,
        foreign: [...f.store.keys()].filter((key) => ring.owner(key) !== `s${i + 1}`).length,
      }));
    } finally {
      await Promise.all(fixtures.map((f) => f.close()));
    }
  }

  it('sends each key straight to its owner when smart, and to any node otherwise', async () => {
    const smart = await drive('smart');
    for (const node of smart) {
      expect(node.sent).toBeGreaterThan(20);
      expect(node.foreign).toBe(0);
    }
    const any = await drive('any');
    for (const node of any) expect(node.foreign).toBeGreaterThan(10);
  });
});

describe('scope', () => {
  const cluster: ClusterMap = {
    epoch: 1,
    vnodes: 256,
    shards: [{ id: 's1', nodes: [{ id: 'n1', url: 'http://127.0.0.1:7001' }] }],
    moving: null,
  };
  const targets = [
    { id: 'n1', url: 'http://127.0.0.1:7001', shard: 's1' },
    { id: 'n2', url: 'http://127.0.0.1:7002', shard: null },
  ];

  /** A live load whose runs are only recorded: which nodes it drives now. */
  function driven(scope: 'all' | 'cluster', map: ClusterMap | null) {
    const running = new Set<string>();
    const load = new LiveLoad(
      { ...DEFAULT_LOAD_SETTINGS, scope },
      targets,
      (options) => {
        running.add(options.url);
        return {
          options,
          update: () => undefined,
          snapshot: () => {
            throw new Error('not sampled here');
          },
          stop: () => running.delete(options.url),
          done: new Promise(() => undefined),
        };
      },
      map,
    );
    return { load, running };
  }

  it("drives only the cluster's members when asked, and every node otherwise", () => {
    expect([...driven('cluster', cluster).running]).toEqual(['http://127.0.0.1:7001']);
    expect(driven('all', cluster).running.size).toBe(2);
    // Without a cluster there are no members to keep to: every node.
    expect(driven('cluster', null).running.size).toBe(2);
  });

  it('a change of scope while running takes or leaves the lone node', () => {
    const { load, running } = driven('all', cluster);
    load.update({ scope: 'cluster' });
    expect([...running]).toEqual(['http://127.0.0.1:7001']);
    load.update({ scope: 'all' });
    expect(running.size).toBe(2);
  });
});
