import { describe, expect, it } from 'vitest';
import { metricValue } from './prometheus.ts';

const TEXT = `# HELP tinycache_db_reads_total Reads through to the database on a miss.
# TYPE tinycache_db_reads_total counter
tinycache_db_reads_total{result="hit"} 9500
tinycache_db_reads_total{result="miss"} 12
tinycache_db_reads_total_extra{result="hit"} 7
# HELP tinycache_db_write_queue_depth Write-behind: keys not yet in the database.
# TYPE tinycache_db_write_queue_depth gauge
tinycache_db_write_queue_depth 4213
tinycache_requests_total{op="get",code="200"} 3
tinycache_requests_total{op="set",code="201"} 5
tinycache_requests_total{op="set",code="503"} 2
`;

describe('metricValue', () => {
  it('reads a series without labels', () => {
    expect(metricValue(TEXT, 'tinycache_db_write_queue_depth')).toBe(4213);
  });

  it('picks the series with the labels asked for, not one whose name only starts alike', () => {
    expect(metricValue(TEXT, 'tinycache_db_reads_total', { result: 'hit' })).toBe(9500);
    expect(metricValue(TEXT, 'tinycache_db_reads_total', { result: 'miss' })).toBe(12);
  });

  it('sums every series that has the labels given', () => {
    expect(metricValue(TEXT, 'tinycache_requests_total', { op: 'set' })).toBe(7);
    expect(metricValue(TEXT, 'tinycache_requests_total')).toBe(10);
  });

  it('is null when no sample matches, so a missing metric is not read as 0', () => {
    expect(metricValue(TEXT, 'tinycache_entries')).toBeNull();
    expect(metricValue(TEXT, 'tinycache_db_reads_total', { result: 'error' })).toBeNull();
  });
});
