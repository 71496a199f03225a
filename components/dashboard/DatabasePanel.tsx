'use client';
/**
 * The embedded PostgreSQL (Level 3): whether it runs, the buttons that start and stop it, the
 * buttons that start a node writing through or behind to it, and the read path side by side:
 * a hit answered from memory against a miss read through from the database.
 */
import type { DatabaseStatus } from '../../server/control/playground.ts';
import { formatCount, formatMs } from '../format.ts';
import { latest, useLive } from '../live-store.ts';
import { trpc } from '../trpc.ts';
import styles from './dashboard.module.css';
import { Figure, Message } from './fields.tsx';
import { useAction } from './use-action.ts';

const STATE_TEXT: Record<DatabaseStatus['state'], string> = {
  stopped: 'Stopped',
  starting: 'Starting…',
  running: 'Running',
  stopping: 'Stopping…',
};

/** The nodes this panel starts: one button each. */
const WRITE_MODES = [
  {
    mode: 'through',
    label: 'Add write-through node',
    title:
      'Starts a node that acknowledges a write only after PostgreSQL committed it (starts PostgreSQL too)',
  },
  {
    mode: 'behind',
    label: 'Add write-behind node',
    title: 'Starts a node that acknowledges from memory and flushes to PostgreSQL in batches',
  },
] as const;

export function DatabasePanel({ onSelect }: { readonly onSelect: (id: string) => void }) {
  const database = useLive((s) => s.database);
  const nodes = useLive((s) => s.nodes);
  const reads = useLive((s) => latest(s.samples)?.total.reads ?? null);
  const upsertNode = useLive((s) => s.upsertNode);
  const writers = nodes.filter((n) => n.storage !== null && n.status !== 'down');

  const toggle = useAction(async (run: boolean) => {
    await (run ? trpc.db.start.mutate() : trpc.db.stop.mutate());
  });
  const addNode = useAction(async (writeMode: 'through' | 'behind') => {
    const node = await trpc.node.start.mutate({ storage: { writeMode } });
    upsertNode(node);
    onSelect(node.id);
  });

  const state = database?.state ?? 'stopped';
  const moving = state === 'starting' || state === 'stopping' || toggle.pending;
  const running = state === 'running';
  const error = toggle.error ?? addNode.error ?? database?.error ?? null;

  return (
    <section className={styles.panel} aria-labelledby="database-title" data-testid="database">
      <div className={styles.panelHead}>
        <h2 id="database-title" className={styles.panelTitle}>
          PostgreSQL
        </h2>
        <span
          className={styles.runBadge}
          data-running={running}
          data-state={state}
          data-testid="database-state"
          title={
            database === null
              ? undefined
              : `${database.pid === null ? 'Not running' : `pid ${database.pid}`}; files under ${database.dataDir}`
          }
        >
          <span className={styles.statusDot} aria-hidden />
          {STATE_TEXT[state]}
          {running && database?.port != null && ` on :${database.port}`}
        </span>
      </div>
      <p className={styles.panelText}>
        A real PostgreSQL run by the playground, for Level 3. A node started here commits every
        write to it before answering (write-through) or queues it (write-behind), and reads a miss
        through from it.
      </p>

      <div className={styles.loadFigures} aria-live="off">
        <Figure
          label="hit p50"
          value={formatMs(reads?.memory.p50Ms)}
          testId="database-memory-p50"
        />
        <Figure
          label="DB read p50"
          value={formatMs(reads?.database.p50Ms)}
          testId="database-fallback-p50"
        />
        <Figure
          label="DB reads/s"
          value={reads === null ? '—' : formatCount(reads.database.perSecond)}
        />
        <Figure label="DB nodes" value={String(writers.length)} />
      </div>

      <div className={styles.buttonRowWrap}>
        <button
          type="button"
          className={running ? styles.button : styles.buttonPrimary}
          disabled={moving}
          aria-busy={moving}
          title={
            running
              ? 'Stops PostgreSQL: write-through nodes answer 503 to writes, and serve what is in memory'
              : 'Starts PostgreSQL (its data is kept between starts)'
          }
          onClick={() => void toggle.run(!running)}
        >
          {running ? 'Stop database' : 'Start database'}
        </button>
        {WRITE_MODES.map(({ mode, label, title }) => (
          <button
            key={mode}
            type="button"
            className={styles.button}
            disabled={addNode.pending}
            aria-busy={addNode.pending}
            title={title}
            onClick={() => void addNode.run(mode)}
          >
            {label}
          </button>
        ))}
      </div>
      <Message error={error}>
        {writers.length === 0
          ? 'No node uses it yet. The figures fill in once one does and load runs.'
          : running
            ? `${writers.map((n) => n.id).join(', ')} ${writers.length === 1 ? 'writes' : 'write'} to it.`
            : 'Stopped: writes to those nodes get 503; hits are still served from memory.'}
      </Message>
    </section>
  );
}
