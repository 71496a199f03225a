/**
 * Small, pure readings of what a walkthrough has observed, shared by the levels' checks: the
 * REST exchanges in a journal, the samples seen while the page was open, a node's figures.
 */
import type { LiveSample, NodeSample } from '../../server/control/monitor.ts';
import type { LoadSettings } from '../../server/load/settings.ts';
import { formatBytes, formatCount } from '../format.ts';
import type {
  CheckView,
  ConfigSeen,
  LoadSeen,
  Observation,
  RestExchange,
  RestSeen,
} from './model.ts';

/**
 * The key `base` of this visit: `user-4821`. (A `-`, not the usual `:`, so the curl commands
 * shown need no percent-encoding.)
 */
export function keyOf(view: Pick<CheckView, 'session'>, base: string): string {
  return `${base}-${view.session}`;
}

export function restSeen(
  journal: readonly Observation[],
  match: (seen: RestSeen) => boolean = () => true,
): RestSeen[] {
  return journal.filter((o): o is RestSeen => o.kind === 'rest' && match(o));
}

/** REST exchanges for `key`, optionally of one method. */
export function exchangesFor(
  journal: readonly Observation[],
  key: string,
  method?: RestSeen['request']['method'],
): RestSeen[] {
  return restSeen(
    journal,
    (o) => o.request.key === key && (method === undefined || o.request.method === method),
  );
}

export function configSeen(journal: readonly Observation[]): ConfigSeen[] {
  return journal.filter((o): o is ConfigSeen => o.kind === 'config');
}

export function loadSeen(journal: readonly Observation[]): LoadSeen[] {
  return journal.filter((o): o is LoadSeen => o.kind === 'load');
}

/** A load's settings in words: `open model, 2,000 req/s, 90% GET / 10% PUT, …`. */
export function describeLoad(s: LoadSettings): string {
  const model =
    s.mode === 'open'
      ? `open model, ${formatCount(s.rate)} req/s`
      : `closed model, ${formatCount(s.connections)} connections`;
  const reads = Math.round(s.readRatio * 100);
  const keys = `${s.distribution === 'zipf' ? `Zipf (s = ${s.zipfS})` : 'uniform'} over ${formatCount(s.keys)} keys`;
  const values = `${formatBytes(s.valueBytes)} ${s.compressible ? 'compressible JSON' : 'random'} values`;
  return `${model}, ${reads}% GET / ${100 - reads}% PUT, ${keys}, ${values}`;
}

/** A response header, whatever its case. */
export function header(exchange: RestExchange, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(exchange.headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** The `code` of a JSON error body (`value_too_large`), or undefined. */
export function errorCode(exchange: RestExchange): string | undefined {
  try {
    const body = JSON.parse(exchange.body) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

export function isSuccess(exchange: RestExchange): boolean {
  return exchange.status >= 200 && exchange.status < 300;
}

/** Samples taken while this page was open, optionally only those after `after`. */
export function samplesSeen(view: CheckView, after = 0): readonly LiveSample[] {
  const from = Math.max(view.openedAt, after);
  return view.samples.filter((sample) => sample.t > from);
}

export function nodeIn(sample: LiveSample, id: string): NodeSample | undefined {
  return sample.nodes.find((node) => node.id === id);
}

/** True when some `n` samples in a row all pass `test`. */
export function inARow(
  samples: readonly LiveSample[],
  n: number,
  test: (sample: LiveSample) => boolean,
): boolean {
  let run = 0;
  for (const sample of samples) {
    run = test(sample) ? run + 1 : 0;
    if (run >= n) return true;
  }
  return false;
}

export function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The numbers among `values` (dropping null and undefined). */
export function known(values: readonly (number | null | undefined)[]): number[] {
  return values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

/** `14:03:27.4`: a time precise enough to tell two answers a second apart. */
export function clockTenths(t: number): string {
  const d = new Date(t);
  const hms = [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map((part) => String(part).padStart(2, '0'))
    .join(':');
  return `${hms}.${Math.floor(d.getMilliseconds() / 100)}`;
}
