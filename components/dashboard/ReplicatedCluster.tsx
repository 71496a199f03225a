'use client';
/**
 * A replicated cluster (Level 6): each shard drawn as its Raft group (replicas with role,
 * term, status and log positions, a "Kill leader" button), the election timeline (a lane per
 * shard: who led when, in which term, and where a leader was lost), and every failover with
 * the time it took. Per-node Kill, Pause and Restart stay on the node cards. Membership, one
 * change at a time through the shard's leader: "Add replica" per shard, "Remove" per replica,
 * and "Replace" for a dead one (removed, then a new node joins and catches up).
 */
import type { ClusterState, Failover } from '../../server/control/cluster.ts';
import type { NodeSample } from '../../server/control/monitor.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import {
  loadVerification,
  lostWritesOf,
  formatFailoverMs,
  latestFirst,
  timelineLanes,
  timelineWindowMs,
  type TimelineLane,
} from '../cluster/timeline.ts';
import { useLive } from '../live-store.ts';
import { STATUS_COLORS, shardColor } from '../palette.ts';
import styles from './dashboard.module.css';

/** Failovers listed (the control plane keeps 50). */
const FAILOVERS_SHOWN = 8;
/** Colours of successive leaders in a lane, by term. */
const TERM_COLORS = ['#2563eb', '#7c3aed', '#0891b2', '#c2410c', '#15803d', '#be185d'];

/** Membership changes from the dashboard; `pending` says which one runs (one at a time). */
export interface MembershipControls {
  readonly pending: string | null;
  readonly onAdd: (shard: string) => void;
  readonly onRemove: (id: string) => void;
  readonly onReplace: (id: string) => void;
}

export function ReplicatedCluster({
  cluster,
  nodes,
  killing,
  onKillLeader,
  membership,
}: {
  cluster: ClusterState;
  nodes: readonly NodeInfo[];
  /** The shard whose leader is being killed, if any. */
  killing: string | null;
  onKillLeader: (shard: string) => void;
  membership: MembershipControls;
}) {
  const latest = useLive((s) => s.samples.at(-1) ?? null);
  const failovers = cluster.failovers ?? [];
  const leaderships = cluster.leaderships ?? [];
  const now = Math.max(latest?.t ?? 0, ...leaderships.map((l) => l.until ?? l.since));
  const windowMs = timelineWindowMs(leaderships, now);
  const lanes = timelineLanes(
    cluster.shards.map((s) => s.id),
    leaderships,
    failovers,
    now,
    windowMs,
  );

  return (
    <div className={styles.replicated}>
      <p className={styles.clusterIntro}>
        Each shard is a Raft group of replicas: its leader takes the writes and, once a majority has
        them, answers. Kill a leader (here, or Kill/Pause on its node card) and the others elect
        another in a later term. Add, remove or replace a replica: the leader changes the group one
        member at a time, and a new replica catches up from the leader&apos;s snapshot and log.
      </p>
      {membership.pending !== null && (
        <p className={styles.clusterIntro} role="status" data-testid="membership-pending">
          {membership.pending}
        </p>
      )}
      <div className={styles.groupGrid}>
        {cluster.shards.map((shard) => (
          <ShardGroup
            key={shard.id}
            shard={shard.id}
            members={shard.nodes.map(
              (id) =>
                [
                  nodes.find((n) => n.id === id) ?? null,
                  latest?.nodes.find((n) => n.id === id) ?? null,
                  id,
                ] as const,
            )}
            killing={killing === shard.id}
            disabled={killing !== null || membership.pending !== null}
            onKillLeader={() => onKillLeader(shard.id)}
            membership={membership}
          />
        ))}
      </div>
      <LoadCheck load={latest?.load ?? null} />
      <Timeline lanes={lanes} windowMs={windowMs} />
      <FailoverTable failovers={failovers} />
    </div>
  );
}

function ShardGroup({
  shard,
  members,
  killing,
  disabled,
  onKillLeader,
  membership,
}: {
  shard: string;
  members: readonly (readonly [NodeInfo | null, NodeSample | null, string])[];
  killing: boolean;
  disabled: boolean;
  onKillLeader: () => void;
  membership: MembershipControls;
}) {
  const leader = members.find(([n]) => n?.status === 'up' && n.role === 'leader')?.[0] ?? null;
  return (
    <article
      className={styles.groupCard}
      style={{ borderTopColor: shardColor(shard) }}
      data-testid={`group-${shard}`}
      aria-label={`Shard ${shard}`}
    >
      <header className={styles.groupHead}>
        <span className={styles.shardSwatch} style={{ background: shardColor(shard) }} />
        <strong className={styles.groupTitle}>{shard}</strong>
        <span className={styles.groupLeader} data-testid={`group-${shard}-leader`}>
          {leader === null ? 'no leader' : `leader ${leader.id} · term ${leader.term ?? 0}`}
        </span>
        <button
          type="button"
          className={styles.buttonDanger}
          disabled={disabled || leader === null}
          aria-busy={killing}
          title={
            leader === null
              ? 'No leader now (an election may be under way); try again in a moment'
              : `SIGKILLs ${leader.id}; the other replicas elect a new leader`
          }
          onClick={onKillLeader}
        >
          {killing ? 'Killing…' : 'Kill leader'}
        </button>
        <button
          type="button"
          className={styles.button}
          disabled={disabled || leader === null}
          title={
            leader === null
              ? 'No leader now to add a member; try again in a moment'
              : `Starts a node that joins ${shard}: ${leader.id} adds it and sends it a snapshot and the log`
          }
          onClick={() => membership.onAdd(shard)}
        >
          Add replica
        </button>
      </header>
      <table className={styles.groupTable}>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Role</th>
            <th scope="col">Term</th>
            <th scope="col">Status</th>
            <th scope="col" title="Raft commit index / applied index, from the node's /metrics">
              Commit / applied
            </th>
            <th scope="col">
              <span className={styles.visuallyHidden}>Membership</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {members.map(([node, sample, id]) => {
            const status = node?.status ?? 'down';
            const leads = status === 'up' && node?.role === 'leader';
            return (
              <tr key={id} data-testid={`replica-${id}`} data-role={leads ? 'leader' : node?.role}>
                <td className={styles.mono}>{id}</td>
                <td>
                  {leads ? (
                    <span className={styles.leaderBadge}>♛ leader</span>
                  ) : (
                    <span className={styles.roleText}>
                      {status === 'up' ? (node?.role ?? '—') : '—'}
                    </span>
                  )}
                </td>
                <td className={styles.mono}>{node?.term ?? '—'}</td>
                <td>
                  <span
                    className={styles.statusDot}
                    style={{ display: 'inline-block', background: STATUS_COLORS[status] }}
                  />{' '}
                  {status}
                </td>
                <td className={styles.mono}>
                  {status === 'up' && sample?.raftCommit != null
                    ? `${sample.raftCommit} / ${sample.raftApplied ?? '—'}`
                    : '—'}
                </td>
                <td className={styles.groupActions}>
                  {status === 'down' && (
                    <button
                      type="button"
                      className={`${styles.button} ${styles.buttonSmall}`}
                      disabled={disabled || members.length === 1}
                      title={`Removes ${id} from ${shard}'s group, then starts a new replica that catches up`}
                      onClick={() => membership.onReplace(id)}
                    >
                      Replace
                    </button>
                  )}
                  <button
                    type="button"
                    className={`${styles.button} ${styles.buttonSmall}`}
                    disabled={disabled || members.length === 1}
                    title={
                      members.length === 1
                        ? 'The last replica of a shard stays'
                        : `Removes ${id} from ${shard}'s group (a leader steps down first), then stops it and deletes its data`
                    }
                    onClick={() => membership.onRemove(id)}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </article>
  );
}

/** What the load's verification says (when its status carries it): every acknowledged write read back. */
function LoadCheck({ load }: { load: object | null }) {
  const counts = loadVerification(load);
  const lost = lostWritesOf(load);
  if (load === null) {
    return (
      <p className={styles.clusterIntro} data-testid="load-check">
        No load runs: start one (Load panel) to count retries and acknowledged writes lost.
      </p>
    );
  }
  if (counts === null && lost === null) {
    return (
      <p className={styles.clusterIntro} data-testid="load-check">
        The load runs, but its status does not count lost writes yet.
      </p>
    );
  }
  const part = (n: number | null, what: string) =>
    n === null ? null : `${n.toLocaleString()} ${what}`;
  return (
    <p className={styles.clusterIntro} data-testid="load-check">
      Load check:{' '}
      {[
        part(counts?.verified ?? null, 'reads checked against acknowledged writes'),
        part(lost, 'older than acknowledged (lost)'),
        part(counts?.missing ?? null, 'found absent'),
        part(counts?.retries ?? null, 'client retries'),
      ]
        .filter((t) => t !== null)
        .join(' · ')}
    </p>
  );
}

function Timeline({ lanes, windowMs }: { lanes: readonly TimelineLane[]; windowMs: number }) {
  return (
    <figure
      className={styles.timeline}
      aria-label="Election timeline"
      data-testid="election-timeline"
    >
      <figcaption className={styles.clusterHeading}>
        Election timeline{' '}
        <span className={styles.timelineHint}>
          last {Math.round(windowMs / 1000)} s · a colour per term · ✕ leader lost · hatched: no
          leader
        </span>
      </figcaption>
      {lanes.map((lane) => (
        <div key={lane.shard} className={styles.lane}>
          <span className={styles.laneLabel}>{lane.shard}</span>
          <div className={styles.laneTrack}>
            {lane.spans.map((span) => (
              <span
                key={`${span.leader}-${span.term}`}
                className={styles.laneSpan}
                style={{
                  left: `${span.start * 100}%`,
                  width: `${Math.max(0.2, (span.end - span.start) * 100)}%`,
                  background: TERM_COLORS[span.term % TERM_COLORS.length],
                }}
                title={`${span.leader} led in term ${span.term}${span.open ? ' (leads now)' : ''}`}
              >
                {span.leader} · t{span.term}
              </span>
            ))}
            {lane.marks.map((mark) => (
              <span
                key={`${mark.node}-${mark.at}`}
                className={styles.laneMark}
                style={{ left: `${mark.at * 100}%` }}
                title={`${mark.node} ${mark.cause}; new leader after ${formatFailoverMs(mark.ms)}`}
              >
                ✕
              </span>
            ))}
          </div>
        </div>
      ))}
    </figure>
  );
}

function FailoverTable({ failovers }: { failovers: readonly Failover[] }) {
  const rows = latestFirst(failovers).slice(0, FAILOVERS_SHOWN);
  return (
    <div className={styles.failovers}>
      <h3 className={styles.clusterHeading}>
        Failovers{' '}
        <span className={styles.timelineHint}>
          from the kill or pause to the first reading of the new leader: ±25 ms when the control
          plane did it (replicas&apos; /healthz polled), else ±1 s (the monitor&apos;s scrape)
        </span>
      </h3>
      {rows.length === 0 ? (
        <p className={styles.clusterIntro}>No leader lost yet. Kill a leader to see one.</p>
      ) : (
        <table className={styles.failoverTable} data-testid="failovers">
          <thead>
            <tr>
              <th scope="col">Shard</th>
              <th scope="col">Lost</th>
              <th scope="col">New leader</th>
              <th scope="col">Failover</th>
              <th scope="col">At</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((f) => (
              <tr key={`${f.shard}-${f.term}-${f.electedAt}`} data-testid="failover-row">
                <td>{f.shard}</td>
                <td>
                  {f.oldLeader}{' '}
                  <span className={styles.roleText}>
                    (t{f.oldTerm}, {f.cause})
                  </span>
                </td>
                <td>
                  {f.newLeader} <span className={styles.roleText}>(t{f.term})</span>
                </td>
                <td className={styles.mono} data-testid="failover-ms">
                  {formatFailoverMs(f.ms)}
                  <span className={styles.roleText}>
                    {' '}
                    ±{f.resolutionMs >= 1000 ? '1 s' : `${f.resolutionMs} ms`}
                  </span>
                </td>
                <td className={styles.mono}>{new Date(f.electedAt).toLocaleTimeString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
