'use client';
/**
 * What this step's buttons did, as the cluster answered: each REST request as the curl that
 * sends it and the node's answer, each configuration change as the node reported it, each
 * load change. So a reader learns the real API, not just the buttons.
 */
import type { NodeConfig } from '../../core/config.ts';
import { formatBytes } from '../format.ts';
import { describeLoad, header } from './facts.ts';
import type { CheckView, LoadTag, Observation, RaftSeen, RestSeen } from './model.ts';
import styles from './walkthrough.module.css';

/** Entries shown per step; older ones scroll away. */
const SHOWN = 6;
const BODY_CHARS = 240;

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

const LOAD_TAGS: Readonly<Record<LoadTag, string>> = {
  'scan-start': 'Scan started',
  'scan-end': 'Scan over, back to the hot keys',
};

/** Headers worth showing a newcomer; the rest are plumbing. */
const SHOWN_HEADERS = [
  'content-type',
  'x-ttl-ms',
  'content-encoding',
  'x-tinycache-shard',
  'x-tinycache-forwarded-by',
  'x-tinycache-leader',
  'x-tinycache-term',
];

const RAFT_ACTIONS: Readonly<Record<RaftSeen['action'], string>> = {
  formed: 'A replicated cluster is formed: every shard elected a leader.',
  'killed-leader': 'killed (SIGKILL), leader',
  killed: 'killed (SIGKILL)',
  paused: 'paused (SIGSTOP): its process is frozen, its connections stay open.',
  resumed: 'resumed (SIGCONT).',
  replaced: 'removed from its shard; a new replica joined:',
};

export function ObservationLog({
  step,
  view,
  done,
}: {
  step: number;
  view: CheckView;
  /** A done step's poll has stopped, so its last reading is stale and not shown. */
  done: boolean;
}) {
  const mine = view.journal.filter((o) => o.step === step);
  const shown = runs(mine.filter((o) => !o.auto && o.kind !== 'answer')).slice(-SHOWN);
  const lastPoll = done ? undefined : mine.filter((o) => o.auto).at(-1);
  if (shown.length === 0 && lastPoll === undefined) return null;
  return (
    <section className={styles.log} aria-label="What the cluster answered">
      <h3>What the cluster answered</h3>
      <ol>
        {shown.map(({ first, count }, i) => (
          <li key={`${first.at}:${i}`}>
            <Entry observation={first} view={view} />
            {count > 1 && <p className={styles.pollLabel}>The same answer {count} times.</p>}
          </li>
        ))}
        {lastPoll !== undefined && (
          <li className={styles.pollEntry}>
            <p className={styles.pollLabel}>
              This step&apos;s own check, repeated while it is on screen (latest):
            </p>
            <Entry observation={lastPoll} view={view} />
          </li>
        )}
      </ol>
    </section>
  );
}

/** Repeats in a row (the same request, the same answer) shown once, with a count. */
function runs(observations: readonly Observation[]): { first: Observation; count: number }[] {
  const out: { first: Observation; count: number }[] = [];
  for (const o of observations) {
    const last = out.at(-1);
    if (
      last !== undefined &&
      last.first.kind === 'rest' &&
      o.kind === 'rest' &&
      last.first.exchange.curl === o.exchange.curl &&
      last.first.exchange.status === o.exchange.status
    ) {
      last.count++;
    } else {
      out.push({ first: o, count: 1 });
    }
  }
  return out;
}

function Entry({ observation: o, view }: { observation: Observation; view: CheckView }) {
  switch (o.kind) {
    case 'rest':
      return <RestEntry seen={o} />;
    case 'config': {
      const url = view.nodes.find((node) => node.id === o.nodeId)?.url ?? 'http://NODE';
      const fields = (
        o.patch === null ? Object.keys(o.config) : Object.keys(o.patch)
      ) as (keyof NodeConfig)[];
      return (
        <>
          <pre className={styles.curl}>
            {o.patch === null
              ? `curl ${url}/v1/config`
              : `curl -X PATCH ${url}/v1/config -H 'Content-Type: application/json' -d '${JSON.stringify(o.patch)}'`}
          </pre>
          <p className={styles.answer}>
            {o.nodeId} reports{' '}
            {fields.map((field, i) => (
              <span key={field}>
                {i > 0 && ', '}
                <code>{field}</code> {describe(field, o.config[field])}
              </span>
            ))}
            .
          </p>
        </>
      );
    }
    case 'load': {
      const { status } = o;
      return (
        <p className={styles.answer}>
          <strong>{o.tag === null ? 'Load' : LOAD_TAGS[o.tag]}:</strong>{' '}
          {status.running && status.settings !== null
            ? `${describeLoad(status.settings)}, against ${status.targets.join(', ') || 'no node yet'}.`
            : 'stopped.'}
        </p>
      );
    }
    case 'node-started':
      return (
        <p className={styles.answer}>
          Started node <strong>{o.node.id}</strong> at {o.node.url}
          {o.node.storage === null ? '' : `, writing ${o.node.storage.writeMode} to PostgreSQL`}.
        </p>
      );
    case 'db':
      return (
        <p className={styles.answer}>
          <strong>PostgreSQL</strong> {o.running ? 'is running.' : 'is stopped.'}
        </p>
      );
    case 'shard':
      return (
        <p className={styles.answer}>
          <strong>Shard {o.shard}</strong>{' '}
          {o.change === 'added'
            ? 'added: its keys are moving to it.'
            : 'removed: its keys are draining to the others.'}
        </p>
      );
    case 'raft':
      return (
        <p className={styles.answer}>
          {o.node === null ? (
            RAFT_ACTIONS[o.action]
          ) : (
            <>
              <strong>{o.node}</strong> {RAFT_ACTIONS[o.action]}
              {o.action === 'killed-leader' && ` of ${o.shard ?? '?'} in term ${o.term ?? '?'}.`}
              {o.action === 'killed' && '.'}
              {o.action === 'replaced' && <> {o.added}.</>}
            </>
          )}
        </p>
      );
    case 'error':
      return (
        <p className={styles.logError}>
          <strong>{o.action}</strong> failed: {o.message}
        </p>
      );
    case 'answer':
      return null;
  }
}

function describe(field: string, value: unknown): string {
  if (typeof value === 'number' && field.endsWith('Bytes')) return formatBytes(value);
  return JSON.stringify(value);
}

function RestEntry({ seen }: { seen: RestSeen }) {
  const { exchange } = seen;
  const headers = SHOWN_HEADERS.map((name) => [name, header(exchange, name)] as const).filter(
    (pair): pair is readonly [string, string] => pair[1] !== undefined,
  );
  const body =
    exchange.body.length > BODY_CHARS
      ? `${exchange.body.slice(0, BODY_CHARS)}… (${exchange.body.length} characters)`
      : exchange.body;
  const ok = exchange.status < 400;
  return (
    <>
      <pre className={styles.curl}>
        {exchange.curl.length > 400 ? shorten(exchange.curl) : exchange.curl}
      </pre>
      <div className={styles.answer}>
        <span className={ok ? styles.statusOk : styles.statusBad}>
          {exchange.status} {REASONS[exchange.status] ?? ''}
        </span>{' '}
        <span className={styles.muted}>in {exchange.durationMs} ms</span>
        {headers.map(([name, value]) => (
          <span key={name} className={styles.headerPair}>
            {name}: {value}
          </span>
        ))}
        {body !== '' && <pre className={styles.body}>{body}</pre>}
      </div>
    </>
  );
}

/** A curl with a large body: the body is cut, and says how long it was. */
function shorten(curl: string): string {
  return `${curl.slice(0, 300)}…' (${formatBytes(curl.length - 300)} more)`;
}
