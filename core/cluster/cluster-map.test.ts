import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyName } from '../workload/keys.ts';
import {
  adopt,
  decide,
  FROM_CLIENT,
  leaderStep,
  MAX_HOPS,
  movingShards,
  newer,
  parseClusterMap,
  previousRingOf,
  ringOf,
  route,
  type Arrival,
  type ClusterMap,
  type ClusterShard,
} from './cluster-map.ts';
import { Handoff } from './handoff.ts';

const shard = (id: string, port: number): ClusterShard => ({
  id,
  nodes: [{ id: `${id}-n1`, url: `http://127.0.0.1:${port}` }],
});
const A = shard('a', 7001);
const B = shard('b', 7002);
const C = shard('c', 7003);

const stable: ClusterMap = { epoch: 3, vnodes: 64, shards: [A, B], moving: null };
/** Epoch 4: shard c joins; keys move from the ring of a, b to the ring of a, b, c. */
const adding: ClusterMap = {
  epoch: 4,
  vnodes: 64,
  shards: [A, B, C],
  moving: { fromRing: ['a', 'b'], leaving: [] },
};
/** Epoch 4': shard b leaves; its keys drain to a; b stays reachable until the move ends. */
const removing: ClusterMap = {
  epoch: 4,
  vnodes: 64,
  shards: [A],
  moving: { fromRing: ['a', 'b'], leaving: [B] },
};

const KEYS = Array.from({ length: 2000 }, (_, i) => keyName(i));
const forwardedFrom = (node: string, senderEpoch: number): Arrival => ({
  hops: 1,
  forwardedBy: node,
  senderEpoch,
  transfer: false,
});

describe('parseClusterMap', () => {
  it('accepts a well-formed map, during a move too', () => {
    for (const map of [stable, adding, removing]) {
      expect(parseClusterMap(JSON.parse(JSON.stringify(map)))).toEqual({ ok: true, value: map });
    }
  });

  it.each([
    ['a negative epoch', { ...stable, epoch: -1 }, /epoch/],
    ['no shards', { ...stable, shards: [] }, /shards/],
    ['a shard without nodes', { ...stable, shards: [{ id: 'a', nodes: [] }] }, /nodes/],
    [
      'a URL that is not http',
      { ...stable, shards: [shard('a', 1), { ...B, nodes: [{ id: 'x', url: 'ftp://h' }] }] },
      /url/,
    ],
    ['too many vnodes', { ...stable, vnodes: 100_000 }, /vnodes/],
    ['a shard twice', { ...stable, shards: [A, A] }, /shard a is listed twice/],
    ['a node twice', { ...stable, shards: [A, { ...B, nodes: A.nodes }] }, /node a-n1/],
    [
      'a URL twice',
      { ...stable, shards: [A, { ...B, nodes: [{ id: 'z', url: A.nodes[0]!.url }] }] },
      /URL/,
    ],
    [
      'a move from a shard without nodes',
      { ...adding, moving: { fromRing: ['a', 'x'], leaving: [] } },
      /names x/,
    ],
    [
      'a leaving shard not on the old ring',
      { ...removing, moving: { fromRing: ['a'], leaving: [B] } },
      /leaving shard b/,
    ],
    [
      'a leaving shard still on the ring',
      { ...adding, moving: { fromRing: ['a', 'b'], leaving: [B] } },
      /listed twice/,
    ],
  ])('refuses %s, naming it', (_, input, message) => {
    const parsed = parseClusterMap(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe('bad_request');
      expect(parsed.error.message).toMatch(message);
    }
  });
});

describe('route', () => {
  it('builds one ring per map object and routes to the owner shard first node', () => {
    expect(ringOf(stable)).toBe(ringOf(stable));
    expect(previousRingOf(stable)).toBeNull();
    for (const key of KEYS) {
      const r = route(stable, key);
      expect(r.shard).toBe(ringOf(stable).owner(key));
      expect(r.node).toBe((r.shard === 'a' ? A : B).nodes[0]);
      expect(r.fallback).toBeNull();
    }
  });

  it('while a shard is added: keys that move go to it, with their old owner as fallback', () => {
    const before = ringOf(stable);
    let moved = 0;
    for (const key of KEYS) {
      const r = route(adding, key);
      const old = before.owner(key);
      if (r.shard === old) {
        expect(r.fallback).toBeNull();
      } else {
        moved++;
        expect(r.shard).toBe('c');
        expect(r.fallback).toEqual({ shard: old, node: (old === 'a' ? A : B).nodes[0] });
      }
    }
    // About a third of the keys move to the third shard.
    expect(moved / KEYS.length).toBeGreaterThan(0.2);
    expect(moved / KEYS.length).toBeLessThan(0.46);
    expect(movingShards(adding)).toEqual({ added: ['c'], removed: [] });
  });

  it('while a shard is removed: its keys go to the others, read through from it', () => {
    for (const key of KEYS) {
      const r = route(removing, key);
      expect(r.shard).toBe('a');
      const old = ringOf(stable).owner(key);
      expect(r.fallback).toEqual(old === 'b' ? { shard: 'b', node: B.nodes[0] } : null);
    }
    expect(movingShards(removing)).toEqual({ added: [], removed: ['b'] });
  });
});

describe('adopt and newer', () => {
  it('a node adopts a newer map and keeps its own against an older one', () => {
    expect(adopt(null, stable)).toEqual({ ok: true, map: stable, changed: true });
    expect(adopt(stable, adding)).toEqual({ ok: true, map: adding, changed: true });
    expect(adopt(adding, stable)).toEqual({ ok: true, map: adding, changed: false });
    expect(newer(stable, adding)).toBe(adding);
    expect(newer(adding, stable)).toBe(adding);
  });

  it('the same map of the same epoch, shards in another order, changes nothing', () => {
    const reordered = { ...adding, shards: [C, A, B] };
    expect(adopt(adding, reordered)).toEqual({ ok: true, map: adding, changed: false });
  });

  it('two different maps of one epoch are a conflict to surface', () => {
    const result = adopt(adding, removing);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('map_conflict');
  });
});

describe('decide', () => {
  const owned = (map: ClusterMap, s: string) => KEYS.find((k) => route(map, k).shard === s)!;
  const keyOfA = owned(stable, 'a');
  const keyOfB = owned(stable, 'b');

  it(`MAX_HOPS is 1: with one map the first node forwards straight to the owner`, () => {
    expect(MAX_HOPS).toBe(1);
  });

  it('a client request at the owner is served; at another node it is forwarded once', () => {
    expect(decide(stable, { shard: 'a', node: 'a-n1' }, keyOfA, FROM_CLIENT)).toEqual({
      action: 'serve',
      fallback: null,
    });
    expect(decide(stable, { shard: 'a', node: 'a-n1' }, keyOfB, FROM_CLIENT)).toEqual({
      action: 'forward',
      to: { shard: 'b', node: B.nodes[0] },
    });
    expect(decide(stable, { shard: 'b', node: 'b-n1' }, keyOfB, forwardedFrom('a-n1', 3))).toEqual({
      action: 'serve',
      fallback: null,
    });
  });

  it('a forwarded request for a key this node does not own is never forwarded again', () => {
    const older = decide(stable, { shard: 'b', node: 'b-n1' }, keyOfA, forwardedFrom('c-n1', 2));
    expect(older).toMatchObject({ action: 'refuse', staleSide: 'sender' });
    expect(older.action === 'refuse' && older.error.code).toBe('stale_map');
    // Even when the hop count was lost on the way, X-TinyCache-Forwarded-By counts as a hop.
    const lost = { ...forwardedFrom('c-n1', 2), hops: 0 };
    expect(decide(stable, { shard: 'b', node: 'b-n1' }, keyOfA, lost).action).toBe('refuse');
  });

  it('a receiver whose map is older than the sender refuses and asks for the map', () => {
    const d = decide(stable, { shard: 'a', node: 'a-n1' }, keyOfA, forwardedFrom('c-n1', 4));
    expect(d).toMatchObject({ action: 'refuse', staleSide: 'receiver' });
  });

  it('equal epochs that disagree on the owner are a conflict; a request sent back is a loop', () => {
    const d = decide(stable, { shard: 'b', node: 'b-n1' }, keyOfA, forwardedFrom('a-n1', 3));
    expect(d).toMatchObject({ action: 'refuse', staleSide: null, error: { code: 'map_conflict' } });
    const loop = decide(stable, { shard: 'b', node: 'b-n1' }, keyOfA, forwardedFrom('b-n1', 3));
    expect(loop).toMatchObject({ action: 'refuse', error: { code: 'forward_loop' } });
  });

  it('during a move: the new owner serves with a fallback, the old owner forwards to it', () => {
    const moving = KEYS.find((k) => route(adding, k).fallback !== null)!;
    const old = route(adding, moving).fallback!;
    expect(decide(adding, { shard: 'c', node: 'c-n1' }, moving, FROM_CLIENT)).toEqual({
      action: 'serve',
      fallback: old,
    });
    const oldNode = { shard: old.shard, node: old.node.id };
    expect(decide(adding, oldNode, moving, FROM_CLIENT)).toEqual({
      action: 'forward',
      to: { shard: 'c', node: C.nodes[0] },
    });
    // A node still on the old map forwards to the old owner, which refuses: sender is stale.
    expect(decide(adding, oldNode, moving, forwardedFrom('x-n1', 3))).toMatchObject({
      action: 'refuse',
      staleSide: 'sender',
    });
  });

  it('a transfer read is served by the old owner from its store, and by no one else', () => {
    const moving = KEYS.find((k) => route(adding, k).fallback !== null)!;
    const old = route(adding, moving).fallback!;
    const transfer: Arrival = { hops: 1, forwardedBy: 'c-n1', senderEpoch: 4, transfer: true };
    expect(decide(adding, { shard: old.shard, node: old.node.id }, moving, transfer)).toEqual({
      action: 'serve',
      fallback: null,
    });
    const other = old.shard === 'a' ? 'b' : 'a';
    expect(decide(adding, { shard: other, node: `${other}-n1` }, moving, transfer).action).toBe(
      'refuse',
    );
  });
});

describe('leaderStep (Level 6: the hop to a shard leader)', () => {
  it('serves on the leader, forwards once to a known leader, waits while none is known', () => {
    expect(leaderStep('n1', 'n1', FROM_CLIENT)).toEqual({ action: 'serve' });
    expect(leaderStep('n1', 'n1', { toLeader: true })).toEqual({ action: 'serve' });
    expect(leaderStep('n2', 'n1', FROM_CLIENT)).toEqual({ action: 'forward', leader: 'n1' });
    // Forwarded from another shard (one cross-shard hop): the to-the-leader hop still allowed.
    expect(leaderStep('n2', 'n1', { toLeader: false })).toEqual({
      action: 'forward',
      leader: 'n1',
    });
    expect(leaderStep('n2', null, FROM_CLIENT)).toEqual({ action: 'wait' });
  });

  it('never forwards a request already sent to the leader: it is refused (no bounce)', () => {
    expect(leaderStep('n2', 'n3', { toLeader: true })).toEqual({ action: 'refuse', leader: 'n3' });
    expect(leaderStep('n2', null, { toLeader: true })).toEqual({ action: 'refuse', leader: null });
  });
});

/**
 * The move protocol end to end, with maps of values for the stores of the old owner (a) and
 * the new one (c): random writes, deletes, reads, evictions and stream steps, entering at
 * random nodes and dispatched by `decide`. A read must return the last value written (or a
 * miss for a key the new owner evicted): never a miss caused by the move, never a value a
 * later write or delete replaced.
 */
describe('resharding protocol', () => {
  type Op =
    | { op: 'put'; key: number; value: number; at: number }
    | { op: 'delete'; key: number; at: number }
    | { op: 'get'; key: number; at: number }
    | { op: 'evict'; key: number; at: number }
    | { op: 'stream'; steps: number };

  const map1: ClusterMap = { epoch: 1, vnodes: 64, shards: [A], moving: null };
  const map2: ClusterMap = {
    epoch: 2,
    vnodes: 64,
    shards: [A, C],
    moving: { fromRing: ['a'], leaving: [] },
  };
  const map3: ClusterMap = { epoch: 3, vnodes: 64, shards: [A, C], moving: null };
  // Keys that move from a to c, and one that stays on a.
  const moving = KEYS.filter((k) => route(map2, k).shard === 'c').slice(0, 5);
  const staying = KEYS.find((k) => route(map2, k).shard === 'a')!;
  const keys = [...moving, staying];
  const nodes = [
    { shard: 'a', node: 'a-n1' },
    { shard: 'c', node: 'c-n1' },
  ];

  const key = fc.integer({ min: 0, max: keys.length - 1 });
  const at = fc.integer({ min: 0, max: 1 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('put' as const), key, value: fc.nat(), at }),
    fc.record({ op: fc.constant('delete' as const), key, at }),
    fc.record({ op: fc.constant('get' as const), key, at }),
    fc.record({ op: fc.constant('evict' as const), key, at }),
    fc.record({ op: fc.constant('stream' as const), steps: fc.integer({ min: 1, max: 3 }) }),
  );

  it('no read misses because of a move; no write lost or resurrected', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 15 }),
        fc.array(opArb, { maxLength: 40 }),
        fc.array(opArb, { maxLength: 15 }),
        (before, during, after) => {
          const stores = new Map<string, Map<string, number>>([
            ['a', new Map()],
            ['c', new Map()],
          ]);
          const model = new Map<string, number>();
          /** Keys the new owner may have lost to eviction since their last write. */
          const evicted = new Set<string>();
          let map = map1;
          let handoff: Handoff | null = null;
          let streamed = 0;
          const streamOrder: string[] = [];

          const serve = (shard: string, op: Op & { key: number; at: number }): void => {
            const k = keys[op.key]!;
            const store = stores.get(shard)!;
            const d = decide(
              map,
              nodes.find((n) => n.shard === shard)!,
              k,
              FROM_CLIENT,
            );
            expect(d.action).toBe('serve');
            const fallback = d.action === 'serve' ? d.fallback : null;
            if (op.op === 'put' || op.op === 'delete') {
              if (fallback) handoff!.settle(k);
              if (op.op === 'put') store.set(k, op.value);
              else store.delete(k);
              if (op.op === 'put') model.set(k, op.value);
              else model.delete(k);
              evicted.delete(k);
              return;
            }
            let value = store.get(k);
            if (value === undefined && fallback && handoff!.readsThrough(k)) {
              // A transfer read at the old owner, which serves it from its own store.
              const transfer: Arrival = {
                hops: 1,
                forwardedBy: 'c-n1',
                senderEpoch: map.epoch,
                transfer: true,
              };
              expect(decide(map, nodes[0]!, k, transfer).action).toBe('serve');
              const copied = stores.get(fallback.shard)!.get(k);
              if (copied !== undefined && handoff!.acceptCopy(k)) store.set(k, copied);
              value = copied;
            }
            if (evicted.has(k)) expect([undefined, model.get(k)]).toContain(value);
            else expect(value).toBe(model.get(k));
          };

          const run = (op: Op): void => {
            if (op.op === 'evict') {
              // Either store may evict any key it holds, the old owner's copy included.
              const k = keys[op.key]!;
              if (stores.get(nodes[op.at]!.shard)!.delete(k)) evicted.add(k);
              return;
            }
            if (op.op === 'stream') {
              if (!handoff) return;
              for (let s = 0; s < op.steps && streamed < streamOrder.length; s++, streamed++) {
                const k = streamOrder[streamed]!;
                const v = stores.get('a')!.get(k);
                if (v !== undefined && handoff.acceptCopy(k)) stores.get('c')!.set(k, v);
              }
              return;
            }
            const entry = nodes[op.at]!;
            const d = decide(map, entry, keys[op.key]!, FROM_CLIENT);
            if (d.action === 'serve') serve(entry.shard, op);
            else if (d.action === 'forward') serve(d.to.shard, op);
            else throw new Error(`refused: ${d.error.message}`);
          };

          for (const op of before) run(op);
          // Epoch 2: the old owner adopts the map before the stream starts (rule 1).
          map = map2;
          handoff = new Handoff();
          streamOrder.push(...[...stores.get('a')!.keys()].filter((k) => moving.includes(k)));
          for (const op of during) run(op);
          run({ op: 'stream', steps: streamOrder.length });
          // Epoch 3: the stream is complete; the new owner forgets its ledger.
          map = map3;
          handoff = null;
          for (const op of after) run(op);
          for (let i = 0; i < keys.length; i++) run({ op: 'get', key: i, at: i % 2 });
        },
      ),
      { numRuns: 300 },
    );
  });
});
