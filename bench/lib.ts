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

/**
 * The open-model write client of the failover benches (TinyCache's and Redis Cluster's): `rate`
 * arrivals a second, paced every 5 ms (a backlog beyond one second is dropped, not burst: the
 * client fell behind, e.g. GC). An arrival sends what `arrival()` gives, unless `maxInFlight`
 * writes are in flight already (then it is shed, and counted). Subclasses write, and call
 * `acknowledged` (which tells the listeners when it was sent and answered) or count a failure.
 */
export abstract class OpenWriter {
  failures = 0;
  acks = 0;
  /** Arrivals not sent: maxInFlight writes were in flight already. */
  shed = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly listeners = new Set<(sentAt: number, ackedAt: number) => void>();
  private timer: NodeJS.Timeout | null = null;
  private started = 0;
  private sent = 0;

  constructor(
    private readonly rate: number,
    private readonly maxInFlight: number,
  ) {}

  /** The write for the next arrival, or null when there is nothing to send it to. */
  protected abstract arrival(): (() => Promise<void>) | null;

  start(): void {
    this.started = performance.now();
    this.timer = setInterval(() => this.pump(), 5);
  }

  /** Stops the arrivals and waits for the writes in flight. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.inFlight);
  }

  /** Tells `listener` the send and answer times (performance.now()) of each acknowledged write. */
  onAck(listener: (sentAt: number, ackedAt: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected acknowledged(sentAt: number): void {
    this.acks++;
    const ackedAt = performance.now();
    for (const listener of this.listeners) listener(sentAt, ackedAt);
  }

  private pump(): void {
    const due = Math.floor(((performance.now() - this.started) / 1000) * this.rate);
    if (due - this.sent > this.rate) this.sent = due - this.rate;
    while (this.sent < due) {
      this.sent++;
      const write = this.arrival();
      if (write === null) continue;
      if (this.inFlight.size >= this.maxInFlight) {
        this.shed++;
        continue;
      }
      const p = write().finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }
}
