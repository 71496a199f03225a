'use client';
/** The live charts in one place, with the time window they share. */
import type { ReactNode } from 'react';
import {
  EvictionsChart,
  HitRateChart,
  LatencyChart,
  MemoryChart,
  ThroughputChart,
} from '../charts.tsx';
import styles from './dashboard.module.css';

export const WINDOWS = [
  { seconds: 60, label: '1 min' },
  { seconds: 300, label: '5 min' },
  { seconds: 600, label: '10 min' },
] as const;

interface Props {
  readonly windowSeconds: number;
  readonly onWindowChange: (seconds: number) => void;
}

export function ChartsPanel({ windowSeconds, onWindowChange }: Props) {
  return (
    <section className={styles.panel} aria-labelledby="charts-title">
      <div className={styles.panelHead}>
        <h2 id="charts-title" className={styles.panelTitle}>
          Live
        </h2>
        <span className={styles.panelHint}>One sample a second from every node.</span>
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
          hint="Requests per second each node served, stacked; errors are 4xx/5xx answers and failed requests."
        >
          <ThroughputChart windowSeconds={windowSeconds} height={190} />
        </ChartCard>
        <ChartCard
          title="Latency"
          hint="Nodes: time inside the node. Client: what the load generator waited, network and queueing included. Log scale."
        >
          <LatencyChart windowSeconds={windowSeconds} height={150} />
        </ChartCard>
        <ChartCard title="Hit rate" hint="Reads that found their key.">
          <HitRateChart windowSeconds={windowSeconds} height={150} />
        </ChartCard>
        <ChartCard
          title="Memory"
          hint="Bytes stored against the memory limit, summed over the nodes that answer."
        >
          <MemoryChart windowSeconds={windowSeconds} height={150} />
        </ChartCard>
        <ChartCard
          title="Evictions"
          hint="Entries pushed out to stay under the limit, and entries whose TTL ran out."
        >
          <EvictionsChart windowSeconds={windowSeconds} height={150} />
        </ChartCard>
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
