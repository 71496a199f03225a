/**
 * The last lines a node printed, in a bounded ring: a chatty or stuck node never grows the
 * supervisor's memory.
 */

/** Longest line kept; the rest of a longer line is dropped. */
export const MAX_LINE_CHARS = 4096;

export class LogRing {
  private readonly lines: string[] = [];
  private next = 0;
  /** Unfinished line per stream, so interleaved stdout and stderr chunks stay whole. */
  private readonly partial = new Map<string, string>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a whole number above 0, got ${capacity}`);
    }
  }

  /** Adds one whole line. */
  push(line: string): void {
    const kept = line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line;
    if (this.lines.length < this.capacity) this.lines.push(kept);
    else this.lines[this.next] = kept;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Adds a chunk of a stream's output; a line is kept once its newline arrives. */
  write(stream: string, chunk: string): void {
    const parts = ((this.partial.get(stream) ?? '') + chunk).split('\n');
    const rest = parts.pop() ?? '';
    for (const line of parts) this.push(line.endsWith('\r') ? line.slice(0, -1) : line);
    this.partial.set(stream, rest.slice(0, MAX_LINE_CHARS));
  }

  /** Keeps what a stream left without a final newline (it ended). */
  flush(stream: string): void {
    const rest = this.partial.get(stream);
    if (rest) this.push(rest);
    this.partial.delete(stream);
  }

  /** The last `count` lines (all by default), oldest first. */
  tail(count = this.capacity): string[] {
    const ordered =
      this.lines.length < this.capacity
        ? this.lines.slice()
        : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
    return count >= ordered.length ? ordered : ordered.slice(ordered.length - Math.max(0, count));
  }
}
