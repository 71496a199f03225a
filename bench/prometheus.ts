/**
 * Reading a node's /metrics (Prometheus text format) in the benchmarks: the value of one
 * series, or the sum over every series of a metric whose labels include the ones given.
 */

/** `name{a="x",b="y"} 12.5` -> name, labels and value; null for comments and other lines. */
function parseSample(
  line: string,
): { name: string; labels: Map<string, string>; value: number } | null {
  const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
  if (match === null) return null;
  const labels = new Map<string, string>();
  for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
    labels.set(pair[1]!, pair[2]!);
  }
  return { name: match[1]!, labels, value: Number(match[3]) };
}

/**
 * The sum of `name`'s samples whose labels include every one of `labels` (all of them when
 * none are given); null when the text has no such sample.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    const sample = parseSample(line);
    if (sample === null || sample.name !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => sample.labels.get(k) === v)) continue;
    sum = (sum ?? 0) + sample.value;
  }
  return sum;
}
