/**
 * How a load's figures read on a terminal: the final table (in the manner of wrk and vegeta)
 * and the one-line progress shown while it runs.
 */
import { formatBytes } from '../../core/config.ts';
import type { LoadOptions, LoadResult, LoadSnapshot } from './load.ts';

/** Milliseconds with three significant digits (0.412, 4.12, 41.2, 412). */
export function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

export function describeWorkload(options: LoadOptions): string {
  if (options.path !== null) return `GET ${options.path} (fixed path)`;
  const reads = Math.round(options.readRatio * 100);
  const dist = options.distribution === 'zipf' ? `zipf (s=${options.zipfS})` : options.distribution;
  const values = `${formatBytes(options.valueBytes)} ${options.compressible ? 'JSON' : 'random'} values`;
  return `${reads}% GET / ${100 - reads}% PUT, ${count(options.keys)} keys ${dist}, ${values}`;
}

export function describeModel(result: Pick<LoadResult, 'mode' | 'connections' | 'rate'>): string {
  return result.mode === 'open'
    ? `open, ${count(result.rate ?? 0)} req/s intended, up to ${result.connections} connections`
    : `closed, ${result.connections} connections`;
}

export function formatResultTable(result: LoadResult): string {
  const o = result.options;
  const rows: [string, string][] = [
    ['Target', result.path === null ? result.target : `${result.target} ${result.path}`],
    ['Workload', describeWorkload(o)],
    ['Model', describeModel(result)],
  ];
  const extras = [
    o.warmupSeconds > 0 ? `after ${o.warmupSeconds} s warmup` : '',
    result.prefilledKeys > 0 ? `${count(result.prefilledKeys)} keys prefilled` : '',
  ].filter(Boolean);
  rows.push([
    'Duration',
    `${result.durationSeconds.toFixed(2)} s${extras.length ? ` (${extras.join(', ')})` : ''}`,
  ]);
  rows.push([
    'Requests',
    `${count(result.requests)} answered, ${count(result.requestsPerSecond)} req/s` +
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
  }
  if (result.hitRate !== null) {
    lines.push(
      `${'Hit rate'.padEnd(12)}${percent(result.hitRate)} (${count(result.hits)} hits, ${count(result.misses)} misses)`,
    );
  }
  const errors = Object.entries(result.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind}: ${count(n)}`);
  lines.push(`${'Errors'.padEnd(12)}${errors.length ? errors.join(', ') : 'none'}`);
  if (result.durationSeconds > 0) {
    const rate = (bytes: number) => `${formatBytes(Math.round(bytes / result.durationSeconds))}/s`;
    lines.push(
      `${'Transfer'.padEnd(12)}${rate(result.bytesRead)} in, ${rate(result.bytesWritten)} out`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One line of progress; `barWidth` 0 leaves out the bar (for logs). */
export function formatProgress(snapshot: LoadSnapshot, barWidth: number): string {
  const figures =
    `${count(snapshot.requestsPerSecond)} req/s` +
    (snapshot.p99Ms === null ? '' : `, p99 ${formatMs(snapshot.p99Ms)} ms`) +
    `, ${count(snapshot.totalErrors)} errors`;
  if (snapshot.phase === 'prefill')
    return `prefill: ${count(snapshot.prefilledKeys)} keys, ${figures}`;
  if (snapshot.phase === 'warmup') return `warmup: ${figures}`;
  const elapsed = snapshot.elapsedSeconds;
  const duration = snapshot.durationSeconds;
  if (duration === null) return `${elapsed.toFixed(0)} s, ${figures}`;
  const time = `${elapsed.toFixed(0)}/${duration} s`;
  if (barWidth === 0) return `${time}, ${figures}`;
  const filled = Math.min(barWidth, Math.round((elapsed / duration) * barWidth));
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${time}  ${figures}`;
}
