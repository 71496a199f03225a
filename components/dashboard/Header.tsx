'use client';
/** The top bar and the cluster's figures right now, big enough to read across a room. */
import type { ReactNode } from 'react';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import { latest, useLive } from '../live-store.ts';
import {
  formatBytes,
  formatCount,
  formatMs,
  formatPercent,
  formatPerSecond,
  formatRate,
} from '../format.ts';
import styles from './dashboard.module.css';

export function Header() {
  return (
    <header className={styles.topbar}>
      <div className={styles.brand}>
        <span className={styles.logo} aria-hidden>
          ◆
        </span>
        <span className={styles.brandName}>TinyCache</span>
        <span className={styles.brandSub}>playground</span>
      </div>
      <nav className={styles.topnav} aria-label="Pages">
        <ConnectionPill />
        <a className={styles.walkthroughLink} href="/sim">
          Simulator
        </a>
        <a className={styles.walkthroughLink} href="/levels">
          Guided walkthroughs <span aria-hidden>→</span>
        </a>
      </nav>
    </header>
  );
}

function ConnectionPill() {
  const connection = useLive((s) => s.connection);
  const error = useLive((s) => s.connectionError);
  const text =
    connection === 'live' ? 'Live' : connection === 'lost' ? 'Reconnecting…' : 'Connecting…';
  return (
    <span
      className={styles.connection}
      data-state={connection}
      role="status"
      title={error ?? 'One sample a second from the control plane'}
    >
      <span className={styles.connectionDot} aria-hidden />
      {text}
    </span>
  );
}

/** Shown only while the stream is lost: the charts have stopped, and why. */
export function ConnectionBanner() {
  const connection = useLive((s) => s.connection);
  const error = useLive((s) => s.connectionError);
  if (connection !== 'lost') return null;
  return (
    <div className={styles.banner} role="alert">
      <strong>Lost the live stream; the charts are paused.</strong> Reconnecting on its own. If this
      lasts, check that <code>npm start</code> is still running in its terminal.
      {error !== null && error !== 'Unknown error' && (
        <span className={styles.bannerDetail}> ({error})</span>
      )}
    </div>
  );
}

export function KpiStrip() {
  const sample = useLive((s) => latest(s.samples));
  const nodes = useLive((s) => s.nodes);
  const total = sample?.total;
  const load = sample?.load ?? null;
  const memoryShare =
    total !== undefined && total.memoryLimitBytes > 0
      ? total.memoryBytes / total.memoryLimitBytes
      : null;
  const count = (status: NodeInfo['status']) => nodes.filter((n) => n.status === status).length;
  const up = count('up');
  const down = count('down');
  const paused = count('paused');
  const starting = count('starting');

  return (
    <section className={styles.kpis} aria-label="Cluster right now">
      <Kpi
        label="Throughput"
        testId="throughput-value"
        value={formatRate(total?.requestsPerSecond ?? 0)}
        detail={
          total !== undefined && total.errorsPerSecond > 0 ? (
            <span className={styles.bad}>{formatPerSecond(total.errorsPerSecond)} errors</span>
          ) : load !== null ? (
            `load generator: ${formatRate(load.requestsPerSecond)}`
          ) : (
            'no load running'
          )
        }
      />
      <Kpi
        label="Hit rate"
        testId="hitrate-value"
        value={formatPercent(total?.hitRate)}
        detail={
          total?.hitRate === null || total === undefined
            ? 'no reads this second'
            : 'reads that found the key'
        }
      />
      <Kpi
        label="p99 in nodes"
        value={formatMs(total?.p99Ms)}
        detail={
          total === undefined || total.p50Ms === null ? (
            'no requests this second'
          ) : (
            <>
              p50 {formatMs(total.p50Ms)}
              {load !== null && <> · client {formatMs(load.p99Ms)}</>}
            </>
          )
        }
      />
      <Kpi
        label="Memory"
        value={formatBytes(total?.memoryBytes ?? null)}
        detail={
          <span className={styles.kpiMeter}>
            <span className={styles.meter} aria-hidden>
              <span
                className={styles.meterFill}
                data-full={(memoryShare ?? 0) >= 0.95}
                style={{ width: `${Math.min(100, (memoryShare ?? 0) * 100)}%` }}
              />
            </span>
            of {formatBytes(total?.memoryLimitBytes ?? null)} · {formatCount(total?.entries ?? 0)}{' '}
            entries
          </span>
        }
      />
      <Kpi
        label="Evictions"
        testId="evictions-value"
        value={formatPerSecond(total?.evictionsPerSecond)}
        detail={`expired ${formatPerSecond(total?.expirationsPerSecond)}`}
      />
      <Kpi
        label="Nodes up"
        value={
          <>
            {up}
            <span className={styles.kpiOf}> / {nodes.length}</span>
          </>
        }
        detail={
          nodes.length === 0 ? (
            'add one below'
          ) : down + paused + starting === 0 ? (
            'all answering'
          ) : (
            <>
              {down > 0 && <span className={styles.bad}>{down} down</span>}
              {down > 0 && paused + starting > 0 && ' · '}
              {paused > 0 && <span className={styles.warn}>{paused} paused</span>}
              {paused > 0 && starting > 0 && ' · '}
              {starting > 0 && `${starting} starting`}
            </>
          )
        }
      />
    </section>
  );
}

function Kpi({
  label,
  value,
  detail,
  testId,
}: {
  label: string;
  value: ReactNode;
  detail: ReactNode;
  testId?: string;
}) {
  return (
    <div className={styles.kpi}>
      <div className={styles.kpiLabel}>{label}</div>
      <div className={styles.kpiValue} data-testid={testId}>
        {value}
      </div>
      <div className={styles.kpiDetail}>{detail}</div>
    </div>
  );
}
