'use client';
/**
 * A Raft run on the /sim page: the checker's verdict first, then the run's figures, the
 * timeline of terms and leaders, the messages between replicas, the client history, the same
 * run as a command line and its report as the command prints it.
 */
import { Figure } from '../Figure.tsx';
import { useMemo, useState } from 'react';
import { formatCount } from '../../format.ts';
import { ClientHistory, OP_STYLE } from './ClientHistory.tsx';
import { raftCliArgs, type RaftForm, type RaftOutcome } from './form.ts';
import { atLabel, verdictOf, windowOf } from './geometry.ts';
import { MessagesChart, RaftMessages } from './RaftMessages.tsx';
import { FAULT_STYLE, RaftTimeline, ROLE_STYLE } from './RaftTimeline.tsx';
import sim from '../sim.module.css';
import styles from './raft.module.css';

export interface RaftResultsProps {
  readonly form: RaftForm;
  readonly outcome: RaftOutcome;
  readonly where: 'worker' | 'page';
  /** How many runs of this page so far: the e2e test tells two runs apart by it. */
  readonly run: number;
}

/** The stretches of time the drawings can zoom to (null: the whole run). */
const ZOOMS: readonly { readonly label: string; readonly ms: number | null }[] = [
  { label: 'Whole run', ms: null },
  { label: '2 s', ms: 2000 },
  { label: '0.5 s', ms: 500 },
];

export function RaftResults({ form, outcome, where, run }: RaftResultsProps) {
  const { report, text, wallMs } = outcome;
  const o = report.options;
  const timeline = report.timeline;
  const verdict = useMemo(() => verdictOf(report), [report]);
  const [zoom, setZoom] = useState<number | null>(null);
  const [start, setStart] = useState(0);
  const endMs = report.virtualMs;
  const window = useMemo(() => windowOf(endMs, zoom, start), [endMs, zoom, start]);
  const seconds = wallMs / 1000;
  const command = `npx tinycache sim ${raftCliArgs(form).join(' ')}`;
  const c = report.clients;

  return (
    <section className={sim.results} aria-label="Run" data-run={run}>
      <div
        className={verdict.ok ? styles.verdictOk : styles.verdictFailed}
        role="status"
        aria-label="Verdict"
        data-testid="raft-verdict"
      >
        <div className={styles.verdictHead}>
          <span className={styles.verdictWord}>{verdict.ok ? 'OK' : 'FAILED'}</span>
          <span className={styles.verdictSub}>
            {verdict.ok
              ? 'Safety held at every step, and after the faults stopped the shard recovered in time.'
              : `What broke: ${verdict.lines
                  .filter((l) => !l.ok)
                  .map((l) => l.check)
                  .join(', ')}.`}
          </span>
        </div>
        <ul className={styles.checks}>
          {verdict.lines.map((line) => (
            <li key={line.check} data-ok={line.ok}>
              <span className={styles.checkMark} aria-hidden>
                {line.ok ? '✓' : '✕'}
              </span>
              <span className={styles.checkName}>{line.check}</span>
              <span className={styles.checkText}>{line.text}</span>
            </li>
          ))}
        </ul>
      </div>

      <div className={styles.figures}>
        <Figure
          label="Terms and leaders"
          value={`${report.raft.terms} terms`}
          detail={`${report.raft.leaders} leaders, ${formatCount(report.raft.committedEntries)} entries committed, ${report.raft.snapshotsSent} snapshots sent`}
        />
        <Figure
          label="Faults"
          value={`${report.faults.crashes + report.faults.partitions + report.faults.transfers}`}
          detail={`${report.faults.crashes} crashes, ${report.faults.partitions} partitions, ${report.faults.transfers} transfers; ${formatCount(report.messages.lost)} messages lost`}
        />
        <Figure
          label="Client requests"
          value={`${formatCount(c.acknowledged)} / ${formatCount(c.operations)}`}
          detail={`acknowledged; ${formatCount(c.retries)} retries, ${formatCount(c.deduplicated)} answered once by the sessions`}
        />
        <Figure
          label="Simulated speed"
          value={`${formatCount(Math.round(report.events / Math.max(seconds, 1e-6)))} events/s`}
          testId="sim-speed"
          detail={`${formatCount(report.events)} events in ${seconds.toFixed(2)} s wall, ${where === 'worker' ? 'in a Web Worker' : 'on the page'}`}
        />
        <Figure
          label="Trace hash"
          value={report.traceHash}
          testId="sim-trace"
          detail={`seed ${o.seed}: the same seed gives the same hash and report`}
        />
      </div>

      {timeline === null ? (
        <p className={sim.note}>This run kept no timeline to draw.</p>
      ) : (
        <>
          <div className={styles.headingRow}>
            <h2 className={sim.heading}>Terms and leaders</h2>
            <div className={styles.zoom} role="group" aria-label="Time shown">
              <span className={styles.muted}>Time shown</span>
              {ZOOMS.map((z) => (
                <button
                  key={z.label}
                  type="button"
                  aria-pressed={zoom === z.ms}
                  disabled={z.ms !== null && z.ms >= endMs}
                  onClick={() => setZoom(z.ms)}
                >
                  {z.label}
                </button>
              ))}
              {zoom !== null && zoom < endMs && (
                <label className={styles.slider}>
                  <span className={styles.muted}>from</span>
                  <input
                    type="range"
                    min={0}
                    max={Math.max(0, endMs - zoom)}
                    step={Math.max(1, Math.round(zoom / 20))}
                    value={window.fromMs}
                    onChange={(e) => setStart(e.target.valueAsNumber)}
                    aria-label="Window start"
                  />
                  <span className={styles.windowText}>
                    {atLabel(window.fromMs)} – {atLabel(window.toMs)}
                  </span>
                </label>
              )}
            </div>
          </div>
          <p className={sim.note}>
            One lane per replica over virtual time. Each dark blue bar is a term&apos;s leader (its
            term written on it); a gap between them, with hatched candidates, is an election. Pale
            is a follower, striped grey a crashed replica. Above the lanes: the faults (hover for
            the detail) and, shaded, the partitions until they heal. After the dashed line no more
            faults happen, and a leader must be elected and every request answered in time.
          </p>
          <div className={sim.card}>
            <RaftTimeline timeline={timeline} faultMs={o.faultMs} endMs={endMs} window={window} />
            <ul className={styles.legend} aria-label="Roles and faults">
              {(['leader', 'candidate', 'pre-candidate', 'follower', 'down'] as const).map((r) => (
                <li key={r}>
                  <span className={styles.swatch} data-swatch={r} aria-hidden />
                  {ROLE_STYLE[r].name}
                </li>
              ))}
              {(['crash', 'restart', 'partition', 'heal', 'transfer'] as const).map((k) => (
                <li key={k}>
                  <span
                    className={styles.glyphSwatch}
                    style={{ color: FAULT_STYLE[k].color }}
                    aria-hidden
                  >
                    {FAULT_STYLE[k].glyph}
                  </span>
                  {FAULT_STYLE[k].name}
                </li>
              ))}
            </ul>
          </div>

          <h2 className={sim.heading}>The client history</h2>
          <p className={sim.note}>
            A lane per key; each bar is one request, from when its client sent it to when the answer
            came. Long bars are requests waiting out an election or a partition; a bar fading out
            never got an answer. The checker finds one order of these that a single copy of the
            cache could have given. Hover a bar for its value.
          </p>
          <div className={sim.card}>
            <ClientHistory history={timeline.history} endMs={endMs} window={window} />
            <ul className={styles.legend} aria-label="Operations">
              {(Object.keys(OP_STYLE) as (keyof typeof OP_STYLE)[]).map((k) => (
                <li key={k}>
                  <span
                    className={styles.swatch}
                    style={{ background: OP_STYLE[k].color }}
                    aria-hidden
                  />
                  {OP_STYLE[k].name}
                </li>
              ))}
            </ul>
          </div>

          <h2 className={sim.heading}>Messages between replicas</h2>
          <p className={sim.note}>
            Each arrow is as thick as the messages it carried. A healthy leader talks to every
            follower (appends and heartbeats out, answers back); votes fly in every direction during
            elections. Under it: messages per 100 ms, which dip while a replica is down or cut off.
          </p>
          <div className={sim.card}>
            <RaftMessages timeline={timeline} />
            <MessagesChart
              perBucket={timeline.messagesPerBucket}
              faultMs={o.faultMs}
              endMs={endMs}
            />
          </div>
        </>
      )}

      <h2 className={sim.heading}>The same run from the command line</h2>
      <pre className={sim.command} data-testid="sim-command">
        {command}
      </pre>

      <h2 className={sim.heading}>Report</h2>
      <pre className={sim.report} data-testid="sim-report">
        {text}
      </pre>
    </section>
  );
}
