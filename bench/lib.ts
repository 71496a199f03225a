/**
 * Shared pieces of the benchmarks: medians, ratios, tables, and finding tools on this machine.
 * Every benchmark prints its figure beside the anchor measured in the same run.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function formatRate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US');
}

export function formatRatio(value: number, anchor: number): string {
  return `${(value / anchor).toFixed(2)}x`;
}

/** A plain-text table: the first row is the header. Numbers right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) =>
        /^[\d.,x%+-]+( ?[a-zµ/]+)?$/.test(cell) && c > 0
          ? cell.padStart(widths[c]!)
          : cell.padEnd(widths[c]!),
      )
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)]
    .map((l) => `  ${l}`)
    .join('\n');
}

export function which(command: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${availableParallelism()} cores (${cpu}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/** Progress for long runs, on stderr, so stdout stays the result. */
export function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}
