/**
 * Numbers for people: `1,234 req/s`, `93.1 %`, `0.21 ms`, `12.4 MiB`. One locale (en-US), so
 * the server's first render and the browser's agree.
 */

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A dash where a figure is not known (no requests yet, node down). */
export const NONE = '—';

export function formatCount(n: number): string {
  return integer.format(Math.round(n));
}

/** `2,013 req/s`; `0 req/s` when idle. */
export function formatRate(perSecond: number | null | undefined, unit = 'req/s'): string {
  return `${formatCount(perSecond ?? 0)} ${unit}`;
}

/** A rate that may be small (evictions, errors): `0.5 /s`, `12 /s`, `1,204 /s`. */
export function formatPerSecond(perSecond: number | null | undefined): string {
  const n = perSecond ?? 0;
  if (n > 0 && n < 10) return `${n.toFixed(1)} /s`;
  return `${formatCount(n)} /s`;
}

/** A share from 0 to 1 as `93.1 %`. */
export function formatPercent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return NONE;
  return `${(share * 100).toFixed(1)} %`;
}

/** `0.21 ms`, `4.35 ms`, `12.4 ms`, `240 ms`, `1.25 s`. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return NONE;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** Powers of 1024, as the node's config reads them: `512 B`, `1.5 KiB`, `64 MiB`. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return NONE;
  let value = Math.abs(bytes);
  let unit = 0;
  // 1023.9 KiB reads better as 1.0 MiB.
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const sign = bytes < 0 ? '-' : '';
  if (unit === 0) return `${sign}${Math.round(value)} B`;
  const digits = value >= 100 || Number.isInteger(value) ? 0 : 1;
  return `${sign}${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** An axis label: short and without a space (`64M`, `1.5K`). */
export function formatBytesShort(bytes: number): string {
  return formatBytes(bytes).replace(' ', '').replace('iB', '');
}

/** Uptime: `42s`, `3m 12s`, `1h 04m`, `2d 3h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) {
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  }
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** A compact count for chart axes: `950`, `1.2k`, `45k`, `1.3M`. */
export function formatCompact(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${trim(n / 1e6)}M`;
  if (abs >= 1e3) return `${trim(n / 1e3)}k`;
  return trim(n);
}

function trim(n: number): string {
  return Math.abs(n) >= 10 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
}

/** Wall-clock time of a sample, `14:03:27`. */
export function formatClock(t: number): string {
  const d = new Date(t);
  return [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map((part) => String(part).padStart(2, '0'))
    .join(':');
}
