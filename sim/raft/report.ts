/**
 * A Raft run's report as text (`tinycache sim raft`): what ran, the faults, what the checkers
 * verified, and a last line OK or FAILED. Only virtual-time figures appear, formatted without
 * locale or wall clock (sim/report.ts's rules), so the same seed prints the same bytes.
 */
import { count, decimal } from '../report.ts';
import type { RaftSimReport } from './types.ts';

/** Fault details listed before the rest are summarised. */
const FAULT_LINES = 12;

export function formatRaftReport(report: RaftSimReport): string {
  const { options: o, raft: r, faults: f, messages: m, clients: c, checks: k } = report;
  const lines: string[] = [];
  lines.push(`TinyCache simulation: Raft shard, seed ${o.seed}`);
  lines.push(
    `  ${count(o.replicas)} replicas (tick ${givenMs(o.tickMs)}, snapshot every ${count(o.snapshotEvery)} entries, ` +
      `${count(o.maxMemoryBytes)} B each, evicting on their own), ${count(o.clients)} clients on ${count(o.keys)} keys`,
  );
  const x = o.faults;
  const faultKinds = [
    x.crashes ? 'crashes and restarts' : null,
    x.partitions ? 'partitions' : null,
    x.loss > 0 ? `loss ${percent(x.loss)}` : null,
    x.duplication > 0 ? `duplication ${percent(x.duplication)}` : null,
    x.reordering ? 'reordering' : null,
    x.clockDriftPpm > 0 ? `clock drift ±${count(x.clockDriftPpm)} ppm` : null,
  ].filter((s): s is string => s !== null);
  lines.push(
    `  faults for ${givenMs(o.faultMs)}: ${faultKinds.length === 0 ? 'none' : faultKinds.join(', ')}; ` +
      `then ${givenMs(o.livenessMs)} to recover`,
  );
  lines.push('');

  lines.push(
    `Run         ${duration(report.virtualMs)} virtual, ${count(report.events)} events, trace ${report.traceHash}`,
  );
  lines.push(
    `Raft        ${count(r.terms)} terms, ${count(r.leaders)} leaders, ${count(r.committedEntries)} entries committed, ` +
      `${plural(r.snapshotsSent, 'snapshot')} sent`,
  );
  lines.push(
    `Faults      ${count(f.crashes)} crashes, ${count(f.partitions)} partitions, ${count(f.transfers)} leadership transfers`,
  );
  if (report.membership !== undefined) {
    const ms = report.membership;
    lines.push(
      `Membership  ${plural(ms.changes, 'change')} proposed and accepted; voters at the end: ${ms.voters.join(', ')}`,
    );
  }
  lines.push(
    `Messages    ${count(m.sent)} sent, ${count(m.delivered)} delivered, ${count(m.lost)} lost or cut, ` +
      `${count(m.duplicated)} duplicated`,
  );
  lines.push(
    `Clients     ${count(c.operations)} operations, ${count(c.acknowledged)} acknowledged, ${count(c.unanswered)} unanswered; ` +
      `${count(c.retries)} retries, ${count(c.deduplicated)} retried writes deduplicated; ` +
      `reads ${count(c.getHits)} hits, ${count(c.getMisses)} misses`,
  );
  const events = report.timeline?.faults ?? [];
  if (events.length > 0) {
    lines.push('');
    lines.push('Faults as they happened');
    for (const e of events.slice(0, FAULT_LINES)) {
      lines.push(`  ${ms(e.atMs).padStart(14)}  ${e.kind.padEnd(9)} ${e.detail}`);
    }
    if (events.length > FAULT_LINES)
      lines.push(`  … and ${count(events.length - FAULT_LINES)} more`);
  }
  lines.push('');

  lines.push('Safety (checked always)');
  lines.push(
    k.violations.length === 0
      ? `  ok    every Raft invariant held after each of ${count(k.invariantChecks)} events ` +
          '(election safety, log matching, leader completeness, state machine safety, monotonic commit)'
      : `  FAIL  ${count(k.violations.length)} Raft invariant violation(s) in ${count(k.invariantChecks)} checks:`,
  );
  for (const v of k.violations) lines.push(`          ${v.invariant}: ${v.message}`);
  lines.push(
    k.lostWrites === 0
      ? '  ok    no acknowledged write lost'
      : `  FAIL  ${count(k.lostWrites)} acknowledged write(s) lost (their log index now holds another entry)`,
  );
  const scope = `${count(o.keys)} keys, ${count(c.operations)} ops`;
  if (k.linearizable === 'yes') {
    lines.push(
      `  ok    history linearizable per key (${scope}; a replica may miss by evicting, never read an old value)`,
    );
  } else if (k.linearizable === 'unknown') {
    lines.push(`  FAIL  linearizability unknown (${scope}): ${k.linearizability ?? ''}`);
  } else {
    lines.push(`  FAIL  history not linearizable (${scope}):`);
    for (const line of (k.linearizability ?? '').split('\n')) lines.push(`          ${line}`);
  }
  lines.push('');
  lines.push('Liveness (after the faults stop)');
  lines.push(`  ${k.liveness.ok ? 'ok  ' : 'FAIL'}  ${k.liveness.detail}`);
  lines.push('');
  lines.push(report.ok ? 'OK' : `FAILED (replay: npx tinycache sim raft --seed ${o.seed})`);
  return `${lines.join('\n')}\n`;
}

function percent(ratio: number): string {
  return `${decimal(ratio * 100, 2)}%`;
}

/** A measured virtual time, to the µs. */
function ms(value: number): string {
  return `${decimal(value, 3)} ms`;
}

/** A configured time as it was given: whole seconds as seconds. */
function givenMs(value: number): string {
  return value >= 1000 && value % 1000 === 0 ? `${String(value / 1000)} s` : `${String(value)} ms`;
}

/** A run's length: seconds to the ms from one second on. */
function duration(value: number): string {
  return value >= 1000 ? `${decimal(value / 1000, 3)} s` : ms(value);
}

function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}
