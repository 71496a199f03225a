'use client';
/**
 * The /sim page: a resharding run of the deterministic simulator (sim/), made in the browser
 * from a small form, and drawn with the dashboard's own parts: the live charts inside
 * `<ChartSamples clock="run">` and the ring picture. The run happens in a Web Worker
 * (sim-worker.ts) when the browser gives one, else on this thread after a paint.
 */
import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Ring } from '../../core/ring/index.ts';
import { shardId } from '../../sim/scenarios/resharding.ts';
import {
  type ChartMark,
  ChartSamples,
  HitRateChart,
  LatencyChart,
  ThroughputChart,
} from '../charts.tsx';
import { formatCount } from '../format.ts';
import { RingPicture } from '../ring/RingPicture.tsx';
import {
  cliArgs,
  DEFAULT_FORM,
  runSimulation,
  type SimForm,
  type SimOutcome,
  type WorkerReply,
} from './run.ts';
import styles from './sim.module.css';

type Where = 'worker' | 'page';

type RunState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'running'; readonly done: number }
  | { readonly kind: 'failed'; readonly message: string };

interface Shown {
  readonly form: SimForm;
  readonly outcome: SimOutcome;
  readonly where: Where;
  /** How many runs of this page so far: the e2e test tells two runs apart by it. */
  readonly run: number;
}

export function SimPage() {
  const [form, setForm] = useState<SimForm>(DEFAULT_FORM);
  const [state, setState] = useState<RunState>({ kind: 'idle' });
  const [shown, setShown] = useState<Shown | null>(null);
  const runner = useSimRunner();

  const onSubmit = useCallback(
    (event: FormEvent) => {
      event.preventDefault();
      setState({ kind: 'running', done: 0 });
      const submitted = form;
      runner(submitted, (done) => setState({ kind: 'running', done })).then(
        ({ outcome, where }) => {
          setState({ kind: 'idle' });
          setShown((last) => ({ form: submitted, outcome, where, run: (last?.run ?? 0) + 1 }));
        },
        (error: unknown) =>
          setState({
            kind: 'failed',
            message: error instanceof Error ? error.message : String(error),
          }),
      );
    },
    [form, runner],
  );

  return (
    <main className={styles.page}>
      <nav className={styles.crumbs} aria-label="Breadcrumb">
        <a href="/">Dashboard</a> <span aria-hidden>›</span> <span>Simulator</span>
      </nav>
      <h1 className={styles.title}>Simulator: resharding under load</h1>
      <p className={styles.lead}>
        Shards added (or removed) while clients read and write through a cache-aside workload. The
        run happens here in your browser: the real engine, ring and cluster map, on a virtual clock
        with a simulated network, drawn with the live dashboard&apos;s charts. The same seed gives
        the same run: the same report, byte for byte, and the same trace hash.
      </p>

      <form className={styles.form} onSubmit={onSubmit} aria-label="Simulation">
        <NumberField
          label="Shards"
          name="shards"
          value={form.shards}
          min={1}
          max={4096}
          onChange={(shards) => setForm({ ...form, shards })}
        />
        <label className={styles.field}>
          <span className={styles.fieldLabel}>At the move</span>
          <span className={styles.change}>
            <select
              name="change"
              value={form.change}
              onChange={(e) => setForm({ ...form, change: e.target.value as SimForm['change'] })}
            >
              <option value="add">add</option>
              <option value="remove">remove</option>
            </select>
            <input
              type="number"
              name="count"
              aria-label={form.change === 'add' ? 'Shards added' : 'Shards removed'}
              min={0}
              max={4096}
              step={1}
              value={form.count}
              onChange={(e) => setForm({ ...form, count: e.target.valueAsNumber })}
            />
          </span>
        </label>
        <NumberField
          label="Keys"
          name="keys"
          value={form.keys}
          min={1}
          max={10_000_000}
          onChange={(keys) => setForm({ ...form, keys })}
        />
        <NumberField
          label="Rate, req/s"
          name="rate"
          value={form.ratePerSecond}
          min={1}
          max={10_000_000}
          onChange={(ratePerSecond) => setForm({ ...form, ratePerSecond })}
        />
        <NumberField
          label="Duration, s"
          name="duration"
          value={form.durationSeconds}
          min={1}
          max={600}
          onChange={(durationSeconds) => setForm({ ...form, durationSeconds })}
        />
        <NumberField
          label="Seed"
          name="seed"
          value={form.seed}
          min={0}
          max={2 ** 32 - 1}
          onChange={(seed) => setForm({ ...form, seed })}
        />
        <label className={styles.check}>
          <input
            type="checkbox"
            name="transfer"
            checked={form.transfer}
            onChange={(e) => setForm({ ...form, transfer: e.target.checked })}
          />
          Stream the moved keys
        </label>
        <div className={styles.actions}>
          <button className={styles.run} type="submit" disabled={state.kind === 'running'}>
            {state.kind === 'running' ? 'Running…' : 'Run'}
          </button>
          <span className={styles.status} role="status" data-testid="sim-status">
            {state.kind === 'running'
              ? `${Math.floor(state.done * 100)}% of virtual time`
              : state.kind === 'idle' && shown === null
                ? 'About a second with these settings.'
                : ''}
          </span>
        </div>
        {state.kind === 'failed' && (
          <p className={styles.error} role="alert">
            {state.message}
          </p>
        )}
      </form>

      {shown !== null && <Results shown={shown} />}
    </main>
  );
}

function NumberField({
  label,
  name,
  value,
  min,
  max,
  onChange,
}: {
  label: string;
  name: string;
  value: number;
  min: number;
  max: number;
  onChange: (value: number) => void;
}) {
  return (
    <label className={styles.field}>
      <span className={styles.fieldLabel}>{label}</span>
      <input
        type="number"
        name={name}
        min={min}
        max={max}
        step={1}
        value={Number.isNaN(value) ? '' : value}
        onChange={(e) => onChange(e.target.valueAsNumber)}
      />
    </label>
  );
}

function Results({ shown }: { shown: Shown }) {
  const { outcome, form, where } = shown;
  const o = outcome.options;
  const marks = useMemo<ChartMark[]>(
    () => [
      { t: outcome.moveStartMs, label: 'move', side: 'left' },
      ...(outcome.moveEndMs === null || !o.transfer
        ? []
        : [{ t: outcome.moveEndMs, label: 'moved' }]),
    ],
    [outcome, o.transfer],
  );
  const rings = useMemo(() => {
    const before = Array.from({ length: o.shards }, (_, i) => shardId(i));
    const kept = before.slice(0, o.shards - o.remove);
    const added = Array.from({ length: o.add }, (_, i) => shardId(o.shards + i));
    return {
      before: new Ring(before, { vnodes: o.vnodes }),
      after: new Ring([...kept, ...added], { vnodes: o.vnodes }),
    };
  }, [o]);
  const seconds = outcome.wallMs / 1000;
  const command = `npx tinycache sim ${cliArgs(form).join(' ')}`;

  return (
    <section className={styles.results} aria-label="Run" data-run={shown.run}>
      <div className={styles.figures}>
        <Figure
          label="Simulated speed"
          value={`${formatCount(Math.round(outcome.requests / Math.max(seconds, 1e-6)))} req/s`}
          testId="sim-speed"
          detail={`${formatCount(outcome.requests)} requests and ${formatCount(outcome.events)} events in ${seconds.toFixed(2)} s wall, ${where === 'worker' ? 'in a Web Worker' : 'on the page'}`}
        />
        <Figure
          label="Trace hash"
          value={outcome.traceHash}
          testId="sim-trace"
          detail={`seed ${o.seed}: the same seed gives the same hash and report`}
        />
        <Figure
          label="The move"
          value={`${outcome.addedShards.length > 0 ? `+${outcome.addedShards.length}` : ''}${outcome.removedShards.length > 0 ? `-${outcome.removedShards.length}` : ''} shards`}
          detail={
            outcome.moveEndMs === null || !o.transfer
              ? `at ${(outcome.moveStartMs / 1000).toFixed(1)} s, refilled by misses`
              : `${(outcome.moveStartMs / 1000).toFixed(1)} s to ${(outcome.moveEndMs / 1000).toFixed(3)} s, streamed`
          }
        />
      </div>

      <h2 className={styles.heading}>The run, second by virtual second</h2>
      <p className={styles.note}>
        The live dashboard&apos;s charts, fed the run&apos;s samples: the clients&apos; view of each
        virtual second (the simulator measures latency at the client, so only the client lines
        show). Dashed lines mark the move.
      </p>
      <ChartSamples samples={outcome.samples} clock="run" marks={marks}>
        <div className={styles.charts}>
          <div className={styles.card}>
            <ThroughputChart height={160} />
          </div>
          <div className={styles.card} data-testid="sim-hit-rate">
            <HitRateChart height={160} />
          </div>
          <div className={styles.card}>
            <LatencyChart height={160} />
          </div>
        </div>
      </ChartSamples>

      <h2 className={styles.heading}>The ring, before and after</h2>
      <div className={styles.rings}>
        <div className={styles.card}>
          <RingPicture ring={rings.before} size={220} title="Before the move" />
        </div>
        <div className={styles.card}>
          <RingPicture
            ring={rings.after}
            previous={rings.before}
            size={220}
            title="After the move"
          />
        </div>
      </div>

      <h2 className={styles.heading}>The same run from the command line</h2>
      <pre className={styles.command} data-testid="sim-command">
        {command}
      </pre>

      <h2 className={styles.heading}>Report</h2>
      <pre className={styles.report} data-testid="sim-report">
        {outcome.report}
      </pre>
    </section>
  );
}

function Figure({
  label,
  value,
  detail,
  testId,
}: {
  label: string;
  value: string;
  detail: string;
  testId?: string;
}) {
  return (
    <div className={styles.figure}>
      <div className={styles.figureLabel}>{label}</div>
      <div className={styles.figureValue} data-testid={testId}>
        {value}
      </div>
      <div className={styles.figureDetail}>{detail}</div>
    </div>
  );
}

/**
 * Runs a simulation in a Web Worker, made on the first run and kept for the page's life; when
 * the browser cannot start it, on this thread after the "Running…" state has painted.
 */
function useSimRunner(): (
  form: SimForm,
  onProgress: (done: number) => void,
) => Promise<{ outcome: SimOutcome; where: Where }> {
  const worker = useRef<Worker | null>(null);
  const broken = useRef(false);
  useEffect(
    () => () => {
      worker.current?.terminate();
      worker.current = null;
    },
    [],
  );
  return useCallback((form, onProgress) => {
    const onPage = () =>
      new Promise<{ outcome: SimOutcome; where: Where }>((resolve, reject) => {
        // Two frames: React commits "Running…" and the browser paints it before the run.
        requestAnimationFrame(() =>
          setTimeout(() => {
            try {
              resolve({ outcome: runSimulation(form), where: 'page' });
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          }, 0),
        );
      });
    if (broken.current || typeof Worker === 'undefined') return onPage();
    try {
      worker.current ??= new Worker(new URL('./sim-worker.ts', import.meta.url), {
        type: 'module',
      });
    } catch {
      broken.current = true;
      return onPage();
    }
    const w = worker.current;
    return new Promise((resolve, reject) => {
      const done = () => {
        w.removeEventListener('message', onMessage);
        w.removeEventListener('error', onError);
      };
      const onMessage = (event: MessageEvent<WorkerReply>) => {
        const reply = event.data;
        if (reply.kind === 'progress') {
          onProgress(reply.done);
          return;
        }
        done();
        if (reply.kind === 'done') resolve({ outcome: reply.outcome, where: 'worker' });
        else reject(new Error(reply.message));
      };
      // The worker's script failed to load or threw outside a run: use this thread from now on.
      const onError = (event: Event) => {
        event.preventDefault();
        done();
        broken.current = true;
        w.terminate();
        worker.current = null;
        onPage().then(resolve, reject);
      };
      w.addEventListener('message', onMessage);
      w.addEventListener('error', onError);
      w.postMessage({ kind: 'run', form });
    });
  }, []);
}
