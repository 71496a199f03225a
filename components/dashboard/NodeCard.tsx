'use client';
/**
 * One node: what it is (status, role, port, pid, uptime), how full it is, what it serves, and
 * the buttons that act on it. A node that died says how, with its last log line.
 */
import { useEffect, useState } from 'react';
import type { NodeSample } from '../../server/control/monitor.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import {
  formatBytes,
  formatDuration,
  formatMs,
  formatCount,
  formatPercent,
  NONE,
} from '../format.ts';
import { useLive } from '../live-store.ts';
import { nodeColor, shardColor } from '../palette.ts';
import { errorMessage, trpc } from '../trpc.ts';
import styles from './dashboard.module.css';
import { useAction } from './use-action.ts';

type NodeAction = 'kill' | 'pause' | 'resume' | 'restart' | 'stop';

const STATUS_TEXT: Record<NodeInfo['status'], string> = {
  up: 'Up',
  paused: 'Paused',
  down: 'Down',
  starting: 'Starting',
};

interface Props {
  readonly node: NodeInfo;
  readonly sample: NodeSample | undefined;
  /** The time of the latest sample, so uptime ticks with the stream. */
  readonly now: number;
  readonly selected: boolean;
  readonly onSelect: (id: string) => void;
}

export function NodeCard({ node, sample, now, selected, onSelect }: Props) {
  const upsertNode = useLive((s) => s.upsertNode);
  const action = useAction(async (which: NodeAction) => {
    const result = await trpc.node[which].mutate({ id: node.id });
    upsertNode(result);
  });
  const { status } = node;
  const live = status !== 'down';
  const memory = sample?.memoryBytes ?? null;
  const limit = sample?.memoryLimitBytes ?? node.config.maxMemoryBytes;
  const share = memory === null || limit <= 0 ? 0 : Math.min(1, memory / limit);

  return (
    <article
      className={styles.nodeCard}
      data-testid={`node-card-${node.id}`}
      data-status={status}
      data-selected={selected}
      onClick={(e) => {
        if (!(e.target as HTMLElement).closest('button')) onSelect(node.id);
      }}
    >
      <div className={styles.nodeHead}>
        <button
          type="button"
          className={styles.nodeId}
          aria-pressed={selected}
          title={`Show ${node.id}'s log and config`}
          onClick={() => onSelect(node.id)}
        >
          <span className={styles.nodeSwatch} style={{ background: nodeColor(node.id) }} />
          {node.id}
        </button>
        <span className={styles.statusBadge} data-state={status}>
          <span className={styles.statusDot} aria-hidden />
          {STATUS_TEXT[status]}
        </span>
        <span className={styles.nodeRole}>
          {node.shard === null ? (
            'lone node'
          ) : (
            <>
              {node.role} ·{' '}
              <span className={styles.roleSwatch} style={{ background: shardColor(node.shard) }} />
              shard {node.shard}
            </>
          )}
        </span>
      </div>
      {node.storage !== null && (
        <p className={styles.nodeStorage}>
          Writes {node.storage.writeMode === 'through' ? 'through' : 'behind'} to PostgreSQL
        </p>
      )}

      <dl className={styles.nodeFacts}>
        <div>
          <dt>port</dt>
          <dd>{node.port > 0 ? node.port : NONE}</dd>
        </div>
        <div>
          <dt>pid</dt>
          <dd data-testid={`node-pid-${node.id}`}>{node.pid ?? NONE}</dd>
        </div>
        <div>
          <dt>uptime</dt>
          <dd>
            {live && node.startedAt > 0 ? formatDuration((now - node.startedAt) / 1000) : NONE}
          </dd>
        </div>
      </dl>

      <div className={styles.nodeMemory}>
        <div className={styles.nodeMemoryText}>
          <span>Memory</span>
          <span>
            {memory === null ? NONE : formatBytes(memory)} / {formatBytes(limit)}
          </span>
        </div>
        <div
          className={styles.meter}
          role="meter"
          aria-label={`Memory of ${node.id}`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(share * 100)}
        >
          <span
            className={styles.meterFill}
            data-full={share >= 0.95}
            style={{ width: `${share * 100}%` }}
          />
        </div>
      </div>

      {action.error !== null ? (
        <div className={styles.nodeRefused} role="alert">
          <span className={styles.nodeRefusedText} title={action.error}>
            {action.error}
          </span>
          <button
            type="button"
            className={styles.dismiss}
            aria-label="Dismiss message"
            onClick={action.clearError}
          >
            ×
          </button>
        </div>
      ) : status === 'down' ? (
        <DownNote node={node} />
      ) : (
        <NodeFigures node={node} sample={sample} />
      )}

      <div className={styles.nodeButtons}>
        {status === 'paused' ? (
          <button
            type="button"
            className={styles.button}
            disabled={action.pending}
            onClick={() => void action.run('resume')}
          >
            Resume
          </button>
        ) : (
          <button
            type="button"
            className={styles.button}
            disabled={action.pending || status === 'down'}
            onClick={() => void action.run('pause')}
          >
            Pause
          </button>
        )}
        <button
          type="button"
          className={styles.button}
          disabled={action.pending}
          onClick={() => void action.run('restart')}
        >
          Restart
        </button>
        <button
          type="button"
          className={styles.button}
          disabled={action.pending || !live}
          onClick={() => void action.run('stop')}
        >
          Stop
        </button>
        <button
          type="button"
          className={styles.buttonDanger}
          disabled={action.pending || !live}
          title="SIGKILL: the process dies at once, as in a crash"
          onClick={() => void action.run('kill')}
        >
          Kill
        </button>
      </div>
    </article>
  );
}

/** What a running node serves, this second. */
function NodeFigures({ node, sample }: { node: NodeInfo; sample: NodeSample | undefined }) {
  if (node.status === 'paused') {
    return (
      <p className={styles.nodeNote}>
        Frozen by SIGSTOP: holds its connections, answers nothing until resumed.
      </p>
    );
  }
  if (node.status === 'starting') {
    return <p className={styles.nodeNote}>Starting the process; it joins once it listens.</p>;
  }
  if (sample?.scrapeError) {
    return <p className={styles.nodeNote}>Not answering its metrics: {sample.scrapeError}</p>;
  }
  return (
    <dl className={styles.nodeStats}>
      <div>
        <dt>req/s</dt>
        <dd>{formatCount(sample?.requestsPerSecond ?? 0)}</dd>
      </div>
      <div>
        <dt>hits</dt>
        <dd>{formatPercent(sample?.hitRate)}</dd>
      </div>
      <div>
        <dt>p99</dt>
        <dd>{formatMs(sample?.p99Ms)}</dd>
      </div>
    </dl>
  );
}

/** How a down node went, and the last thing it said. */
function DownNote({ node }: { node: NodeInfo }) {
  const [lines, setLines] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    trpc.node.logs
      .query({ id: node.id, lines: 20 })
      .then((answer) => !cancelled && setLines(answer.lines))
      .catch((e: unknown) => !cancelled && setError(errorMessage(e)));
    return () => {
      cancelled = true;
    };
  }, [node.id, node.startedAt]);

  const own = lines?.filter((line) => !line.startsWith('[supervisor]')) ?? [];
  const lastLine = own.at(-1) ?? null;
  // The supervisor's last note says how the process ended, and whether it was asked to.
  const note = lines?.filter((line) => line.startsWith('[supervisor]')).at(-1) ?? '';
  const unexpected = note.includes('exited unexpectedly');
  const exit =
    node.exitSignal !== null
      ? node.exitSignal
      : node.exitCode !== null
        ? `exit code ${node.exitCode}`
        : null;
  const how = unexpected
    ? `Died unexpectedly${exit === null ? '' : ` (${exit})`}`
    : node.exitSignal === 'SIGKILL'
      ? 'Killed (SIGKILL)'
      : `Stopped${exit === null ? '' : ` (${exit})`}`;
  return (
    <div className={styles.downNote}>
      <div className={styles.downHow}>{how}</div>
      <div className={styles.downLog} title={lastLine ?? undefined}>
        {error !== null
          ? `Could not read its log: ${error}`
          : lines === null
            ? 'Reading its log…'
            : lastLine === null
              ? 'It printed nothing.'
              : `Last log line: ${lastLine}`}
      </div>
    </div>
  );
}
