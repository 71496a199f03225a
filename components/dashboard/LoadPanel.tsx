'use client';
/**
 * Live load against every node: how it is set, whether it runs, and what the load generator
 * sees. While it runs, a change to a setting applies by itself after a moment.
 */
import { useEffect, useRef, useState } from 'react';
import {
  DEFAULT_LOAD_SETTINGS,
  type LoadSettings,
  type LoadStatus,
} from '../../server/load/settings.ts';
import { formatCount, formatDuration, formatMs, formatPercent } from '../format.ts';
import { latest, useLive } from '../live-store.ts';
import { errorMessage, trpc } from '../trpc.ts';
import styles from './dashboard.module.css';
import { type Choice, Figure, Message, NumberField, SelectField } from './fields.tsx';
import { useAction } from './use-action.ts';

const DISTRIBUTIONS: readonly Choice<LoadSettings['distribution']>[] = [
  { value: 'zipf', label: 'Zipf (hot items)' },
  { value: 'uniform', label: 'Uniform' },
];

const ROUTINGS: readonly Choice<LoadSettings['routing']>[] = [
  { value: 'any', label: 'Any node (it forwards)' },
  { value: 'smart', label: 'Smart client (to the owner, its leader)' },
];

const SCOPES: readonly Choice<LoadSettings['scope']>[] = [
  { value: 'all', label: 'Every node' },
  { value: 'cluster', label: "The cluster's members only" },
];

const MAX_VALUE_BYTES = 16 * 1024 * 1024;

interface Form {
  readonly routing: LoadSettings['routing'];
  readonly scope: LoadSettings['scope'];
  readonly mode: LoadSettings['mode'];
  readonly rate: string;
  readonly connections: string;
  readonly readPercent: string;
  readonly keys: string;
  readonly distribution: LoadSettings['distribution'];
  readonly valueBytes: string;
  readonly compressible: boolean;
}

type Field = keyof Form;
type Parsed = { settings: Partial<LoadSettings>; errors: Partial<Record<Field, string>> };

function toForm(settings: LoadSettings): Form {
  return {
    routing: settings.routing,
    scope: settings.scope,
    mode: settings.mode,
    rate: String(settings.rate),
    connections: String(settings.connections),
    readPercent: String(Math.round(settings.readRatio * 1000) / 10),
    keys: String(settings.keys),
    distribution: settings.distribution,
    valueBytes: String(settings.valueBytes),
    compressible: settings.compressible,
  };
}

function wholeIn(text: string, min: number, max: number): number | null {
  const n = Number(text);
  return text.trim() !== '' && Number.isInteger(n) && n >= min && n <= max ? n : null;
}

function parse(form: Form): Parsed {
  const errors: Partial<Record<Field, string>> = {};
  const settings: { -readonly [K in keyof LoadSettings]?: LoadSettings[K] } = {
    routing: form.routing,
    scope: form.scope,
    mode: form.mode,
    distribution: form.distribution,
    compressible: form.compressible,
  };
  const rate = Number(form.rate);
  if (form.rate.trim() === '' || !(rate > 0 && rate <= 10_000_000)) {
    errors.rate = 'A rate above 0, up to 10,000,000.';
  } else settings.rate = rate;
  const connections = wholeIn(form.connections, 1, 10_000);
  if (connections === null) errors.connections = 'A whole number from 1 to 10,000.';
  else settings.connections = connections;
  const reads = Number(form.readPercent);
  if (form.readPercent.trim() === '' || !(reads >= 0 && reads <= 100)) {
    errors.readPercent = 'A share from 0 to 100.';
  } else settings.readRatio = reads / 100;
  const keys = wholeIn(form.keys, 1, 100_000_000);
  if (keys === null) errors.keys = 'A whole number from 1 to 100,000,000.';
  else settings.keys = keys;
  const valueBytes = wholeIn(form.valueBytes, 0, MAX_VALUE_BYTES);
  if (valueBytes === null)
    errors.valueBytes = `Whole bytes from 0 to ${formatCount(MAX_VALUE_BYTES)}.`;
  else settings.valueBytes = valueBytes;
  return { settings, errors };
}

export function LoadPanel() {
  const sample = useLive((s) => latest(s.samples));
  const [form, setForm] = useState<Form>(() => toForm(DEFAULT_LOAD_SETTINGS));
  const [status, setStatus] = useState<{ value: LoadStatus; at: number } | null>(null);
  const [applied, setApplied] = useState<string | null>(null);
  const [updateError, setUpdateError] = useState<string | null>(null);
  const edited = useRef(false);
  /** The settings the running load has (as sent), so only a real change is sent again. */
  const sent = useRef<string | null>(null);

  // The load may already run (started from another tab, or before a reload): show its settings.
  useEffect(() => {
    trpc.load.status
      .query()
      .then((value) => {
        setStatus({ value, at: Date.now() });
        if (value.settings !== null && !edited.current) {
          const form = toForm(value.settings);
          sent.current = JSON.stringify(parse(form).settings);
          setForm(form);
        }
      })
      .catch(() => {
        // The stream says whether a load runs; the form keeps its defaults.
      });
  }, []);

  // The stream is the truth once it is newer than the last answer we had.
  const streamSaysRunning =
    sample !== null && (status === null || sample.t > status.at + 1500)
      ? sample.load !== null
      : null;
  const running = streamSaysRunning ?? status?.value.running ?? false;

  const parsed = parse(form);
  const valid = Object.keys(parsed.errors).length === 0;

  const start = useAction(async () => {
    const value = await trpc.load.start.mutate(parsed.settings);
    sent.current = JSON.stringify(parsed.settings);
    setStatus({ value, at: Date.now() });
    setApplied(null);
    setUpdateError(null);
  });
  const stop = useAction(async () => {
    const value = await trpc.load.stop.mutate();
    setStatus({ value, at: Date.now() });
    setApplied(null);
  });

  // While the load runs, a valid change applies after a moment of quiet.
  useEffect(() => {
    if (!running || !edited.current) return;
    const { settings, errors } = parse(form);
    const json = JSON.stringify(settings);
    if (Object.keys(errors).length > 0 || json === sent.current) return;
    const timer = setTimeout(() => {
      setApplied('Applying…');
      trpc.load.update
        .mutate(settings)
        .then((value) => {
          sent.current = json;
          setStatus({ value, at: Date.now() });
          setApplied('Applied to the running load.');
          setUpdateError(null);
        })
        .catch((e: unknown) => {
          setApplied(null);
          setUpdateError(errorMessage(e));
        });
    }, 600);
    return () => clearTimeout(timer);
  }, [form, running]);

  const set = <K extends Field>(field: K, value: Form[K]) => {
    edited.current = true;
    setApplied(null);
    setForm((f) => ({ ...f, [field]: value }));
  };

  const load = sample?.load ?? null;
  const topError = load?.topError ?? null;
  const streamTargets = load?.targets.length ?? null;
  // Elapsed as of the last answer, carried forward by the stream's clock.
  const elapsed =
    status !== null && status.value.running
      ? status.value.elapsedSeconds + Math.max(0, ((sample?.t ?? status.at) - status.at) / 1000)
      : null;

  return (
    <section className={styles.panel} aria-labelledby="load-title">
      <div className={styles.panelHead}>
        <h2 id="load-title" className={styles.panelTitle}>
          Load
        </h2>
        <span className={styles.runBadge} data-running={running}>
          <span className={styles.statusDot} aria-hidden />
          {running ? 'Running' : 'Idle'}
        </span>
      </div>
      <p className={styles.panelText}>
        GETs and PUTs against every node from a worker thread, like <code>wrk2</code>. The figures
        are the client&apos;s view.
      </p>

      <div className={styles.loadFigures} aria-live="off">
        <Figure label="req/s" value={load === null ? '—' : formatCount(load.requestsPerSecond)} />
        <Figure label="p99" value={formatMs(load?.p99Ms)} />
        <Figure label="hit rate" value={formatPercent(load?.hitRate)} />
        <Figure
          label="failed/s"
          value={load === null ? '—' : formatCount(load.errors)}
          bad={load !== null && load.errors > 0}
        />
      </div>
      <LoadNote
        running={running}
        targets={
          streamTargets ?? (status?.value.running === true ? status.value.targets.length : null)
        }
        failures={load?.errors ?? 0}
        topError={topError}
      />

      <form
        className={styles.form}
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!running && valid) void start.run();
        }}
      >
        <fieldset className={styles.radioRow}>
          <legend className={styles.label}>Model</legend>
          <label className={styles.radio}>
            <input
              type="radio"
              name="load-mode"
              checked={form.mode === 'open'}
              onChange={() => set('mode', 'open')}
            />
            Open: a fixed rate
          </label>
          <label className={styles.radio}>
            <input
              type="radio"
              name="load-mode"
              checked={form.mode === 'closed'}
              onChange={() => set('mode', 'closed')}
            />
            Closed: as fast as it answers
          </label>
        </fieldset>

        <div className={styles.fieldRow}>
          <NumberField
            id="load-rate"
            label="Rate (req/s)"
            value={form.rate}
            onChange={(v) => set('rate', v)}
            error={parsed.errors.rate}
            disabled={form.mode !== 'open'}
            step={100}
            min={0}
          />
          <NumberField
            id="load-connections"
            label="Connections"
            value={form.connections}
            onChange={(v) => set('connections', v)}
            error={parsed.errors.connections}
            min={1}
          />
        </div>
        <div className={styles.fieldRow}>
          <NumberField
            id="load-reads"
            label="Reads (%)"
            value={form.readPercent}
            onChange={(v) => set('readPercent', v)}
            error={parsed.errors.readPercent}
            min={0}
            max={100}
            step={5}
          />
          <NumberField
            id="load-items"
            label="Working set (items)"
            value={form.keys}
            onChange={(v) => set('keys', v)}
            error={parsed.errors.keys}
            min={0}
            step={1000}
          />
        </div>
        <div className={styles.fieldRow}>
          <SelectField
            id="load-pattern"
            label="Access pattern"
            value={form.distribution}
            choices={DISTRIBUTIONS}
            onChange={(distribution) => set('distribution', distribution)}
          />
          <NumberField
            id="load-payload"
            label="Payload (bytes)"
            value={form.valueBytes}
            onChange={(v) => set('valueBytes', v)}
            error={parsed.errors.valueBytes}
            min={0}
            step={256}
          />
        </div>
        <SelectField
          id="load-routing"
          label="Routing in a cluster"
          value={form.routing}
          choices={ROUTINGS}
          onChange={(routing) => set('routing', routing)}
        />
        <SelectField
          id="load-scope"
          label="Send load to"
          value={form.scope}
          choices={SCOPES}
          onChange={(scope) => set('scope', scope)}
        />
        <label className={styles.checkbox}>
          <input
            type="checkbox"
            checked={form.compressible}
            onChange={(e) => set('compressible', e.target.checked)}
          />
          Compressible payloads (JSON text, so gzip pays off)
        </label>

        <div className={styles.buttonRow}>
          <button
            type="submit"
            className={styles.buttonPrimary}
            disabled={running || start.pending || !valid}
          >
            Start load
          </button>
          <button
            type="button"
            className={styles.button}
            disabled={!running || stop.pending}
            onClick={() => void stop.run()}
          >
            Stop load
          </button>
          <span className={styles.buttonNote}>
            {running && elapsed !== null
              ? `running for ${formatDuration(elapsed)}`
              : running
                ? 'changes apply as you type'
                : ''}
          </span>
        </div>
        <Message error={start.error ?? stop.error ?? updateError}>
          {running ? applied : null}
        </Message>
      </form>
    </section>
  );
}

/** One line under the figures, always there: what the failures are, or that there are none. */
function LoadNote({
  running,
  targets,
  failures,
  topError,
}: {
  running: boolean;
  /** Nodes the load drives, when known. */
  targets: number | null;
  failures: number;
  topError: string | null;
}) {
  if (!running) {
    return <p className={styles.loadNote}>Idle. Start load to drive every node.</p>;
  }
  if (targets === 0) {
    return <p className={styles.loadNoteBad}>No node to drive yet; add one and it joins.</p>;
  }
  if (failures === 0 || topError === null) {
    return <p className={styles.loadNote}>No failures in the last second.</p>;
  }
  const why = topError.includes('ECONNREFUSED')
    ? 'a node is down'
    : topError === 'timeout'
      ? 'a node is paused or stuck'
      : topError.startsWith('5')
        ? 'see the node log'
        : null;
  return (
    <p className={styles.loadNoteBad} title={topError}>
      Most failures: <code>{topError}</code>
      {why !== null && ` (${why})`}
    </p>
  );
}
