'use client';
/**
 * The cluster (Level 5): the consistent-hash ring, its shards and their nodes, the buttons that
 * add and remove a shard, the move under way (keys streaming to their new owner) and how the
 * last one went. Before there is a cluster, the nodes are lone caches and one button makes one.
 * Level 6: "Make a replicated cluster" forms 2 shards × 3 replicas, drawn as Raft groups
 * (ReplicatedCluster); "Dissolve cluster" retires a cluster's nodes for a fresh start. The
 * header always shows the load's count of acknowledged writes lost.
 */
import { useMemo, useState } from 'react';
import { previousRingOf, ringOf } from '../../core/cluster/index.ts';
import { Ring } from '../../core/ring/index.ts';
import type { ClusterState, FinishedMove, Resharding } from '../../server/control/cluster.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import { formatBytes, formatCount, formatDuration, formatPercent } from '../format.ts';
import { useLive } from '../live-store.ts';
import { shardColor } from '../palette.ts';
import { moveOf } from '../ring/geometry.ts';
import { RingPicture } from '../ring/RingPicture.tsx';
import { trpc } from '../trpc.ts';
import styles from './dashboard.module.css';
import { NumberField } from './fields.tsx';
import { ReplicatedCluster } from './ReplicatedCluster.tsx';
import { useAction } from './use-action.ts';
import { loadVerification, lostWritesOf } from '../cluster/timeline.ts';

/** What "Make a replicated cluster" forms. */
const REPLICATED_SHAPE = { shards: 2, replicas: 3 } as const;

/**
 * The control plane's pace until it is changed here (ClusterManager's default): the cluster's
 * state says the pace only while a move runs.
 */
const MAX_KEYS_PER_SECOND = 10_000_000;

export function ClusterPanel() {
  const cluster = useLive((s) => s.cluster);
  const nodes = useLive((s) => s.nodes);
  const add = useAction(() => trpc.cluster.addShard.mutate({}));
  const remove = useAction((shard: string) => trpc.cluster.removeShard.mutate({ shard }));
  const replicate = useAction(() => trpc.cluster.formReplicated.mutate(REPLICATED_SHAPE));
  const dissolve = useAction(() => trpc.cluster.dissolve.mutate({}));
  const [killing, setKilling] = useState<string | null>(null);
  const killLeader = useAction(async (shard: string) => {
    setKilling(shard);
    try {
      await trpc.cluster.killLeader.mutate({ shard });
    } finally {
      setKilling(null);
    }
  });
  const [changing, setChanging] = useState<string | null>(null);
  const changeMembers = useAction(async (what: string, change: () => Promise<unknown>) => {
    setChanging(what);
    try {
      await change();
    } finally {
      setChanging(null);
    }
  });
  const formed = cluster !== null && cluster.epoch > 0 && cluster.map !== null;
  const replicated = formed && cluster.replicated === true;
  const moving = cluster?.resharding ?? null;
  const busy =
    add.pending ||
    remove.pending ||
    replicate.pending ||
    dissolve.pending ||
    changeMembers.pending ||
    moving !== null;
  const actions = [add, remove, replicate, dissolve, killLeader, changeMembers];
  const error = actions.find((a) => a.error !== null)?.error ?? null;
  const clearErrors = () => actions.forEach((a) => a.clearError());

  return (
    <section className={styles.panel} aria-labelledby="cluster-title" data-testid="cluster">
      <div className={styles.panelHead}>
        <h2 id="cluster-title" className={styles.panelTitle}>
          Cluster
        </h2>
        <span className={styles.panelHint}>
          {replicated
            ? 'Replicated shards (Level 6)'
            : formed
              ? 'A consistent-hash ring spreads the keys over shards; a new one takes about 1/N of them.'
              : 'Sharding (Level 5): keys spread over nodes by a consistent-hash ring.'}
        </span>
        {formed && (
          <span className={styles.epochBadge} title="The cluster map's version" data-testid="epoch">
            epoch {cluster.epoch}
          </span>
        )}
        <LostWrites />
        <span className={styles.headActions}>
          {formed && (
            <button
              type="button"
              className={styles.buttonDanger}
              disabled={busy}
              aria-busy={dissolve.pending}
              title={
                moving !== null
                  ? 'Wait until the keys of the move under way have moved'
                  : "Retires every node of the cluster (a replica's data with it) and drops the map; a new lone node starts if none is left"
              }
              onClick={() => {
                clearErrors();
                void dissolve.run();
              }}
            >
              {dissolve.pending ? 'Dissolving…' : 'Dissolve cluster'}
            </button>
          )}
          <button
            type="button"
            className={styles.buttonPrimary}
            disabled={busy || cluster === null || replicated}
            aria-busy={add.pending}
            title={
              replicated
                ? 'Shards of a replicated cluster cannot be added yet: moving keys between Raft groups is not supported'
                : moving !== null
                  ? 'Wait until the keys of the move under way have moved'
                  : 'Starts a node and gives it a share of the ring'
            }
            onClick={() => {
              clearErrors();
              void add.run();
            }}
          >
            Add shard
          </button>
        </span>
      </div>
      {error !== null && (
        <p className={styles.clusterError} role="alert">
          <span>{error}</span>
          <button
            type="button"
            className={styles.dismiss}
            aria-label="Dismiss message"
            onClick={clearErrors}
          >
            ×
          </button>
        </p>
      )}
      {cluster === null ? (
        <p className={styles.clusterIntro}>Connecting to the control plane…</p>
      ) : replicated ? (
        <ReplicatedCluster
          cluster={cluster}
          nodes={nodes}
          killing={killing}
          onKillLeader={(shard) => {
            clearErrors();
            void killLeader.run(shard);
          }}
          membership={{
            pending: changing,
            onAdd: (shard) => {
              clearErrors();
              void changeMembers.run(
                `Adding a replica to ${shard}: starting it, the leader adds it, it catches up…`,
                () => trpc.cluster.addReplica.mutate({ shard }),
              );
            },
            onRemove: (id) => {
              clearErrors();
              void changeMembers.run(
                `Removing ${id}: the leader takes it out of the group, then it stops…`,
                () => trpc.cluster.removeReplica.mutate({ id }),
              );
            },
            onReplace: (id) => {
              clearErrors();
              void changeMembers.run(
                `Replacing ${id}: removing it, then a new replica joins and catches up…`,
                () => trpc.cluster.replaceReplica.mutate({ id }),
              );
            },
          }}
        />
      ) : formed ? (
        <Formed
          cluster={cluster}
          nodes={nodes}
          busy={busy}
          onRemove={(shard) => {
            clearErrors();
            void remove.run(shard);
          }}
        />
      ) : (
        <div className={styles.loneRow}>
          <LoneNodes nodes={nodes} />
          <button
            type="button"
            className={styles.button}
            disabled={busy}
            aria-busy={replicate.pending}
            title="Starts 6 new nodes with data directories: 2 shards, each a Raft group of 3 replicas that elect a leader"
            onClick={() => {
              clearErrors();
              void replicate.run();
            }}
          >
            {replicate.pending
              ? 'Electing leaders…'
              : `Make a replicated cluster (${REPLICATED_SHAPE.shards} shards × ${REPLICATED_SHAPE.replicas} replicas)`}
          </button>
        </div>
      )}
    </section>
  );
}

/**
 * The load's count of acknowledged writes lost (it keeps the writes it got a 2xx for and reads
 * them back), "—" while no load runs or while its status does not carry the count.
 */
function LostWrites() {
  const load = useLive((s) => s.samples.at(-1)?.load ?? null);
  const lost = lostWritesOf(load);
  const counts = loadVerification(load);
  const detail =
    counts === null
      ? ''
      : [
          counts.verified !== null ? `${formatCount(counts.verified)} reads checked` : null,
          counts.missing !== null ? `${formatCount(counts.missing)} found absent` : null,
          counts.retries !== null ? `${formatCount(counts.retries)} retries` : null,
        ]
          .filter((t) => t !== null)
          .join(', ');
  return (
    <span
      className={`${styles.lostWrites} ${lost === null ? '' : lost === 0 ? styles.lostWritesOk : styles.lostWritesBad}`}
      data-testid="lost-writes"
      title={
        lost === null
          ? load === null
            ? 'Start a load to count acknowledged writes lost'
            : "This load's status does not count lost writes yet"
          : `Reads by the load that returned a value older than a write it was told succeeded (2xx)${detail === '' ? '' : `; ${detail}`}`
      }
    >
      acknowledged writes lost <strong>{lost === null ? '—' : formatCount(lost)}</strong>
    </span>
  );
}

/** Epoch 0: what Add shard will do to these nodes. */
function LoneNodes({ nodes }: { nodes: readonly NodeInfo[] }) {
  const first = nodes.find((n) => n.status === 'up')?.id;
  const holder = first ?? 'the first node that is up';
  return (
    <p className={styles.clusterIntro}>
      No cluster yet: each node is a lone cache that holds only the keys sent to it.{' '}
      <strong>Add shard</strong> makes {holder} shard s1 of a cluster and starts a new node as shard
      s2; about half of {holder === first ? `${first}'s` : 'its'} keys move to it while both keep
      serving, and any other node stays a lone cache. Or <strong>make a replicated cluster</strong>{' '}
      (Level 6): six new nodes, two shards of three replicas each that elect a leader; kill a leader
      and watch another take over.
    </p>
  );
}

function Formed({
  cluster,
  nodes,
  busy,
  onRemove,
}: {
  cluster: ClusterState;
  nodes: readonly NodeInfo[];
  busy: boolean;
  onRemove: (shard: string) => void;
}) {
  const { map, lastMove, resharding } = cluster;
  // The ring before the move under way, else before the last one: the arcs that changed owner
  // stay marked once the move is over.
  const rings = useMemo<{ ring: Ring; previous: Ring | null } | null>(() => {
    if (map === null) return null;
    const previous = previousRingOf(map) ?? (lastMove === null ? null : ringOf(lastMove.before));
    return { ring: ringOf(map), previous };
  }, [map, lastMove]);
  if (rings === null) return null;
  const only = cluster.shards.length <= 1;

  return (
    <>
      <div className={styles.clusterBody}>
        <RingPicture ring={rings.ring} previous={rings.previous} title="Cluster ring" />
        <div className={styles.clusterSide}>
          <h3 className={styles.clusterHeading}>Shards</h3>
          <ul className={styles.shardList} aria-label="Shards and their nodes">
            {cluster.shards.map((shard) => (
              <li key={shard.id} className={styles.shardRow} data-testid={`shard-${shard.id}`}>
                <span className={styles.shardSwatch} style={{ background: shardColor(shard.id) }} />
                <span className={styles.shardId}>{shard.id}</span>
                <span className={styles.shardNodes}>
                  {shard.nodes.map((id) => nodeLabel(id, nodes)).join(', ')}
                </span>
                <button
                  type="button"
                  className={styles.buttonDanger}
                  disabled={busy || only}
                  aria-label={`Remove ${shard.id}`}
                  title={
                    only
                      ? 'The only shard: a cluster needs one to hold its keys'
                      : resharding !== null
                        ? 'Wait until the keys of the move under way have moved'
                        : `Its keys drain to the other shards, then ${shard.nodes.join(', ')} stops`
                  }
                  onClick={() => onRemove(shard.id)}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <PaceControl keysPerSecond={cluster.keysPerSecond} moving={resharding !== null} />
        </div>
      </div>
      <MoveLine resharding={resharding} lastMove={lastMove} />
    </>
  );
}

/** `n4`, or `n4 (down)` when it does not serve. */
function nodeLabel(id: string, nodes: readonly NodeInfo[]): string {
  const status = nodes.find((n) => n.id === id)?.status;
  return status === undefined || status === 'up' ? id : `${id} (${status})`;
}

/** How fast the new owners copy keys: now, and for later moves. */
function PaceControl({
  keysPerSecond: current,
  moving,
}: {
  keysPerSecond: number;
  moving: boolean;
}) {
  const [text, setText] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  // The cluster says the pace it keeps; the field shows it until it is edited.
  const value = text ?? String(current);
  const pace = Number(value);
  const valid =
    value.trim() !== '' && Number.isInteger(pace) && pace >= 1 && pace <= MAX_KEYS_PER_SECOND;
  const throttle = useAction(async (keysPerSecond: number) => {
    await trpc.cluster.throttle.mutate({ keysPerSecond });
    setText(null);
    setNote(
      !moving
        ? `The next move copies at most ${formatCount(keysPerSecond)} keys/s.`
        : `The move now copies at most ${formatCount(keysPerSecond)} keys/s.`,
    );
  });

  return (
    <form
      className={styles.paceForm}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) void throttle.run(pace);
      }}
    >
      <div className={styles.paceRow}>
        <NumberField
          id="cluster-pace"
          label="Pace (keys/s)"
          value={value}
          onChange={(v) => {
            setText(v);
            setNote(null);
          }}
          error={
            valid
              ? undefined
              : `A whole number of keys a second, 1 to ${formatCount(MAX_KEYS_PER_SECOND)}.`
          }
          min={1}
          step={1000}
        />
        <button
          type="submit"
          className={styles.button}
          disabled={!valid || throttle.pending || pace === current}
        >
          Set pace
        </button>
      </div>
      {throttle.error !== null ? (
        <p className={styles.formError} role="alert">
          {throttle.error}
        </p>
      ) : (
        <p className={styles.paceNote}>
          {note ?? 'Keys a second each new owner copies. Slow it down to watch keys stream.'}
        </p>
      )}
    </form>
  );
}

/** The move under way with its progress, else how the last one went; one height for both. */
function MoveLine({
  resharding,
  lastMove,
}: {
  resharding: Resharding | null;
  lastMove: FinishedMove | null;
}) {
  const ideal = useMemo(() => (lastMove === null ? null : idealShare(lastMove)), [lastMove]);
  const text =
    lastMove === null
      ? 'No move yet. Add shard starts one: its keys stream to it while the cluster serves.'
      : describeLastMove(lastMove, ideal);
  if (resharding !== null) {
    const { movedKeys, totalKeys } = resharding;
    const share = totalKeys > 0 ? Math.min(1, movedKeys / totalKeys) : 0;
    return (
      <div className={styles.moveBlock} data-testid="cluster-move" data-state="moving">
        <p className={styles.moveText}>{describeProgress(resharding)}</p>
        <span
          className={styles.moveBar}
          role="progressbar"
          aria-label="Move progress"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(share * 100)}
        >
          <span className={styles.moveFill} style={{ width: `${(share * 100).toFixed(1)}%` }} />
        </span>
      </div>
    );
  }
  return (
    <div
      className={styles.moveBlock}
      data-testid="cluster-move"
      data-state={lastMove === null ? 'none' : lastMove.error === null ? 'done' : 'failed'}
    >
      <p className={lastMove?.error != null ? styles.moveTextBad : styles.moveText} title={text}>
        {text}
      </p>
    </div>
  );
}

/** `Moving keys to s4: 1,204 of 5,000 keys, 2.3 MiB, 3,100 keys/s, about 1 s left`. */
function describeProgress(r: Resharding): string {
  const what =
    r.toShard !== undefined
      ? `Moving keys to ${r.toShard}`
      : r.fromShard !== undefined
        ? `Draining ${r.fromShard} into the other shards`
        : 'Moving keys';
  if (r.totalKeys === 0 && r.movedKeys === 0) return `${what}: counting the keys to move…`;
  const left =
    r.etaSeconds === null
      ? 'time left not known yet'
      : r.etaSeconds < 1
        ? 'under a second left'
        : `about ${r.etaSeconds < 60 ? `${Math.round(r.etaSeconds)} s` : formatDuration(r.etaSeconds)} left`;
  return (
    `${what}: ${formatCount(r.movedKeys)} of ${formatCount(r.totalKeys)} keys, ` +
    `${formatBytes(r.movedBytes)}, ${formatCount(r.rate)} keys/s, ${left}`
  );
}

/** `Last move: s4 added, 24.1 % of the key space (ideal 25.0 %), 6,120 keys in 2.1 s`. */
function describeLastMove(move: FinishedMove, ideal: number | null): string {
  const what =
    move.toShard !== undefined
      ? `${move.toShard} added`
      : move.fromShard !== undefined
        ? `${move.fromShard} removed`
        : 'shards changed';
  const seconds = `${move.seconds.toFixed(1)} s`;
  const keys = `${formatCount(move.movedKeys)} keys (${formatBytes(move.movedBytes)})`;
  if (move.error !== null) {
    return `Last move: ${what}, but it stopped after ${seconds} with ${keys} moved: ${move.error}`;
  }
  const idealText =
    ideal === null
      ? ''
      : move.fromShard !== undefined
        ? ` (ideal ${formatPercent(ideal)}, ${move.fromShard}'s share)`
        : ` (ideal ${formatPercent(ideal)})`;
  return `Last move: ${what}, ${formatPercent(move.movedShare)} of the key space${idealText}, ${keys} in ${seconds}`;
}

/**
 * The least the last move could have moved (geometry's moveOf): the ring before it against the
 * ring it made, which is the map's own only until the next move starts.
 */
function idealShare(move: FinishedMove): number {
  const before = ringOf(move.before);
  const ids = before.shards.filter((id) => id !== move.fromShard);
  if (move.toShard !== undefined) ids.push(move.toShard);
  return moveOf(before, new Ring(ids, { vnodes: move.before.vnodes })).ideal;
}
