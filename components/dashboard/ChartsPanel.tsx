'use client';
/** The live charts in one place: the time window they share, and whose figures they draw. */
import type { ReactNode } from 'react';
import {
  EvictionsChart,
  HitRateChart,
  KeysChart,
  LatencyChart,
  MemoryChart,
  ReadPathChart,
  ThroughputChart,
} from '../charts.tsx';
import { useLive } from '../live-store.ts';
import { nodeColor } from '../palette.ts';
import styles from './dashboard.module.css';

export const WINDOWS = [
  { seconds: 60, label: '1 min' },
  { seconds: 300, label: '5 min' },
  { seconds: 600, label: '10 min' },
] as const;

interface Props {
  readonly windowSeconds: number;
  readonly onWindowChange: (seconds: number) => void;
  /** One node's figures, or (null) the cluster's. */
  readonly scope: string | null;
  readonly onScopeChange: (nodeId: string | null) => void;
}

export function ChartsPanel({ windowSeconds, onWindowChange, scope, onScopeChange }: Props) {
  const nodes = useLive((s) => s.nodes);
  const nodeId = scope !== null && nodes.some((n) => n.id === scope) ? scope : undefined;
  const props = { windowSeconds, nodeId };
  const who = nodeId ?? 'each node';
  // Level 3's chart, once a node has a database (it stays while one has, even down).
  const withDatabase = nodes.some((n) => n.storage !== null);
  // Level 5's chart, once there is a cluster: before it, every lone node holds what the load
  // sends it and the lines only repeat one another.
  const clustered = useLive((s) => (s.cluster?.epoch ?? 0) > 0);

  return (
    <section className={styles.panel} aria-labelledby="charts-title">
      <div className={styles.panelHead}>
        <h2 id="charts-title" className={styles.panelTitle}>
          Live
        </h2>
        <span className={styles.panelHint}>One sample a second.</span>
        <div className={styles.segmented} role="group" aria-label="Whose figures">
          <button
            type="button"
            aria-pressed={nodeId === undefined}
            className={styles.segment}
            onClick={() => onScopeChange(null)}
          >
            Cluster
          </button>
          {nodes.map((n) => (
            <button
              key={n.id}
              type="button"
              aria-pressed={n.id === nodeId}
              className={styles.segment}
              title={`Only ${n.id}'s figures`}
              onClick={() => onScopeChange(n.id)}
            >
              <span className={styles.nodeSwatch} style={{ background: nodeColor(n.id) }} />
              {n.id}
            </button>
          ))}
        </div>
        <div className={styles.segmented} role="group" aria-label="Time window">
          {WINDOWS.map((w) => (
            <button
              key={w.seconds}
              type="button"
              aria-pressed={w.seconds === windowSeconds}
              className={styles.segment}
              onClick={() => onWindowChange(w.seconds)}
            >
              {w.label}
            </button>
          ))}
        </div>
      </div>
      <div className={styles.chartGrid}>
        <ChartCard
          wide
          title="Throughput"
          hint={
            nodeId === undefined
              ? 'Requests per second each node served, stacked. Errors: 4xx/5xx answers; failed: requests the load generator got no answer to.'
              : `Requests per second ${who} served, and its 4xx/5xx answers.`
          }
        >
          <ThroughputChart {...props} height={190} />
        </ChartCard>
        {clustered && (
          <ChartCard
            wide
            title="Keys per node"
            hint="Entries each node holds: keys stream to a new shard, and a removed shard's stream back to the others before its node stops."
          >
            <KeysChart {...props} height={150} />
          </ChartCard>
        )}
        <ChartCard
          title="Latency"
          hint={
            nodeId === undefined
              ? 'Nodes: time inside the node. Client: what the load generator waited, network and queueing included. Log scale.'
              : `Time inside ${who}, from its own histogram. Log scale.`
          }
        >
          <LatencyChart {...props} height={150} />
        </ChartCard>
        <ChartCard title="Hit rate" hint="Reads that found their key.">
          <HitRateChart {...props} height={150} />
        </ChartCard>
        <ChartCard
          title="Memory"
          hint={
            nodeId === undefined
              ? 'Bytes stored against the limit, summed over the nodes that answer.'
              : `Bytes ${who} stores against its limit, and what gzip saved.`
          }
        >
          <MemoryChart {...props} height={150} />
        </ChartCard>
        <ChartCard
          title="Evictions"
          hint="Entries pushed out to stay under the limit, and entries whose TTL ran out."
        >
          <EvictionsChart {...props} height={150} />
        </ChartCard>
        {withDatabase && (
          <ChartCard
            wide
            title="Read path: memory against PostgreSQL"
            hint="GETs on nodes with a database: a hit answered from memory, and a miss read through from PostgreSQL. Time inside the node; log scale."
          >
            <ReadPathChart {...props} height={150} />
          </ChartCard>
        )}
      </div>
    </section>
  );
}

function ChartCard({
  title,
  hint,
  wide = false,
  children,
}: {
  title: string;
  hint: string;
  wide?: boolean;
  children: ReactNode;
}) {
  return (
    <div className={wide ? styles.chartCardWide : styles.chartCard}>
      <div className={styles.chartHead}>
        <h3 className={styles.chartTitle}>{title}</h3>
        <p className={styles.chartHint} title={hint}>
          {hint}
        </p>
      </div>
      {children}
    </div>
  );
}
