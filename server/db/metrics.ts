/**
 * A write-through node's database metrics (API.md §3 `tinycache_db_…`), on the node's
 * registry. A database call takes milliseconds, so prom-client's own labelled metrics cost
 * nothing worth counting here.
 */
import client from 'prom-client';
import { DURATION_BUCKETS_SECONDS } from '../node/metrics.ts';
import type { BreakerState } from './breaker.ts';
import type { Persistence } from './persistence.ts';
import type { WriteBehind } from './write-behind.ts';

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half-open', 'open'];

/** Where a GET's answer came from on a node with a database. */
export type ReadSource = 'memory' | 'database';

/** Records one GET's time, request to response, by where its answer came from. */
export type ReadTimer = (source: ReadSource, seconds: number) => void;

export function registerDbMetrics(
  registry: client.Registry,
  database: Persistence,
  writeBehind?: WriteBehind,
): ReadTimer {
  const registers = [registry];
  // The read path side by side (Level 3): a hit answered from memory against a miss read
  // through from the database. Only answers count; a refusal (503) is in the error rate.
  const gets = new client.Histogram({
    name: 'tinycache_db_get_duration_seconds',
    help: 'GETs answered, by where the answer came from: memory (a hit) or database (a miss read through).',
    labelNames: ['source'],
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });
  if (writeBehind !== undefined) {
    new client.Gauge({
      name: 'tinycache_db_write_queue_depth',
      help: 'Write-behind: keys written to memory and not yet to the database (what a crash can lose).',
      registers,
      collect() {
        this.set(writeBehind.depth);
      },
    });
  }
  const duration = new client.Histogram({
    name: 'tinycache_db_query_duration_seconds',
    help: 'Time of each database call, by operation (read, write, delete, sweep).',
    labelNames: ['op'],
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });
  const errors = new client.Counter({
    name: 'tinycache_db_errors_total',
    help: 'Database calls that failed, by operation.',
    labelNames: ['op'],
    registers,
  });
  const reads = new client.Counter({
    name: 'tinycache_db_reads_total',
    help: 'Reads through to the database on a miss: hit (found), miss, error (not answered).',
    labelNames: ['result'],
    registers,
  });
  new client.Gauge({
    name: 'tinycache_db_pool_clients',
    help: 'Database connections: total open, idle among them, and queries waiting for one.',
    labelNames: ['state'],
    registers,
    collect() {
      const clients = database.store.clients();
      this.set({ state: 'total' }, clients.total);
      this.set({ state: 'idle' }, clients.idle);
      this.set({ state: 'waiting' }, clients.waiting);
    },
  });
  new client.Gauge({
    name: 'tinycache_db_breaker_state',
    help: 'The database circuit breaker: 1 for the state it is in (closed, half-open, open).',
    labelNames: ['state'],
    registers,
    collect() {
      const now = database.breakerState();
      for (const state of BREAKER_STATES) this.set({ state }, state === now ? 1 : 0);
    },
  });
  database.observe({
    onQuery: (op, seconds, failed) => {
      duration.observe({ op }, seconds);
      if (failed) errors.inc({ op });
    },
    onRead: (result) => reads.inc({ result }),
  });
  const bySource = { memory: gets.labels('memory'), database: gets.labels('database') };
  return (source, seconds) => bySource[source].observe(seconds);
}
