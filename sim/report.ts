/**
 * A scenario's result as text. Only virtual-time figures appear, each formatted by rules that
 * do not depend on the host (no locale, no wall clock), so the same seed prints the same bytes
 * and `tinycache sim --seed N` can be compared with diff. The simulator's own speed is a
 * wall-clock figure and belongs on stderr, not here (API.md §1).
 */
import type { DelayDistribution } from './distributions.ts';
import type { LinkOptions, NetworkStats } from './network/network.ts';
import type { CacheScenarioResult, Fault } from './scenarios/cache.ts';
import type { Balance, ReshardingResult } from './scenarios/resharding.ts';
import type { SecondSample, WorkloadSummary } from './workload/recorder.ts';
import type { KeyDistribution } from '../core/workload/samplers.ts';

export function formatCacheReport(result: CacheScenarioResult): string {
  const { options: o, workload: w } = result;
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

  lines.push(...workloadLines(w));
  lines.push(...runLines(result));
  lines.push('');
  lines.push(...seriesTable(w.series));
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

export function formatReshardingReport(result: ReshardingResult): string {
  const { options: o, workload: w, check: c } = result;
  const lines: string[] = [];
  const change = [
    o.add > 0 ? `+${count(o.add)}` : '',
    o.remove > 0 ? `-${count(o.remove)}` : '',
  ].filter((x) => x !== '');
  lines.push(`TinyCache simulation: resharding scenario, seed ${o.seed}`);
  lines.push(
    `  ${count(o.shards)} shards ${change.join(' ')} at ${givenMs(o.moveAtMs)}, ${count(o.vnodes)} vnodes each, one node per shard ` +
      `(${o.policy}, ${bytes(o.maxMemoryBytes)}, queue ${count(o.maxQueueDepth)})`,
  );
  lines.push(
    o.transfer
      ? `  transfer: new owners pull batches of ${count(o.transferBatchKeys)} keys, ` +
          `at most ${count(o.transferKeysPerSecond)} keys/s each; copies yield to writes (Handoff)`
      : '  no transfer: keys change owner at once and refill by misses',
  );
  if (o.handoffFault !== 'none') lines.push(`  FAULT INJECTED: handoff ${o.handoffFault}`);
  lines.push(
    `  ${count(o.clients)} clients, ${count(o.ratePerSecond)} req/s for ${String(o.durationMs / 1000)} s; ` +
      `${count(o.keys)} keys ${keys(o.distribution)}${o.prefill ? ', prefilled' : ''}; ` +
      `reads ${percent(o.readRatio)}, deletes ${percent(o.deleteRatio)} of writes; ${bytes(o.valueBytes)} values`,
  );
  lines.push(`  service ${delay(o.serviceTime)}; load on miss ${delay(o.loadTime)}`);
  lines.push(`  links ${link(o.link)}; timeout ${givenMs(o.timeoutMs)}`);
  lines.push(
    '  maps reach nodes and clients at the same virtual time; a request an old owner refuses is sent again',
  );
  lines.push('');

  const seconds = (valueMs: number) => `${decimal(valueMs / 1000, 3)} s`;
  const end = result.moveEndMs;
  lines.push(
    o.transfer
      ? `Move        epoch 2 at ${seconds(result.moveStartMs)}, epoch 3 at ` +
          `${end === null ? 'never' : `${seconds(end)}: ${seconds(end - result.moveStartMs)} to move`}`
      : `Move        epoch 2 at ${seconds(result.moveStartMs)} (no streaming: nothing to wait for)`,
  );
  lines.push(
    `Moved keys  ${count(result.movedKeys)} of ${count(result.storedKeys)} stored: ${percent(result.movedFraction)}, ` +
      `ideal ${percent(result.idealMovedFraction)}, ring share moved ${percent(result.ringMovedFraction)}`,
  );
  lines.push(
    `Streamed    ${count(result.streamedKeys)} keys, ${bytes(result.streamedBytes)} in ${count(result.batches)} batches; ` +
      `copies applied ${count(result.copiesApplied)}, skipped as settled ${count(result.copiesSkipped)}; ` +
      `transfer reads ${count(result.transferReads)} (${count(result.transferReadHits)} found)`,
  );
  lines.push(
    `Balance     keys per shard, max/mean: ${balance(result.keysBefore)} before the move, ` +
      `${balance(result.keysAfter)} at the end`,
  );
  lines.push(
    `Ring        share per shard, max/mean: ${ratio(result.ringBefore.maxOverMean)} before, ` +
      `${ratio(result.ringAfter.maxOverMean)} after`,
  );
  const lowest = result.lowestHitRate;
  lines.push(
    `Hit rate    ${result.hitRateBefore === null ? '-' : percent(result.hitRateBefore)} before the move; ` +
      `lowest second from the move on ${lowest === null ? '-' : `${percent(lowest.hitRate)} (second ${lowest.second})`}; ` +
      `${count(result.staleAnswers)} requests refused by an old owner and sent again`,
  );
  lines.push(
    `Check       ${c.violations === 0 ? 'ok' : 'FAILED'}: ${count(c.readsChecked)} values read, checked against ` +
      `${count(c.writesAcknowledged)} acknowledged writes and ${count(c.deletesAcknowledged)} deletes: ` +
      `${count(c.stale)} stale, ${count(c.resurrected)} resurrected, ${count(c.foreign)} foreign`,
  );
  for (const v of c.examples) {
    lines.push(
      `  ${v.kind}: key ${v.keyId} read at ${decimal(v.issuedUs / 1e6, 6)} s returned version ${v.version} ` +
        `(acknowledged at ${decimal(v.versionAcknowledgedUs / 1e6, 6)} s), overwritten by an operation ` +
        `issued at ${decimal(v.overwrittenAtUs / 1e6, 6)} s`,
    );
  }
  lines.push('');
  lines.push(...workloadLines(w));
  lines.push(...runLines(result));
  lines.push('');
  const cells = w.series.map((x) => epochs(result, x.second));
  lines.push(...seriesTable(w.series, { name: 'epochs', cells }));
  return `${lines.join('\n')}\n`;
}

/** The map epochs in effect during virtual second `second`: `1`, or `1-2` when it changed. */
function epochs(result: ReshardingResult, second: number): string {
  const { moveStartMs: start, moveEndMs: end } = result;
  const at = (ms: number) =>
    ms < start ? 1 : result.options.transfer && end !== null && ms >= end ? 3 : 2;
  // The second's first and last µs.
  const first = at(second * 1000);
  const last = at((second + 1) * 1000 - 0.001);
  return first === last ? String(first) : `${first}-${last}`;
}

function balance(b: Balance): string {
  return `${ratio(b.maxOverMean)} (${count(b.shards)} shards, ${count(b.min)} to ${count(b.max)})`;
}

function ratio(value: number): string {
  return decimal(value, 3);
}

/** Requests, hit rate and latency of a run's workload. */
function workloadLines(w: WorkloadSummary): string[] {
  const lines = [
    `Requests    ${count(w.requests)} (hits ${count(w.hits)}, misses ${count(w.misses)}, ` +
      `writes ${count(w.writes)}, errors ${count(w.errors)})`,
    `Hit rate    ${w.hitRate === null ? '-' : percent(w.hitRate)}`,
  ];
  if (w.latency !== null) {
    const l = w.latency;
    // Two lines, no rule: the values sit under their names, after the 12-column labels.
    const [names, , values] = table([
      ['Latency'.padEnd(10), 'p50', 'p90', 'p99', 'p99.9', 'max'],
      ['', ms(l.p50Ms), ms(l.p90Ms), ms(l.p99Ms), ms(l.p999Ms), ms(l.maxMs)],
    ]);
    lines.push(names!, values!);
  }
  return lines;
}

/** The network's counters, the run's virtual length and events, and its trace hash. */
function runLines(run: {
  readonly network: NetworkStats;
  readonly virtualMs: number;
  readonly eventsProcessed: number;
  readonly traceHash: string;
}): string[] {
  const n = run.network;
  return [
    `Network     ${count(n.sent)} sent, ${count(n.delivered)} delivered, ${count(n.lost)} lost, ` +
      `${count(n.duplicated)} duplicated, ${count(n.cut)} cut, ${count(n.unroutable)} unroutable`,
    `Run         ${decimal(run.virtualMs / 1000, 6)} s virtual, ${count(run.eventsProcessed)} events`,
    `Trace       ${run.traceHash}`,
  ];
}

/** One row per virtual second; `extra` adds a first column after the second (e.g. the epoch). */
function seriesTable(
  series: readonly SecondSample[],
  extra?: { readonly name: string; readonly cells: readonly string[] },
): string[] {
  const head = [
    'second',
    'requests',
    'hits',
    'misses',
    'writes',
    'errors',
    'hit rate',
    'p50',
    'p99',
  ];
  return table([
    extra === undefined ? head : [head[0]!, extra.name, ...head.slice(1)],
    ...series.map((s, i) => {
      const cells = [
        count(s.requestsPerSecond),
        count(s.hits),
        count(s.misses),
        count(s.writes),
        count(s.errors),
        s.hitRate === null ? '-' : percent(s.hitRate),
        s.p50Ms === null ? '-' : ms(s.p50Ms),
        s.p99Ms === null ? '-' : ms(s.p99Ms),
      ];
      return extra === undefined
        ? [String(s.second), ...cells]
        : [String(s.second), extra.cells[i] ?? '', ...cells];
    }),
  ]);
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
