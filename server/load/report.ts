/**
 * How a load's figures read on a terminal: the final table (in the manner of wrk and vegeta)
 * and the one-line progress shown while it runs.
 */
import { formatBytes } from '../../core/config.ts';
import type { LoadResult, LoadResultOptions, LoadSnapshot, PrefillOutcome } from './load.ts';

/** Milliseconds with three significant digits (0.412, 4.12, 41.2, 412). */
export function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
const decimals = (n: number, most: number) =>
  n.toLocaleString('en-US', { maximumFractionDigits: most });

/** A rate someone asked for, as given: 2,000, 12.5, 0.5. */
export function formatIntendedRate(perSecond: number): string {
  return decimals(perSecond, 2);
}

/** A measured rate: whole above 100 (37,012), else with the decimals that matter (45.3, 0.5). */
export function formatMeasuredRate(perSecond: number): string {
  if (perSecond >= 100) return count(perSecond);
  return decimals(perSecond, perSecond >= 10 ? 1 : 2);
}

export function describeWorkload(options: LoadResultOptions): string {
  if (options.path !== null) return `GET ${options.path} (fixed path)`;
  const reads = Math.round(options.readRatio * 100);
  const dist = options.distribution === 'zipf' ? `zipf (s=${options.zipfS})` : options.distribution;
  const values = `${formatBytes(options.valueBytes)} ${options.compressible ? 'JSON' : 'random'} values`;
  return `${reads}% GET / ${100 - reads}% PUT, ${count(options.keys)} keys ${dist}, ${values}`;
}

export function describeModel(result: Pick<LoadResult, 'mode' | 'connections' | 'rate'>): string {
  if (result.mode === 'closed') return `closed, ${result.connections} connections`;
  const rate = result.rate ?? 0;
  const every = rate > 0 && rate < 1 ? ` (one every ${decimals(1 / rate, 2)} s)` : '';
  return `open, ${formatIntendedRate(rate)} req/s intended${every}, up to ${result.connections} connections`;
}

const byCount = (counts: Readonly<Record<string, number>>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind}: ${count(n)}`)
    .join(', ');

/** `100 of 100 keys stored`, or a warning that names how many failed and why. */
export function describePrefill(prefill: PrefillOutcome): string {
  const { keys, stored, failed, failures } = prefill;
  const unanswered = keys - stored - failed;
  const stopped = unanswered > 0 ? `; ${count(unanswered)} unanswered at stop` : '';
  if (failed === 0) return `${count(stored)} of ${count(keys)} keys stored${stopped}`;
  return (
    `WARNING: ${count(stored)} of ${count(keys)} keys stored; ` +
    `${count(failed)} failed (${byCount(failures)})${stopped}`
  );
}

/** Latency as measured is mostly the client's own lateness in sending (open model). */
function lagDominates(result: LoadResult): boolean {
  const lag = result.sendLagMs;
  const latency = result.latencyMs;
  return lag !== null && latency !== null && lag.p99 >= 1 && lag.p99 >= latency.p99 / 2;
}

export function formatResultTable(result: LoadResult): string {
  const o = result.options;
  const rows: [string, string][] = [
    ['Target', result.path === null ? result.target : `${result.target} ${result.path}`],
    ['Workload', describeWorkload(o)],
    ['Model', describeModel(result)],
  ];
  if (result.prefill !== null) rows.push(['Prefill', describePrefill(result.prefill)]);
  const warmup = o.warmupSeconds > 0 ? ` (after ${o.warmupSeconds} s warmup)` : '';
  rows.push(['Duration', `${result.durationSeconds.toFixed(2)} s${warmup}`]);
  rows.push([
    'Requests',
    `${count(result.requests)} answered, ${formatMeasuredRate(result.requestsPerSecond)} req/s` +
      // In the closed model every connection has one in flight at the stop: not news.
      (result.mode === 'open' && result.unfinished > 0
        ? `, ${count(result.unfinished)} unfinished at stop`
        : ''),
  ]);
  const lines = rows.map(([label, value]) => `${label.padEnd(12)}${value}`);

  const l = result.latencyMs;
  if (l === null) {
    lines.push(`${'Latency'.padEnd(12)}no answers`);
  } else {
    const cells: [string, number][] = [
      ['p50', l.p50],
      ['p90', l.p90],
      ['p99', l.p99],
      ['p99.9', l.p999],
      ['max', l.max],
    ];
    const row = (label: string, texts: string[]) =>
      `${label.padEnd(12)}${texts.map((text) => text.padEnd(10)).join('')}`.trimEnd();
    lines.push(
      row(
        'Latency',
        cells.map(([name]) => name),
      ),
    );
    lines.push(
      row(
        '  (ms)',
        cells.map(([, ms]) => formatMs(ms)),
      ),
    );
    const lag = result.sendLagMs;
    if (lag !== null) {
      // Same columns: how much of each figure above is the client's own delay in sending.
      const lagCells = [lag.p50, lag.p90, lag.p99, lag.p999, lag.max];
      lines.push(
        row(
          '  send lag',
          lagCells.map((ms) => formatMs(ms)),
        ),
      );
      if (lagDominates(result)) {
        lines.push(
          `${'Note'.padEnd(12)}half or more of p99 is this client's own send lag: ` +
            `the client (or a busy machine) is slowing it down, not the server`,
        );
      }
    }
  }
  if (result.hitRate !== null) {
    lines.push(
      `${'Hit rate'.padEnd(12)}${percent(result.hitRate)} (${count(result.hits)} hits, ${count(result.misses)} misses)`,
    );
  }
  lines.push(`${'Errors'.padEnd(12)}${byCount(result.errors) || 'none'}`);
  if (result.durationSeconds > 0) {
    const rate = (bytes: number) => `${formatBytes(Math.round(bytes / result.durationSeconds))}/s`;
    lines.push(
      `${'Transfer'.padEnd(12)}${rate(result.bytesRead)} received, ` +
        `${rate(result.bytesWritten)} sent (by this client)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One line of progress; `barWidth` 0 leaves out the bar (for logs). */
export function formatProgress(snapshot: LoadSnapshot, barWidth: number): string {
  const figures =
    `${formatMeasuredRate(snapshot.requestsPerSecond)} req/s` +
    (snapshot.p99Ms === null ? '' : `, p99 ${formatMs(snapshot.p99Ms)} ms`) +
    `, ${count(snapshot.totalErrors)} errors`;
  if (snapshot.phase === 'prefill') {
    const failed = snapshot.prefillFailed > 0 ? `, ${count(snapshot.prefillFailed)} failed` : '';
    return `prefill: ${count(snapshot.prefilledKeys)} keys stored${failed}, ${figures}`;
  }
  if (snapshot.phase === 'warmup') return `warmup: ${figures}`;
  const elapsed = snapshot.elapsedSeconds;
  const duration = snapshot.durationSeconds;
  if (duration === null) return `${elapsed.toFixed(0)} s, ${figures}`;
  const time = `${elapsed.toFixed(0)}/${duration} s`;
  if (barWidth === 0) return `${time}, ${figures}`;
  const filled = Math.min(barWidth, Math.round((elapsed / duration) * barWidth));
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${time}  ${figures}`;
}
