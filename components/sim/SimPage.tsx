'use client';
/**
 * The /sim page: a run of the deterministic simulator (sim/), made in the browser from a small
 * form, for one of two scenarios. Resharding is drawn with the dashboard's own parts (the live
 * charts inside `<ChartSamples clock="run">` and the ring picture); a replicated shard (Raft)
 * with the checker's verdict, a timeline of terms and leaders, the messages between replicas
 * and the client history (raft/RaftResults.tsx). The run happens in a Web Worker
 * (sim-worker.ts) when the browser gives one, else on this thread after a paint.
 */
import { Figure } from './Figure.tsx';
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
import { DEFAULT_RAFT_FORM, type RaftForm, type RaftOutcome } from './raft/form.ts';
import { RaftResults } from './raft/RaftResults.tsx';
import {
  cliArgs,
  DEFAULT_FORM,
  runJob,
  type SimForm,
  type SimJob,
  type SimOutcome,
  type SimResult,
  type WorkerReply,
} from './run.ts';
import styles from './sim.module.css';

type Where = 'worker' | 'page';
type Scenario = SimJob['scenario'];

const SCENARIOS: readonly { readonly id: Scenario; readonly name: string }[] = [
  { id: 'resharding', name: 'Resharding' },
  { id: 'raft', name: 'Replicated shard (Raft)' },
];

type RunState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'running'; readonly done: number }
  | { readonly kind: 'failed'; readonly message: string };

type Shown = (
  | { readonly scenario: 'resharding'; readonly form: SimForm; readonly outcome: SimOutcome }
  | { readonly scenario: 'raft'; readonly form: RaftForm; readonly outcome: RaftOutcome }
) & {
  readonly where: Where;
  /** How many runs of this page so far: the e2e test tells two runs apart by it. */
  readonly run: number;
};

export function SimPage() {
  const [scenario, setScenario] = useState<Scenario>('resharding');
  const [form, setForm] = useState<SimForm>(DEFAULT_FORM);
  const [raftForm, setRaftForm] = useState<RaftForm>(DEFAULT_RAFT_FORM);
  const [state, setState] = useState<RunState>({ kind: 'idle' });
  const [shown, setShown] = useState<Shown | null>(null);
  const runner = useSimRunner();

  const onSubmit = useCallback(
    (event: FormEvent) => {
      event.preventDefault();
      setState({ kind: 'running', done: 0 });
      const job: SimJob = scenario === 'raft' ? { scenario, form: raftForm } : { scenario, form };
      runner(job, (done) => setState({ kind: 'running', done })).then(
        ({ result, where }) => {
          setState({ kind: 'idle' });
          setShown((last) => {
            const run = (last?.run ?? 0) + 1;
            return job.scenario === 'raft' && result.scenario === 'raft'
              ? { scenario: 'raft', form: job.form, outcome: result.outcome, where, run }
              : job.scenario === 'resharding' && result.scenario === 'resharding'
                ? { scenario: 'resharding', form: job.form, outcome: result.outcome, where, run }
                : last;
          });
        },
        (error: unknown) =>
          setState({
            kind: 'failed',
            message: error instanceof Error ? error.message : String(error),
          }),
      );
    },
    [scenario, form, raftForm, runner],
  );
  const running = state.kind === 'running';

  return (
    <main className={styles.page}>
      <nav className={styles.crumbs} aria-label="Breadcrumb">
        <a href="/">Dashboard</a> <span aria-hidden>›</span> <span>Simulator</span>
      </nav>
      <h1 className={styles.title}>
        {scenario === 'raft'
          ? 'Simulator: a replicated shard under faults'
          : 'Simulator: resharding under load'}
      </h1>
      {scenario === 'raft' ? (
        <p className={styles.lead}>
          One shard kept by 3 or 5 replicas that agree through Raft, while replicas crash and
          restart, messages are lost, delayed, reordered and duplicated, and the network splits and
          heals. Clients read and write throughout, retrying through leader changes; a checker then
          verifies every Raft invariant at every step, that no acknowledged write was lost and that
          every read fits one order of the writes. The run happens here in your browser, on a
          virtual clock; the same seed gives the same run, byte for byte.
        </p>
      ) : (
        <p className={styles.lead}>
          Shards added (or removed) while clients read and write through a cache-aside workload. The
          run happens here in your browser: the real engine, ring and cluster map, on a virtual
          clock with a simulated network, drawn with the live dashboard&apos;s charts. The same seed
          gives the same run: the same report, byte for byte, and the same trace hash.
        </p>
      )}

      <div className={styles.scenarios} role="radiogroup" aria-label="Scenario">
        {SCENARIOS.map((s) => (
          <label key={s.id} className={styles.scenario} data-checked={scenario === s.id}>
            <input
              type="radio"
              name="scenario"
              value={s.id}
              checked={scenario === s.id}
              disabled={running}
              onChange={() => setScenario(s.id)}
            />
            {s.name}
          </label>
        ))}
      </div>

      <form className={styles.form} onSubmit={onSubmit} aria-label="Simulation">
        {scenario === 'raft' ? (
          <RaftFields form={raftForm} onChange={setRaftForm} />
        ) : (
          <ReshardingFields form={form} onChange={setForm} />
        )}
        <div className={styles.actions}>
          <button className={styles.run} type="submit" disabled={running}>
            {running ? 'Running…' : 'Run'}
          </button>
          <span className={styles.status} role="status" data-testid="sim-status">
            {state.kind === 'running'
              ? `${Math.floor(state.done * 100)}% of virtual time`
              : state.kind === 'idle' && (shown === null || shown.scenario !== scenario)
                ? scenario === 'raft'
                  ? 'Under a second with these settings.'
                  : 'About a second with these settings.'
                : ''}
          </span>
        </div>
        {state.kind === 'failed' && (
          <p className={styles.error} role="alert">
            {state.message}
          </p>
        )}
      </form>

      {shown?.scenario === 'resharding' && scenario === 'resharding' && <Results shown={shown} />}
      {shown?.scenario === 'raft' && scenario === 'raft' && (
        <RaftResults
          form={shown.form}
          outcome={shown.outcome}
          where={shown.where}
          run={shown.run}
        />
      )}
    </main>
  );
}

function ReshardingFields({
  form,
  onChange: setForm,
}: {
  form: SimForm;
  onChange: (form: SimForm) => void;
}) {
  return (
    <>
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
    </>
  );
}

function RaftFields({
  form,
  onChange: setForm,
}: {
  form: RaftForm;
  onChange: (form: RaftForm) => void;
}) {
  return (
    <>
      <label className={styles.field}>
        <span className={styles.fieldLabel}>Replicas</span>
        <select
          name="replicas"
          value={form.replicas}
          onChange={(e) => setForm({ ...form, replicas: Number(e.target.value) })}
        >
          <option value={3}>3</option>
          <option value={5}>5</option>
        </select>
      </label>
      <NumberField
        label="Clients"
        name="clients"
        value={form.clients}
        min={1}
        max={64}
        onChange={(clients) => setForm({ ...form, clients })}
      />
      <NumberField
        label="Seed"
        name="seed"
        value={form.seed}
        min={0}
        max={2 ** 32 - 1}
        onChange={(seed) => setForm({ ...form, seed })}
      />
      <NumberField
        label="Loss, %"
        name="loss"
        value={form.lossPercent}
        min={0}
        max={50}
        step={0.5}
        onChange={(lossPercent) => setForm({ ...form, lossPercent })}
      />
      <NumberField
        label="Faults for, s"
        name="faults-for"
        value={form.faultSeconds}
        min={1}
        max={600}
        onChange={(faultSeconds) => setForm({ ...form, faultSeconds })}
      />
      <fieldset className={styles.toggles}>
        <legend className={styles.fieldLabel}>Faults</legend>
        <label className={styles.check}>
          <input
            type="checkbox"
            name="crashes"
            checked={form.crashes}
            onChange={(e) => setForm({ ...form, crashes: e.target.checked })}
          />
          Crashes
        </label>
        <label className={styles.check}>
          <input
            type="checkbox"
            name="partitions"
            checked={form.partitions}
            onChange={(e) => setForm({ ...form, partitions: e.target.checked })}
          />
          Partitions
        </label>
      </fieldset>
    </>
  );
}

function NumberField({
  label,
  name,
  value,
  min,
  max,
  step = 1,
  onChange,
}: {
  label: string;
  name: string;
  value: number;
  min: number;
  max: number;
  step?: number;
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
        step={step}
        value={Number.isNaN(value) ? '' : value}
        onChange={(e) => onChange(e.target.valueAsNumber)}
      />
    </label>
  );
}

function Results({ shown }: { shown: Extract<Shown, { scenario: 'resharding' }> }) {
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

/**
 * Runs a simulation in a Web Worker, made on the first run and kept for the page's life; when
 * the browser cannot start it, on this thread after the "Running…" state has painted.
 */
function useSimRunner(): (
  job: SimJob,
  onProgress: (done: number) => void,
) => Promise<{ result: SimResult; where: Where }> {
  const worker = useRef<Worker | null>(null);
  const broken = useRef(false);
  useEffect(
    () => () => {
      worker.current?.terminate();
      worker.current = null;
    },
    [],
  );
  return useCallback((job, onProgress) => {
    const onPage = () =>
      new Promise<{ result: SimResult; where: Where }>((resolve, reject) => {
        // Two frames: React commits "Running…" and the browser paints it before the run.
        requestAnimationFrame(() =>
          setTimeout(() => {
            try {
              resolve({ result: runJob(job), where: 'page' });
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
        if (reply.kind === 'done') resolve({ result: reply.result, where: 'worker' });
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
      w.postMessage({ kind: 'run', job });
    });
  }, []);
}
