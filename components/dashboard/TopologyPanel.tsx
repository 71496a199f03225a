'use client';
/** Every node the control plane started, as a card, and the button that starts another. */
import { latest, useLive } from '../live-store.ts';
import { trpc } from '../trpc.ts';
import styles from './dashboard.module.css';
import { NodeCard } from './NodeCard.tsx';
import { useAction } from './use-action.ts';

interface Props {
  readonly selectedId: string | null;
  readonly onSelect: (id: string) => void;
}

export function TopologyPanel({ selectedId, onSelect }: Props) {
  const nodes = useLive((s) => s.nodes);
  const sample = useLive((s) => latest(s.samples));
  const connection = useLive((s) => s.connection);
  const upsertNode = useLive((s) => s.upsertNode);
  const add = useAction(async () => {
    const node = await trpc.node.start.mutate({});
    upsertNode(node);
    onSelect(node.id);
  });
  const now = sample?.t ?? 0;

  return (
    <section className={styles.panel}>
      <div className={styles.panelHead}>
        <h2 id="topology-title" className={styles.panelTitle}>
          Nodes
        </h2>
        <span className={styles.panelHint}>
          Real <code>tinycache node</code> processes on this machine. Kill or pause one under load
          and watch the charts.
        </span>
        {add.error !== null && (
          <span className={styles.headError} role="alert" title={add.error}>
            {add.error}
          </span>
        )}
        <button
          type="button"
          className={styles.buttonPrimary}
          disabled={add.pending}
          aria-busy={add.pending}
          title="Starts another process with the default config"
          onClick={() => void add.run()}
        >
          Add node
        </button>
      </div>
      <div className={styles.nodeGrid}>
        {nodes.map((node) => (
          <NodeCard
            key={node.id}
            node={node}
            sample={sample?.nodes.find((n) => n.id === node.id)}
            now={now}
            selected={node.id === selectedId}
            onSelect={onSelect}
          />
        ))}
        {nodes.length === 0 && (
          <p className={styles.noNodes}>
            {connection === 'live'
              ? 'No nodes are running. Add node starts one; the charts fill in a second later.'
              : connection === 'lost'
                ? 'The control plane does not answer; is npm start still running?'
                : 'Connecting to the control plane…'}
          </p>
        )}
      </div>
    </section>
  );
}
