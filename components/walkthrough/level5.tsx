/**
 * Level 5, sharding: one node becomes a cluster of shards on a consistent-hash ring; any node
 * answers any key by forwarding it to its owner; a shard is added and removed under load
 * while its keys stream over. Every check reads the cluster's own answers and live samples.
 */
import { ringOf, route } from '../../core/cluster/index.ts';
import type { ClusterState } from '../../server/control/cluster.ts';
import type { LoadSettings } from '../../server/load/settings.ts';
import { formatCount, formatPercent } from '../format.ts';
import { RingPicture } from '../ring/RingPicture.tsx';
import { exchangesFor, header, isSuccess, keyOf, restSeen, samplesSeen } from './facts.ts';
import type {
  ActionContext,
  CheckView,
  LevelWalkthrough,
  Observation,
  ShardSeen,
  StepCheck,
} from './model.ts';

/**
 * Reads mostly, over more keys than a moment's writes: the hit rate shows if keys go missing.
 * A modest rate: on a small machine a node starting up must not starve the others.
 */
const SHARD_LOAD: Partial<LoadSettings> = {
  // The cluster's nodes only: a lone node left from another level is not part of this step.
  scope: 'cluster',
  mode: 'open',
  rate: 1000,
  readRatio: 0.9,
  keys: 10_000,
  distribution: 'zipf',
  valueBytes: 256,
  compressible: false,
};

const userKey = (view: Pick<CheckView, 'session'>, i: number) => keyOf(view, `user-${i}`);

function shardEvents(journal: readonly Observation[], step?: number): ShardSeen[] {
  return journal.filter(
    (o): o is ShardSeen => o.kind === 'shard' && (step === undefined || o.step === step),
  );
}

/** The move a shard change started, once it is over: the cluster's last move names it. */
function finishedMove(view: CheckView, seen: ShardSeen | undefined) {
  const move = view.cluster?.lastMove ?? null;
  if (seen === undefined || move === null || view.cluster?.resharding != null) return null;
  const named = seen.change === 'added' ? move.toShard : move.fromShard;
  return named === seen.shard ? move : null;
}

function movedLine(cluster: ClusterState, shards: number, verb: string): string {
  const move = cluster.lastMove!;
  return `${move.toShard ?? move.fromShard} ${verb}: ${formatPercent(move.movedShare)} of the key space changed owner (ideal 1/${shards} = ${formatPercent(1 / shards)}); ${formatCount(move.movedKeys)} keys moved in ${move.seconds.toFixed(1)} s.`;
}

export function checkCluster(view: CheckView): StepCheck {
  const added = shardEvents(view.journal, 1).at(-1);
  const move = finishedMove(view, added);
  const cluster = view.cluster;
  if (move === null || cluster === null || cluster.shards.length < 2) {
    return {
      done: false,
      detail:
        added === undefined
          ? 'Not yet: make the cluster.'
          : 'Keys are moving to the new shard; the ring shows which arcs it took.',
    };
  }
  if (move.error !== null) return { done: false, detail: `The move failed: ${move.error}` };
  const owners = cluster.shards.map((s) => `${s.nodes.join('+')} is shard ${s.id}`).join(', ');
  return {
    done: true,
    detail: `${owners}. ${movedLine(cluster, cluster.shards.length, 'joined')}`,
  };
}

export function checkForwarded(view: CheckView): StepCheck {
  const map = view.cluster?.map ?? null;
  const forwarded = restSeen(
    view.journal,
    (o) => o.step === 2 && header(o.exchange, 'x-tinycache-forwarded-by') !== undefined,
  ).at(-1);
  if (forwarded === undefined || map === null) {
    return { done: false, detail: 'Not yet: send a key to a node that does not own it.' };
  }
  const by = header(forwarded.exchange, 'x-tinycache-forwarded-by');
  const shard = header(forwarded.exchange, 'x-tinycache-shard');
  const readBack = exchangesFor(view.journal, forwarded.request.key, 'GET').find(
    (o) => o.step === 2 && o.sentAt > forwarded.sentAt && isSuccess(o.exchange),
  );
  if (readBack === undefined) {
    return { done: false, detail: 'Not yet: read the key back through another node.' };
  }
  return {
    done: true,
    detail: `${by} does not own ${forwarded.request.key}: it forwarded the ${forwarded.request.method} to shard ${shard}, and ${readBack.request.nodeId} answered the read the same way. The client never needed to know.`,
  };
}

/** A shard change of `step` under load: over, with no failed request in the meantime. */
function checkMoveUnderLoad(view: CheckView, step: number, verb: string): StepCheck {
  const seen = shardEvents(view.journal, step).at(-1);
  const move = finishedMove(view, seen);
  if (seen === undefined) return { done: false, detail: 'Not yet: press the button.' };
  if (move === null || view.cluster === null) {
    return { done: false, detail: 'Keys are moving; the keys chart and the ring show them go.' };
  }
  if (move.error !== null) return { done: false, detail: `The move failed: ${move.error}` };
  const during = samplesSeen(view, seen.at - 1000).filter(
    (s) => s.t <= seen.at + move.seconds * 1000 + 1500,
  );
  const failed = during.reduce((sum, s) => sum + (s.load?.errors ?? 0), 0);
  const kinds = [...new Set(during.map((s) => s.load?.topError).filter((k) => k != null))];
  const hitRates = during
    .map((s) => s.load?.hitRate)
    .filter((h): h is number => typeof h === 'number');
  const lowest = hitRates.length > 0 ? Math.min(...hitRates) : null;
  const shards = view.cluster.shards.length + (seen.change === 'removed' ? 1 : 0);
  const lines = [
    movedLine(view.cluster, shards, verb),
    `Requests that failed meanwhile: ${formatCount(failed)}${kinds.length > 0 ? ` (${kinds.join(', ')})` : ''}${lowest === null ? '' : `; the load's lowest hit rate: ${formatPercent(lowest)}`}.`,
  ];
  if (failed > 0) {
    return { done: false, detail: 'Some requests failed during the move; see the log.', lines };
  }
  return {
    done: true,
    detail: `Shard ${seen.shard} ${verb} under load without a failed request.`,
    lines,
  };
}

export const checkAdded = (view: CheckView) => checkMoveUnderLoad(view, 3, 'joined');
export const checkRemoved = (view: CheckView) => checkMoveUnderLoad(view, 4, 'left');

/** The ring as the cluster has it, the moved arcs of the last move highlighted. */
function Ring({ view }: { view: CheckView }) {
  const cluster = view.cluster;
  if (cluster?.map == null) return null;
  const previous = cluster.lastMove === null ? null : ringOf(cluster.lastMove.before);
  return (
    <RingPicture
      ring={ringOf(cluster.map)}
      previous={previous}
      size={220}
      resharding={cluster.resharding}
    />
  );
}

async function sendToTheWrongNode(ctx: ActionContext): Promise<void> {
  const state = ctx.view();
  const map = state.cluster?.map;
  if (map == null) throw new Error('Make the cluster first (step 1).');
  const members = new Set(map.shards.flatMap((s) => s.nodes.map((n) => n.id)));
  const up = (await ctx.upNodes()).filter((n) => members.has(n.id));
  const [first, second] = up;
  if (first === undefined || second === undefined)
    throw new Error('The cluster needs two nodes up.');
  // A key the first node does not own: it must forward it.
  let i = 0;
  while (route(map, userKey(ctx, i)).node.id === first.id) i++;
  const key = userKey(ctx, i);
  await ctx.rest({
    nodeId: first.id,
    method: 'PUT',
    key,
    value: JSON.stringify({ id: i, name: 'Ada' }),
    contentType: 'application/json',
  });
  await ctx.rest({ nodeId: second.id, method: 'GET', key });
}

export const LEVEL_5: LevelWalkthrough = {
  n: 5,
  steps: [
    {
      title: 'Make a cluster of two shards',
      explain: (
        <>
          <p>
            The button makes the first node shard <code>s1</code> of a cluster and starts a new node
            as shard <code>s2</code>. Each shard puts 256 points (virtual nodes) on a ring of 2
            <sup>32</sup> positions; a key belongs to the shard of the first point at or before its
            hash. About half the ring goes to <code>s2</code>, and the keys on it stream over.
          </p>
          <p>
            <strong>Why it matters:</strong> one machine runs out of memory or cores. With
            consistent hashing, adding a shard moves only the keys on the arcs it takes, not every
            key, as <code>hash(key) % N</code> would.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Make a cluster of two shards',
          run: async (ctx) => {
            await ctx.addShard();
            await ctx.moveOver();
          },
        },
      ],
      check: checkCluster,
      charts: [{ chart: 'keys', windowSeconds: 60, caption: 'Keys each node holds.' }],
      aside: (view) => <Ring view={view} />,
    },
    {
      title: 'Send a key to the wrong node',
      explain: (
        <>
          <p>
            The button writes a key through a node that does not own it, then reads it through
            another. The node forwards it to the owner over a pooled connection, and the answer says
            who served it (<code>X-TinyCache-Shard</code>) and who forwarded it (
            <code>X-TinyCache-Forwarded-By</code>).
          </p>
          <p>
            <strong>Why it matters:</strong> clients need not know the cluster. A smart client can
            read the map (<code>GET /v1/cluster</code>) and skip the hop; the benchmark measures
            what the hop costs.
          </p>
        </>
      ),
      actions: [
        { label: 'Write through the wrong node, read through another', run: sendToTheWrongNode },
      ],
      check: checkForwarded,
      charts: [{ chart: 'throughput', windowSeconds: 60 }],
      aside: (view) => <Ring view={view} />,
    },
    {
      title: 'Add a shard under load',
      explain: (
        <>
          <p>
            The button starts a read-mostly load, waits a few seconds, then adds a third shard. The
            new node pulls the keys of the arcs it takes from their old owners, in throttled pages.
            Meanwhile a read of a key not yet copied is answered from the old owner, and a write to
            the new owner wins over the copy that comes later.
          </p>
          <p>
            <strong>Why it matters:</strong> scaling out must not look like an outage. No read
            should miss because of the move, and no write may be lost or come back.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Start load, then add a shard',
          run: async (ctx) => {
            await ctx.startLoad(SHARD_LOAD);
            await ctx.sleep(4000);
            await ctx.addShard();
            await ctx.moveOver();
          },
        },
      ],
      check: checkAdded,
      charts: [
        { chart: 'keys', windowSeconds: 60, caption: 'The new shard fills; the others give.' },
        { chart: 'hitRate', windowSeconds: 60 },
      ],
      aside: (view) => <Ring view={view} />,
    },
    {
      title: 'Remove a shard under load',
      explain: (
        <>
          <p>
            The button removes shard <code>s2</code>. Its arcs go to the shards next to them on the
            ring, which pull its keys; then its node is retired. The load keeps running.
          </p>
          <p>
            <strong>Why it matters:</strong> scaling in, or replacing a machine, is the same move
            backwards: only the keys of the shard that leaves move.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Remove shard s2, then stop the load',
          run: async (ctx) => {
            const shards = ctx.view().cluster?.shards.map((s) => s.id) ?? [];
            const first = shardEvents(ctx.view().journal, 1).at(-1)?.shard;
            const shard = first !== undefined && shards.includes(first) ? first : shards[1];
            if (shard === undefined) throw new Error('The cluster has one shard; add one first.');
            await ctx.removeShard(shard);
            await ctx.moveOver();
            await ctx.sleep(2000);
            await ctx.stopLoad();
          },
        },
      ],
      check: checkRemoved,
      charts: [{ chart: 'keys', windowSeconds: 60, caption: 'The removed shard drains.' }],
      aside: (view) => <Ring view={view} />,
      undo: <p>The cluster stays; the dashboard&apos;s cluster panel adds and removes shards.</p>,
    },
  ],
};
