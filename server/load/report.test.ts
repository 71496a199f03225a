import { describe, expect, it } from 'vitest';
import { DEFAULT_LOAD_OPTIONS, type LoadResult } from './load.ts';
import {
  describeModel,
  describePrefill,
  formatIntendedRate,
  formatMeasuredRate,
  formatProgress,
  formatResultTable,
} from './report.ts';

const LATENCY = { min: 0.05, mean: 0.2, p50: 0.15, p90: 0.3, p99: 0.9, p999: 2.5, max: 4 };

function result(overrides: Partial<LoadResult> = {}): LoadResult {
  return {
    target: 'http://127.0.0.1:7001',
    path: null,
    mode: 'closed',
    connections: 50,
    rate: null,
    durationSeconds: 2,
    requests: 2000,
    requestsPerSecond: 1000,
    latencyMs: LATENCY,
    sendLagMs: null,
    reads: 1800,
    writes: 200,
    hits: 900,
    misses: 900,
    hitRate: 0.5,
    errors: {},
    errorCount: 0,
    statuses: { '200': 1100, '404': 900 },
    bytesRead: 8 * 1024 * 1024,
    bytesWritten: 2 * 1024 * 1024,
    unfinished: 50,
    prefill: null,
    stoppedBy: 'duration',
    options: { ...DEFAULT_LOAD_OPTIONS, rate: null, durationSeconds: 2 },
    ...overrides,
  };
}

const row = (table: string, label: string) =>
  table.split('\n').find((line) => line.startsWith(label.padEnd(12)));

describe('result table', () => {
  it('prints a fractional rate as given, not rounded to a whole number', () => {
    expect(describeModel({ mode: 'open', rate: 0.5, connections: 64 })).toBe(
      'open, 0.5 req/s intended (one every 2 s), up to 64 connections',
    );
    expect(describeModel({ mode: 'open', rate: 2000, connections: 64 })).toBe(
      'open, 2,000 req/s intended, up to 64 connections',
    );
    expect(formatIntendedRate(12.5)).toBe('12.5');
    expect(formatMeasuredRate(0.48)).toBe('0.48');
    expect(formatMeasuredRate(45.33)).toBe('45.3');
    expect(formatMeasuredRate(37012.4)).toBe('37,012');
    const table = formatResultTable(result({ requestsPerSecond: 0.5, requests: 1 }));
    expect(row(table, 'Requests')).toBe('Requests    1 answered, 0.5 req/s');
  });

  it('says whose transfer it is: received and sent by this client', () => {
    expect(row(formatResultTable(result()), 'Transfer')).toBe(
      'Transfer    4MiB/s received, 1MiB/s sent (by this client)',
    );
  });

  it('shows a prefill that stored every key, and warns when writes failed, naming why', () => {
    const full = { keys: 100, stored: 100, failed: 0, failures: {} };
    expect(row(formatResultTable(result({ prefill: full })), 'Prefill')).toBe(
      'Prefill     100 of 100 keys stored',
    );
    const refused = { keys: 100, stored: 0, failed: 100, failures: { '413 value_too_large': 100 } };
    expect(row(formatResultTable(result({ prefill: refused })), 'Prefill')).toBe(
      'Prefill     WARNING: 0 of 100 keys stored; 100 failed (413 value_too_large: 100)',
    );
    expect(
      describePrefill({ keys: 10, stored: 4, failed: 3, failures: { ECONNRESET: 1, '500': 2 } }),
    ).toBe('WARNING: 4 of 10 keys stored; 3 failed (500: 2, ECONNRESET: 1); 3 unanswered at stop');
    expect(row(formatResultTable(result()), 'Prefill')).toBeUndefined();
  });

  it("shows the open model's send lag under the latency columns, and says when it dominates", () => {
    const open = { mode: 'open' as const, rate: 2000, connections: 64 };
    const small = { ...LATENCY, p50: 0.001, p90: 0.001, p99: 0.08, p999: 1.5, max: 3 };
    const quiet = formatResultTable(result({ ...open, sendLagMs: small }));
    expect(quiet).toMatch(/^ {2}send lag {2}0\.001 {5}0\.001 {5}0\.080 {5}1\.50 {6}3\.00$/m);
    expect(quiet).not.toContain('Note');
    const big = { ...LATENCY, p99: 0.8, p999: 2, max: 4 };
    const busy = formatResultTable(
      result({ ...open, latencyMs: { ...LATENCY, p99: 1.2 }, sendLagMs: big }),
    );
    expect(busy).not.toContain('Note'); // p99 lag under 1 ms: not worth a note
    const late = { ...LATENCY, p99: 3, p999: 8, max: 12 };
    const stalled = formatResultTable(
      result({ ...open, latencyMs: { ...LATENCY, p99: 5 }, sendLagMs: late }),
    );
    expect(row(stalled, 'Note')).toContain("half or more of p99 is this client's own send lag");
    expect(formatResultTable(result())).not.toContain('send lag');
  });

  it('shows prefill progress as keys stored and failed', () => {
    const snapshot = {
      running: true,
      phase: 'prefill' as const,
      elapsedSeconds: 0,
      durationSeconds: 10,
      requestsPerSecond: 120,
      p50Ms: null,
      p99Ms: null,
      errors: 0,
      hitRate: null,
      totalRequests: 0,
      totalErrors: 0,
      prefilledKeys: 40,
      prefillFailed: 3,
      openConnections: 4,
    };
    expect(formatProgress(snapshot, 0)).toBe(
      'prefill: 40 keys stored, 3 failed, 120 req/s, 0 errors',
    );
  });
});
