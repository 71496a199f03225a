'use client';
/** The selected node's recent output (stdout, stderr and the supervisor's notes), every 2 s. */
import { useEffect, useRef, useState } from 'react';
import { useLive } from '../live-store.ts';
import { nodeColor } from '../palette.ts';
import { errorMessage, trpc } from '../trpc.ts';
import styles from './dashboard.module.css';

const POLL_MS = 2000;
const LINES = 200;

interface Props {
  readonly nodeId: string | null;
  readonly onSelect: (id: string) => void;
}

export function NodeLog({ nodeId, onSelect }: Props) {
  const nodes = useLive((s) => s.nodes);
  const [lines, setLines] = useState<{ id: string; lines: string[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);

  useEffect(() => {
    if (nodeId === null) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const answer = await trpc.node.logs.query({ id: nodeId, lines: LINES });
        if (cancelled) return;
        setLines({ id: nodeId, lines: answer.lines });
        setError(null);
      } catch (e) {
        if (!cancelled) setError(errorMessage(e));
      }
      if (!cancelled) timer = setTimeout(() => void read(), POLL_MS);
    };
    pinned.current = true;
    void read();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [nodeId]);

  // Follow the end of the log unless the reader scrolled up.
  useEffect(() => {
    const el = box.current;
    if (el !== null && pinned.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const shown = lines !== null && lines.id === nodeId ? lines.lines : null;

  return (
    <section className={styles.panel} aria-labelledby="log-title">
      <div className={styles.panelHead}>
        <h2 id="log-title" className={styles.panelTitle}>
          Log
        </h2>
        <div className={styles.segmented} role="group" aria-label="Whose log">
          {nodes.map((n) => (
            <button
              key={n.id}
              type="button"
              className={styles.segment}
              aria-pressed={n.id === nodeId}
              onClick={() => onSelect(n.id)}
            >
              <span className={styles.nodeSwatch} style={{ background: nodeColor(n.id) }} />
              {n.id}
            </button>
          ))}
        </div>
        <span className={styles.panelHint}>Last {LINES} lines, refreshed every 2 s.</span>
      </div>
      <pre
        ref={box}
        className={styles.log}
        data-testid="node-log"
        tabIndex={0}
        aria-label={nodeId === null ? 'Log' : `Log of ${nodeId}`}
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {nodeId === null
          ? 'No node selected.'
          : shown === null
            ? error === null
              ? 'Reading the log…'
              : ''
            : shown.length === 0
              ? 'Nothing printed yet.'
              : shown.map((line, i) => (
                  <span
                    key={i}
                    className={line.startsWith('[supervisor]') ? styles.logSupervisor : undefined}
                  >
                    {line}
                    {'\n'}
                  </span>
                ))}
        {error !== null && (
          <span className={styles.logError} role="alert">
            Could not read the log: {error}
          </span>
        )}
      </pre>
    </section>
  );
}
