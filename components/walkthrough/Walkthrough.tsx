'use client';
/**
 * One level's guided walkthrough: the steps one at a time, each with its actions on the live
 * cluster, what the cluster answered, the check's verdict and the chart to watch beside it.
 *
 * Test hooks (e2e/levels.spec.ts): each step is `data-testid="step-<k>"` with `data-done`;
 * `walkthrough-progress` reads "k of N done"; `walkthrough-complete` appears when all are.
 */
import { useEffect, useRef } from 'react';
import {
  EvictionsChart,
  HitRateChart,
  LatencyChart,
  KeysChart,
  MemoryChart,
  ReadPathChart,
  ThroughputChart,
} from '../charts.tsx';
import { connectLive, useLive } from '../live-store.ts';
import { type LevelInfo, LEVELS, levelInfo } from './catalog.ts';
import { LevelHeader } from './LevelHeader.tsx';
import { ObservationLog } from './ObservationLog.tsx';
import {
  actionId,
  checkView,
  enqueue,
  markDone,
  progressOf,
  runPoll,
  setCurrent,
  startSession,
  useJournal,
  viewOf,
} from './journal.ts';
import { WALKTHROUGHS } from './levels.ts';
import type { ChartKind, ChartSpec, CheckView, Step, StepCheck } from './model.ts';
import styles from './walkthrough.module.css';

const CHARTS: Record<ChartKind, { title: string; Chart: typeof ThroughputChart }> = {
  throughput: { title: 'Requests per second', Chart: ThroughputChart },
  hitRate: { title: 'Hit rate', Chart: HitRateChart },
  latency: { title: 'Latency', Chart: LatencyChart },
  memory: { title: 'Memory', Chart: MemoryChart },
  evictions: { title: 'Evictions and expirations per second', Chart: EvictionsChart },
  readPath: { title: 'Read path: memory hit against database read-through', Chart: ReadPathChart },
  keys: { title: 'Keys per node', Chart: KeysChart },
};

export function Walkthrough({ n }: { n: number }) {
  const info = levelInfo(n);
  const walkthrough = WALKTHROUGHS[n];
  useEffect(connectLive, []);
  useEffect(startSession, []);
  const journal = useJournal();
  const samples = useLive((s) => s.samples);
  const nodes = useLive((s) => s.nodes);
  const cluster = useLive((s) => s.cluster);
  if (info === undefined || walkthrough === undefined) return null;

  const { steps } = walkthrough;
  const { session } = journal;
  const progress = progressOf(journal, n);
  const view = viewOf({ samples, nodes, cluster }, journal, n, Date.now());
  const checks = steps.map((step) => step.check(view));
  const done = steps.map((_, i) => progress.doneAt[i + 1] !== undefined || checks[i]!.done);
  const doneCount = done.filter(Boolean).length;
  const current = Math.min(Math.max(1, progress.current), steps.length);

  return (
    <main className={styles.page}>
      <LevelHeader
        info={info}
        meta={`about ${info.minutes} minutes · ${steps.length} steps on your live cluster`}
      />
      {session === null ? (
        <p className={styles.loading}>Loading the walkthrough…</p>
      ) : (
        <>
          <Latch n={n} checks={checks} doneAt={progress.doneAt} />
          <StreamLost />
          <Progress done={doneCount} total={steps.length} />
          {doneCount === steps.length && <Complete info={info} />}
          <StepList steps={steps} done={done} current={current} onPick={(k) => setCurrent(n, k)} />
          <div className={styles.columns}>
            <div className={styles.stepColumn}>
              {steps.map((step, i) => (
                <StepCard
                  key={step.title}
                  n={n}
                  k={i + 1}
                  total={steps.length}
                  step={step}
                  check={checks[i]!}
                  done={done[i]!}
                  current={i + 1 === current}
                  view={view}
                  running={progress.running}
                  queued={progress.queued}
                />
              ))}
              <nav className={styles.stepNav} aria-label="Steps">
                <button
                  type="button"
                  className={styles.navButton}
                  onClick={() => setCurrent(n, current - 1)}
                  disabled={current === 1}
                >
                  Back
                </button>
                <span className={styles.navWhere}>
                  Step {current} of {steps.length}
                  {!done[current - 1] && current < steps.length && ' · you may skip ahead'}
                </span>
                <button
                  type="button"
                  className={styles.navButtonPrimary}
                  onClick={() => setCurrent(n, current + 1)}
                  disabled={current === steps.length}
                >
                  Next
                </button>
              </nav>
            </div>
            <aside className={styles.chartColumn} aria-label="Live charts for this step">
              {steps[current - 1]!.charts.map((spec, i) => (
                <StepChart key={`${current}:${i}`} spec={spec} view={view} />
              ))}
            </aside>
          </div>
          <Poller n={n} k={current} step={steps[current - 1]!} done={done[current - 1]!} />
          <FocusOnStepChange current={current} />
        </>
      )}
    </main>
  );
}

function Progress({ done, total }: { done: number; total: number }) {
  return (
    <div className={styles.progress}>
      <div
        className={styles.progressBar}
        role="progressbar"
        aria-label="Steps done"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={done}
      >
        <div className={styles.progressFill} style={{ width: `${(done / total) * 100}%` }} />
      </div>
      <span className={styles.progressText} data-testid="walkthrough-progress">
        {done} of {total} done
      </span>
    </div>
  );
}

function Complete({ info }: { info: LevelInfo }) {
  const next = LEVELS.find((level) => level.n > info.n && level.status === 'built');
  return (
    <div className={styles.complete} data-testid="walkthrough-complete" role="status">
      <strong>Level {info.n} complete.</strong> Every step was checked against the live cluster.{' '}
      {next !== undefined ? (
        <a href={`/levels/${next.n}`}>Go on to Level {next.n}</a>
      ) : (
        <a href="/levels">See all levels</a>
      )}{' '}
      or <a href="/">explore on the dashboard</a>.
    </div>
  );
}

function StepList({
  steps,
  done,
  current,
  onPick,
}: {
  steps: readonly Step[];
  done: readonly boolean[];
  current: number;
  onPick: (k: number) => void;
}) {
  return (
    <ol className={styles.stepList} aria-label="All steps">
      {steps.map((step, i) => (
        <li key={step.title}>
          <button
            type="button"
            className={styles.stepPick}
            data-state={done[i] ? 'done' : 'todo'}
            aria-current={i + 1 === current ? 'step' : undefined}
            onClick={() => onPick(i + 1)}
          >
            <span className={styles.stepNumber} aria-hidden>
              {done[i] ? '✓' : i + 1}
            </span>
            <span className={styles.stepPickTitle}>{step.title}</span>
            <span className={styles.visuallyHidden}>{done[i] ? ' (done)' : ' (not done)'}</span>
          </button>
        </li>
      ))}
    </ol>
  );
}

function StepCard(props: {
  n: number;
  k: number;
  total: number;
  step: Step;
  check: StepCheck;
  done: boolean;
  current: boolean;
  view: CheckView;
  running: string | null;
  queued: readonly string[];
}) {
  const { n, k, total, step, check, done, current, view, running, queued } = props;
  const headingId = `step-${k}-title`;
  return (
    <article
      className={styles.step}
      data-testid={`step-${k}`}
      data-done={done ? 'true' : 'false'}
      hidden={!current}
      aria-labelledby={headingId}
    >
      <div className={styles.stepTop}>
        <span className={styles.eyebrow}>
          Step {k} of {total}
        </span>
        <span className={styles.badge} data-state={done ? 'done' : 'todo'}>
          {done ? 'Done' : 'Not done yet'}
        </span>
      </div>
      <h2 id={headingId} className={styles.stepTitle} tabIndex={-1}>
        {step.title}
      </h2>
      <div className={styles.explain}>{step.explain}</div>
      {current && step.aside?.(view)}
      <div className={styles.actions} role="group" aria-label="Try it">
        {step.actions.map((action) => {
          const id = actionId(k, action.label);
          const isRunning = running === id;
          const isQueued = queued.includes(id);
          return (
            <button
              key={action.label}
              type="button"
              className={styles.action}
              disabled={isRunning}
              aria-busy={isRunning || isQueued}
              onClick={() => void enqueue(n, k, action.label, action.run)}
            >
              {action.label}
              {isRunning && <span className={styles.actionState}> · running…</span>}
              {isQueued && <span className={styles.actionState}> · queued</span>}
            </button>
          );
        })}
      </div>
      <div className={styles.verdict} data-state={done ? 'done' : 'todo'} role="status">
        <span aria-hidden>{done ? '✓' : '…'}</span>
        <div>
          <p>{done && !check.done ? 'Done earlier. ' + check.detail : check.detail}</p>
          {check.lines !== undefined && check.lines.length > 0 && (
            <ul className={styles.lines}>
              {check.lines.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          )}
        </div>
      </div>
      {current && <ObservationLog step={k} view={view} done={done} />}
      {step.undo !== undefined && (
        <p className={styles.undo}>
          <strong>To undo:</strong> {step.undo}
        </p>
      )}
    </article>
  );
}

function StepChart({ spec, view }: { spec: ChartSpec; view: CheckView }) {
  const { title, Chart } = CHARTS[spec.chart];
  const up = view.nodes.filter((node) => node.status === 'up');
  const node = spec.node === undefined ? undefined : up[spec.node];
  return (
    <figure className={styles.chartBox}>
      <h3 className={styles.chartTitle}>
        {title}
        <span className={styles.muted}>
          {' '}
          · {spec.node === undefined ? 'all nodes' : (node?.id ?? `node ${spec.node + 1}`)}
        </span>
      </h3>
      {spec.node !== undefined && node === undefined ? (
        <p className={styles.chartMissing}>
          This chart follows node {spec.node + 1}, and only {up.length} is up. The step&apos;s
          set-up starts one.
        </p>
      ) : (
        <Chart nodeId={node?.id} windowSeconds={spec.windowSeconds ?? 120} height={200} />
      )}
      {spec.caption !== undefined && <figcaption>{spec.caption}</figcaption>}
    </figure>
  );
}

/** Checks that read the live samples cannot pass while the stream is down; say so. */
function StreamLost() {
  const connection = useLive((s) => s.connection);
  if (connection !== 'lost') return null;
  return (
    <p className={styles.lost} role="alert">
      Lost the live stream from the playground; it reconnects by itself. Steps checked from the
      charts wait until it is back. If this lasts, check that <code>npm start</code> still runs.
    </p>
  );
}

/**
 * Moves focus to the step's title when Back, Next or the step list changes the step, so a
 * keyboard or screen-reader user lands on the new step (and it scrolls into view).
 */
function FocusOnStepChange({ current }: { current: number }) {
  const shown = useRef(current);
  useEffect(() => {
    if (shown.current === current) return;
    shown.current = current;
    document.getElementById(`step-${current}-title`)?.focus();
  }, [current]);
  return null;
}

/** Records each step the first time its check passes, so it stays done. */
function Latch({
  n,
  checks,
  doneAt,
}: {
  n: number;
  checks: readonly StepCheck[];
  doneAt: Readonly<Record<number, number>>;
}) {
  useEffect(() => {
    checks.forEach((check, i) => {
      if (check.done && doneAt[i + 1] === undefined) markDone(n, i + 1, Date.now());
    });
  }, [n, checks, doneAt]);
  return null;
}

/** Runs the current step's poll while it is on screen and not done; one call at a time. */
function Poller({ n, k, step, done }: { n: number; k: number; step: Step; done: boolean }) {
  const poll = step.poll;
  const busy = useRef(false);
  useEffect(() => {
    if (poll === undefined || done) return;
    const tick = () => {
      if (busy.current) return;
      const view = checkView(n);
      if (poll.when !== undefined && !poll.when(view)) return;
      busy.current = true;
      void runPoll(n, k, poll.run).finally(() => (busy.current = false));
    };
    tick();
    const timer = setInterval(tick, poll.everyMs);
    return () => clearInterval(timer);
  }, [n, k, poll, done]);
  return null;
}
