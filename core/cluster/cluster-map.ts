/**
 * The cluster map: which shards exist, which nodes serve each, and how keys map to shards.
 * Plain data, so it travels as JSON between the control plane and the nodes; the functions
 * here are pure, so a node, the simulator and the dashboard route the same way.
 *
 * Epochs. Every change of the map gets a larger `epoch`. A node adopts a map with a larger
 * epoch than its own and ignores an older one; two different maps with the same epoch mean
 * the control plane is broken, and `adopt` says so rather than picking one (`map_conflict`).
 *
 * Routing. The ring of `shards` (ring.ts; `vnodes` per shard, xxh32) names each key's shard.
 * Level 5: a shard's first node is the one that serves its keys. Level 6 (replicated shards):
 * any node of the shard takes its keys and sends what needs the leader on to it, once
 * (`leaderStep` at the end of this file has the whole hop rule).
 * Any node accepts any key and forwards it, at most MAX_HOPS times: with one map the first
 * node forwards straight to the owner, so one hop is enough. A node that gets a forwarded
 * request for a key it does not own under its own map never forwards it again; it answers
 * `stale_map` (HTTP 421 Misdirected Request, with its epoch), and whichever side has the
 * older map fetches the newer one and the sender retries. Every forwarded request carries
 * the sender's epoch, so a receiver never acts on a map older than one its peer has seen.
 *
 * Resharding. Adding or removing shards is two map changes:
 *
 *   e+1  `shards` is the new ring; `moving.fromRing` lists the shard ids of the old one and
 *        `moving.leaving` the shards that are on the old ring only (a removal), so they stay
 *        reachable. A key whose owner differs between the two rings is *in transit* from
 *        its old owner O to its new owner N: every request for it goes to N, never to O.
 *   e+2  once O has streamed every moved range (ring.movedRanges) to N: `moving` is null and
 *        the leaving shards are gone.
 *
 * The invariant: no read misses because of a move, and no write is lost or resurrected.
 * It holds because of these rules, checked by the protocol test in cluster-map.test.ts:
 *
 *   1. O adopts e+1 before it streams anything. From then on O refuses requests for keys it
 *      no longer owns (`stale_map`), except transfer reads (rule 4); so every write O took
 *      for a moved key happened before the copy began, and the copy carries it.
 *   2. N takes every write and delete for a key in transit, and marks the key settled
 *      (Handoff in handoff.ts). A delete of a key N does not hold is remembered as settled
 *      with nothing stored: a tombstone for the length of the move.
 *   3. A copied entry from O is applied only if the key is not settled at N, and then
 *      settles it: a write or delete during the move wins over the copied value, and a key
 *      is copied at most once.
 *   4. A read at N of a key in transit that N does not hold and has not settled reads
 *      through from O (a transfer read, which O serves from its own store without
 *      routing), and N applies the answer as a copy (rule 3). So a key not yet streamed is
 *      still found, and a key N settled is never read from O again: an evicted or deleted
 *      key cannot come back from O's older copy.
 *   5. The map moves on to e+2 only when the stream is complete; then N forgets the settled
 *      set and O may drop the moved keys.
 */
import { z } from 'zod';
import { cacheError, ok, type Result } from '../errors.ts';
import { DEFAULT_VNODES, MAX_TOTAL_VNODES, MAX_VNODES, Ring } from '../ring/index.ts';

/** Hops a request may take between nodes. One suffices when sender and owner agree. */
export const MAX_HOPS = 1;

export interface ClusterNode {
  readonly id: string;
  /** Base URL of the node's REST API, e.g. `http://127.0.0.1:7001`. */
  readonly url: string;
}

export interface ClusterShard {
  readonly id: string;
  /** The nodes of the shard; the first one serves its keys (until Level 6 elects leaders). */
  readonly nodes: readonly ClusterNode[];
}

/** While keys move from the ring of `fromRing` to the ring of the map's `shards`. */
export interface Moving {
  /** Shard ids of the ring before the move. */
  readonly fromRing: readonly string[];
  /** Shards of `fromRing` that are not in `shards` (being removed), with their nodes. */
  readonly leaving: readonly ClusterShard[];
}

export interface ClusterMap {
  /** Grows with every change; the larger epoch wins. */
  readonly epoch: number;
  /** Vnodes per shard on the ring. */
  readonly vnodes: number;
  /** The shards on the ring, each with its nodes. */
  readonly shards: readonly ClusterShard[];
  readonly moving: Moving | null;
}

/** Where a key goes: its shard and the node that serves it. */
export interface Target {
  readonly shard: string;
  readonly node: ClusterNode;
}

export interface Route extends Target {
  /** For a key in transit: its old owner, to read through from for a key not yet moved. */
  readonly fallback: Target | null;
}

/** A one-shard map, as a lone node starts with. */
export function singleShardMap(shard: ClusterShard, vnodes = DEFAULT_VNODES): ClusterMap {
  return { epoch: 1, vnodes, shards: [shard], moving: null };
}

// ---------------------------------------------------------------------------------------
// Validation of a map received from the network.

const nodeSchema = z.object({
  id: z.string().min(1).max(200),
  // z.httpUrl() wants a domain name; nodes are mostly addressed by IP (127.0.0.1).
  url: z.url({ protocol: /^https?$/ }),
});
const shardSchema = z.object({
  id: z.string().min(1).max(200),
  nodes: z.array(nodeSchema).min(1),
});
export const clusterMapSchema = z.object({
  epoch: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  vnodes: z.number().int().min(1).max(MAX_VNODES),
  shards: z.array(shardSchema).min(1),
  moving: z
    .object({
      fromRing: z.array(z.string().min(1).max(200)).min(1),
      leaving: z.array(shardSchema),
    })
    .nullable(),
});

/**
 * Checks a map received from the network: its shape, then what a schema cannot say (ids
 * unique, the rings buildable, `moving` consistent). The answer is a fresh plain object.
 */
export function parseClusterMap(input: unknown): Result<ClusterMap> {
  const parsed = clusterMapSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.length > 0 ? issue.path.join('.') : 'the map';
    return bad(`Cluster map: ${at}: ${issue.message}.`);
  }
  const map: ClusterMap = parsed.data;
  const shardIds = map.shards.map((s) => s.id);
  const leavingIds = map.moving?.leaving.map((s) => s.id) ?? [];
  const allShards = [...map.shards, ...(map.moving?.leaving ?? [])];
  const dup = duplicate([...shardIds, ...leavingIds]);
  if (dup !== null) return bad(`Cluster map: shard ${dup} is listed twice.`);
  const nodes = allShards.flatMap((s) => s.nodes);
  const dupNode = duplicate(nodes.map((n) => n.id));
  if (dupNode !== null) return bad(`Cluster map: node ${dupNode} is listed twice.`);
  const dupUrl = duplicate(nodes.map((n) => n.url));
  if (dupUrl !== null) return bad(`Cluster map: two nodes have the URL ${dupUrl}.`);
  for (const ids of [shardIds, map.moving?.fromRing ?? []]) {
    if (ids.length * map.vnodes > MAX_TOTAL_VNODES) {
      return bad(`Cluster map: ${ids.length} shards x ${map.vnodes} vnodes is too many.`);
    }
  }
  if (map.moving) {
    const from = map.moving.fromRing;
    const dupFrom = duplicate(from);
    if (dupFrom !== null) return bad(`Cluster map: moving.fromRing lists ${dupFrom} twice.`);
    for (const id of from) {
      if (!shardIds.includes(id) && !leavingIds.includes(id)) {
        return bad(`Cluster map: moving.fromRing names ${id}, which has no nodes in the map.`);
      }
    }
    for (const id of leavingIds) {
      if (!from.includes(id)) {
        return bad(`Cluster map: leaving shard ${id} is not on moving.fromRing.`);
      }
    }
  }
  return ok(map);
}

function bad(message: string): Result<ClusterMap> {
  return { ok: false, error: cacheError('bad_request', message) };
}

function duplicate(values: readonly string[]): string | null {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) return v;
    seen.add(v);
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Rings and routes.

/** One ring per map object: a map is immutable, and building a ring takes milliseconds. */
interface Derived {
  readonly ring: Ring;
  readonly previous: Ring | null;
  /** Each shard's target (its first node), on either ring: a route allocates nothing. */
  readonly targets: ReadonlyMap<string, Target>;
}

const rings = new WeakMap<ClusterMap, Derived>();

function ringsOf(map: ClusterMap): Derived {
  let cached = rings.get(map);
  if (cached === undefined) {
    const options = { vnodes: map.vnodes };
    const targets = new Map<string, Target>();
    for (const shard of [...map.shards, ...(map.moving?.leaving ?? [])]) {
      // parseClusterMap guarantees every shard has nodes.
      if (shard.nodes[0] !== undefined)
        targets.set(shard.id, { shard: shard.id, node: shard.nodes[0] });
    }
    cached = {
      ring: new Ring(
        map.shards.map((s) => s.id),
        options,
      ),
      previous: map.moving ? new Ring(map.moving.fromRing, options) : null,
      targets,
    };
    rings.set(map, cached);
  }
  return cached;
}

/** The ring of the map's shards (cached per map object). */
export function ringOf(map: ClusterMap): Ring {
  return ringsOf(map).ring;
}

/** The ring before the move in progress, or null when no keys are moving. */
export function previousRingOf(map: ClusterMap): Ring | null {
  return ringsOf(map).previous;
}

function target(map: ClusterMap, shard: string): Target {
  const found = ringsOf(map).targets.get(shard);
  if (found === undefined) throw new Error(`cluster map has no nodes for shard ${shard}`);
  return found;
}

/** The shard and node that serve `key`, and, for a key in transit, its old owner. */
export function route(map: ClusterMap, key: string): Route {
  const { ring, previous } = ringsOf(map);
  const h = ring.position(key);
  const owner = ring.ownerAt(h);
  const old = previous?.ownerAt(h) ?? owner;
  return { ...target(map, owner), fallback: old === owner ? null : target(map, old) };
}

/** The shards being added and removed by the move in progress (empty lists when none). */
export function movingShards(map: ClusterMap): { added: string[]; removed: string[] } {
  if (!map.moving) return { added: [], removed: [] };
  const from = map.moving.fromRing;
  const to = map.shards.map((s) => s.id);
  return {
    added: to.filter((id) => !from.includes(id)),
    removed: from.filter((id) => !to.includes(id)),
  };
}

// ---------------------------------------------------------------------------------------
// Epochs.

/** The newer of two maps; `a` when their epochs are equal. */
export function newer(a: ClusterMap, b: ClusterMap): ClusterMap {
  return b.epoch > a.epoch ? b : a;
}

/** Same content: the same epoch, vnodes, shards (in any order) and move. */
export function sameMap(a: ClusterMap, b: ClusterMap): boolean {
  return canonical(a) === canonical(b);
}

function canonical(map: ClusterMap): string {
  const byId = (x: ClusterShard, y: ClusterShard) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
  const shards = (list: readonly ClusterShard[]) =>
    [...list].sort(byId).map((s) => ({ id: s.id, nodes: s.nodes.map((n) => [n.id, n.url]) }));
  return JSON.stringify([
    map.epoch,
    map.vnodes,
    shards(map.shards),
    map.moving && [[...map.moving.fromRing].sort(), shards(map.moving.leaving)],
  ]);
}

/**
 * What a node does with a map it is sent: adopt a newer one, keep its own when the other is
 * older or the same, and refuse two different maps of one epoch (`map_conflict`: a bug in
 * whoever made them, which no node can settle by choosing one).
 */
export function adopt(
  current: ClusterMap | null,
  received: ClusterMap,
): { ok: true; map: ClusterMap; changed: boolean } | { ok: false; error: ClusterError } {
  if (current === null || received.epoch > current.epoch) {
    return { ok: true, map: received, changed: true };
  }
  if (received.epoch === current.epoch && !sameMap(current, received)) {
    return {
      ok: false,
      error: {
        code: 'map_conflict',
        message: `Two different cluster maps have epoch ${current.epoch}; the control plane must publish a new epoch.`,
      },
    };
  }
  return { ok: true, map: current, changed: false };
}

// ---------------------------------------------------------------------------------------
// The forwarding decision.

/**
 * Errors of the cluster layer. Proposed for core/errors.ts's ErrorCode: `stale_map` (HTTP
 * 421 Misdirected Request, answered with the responder's epoch, so the sender knows whose
 * map to replace), `map_conflict` and `forward_loop` (500: bugs to surface, not to retry).
 */
export interface ClusterError {
  readonly code: 'stale_map' | 'map_conflict' | 'forward_loop';
  readonly message: string;
}

/** What a node knows about a key request when it arrives. */
export interface Arrival {
  /** Times the request was forwarded already (0 from a client). */
  readonly hops: number;
  /** The node that forwarded it (X-TinyCache-Forwarded-By), or null from a client. */
  readonly forwardedBy: string | null;
  /** The forwarding node's map epoch, or null from a client. */
  readonly senderEpoch: number | null;
  /** A new owner's read-through of a key in transit: answered from the local store. */
  readonly transfer: boolean;
  /**
   * Level 6: a replica of the key's shard sent it on to the node it knows as the shard's
   * leader (X-TinyCache-To-Leader). Such a request is served by its receiver or refused,
   * never forwarded again (`leaderStep`).
   */
  readonly toLeader?: boolean;
}

export type Decision =
  /** Serve locally; for a key in transit, read through from `fallback` for a key not held. */
  | { readonly action: 'serve'; readonly fallback: Target | null }
  /** Forward to the owner, with hops + 1, this node's id and epoch. */
  | { readonly action: 'forward'; readonly to: Target }
  /**
   * Refuse. `staleSide` says whose map is older: the sender's (it should fetch this node's
   * map and retry), this node's (the sender should send it its map and retry), or neither
   * (`map_conflict`, `forward_loop`).
   */
  | {
      readonly action: 'refuse';
      readonly staleSide: 'sender' | 'receiver' | null;
      readonly error: ClusterError;
    };

/** A request from a client: no hops, no sender. */
export const FROM_CLIENT: Arrival = {
  hops: 0,
  forwardedBy: null,
  senderEpoch: null,
  transfer: false,
};

/** What node `me` (of shard `myShard`, holding `map`) does with a request for `key`. */
export function decide(
  map: ClusterMap,
  me: { readonly shard: string; readonly node: string },
  key: string,
  arrival: Arrival,
): Decision {
  const forwarded = arrival.hops > 0 || arrival.forwardedBy !== null;
  if (arrival.forwardedBy === me.node) {
    return refuse(null, {
      code: 'forward_loop',
      message: `The request for ${key} was forwarded back to ${me.node}, which sent it.`,
    });
  }
  if (forwarded && arrival.senderEpoch !== null && arrival.senderEpoch > map.epoch) {
    return refuse('receiver', {
      code: 'stale_map',
      message: `Node ${me.node} has cluster map epoch ${map.epoch}, older than the sender's ${arrival.senderEpoch}.`,
    });
  }
  const r = route(map, key);
  if (arrival.transfer) {
    // Only the old owner of a key in transit answers a transfer read, from its own store.
    if (r.fallback?.shard === me.shard) return { action: 'serve', fallback: null };
    return refuseStale(
      map,
      arrival,
      `Node ${me.node} is not the old owner of ${key} under cluster map epoch ${map.epoch}.`,
    );
  }
  if (r.shard === me.shard) return { action: 'serve', fallback: r.fallback };
  // A forwarded request counts at least one hop even if the hop count was lost on the way.
  const hops = Math.max(arrival.hops, forwarded ? 1 : 0);
  if (hops < MAX_HOPS) return { action: 'forward', to: { shard: r.shard, node: r.node } };
  // The sender's map named this node, this node's map names another: never forward again.
  return refuseStale(
    map,
    arrival,
    `Node ${me.node} (shard ${me.shard}) does not own ${key} under cluster map epoch ${map.epoch}; shard ${r.shard} does.`,
  );
}

function staleSide(map: ClusterMap, arrival: Arrival): 'sender' | 'receiver' | null {
  if (arrival.senderEpoch === null || arrival.senderEpoch < map.epoch) return 'sender';
  if (arrival.senderEpoch > map.epoch) return 'receiver';
  return null; // the same epoch routed differently: the maps conflict
}

function refuse(side: 'sender' | 'receiver' | null, error: ClusterError): Decision {
  return { action: 'refuse', staleSide: side, error };
}

/** This node's map and the sender's disagree on `key`: tell whose map to replace. */
function refuseStale(map: ClusterMap, arrival: Arrival, message: string): Decision {
  const side = staleSide(map, arrival);
  if (side !== null) return refuse(side, { code: 'stale_map', message });
  return refuse(null, {
    code: 'map_conflict',
    message: `${message} Both maps have epoch ${map.epoch}: they conflict.`,
  });
}

// ---------------------------------------------------------------------------------------
// Level 6: the hop to a shard's leader.

/**
 * Hop rule with replicated shards (Level 6). A key request takes at most two hops between
 * nodes, each of one kind:
 *
 *   client → any node ─(1 cross-shard hop, `decide`)→ a node of the owning shard
 *                     ─(1 to-the-leader hop, `leaderStep`)→ that shard's leader
 *
 * The cross-shard hop goes to a node of the key's shard (its first node in the map), which
 * may be a follower; a follower sends a request that needs the leader (a write, a
 * linearizable read) on to the leader it knows, marked `toLeader`. A node that gets a
 * `toLeader` request serves it if it leads the shard and otherwise refuses it (503, the client
 * retries): it never forwards it again, so a request never bounces between replicas that
 * disagree about who leads (during an election each may name another). A node of the shard
 * that gets the request from the client directly (or from a node of another shard) forwards
 * to the leader at once, or waits briefly while no leader is known.
 */
export type LeaderStep =
  /** This node leads the shard: serve it here. */
  | { readonly action: 'serve' }
  /** Send it to `leader` (once, marked toLeader). */
  | { readonly action: 'forward'; readonly leader: string }
  /** No leader is known yet: wait a little and ask again. */
  | { readonly action: 'wait' }
  /** A request already sent to this node as the leader, which it no longer is: refuse. */
  | { readonly action: 'refuse'; readonly leader: string | null };

/** What a replica `me` does with a request that needs its shard's leader (`LeaderStep`). */
export function leaderStep(
  me: string,
  leader: string | null,
  arrival: Pick<Arrival, 'toLeader'>,
): LeaderStep {
  if (leader === me) return { action: 'serve' };
  if (arrival.toLeader === true) return { action: 'refuse', leader };
  if (leader === null) return { action: 'wait' };
  return { action: 'forward', leader };
}
