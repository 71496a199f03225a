'use client';
/**
 * The live dashboard: the cluster's figures, its nodes and shards, the charts and the log on the left; the
 * controls (load, node config, REST) on the right. One stream feeds it all (connectLive).
 */
import { useEffect, useState } from 'react';
import { connectLive, useLive } from '../live-store.ts';
import { ChartsPanel } from './ChartsPanel.tsx';
import { ClusterPanel } from './ClusterPanel.tsx';
import { ConfigPanel } from './ConfigPanel.tsx';
import { DatabasePanel } from './DatabasePanel.tsx';
import styles from './dashboard.module.css';
import { ConnectionBanner, Header, KpiStrip } from './Header.tsx';
import { LoadPanel } from './LoadPanel.tsx';
import { NodeLog } from './NodeLog.tsx';
import { RestConsole } from './RestConsole.tsx';
import { TopologyPanel } from './TopologyPanel.tsx';

export function Dashboard() {
  useEffect(connectLive, []);
  const nodes = useLive((s) => s.nodes);
  const [windowSeconds, setWindowSeconds] = useState(300);
  const [selected, setSelected] = useState<string | null>(null);
  const [scope, setScope] = useState<string | null>(null);
  // The node picked, while it exists; else the first.
  const selectedId = nodes.find((n) => n.id === selected)?.id ?? nodes[0]?.id ?? null;

  return (
    <div className={styles.page}>
      <Header />
      <ConnectionBanner />
      <main className={styles.main}>
        <KpiStrip />
        <div className={styles.columns}>
          <div className={styles.primary}>
            <TopologyPanel selectedId={selectedId} onSelect={setSelected} />
            <ClusterPanel />
            <ChartsPanel
              windowSeconds={windowSeconds}
              onWindowChange={setWindowSeconds}
              scope={scope}
              onScopeChange={setScope}
            />
            <NodeLog nodeId={selectedId} onSelect={setSelected} />
          </div>
          <aside className={styles.sidebar} aria-label="Controls">
            <LoadPanel />
            <ConfigPanel nodeId={selectedId} onSelect={setSelected} onWatch={setScope} />
            <DatabasePanel onSelect={setSelected} />
            <RestConsole />
          </aside>
        </div>
      </main>
    </div>
  );
}
