'use client';
/**
 * One REST request to a node (API.md §2), sent by the control plane: the exact curl command to
 * repeat it from a terminal, and the node's answer as it came.
 */
import { useState } from 'react';
import { MAX_TTL_SECONDS } from '../../core/config.ts';
import type { RouterOutputs } from '../trpc.ts';
import { trpc } from '../trpc.ts';
import { formatMs } from '../format.ts';
import { useLive } from '../live-store.ts';
import styles from './dashboard.module.css';
import { Message, SelectField, TextField } from './fields.tsx';
import { useAction } from './use-action.ts';

const METHODS = ['GET', 'PUT', 'DELETE', 'HEAD'] as const;
type Method = (typeof METHODS)[number];

const CONTENT_TYPES = ['application/json', 'text/plain', 'application/octet-stream'] as const;

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

type Exchange = RouterOutputs['rest']['send'];

export function RestConsole() {
  const nodes = useLive((s) => s.nodes);
  const [target, setTarget] = useState<string | null>(null);
  const [method, setMethod] = useState<Method>('PUT');
  const [key, setKey] = useState('greeting');
  const [value, setValue] = useState('{"hello":"world"}');
  const [contentType, setContentType] = useState<string>(CONTENT_TYPES[0]);
  const [ttl, setTtl] = useState('');
  const [exchange, setExchange] = useState<Exchange | null>(null);
  const [copied, setCopied] = useState(false);

  // The chosen node while it exists; else the first that is up; else the first.
  const targetId =
    nodes.find((n) => n.id === target)?.id ??
    nodes.find((n) => n.status === 'up')?.id ??
    nodes[0]?.id ??
    null;
  const withBody = method === 'PUT';
  const ttlSeconds = ttl.trim() === '' ? undefined : Number(ttl);
  const ttlError =
    ttlSeconds !== undefined &&
    !(Number.isFinite(ttlSeconds) && ttlSeconds > 0 && ttlSeconds <= MAX_TTL_SECONDS)
      ? 'Seconds above 0, such as 60 or 0.5; empty for none.'
      : undefined;
  const keyError = key === '' ? 'A key is one or more characters.' : undefined;

  const send = useAction(async () => {
    if (targetId === null) return;
    setCopied(false);
    const answer = await trpc.rest.send.mutate({
      id: targetId,
      method,
      key,
      ...(withBody ? { value, contentType } : {}),
      ...(withBody && ttlSeconds !== undefined ? { ttlSeconds } : {}),
    });
    setExchange(answer);
  });

  return (
    <section className={styles.panel} aria-labelledby="rest-title">
      <div className={styles.panelHead}>
        <h2 id="rest-title" className={styles.panelTitle}>
          REST console
        </h2>
      </div>
      <form
        className={styles.form}
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (keyError === undefined && ttlError === undefined) void send.run();
        }}
      >
        <div className={styles.fieldRow}>
          <SelectField
            id="rest-target"
            label="Send to"
            value={targetId}
            choices={nodes.map((n) => ({
              value: n.id,
              label: `${n.id}${n.port > 0 ? ` :${n.port}` : ''}${n.status === 'up' ? '' : ` (${n.status})`}`,
            }))}
            empty="no nodes"
            onChange={setTarget}
          />
          <SelectField
            id="rest-method"
            label="Method"
            value={method}
            choices={METHODS.map((m) => ({ value: m, label: m }))}
            onChange={setMethod}
          />
        </div>
        <TextField id="rest-key" label="Key" value={key} onChange={setKey} error={keyError} mono />
        <div className={styles.field}>
          <label className={styles.label} htmlFor="rest-value">
            Value
          </label>
          <textarea
            id="rest-value"
            className={styles.textarea}
            value={value}
            rows={3}
            spellCheck={false}
            disabled={!withBody}
            aria-describedby="rest-value-hint"
            onChange={(e) => setValue(e.target.value)}
          />
          <span id="rest-value-hint" className={styles.fieldHint}>
            {withBody ? 'The request body.' : `${method} sends no body.`}
          </span>
        </div>
        <div className={styles.fieldRow}>
          <SelectField
            id="rest-type"
            label="Content type"
            value={contentType}
            choices={CONTENT_TYPES.map((t) => ({ value: t, label: t }))}
            disabled={!withBody}
            onChange={setContentType}
          />
          <TextField
            id="rest-ttl"
            label="TTL (s)"
            value={ttl}
            onChange={setTtl}
            error={ttlError}
            placeholder={withBody ? 'none' : ''}
            disabled={!withBody}
          />
        </div>
        <div className={styles.buttonRow}>
          <button
            type="submit"
            className={styles.buttonPrimary}
            disabled={
              send.pending || targetId === null || keyError !== undefined || ttlError !== undefined
            }
          >
            Send
          </button>
          <span className={styles.buttonNote}>{send.pending ? 'Sending…' : ''}</span>
        </div>
        <Message error={send.error} />
      </form>

      <div className={styles.restResult}>
        <div className={styles.restLabelRow}>
          <span className={styles.label}>curl</span>
          {exchange !== null && (
            <button
              type="button"
              className={styles.linkButton}
              onClick={() => {
                void navigator.clipboard?.writeText(exchange.curl).then(() => setCopied(true));
              }}
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
          )}
        </div>
        <pre className={styles.code} data-testid="rest-curl">
          {exchange?.curl ?? 'Send a request to see the exact command.'}
        </pre>
        <div className={styles.restLabelRow}>
          <span className={styles.label}>Response</span>
          {exchange !== null && (
            <span className={styles.restMeta}>{formatMs(exchange.durationMs)}</span>
          )}
        </div>
        <div className={styles.restStatusLine}>
          <span
            className={styles.httpStatus}
            data-class={exchange === null ? 'none' : `${Math.floor(exchange.status / 100)}xx`}
            data-testid="rest-status"
          >
            {exchange?.status ?? '—'}
          </span>
          <span className={styles.restReason}>
            {exchange === null ? 'no request yet' : (REASONS[exchange.status] ?? '')}
          </span>
        </div>
        {exchange !== null && <Headers headers={exchange.headers} />}
        <pre className={exchange === null ? styles.code : styles.codeBody} data-testid="rest-body">
          {exchange?.body ?? ''}
        </pre>
      </div>
    </section>
  );
}

function Headers({ headers }: { headers: Exchange['headers'] }) {
  const shown = Object.entries(headers).filter(
    ([name]) => name.startsWith('x-') || name === 'content-type' || name === 'retry-after',
  );
  if (shown.length === 0) return null;
  return (
    <dl className={styles.headers}>
      {shown.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
