/**
 * A scenario's result as text. Only virtual-time figures appear, each formatted by rules that
 * do not depend on the host (no locale, no wall clock), so the same seed prints the same bytes
 * and `tinycache sim --seed N` can be compared with diff. The simulator's own speed is a
 * wall-clock figure and belongs on stderr, not here (API.md §1).
 */
import type { DelayDistribution } from './distributions.ts';
import type { LinkOptions } from './network/network.ts';
import type { CacheScenarioResult, Fault } from './scenarios/cache.ts';
import type { KeyDistribution } from '../core/workload/samplers.ts';

export function formatCacheReport(result: CacheScenarioResult): string {
  const { options: o, workload: w, network: n } = result;
  const lines: string[] = [];
  lines.push(`TinyCache simulation: cache scenario, seed ${o.seed}`);
  lines.push(
    `  ${count(o.nodes)} nodes (${o.policy}, ${bytes(o.maxMemoryBytes)} each, queue ${count(o.maxQueueDepth)}), ` +
      `${count(o.clients)} clients, ${count(o.ratePerSecond)} req/s for ${String(o.durationMs / 1000)} s`,
  );
  lines.push(
    `  ${count(o.keys)} keys ${keys(o.distribution)}, reads ${percent(o.readRatio)}, ` +
      `${bytes(o.valueBytes)} values, ${o.ttlMs === null ? 'no TTL' : `TTL ${givenMs(o.ttlMs)}`}, ` +
      `timeout ${givenMs(o.timeoutMs)}`,
  );
  lines.push(`  service ${delay(o.serviceTime)}; load on miss ${delay(o.loadTime)}`);
  lines.push(`  links ${link(o.link)}`);
  lines.push(`  faults ${o.faults.length === 0 ? 'none' : o.faults.map(fault).join('; ')}`);
  lines.push('');

  lines.push(
    `Requests    ${count(w.requests)} (hits ${count(w.hits)}, misses ${count(w.misses)}, ` +
      `writes ${count(w.writes)}, errors ${count(w.errors)})`,
  );
  lines.push(`Hit rate    ${w.hitRate === null ? '-' : percent(w.hitRate)}`);
  if (w.latency !== null) {
    const l = w.latency;
    // Two lines, no rule: the values sit under their names, after the 12-column labels.
    const [names, , values] = table([
      ['Latency'.padEnd(10), 'p50', 'p90', 'p99', 'p99.9', 'max'],
      ['', ms(l.p50Ms), ms(l.p90Ms), ms(l.p99Ms), ms(l.p999Ms), ms(l.maxMs)],
    ]);
    lines.push(names!, values!);
  }
  lines.push(
    `Network     ${count(n.sent)} sent, ${count(n.delivered)} delivered, ${count(n.lost)} lost, ` +
      `${count(n.duplicated)} duplicated, ${count(n.cut)} cut, ${count(n.unroutable)} unroutable`,
  );
  lines.push(
    `Run         ${decimal(result.virtualMs / 1000, 6)} s virtual, ${count(result.eventsProcessed)} events`,
  );
  lines.push(`Trace       ${result.traceHash}`);
  lines.push('');

  lines.push(
    ...table([
      ['second', 'requests', 'hits', 'misses', 'writes', 'errors', 'hit rate', 'p50', 'p99'],
      ...w.series.map((s) => [
        String(s.second),
        count(s.requestsPerSecond),
        count(s.hits),
        count(s.misses),
        count(s.writes),
        count(s.errors),
        s.hitRate === null ? '-' : percent(s.hitRate),
        s.p50Ms === null ? '-' : ms(s.p50Ms),
        s.p99Ms === null ? '-' : ms(s.p99Ms),
      ]),
    ]),
  );
  lines.push('');

  lines.push(
    ...table([
      ['node', 'served', 'refused', 'entries', 'memory', 'evictions'],
      ...result.nodes.map((node) => [
        node.address,
        count(node.served),
        count(node.refused),
        count(node.entries),
        bytes(node.memoryBytes),
        count(node.evictions),
      ]),
    ]),
  );
  return `${lines.join('\n')}\n`;
}

/** A whole number with a comma every three digits (not toLocaleString: ICU data varies). */
export function count(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.round(Math.abs(n)));
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return sign + out;
}

/** Fixed decimals, with "-0.000" printed as "0.000". */
export function decimal(n: number, places: number): string {
  const text = n.toFixed(places);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

function percent(ratio: number): string {
  return `${decimal(ratio * 100, 2)}%`;
}

/** A measured virtual time, to the µs (the clock's resolution). */
function ms(value: number): string {
  return `${decimal(value, 3)} ms`;
}

/** A configured time as it was given (Number's shortest round-trip form, fixed by ECMA-262). */
function givenMs(value: number): string {
  return `${String(value)} ms`;
}

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${decimal(n / (1024 * 1024), 2)} MiB`;
  if (n >= 1024) return `${decimal(n / 1024, 2)} KiB`;
  return `${n} B`;
}

function keys(d: KeyDistribution): string {
  switch (d.kind) {
    case 'uniform':
      return 'uniform';
    case 'zipf':
      return `zipf s=${d.s ?? 0.99}${d.scatter === false ? ' unscattered' : ''}`;
    case 'zipf-scan':
      return `zipf s=${d.s ?? 0.99} with scans of ${d.scanLength} every ${d.scanEvery}`;
  }
}

function delay(d: DelayDistribution): string {
  switch (d.kind) {
    case 'constant':
      return `constant ${givenMs(d.ms)}`;
    case 'uniform':
      return `uniform ${givenMs(d.minMs)} to ${givenMs(d.maxMs)}`;
    case 'normal':
      return `normal mean ${givenMs(d.meanMs)} sd ${givenMs(d.stddevMs)} min ${givenMs(d.minMs ?? 0)}`;
    case 'exponential':
      return `${givenMs(d.baseMs ?? 0)} + exponential mean ${givenMs(d.meanMs)}`;
    case 'lognormal':
      return `${givenMs(d.baseMs ?? 0)} + lognormal median ${givenMs(d.medianMs)} sigma ${d.sigma}`;
  }
}

function link(l: LinkOptions): string {
  return (
    `${delay(l.latency)}, loss ${percent(l.lossProbability)}, ` +
    `duplicates ${percent(l.duplicateProbability)}, ${l.reorder ? 'reordering' : 'FIFO'}`
  );
}

function fault(f: Fault): string {
  const at = `at ${givenMs(f.atMs)}`;
  switch (f.kind) {
    case 'isolate':
      return `isolate ${f.address} ${at}`;
    case 'partition':
      return `partition ${f.side.join(',')} | ${f.other.join(',')} ${at}`;
    case 'heal':
      return `heal ${at}`;
  }
}

/** Rows of cells, the first a header; columns after the first right-aligned. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
}
