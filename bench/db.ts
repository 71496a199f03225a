/**
 * Benchmark 5: a node in front of PostgreSQL (Level 3).
 *
 * 1. GET: a memory hit beside a database fallback (read-through), both on write-through
 *    nodes of the same database. Hits: 10,000 keys written through the node, then read.
 *    Fallback: a fresh node on a database that holds far more keys than the run can read,
 *    reading uniformly random keys, so nearly every GET is the first of its key, a miss in
 *    memory that the node loads from PostgreSQL. The share of GETs that really went to the
 *    database is read from the node's own metrics and printed.
 * 2. PUT (all writes): memory-only (the anchor), write-through and write-behind, each on a
 *    fresh node and a fresh database. After a write-behind run, the queue depth at the end,
 *    how long it took to drain, and whether the database then holds what memory holds.
 *
 * PostgreSQL: DATABASE_URL when set, else an embedded one in a temporary folder. Every case
 * runs on a database of its own (CREATE DATABASE), dropped when the case is done; the GET
 * cases share one, filled once. Every figure: `tinycache bench -c 16` (closed model).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedDatabase } from '../server/db/embedded.ts';
import { PgStore, TABLE } from '../server/db/store.ts';
import { WRITE_BEHIND_DEFAULTS } from '../server/db/write-behind.ts';
import { request, spawnNode, type NodeProcess } from '../server/testing/processes.ts';
import { runTinycacheBench, type BenchResult, type Figure } from './http.ts';
import { formatRate, median, progress, table } from './lib.ts';
import { metricValue } from './prometheus.ts';

/** Modest concurrency: a pooled database (10 connections a node) is the point, not the HTTP ceiling. */
const CONNECTIONS = 16;
/** Keys read as hits, and written by the PUT cases. */
const KEYS = 10_000;
const VALUE_BYTES = 64;
/**
 * Keys in the fallback's database: far more than a run reads, so a repeated key (a memory hit
 * on the fallback node) is rare. About 10,000 fallbacks a second here: a run of s seconds reads
 * ~10,000 s keys uniformly and repeats ~10,000 s / (2 x keys) of them, 1 % with 500,000 s keys.
 * The fill takes ~4 s a million keys (170 MB).
 */
const FALLBACK_KEYS_PER_SECOND = 500_000;
const MIN_FALLBACK_KEYS = 1_000_000;
const LOAD = ['-c', String(CONNECTIONS), '--dist', 'uniform', '--value-bytes', `${VALUE_BYTES}`];

interface Database {
  readonly url: string;
  drop(): Promise<void>;
}

interface Postgres {
  /** `embedded PostgreSQL 18.1`, or `PostgreSQL 16.4 at DATABASE_URL`. */
  readonly description: string;
  /** A database of its own, with the node's table in it. */
  createDatabase(): Promise<Database>;
  stop(): Promise<void>;
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function openPostgres(): Promise<Postgres> {
  const given = process.env.DATABASE_URL;
  let adminUrl: string;
  let stop: () => Promise<void>;
  let where: string;
  if (given !== undefined && given !== '') {
    adminUrl = given;
    stop = async () => {};
    where = ' at DATABASE_URL';
  } else {
    progress('starting an embedded PostgreSQL (DATABASE_URL not set)');
    const dir = mkdtempSync(join(tmpdir(), 'tinycache-bench-pg-'));
    try {
      const embedded = await startEmbeddedDatabase({ dir });
      adminUrl = embedded.url;
      stop = async () => {
        await embedded.stop();
        rmSync(dir, { recursive: true, force: true });
      };
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    where = ' (embedded, in a temporary folder)';
  }
  const version = await withClient(adminUrl, async (c) => {
    const { rows } = await c.query<{ server_version: string }>('SHOW server_version');
    return rows[0]!.server_version.split(' ')[0]!;
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return {
    description: `PostgreSQL ${version}${where}`,
    stop,
    createDatabase: async () => {
      const name = `tinycache_bench_${randomBytes(6).toString('hex')}`;
      await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      // The node's own migration, so the table is exactly the one a node makes.
      const store = new PgStore({ url: url.href });
      try {
        await store.migrate();
      } finally {
        await store.close();
      }
      return {
        url: url.href,
        drop: async () => {
          await withClient(adminUrl, (c) =>
            c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
          );
        },
      };
    },
  };
}

/**
 * Rows for keys `key-00000000` .. of `count`, 64 B values, as a node stores a 64 B PUT of
 * random bytes (uncompressed, application/octet-stream, no expiry), in one statement: writing
 * a million keys through a node would take minutes.
 */
async function fillDatabase(url: string, count: number): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(
      `INSERT INTO ${TABLE} (key, value, content_type, compressed, raw_bytes, expires_at)
       SELECT 'key-' || lpad(i::text, 8, '0'), sha512(int4send(i)), 'application/octet-stream',
              false, ${VALUE_BYTES}, NULL
         FROM generate_series(0, $1::int - 1) AS i
       ON CONFLICT (key) DO NOTHING`,
      [count],
    );
    // So neither autovacuum nor a checkpoint of the fill runs in the middle of a measurement.
    await c.query(`VACUUM ANALYZE ${TABLE}`);
    await c.query('CHECKPOINT').catch(() => {}); // needs superuser or pg_checkpoint
  });
}

async function scrape(node: NodeProcess): Promise<string> {
  const reply = await request(`${node.url}/metrics`);
  if (reply.status !== 200) throw new Error(`GET ${node.url}/metrics answered ${reply.status}`);
  return reply.text();
}

function read(text: string, name: string, labels: Record<string, string> = {}): number {
  const value = metricValue(text, name, labels);
  if (value === null) throw new Error(`the node's /metrics has no ${name}`);
  return value;
}

function figureOf(result: Result): Figure {
  if (result.latencyMs === null) throw new Error('tinycache bench: no answers');
  return {
    rps: result.requestsPerSecond,
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
  };
}

/** More of `tinycache bench --json` than http.ts reads (server/load/load.ts, LoadResult). */
interface Result extends BenchResult {
  readonly reads: number;
  readonly errors: Readonly<Record<string, number>>;
}

async function bench(node: NodeProcess, args: string[]): Promise<Result> {
  return (await runTinycacheBench(node.url, [...LOAD, ...args])) as Result;
}

/** Read-throughs that found the key; a counter shows no sample until its first count. */
const loadedFromDb = (text: string) =>
  metricValue(text, 'tinycache_db_reads_total', { result: 'hit' }) ?? 0;

/** The node's database calls of one op so far: how many, and their total time. */
function dbCalls(text: string, op: 'read' | 'write') {
  const series = 'tinycache_db_query_duration_seconds';
  return {
    count: metricValue(text, `${series}_count`, { op }) ?? 0,
    seconds: metricValue(text, `${series}_sum`, { op }) ?? 0,
  };
}

/** Mean ms of the database calls of `op` between two scrapes; null when there were none. */
function meanCallMs(before: string, after: string, op: 'read' | 'write'): number | null {
  const [a, b] = [dbCalls(before, op), dbCalls(after, op)];
  return b.count > a.count ? ((b.seconds - a.seconds) / (b.count - a.count)) * 1000 : null;
}

interface GetRun {
  readonly figure: Figure;
  /** GETs answered from the database (the node's read-through hits) / GETs answered. */
  readonly fromDb: number;
  /** The node's own mean time per database read in the run (null: none). */
  readonly dbReadMs: number | null;
}

/** The measured GETs, and how many of them the node loaded from the database. */
async function measureGets(node: NodeProcess, args: string[]): Promise<GetRun> {
  const before = await scrape(node);
  const result = await bench(node, ['--read-ratio', '1', ...args]);
  const after = await scrape(node);
  if (result.errorCount > 0 || result.misses > 0) {
    throw new Error(`GETs: ${result.errorCount} errors, ${result.misses} not found`);
  }
  return {
    figure: figureOf(result),
    fromDb: (loadedFromDb(after) - loadedFromDb(before)) / result.reads,
    dbReadMs: meanCallMs(before, after, 'read'),
  };
}

async function memoryHit(database: Database, seconds: number): Promise<GetRun> {
  const node = await spawnNode(['--database-url', database.url]);
  try {
    // Every key written through the node (so it is in memory and in the database), then a
    // second of reads so the node is warm.
    const warm = await bench(node, [
      ...['--keys', `${KEYS}`, '--prefill', '--read-ratio', '1', '--duration', '1s'],
    ]);
    if (warm.prefill?.stored !== KEYS || warm.errorCount > 0 || warm.misses > 0) {
      throw new Error(`prefill of ${node.url} failed: ${JSON.stringify(warm.prefill)}`);
    }
    return await measureGets(node, ['--keys', `${KEYS}`, '--duration', `${seconds}s`]);
  } finally {
    await node.stop();
  }
}

async function databaseFallback(
  database: Database,
  keys: number,
  seconds: number,
): Promise<GetRun> {
  const node = await spawnNode(['--database-url', database.url]);
  try {
    // Warm the read-through path without putting anything in memory: a key the database does
    // not have is answered 404 after its query, and not kept.
    const warm = (await runTinycacheBench(node.url, [
      ...['-c', String(CONNECTIONS), '--path', '/v1/keys/not-in-the-database'],
      ...['--duration', '1s'],
    ])) as Result;
    const unexpected = Object.keys(warm.errors).filter((kind) => kind !== '404');
    if (unexpected.length > 0) throw new Error(`warm-up: ${JSON.stringify(warm.errors)}`);
    return await measureGets(node, ['--keys', `${keys}`, '--duration', `${seconds}s`]);
  } finally {
    await node.stop();
  }
}

type WriteMode = 'memory' | 'through' | 'behind';

interface PutRun {
  readonly figure: Figure;
  readonly errors: number;
  /** Write-behind: keys queued when the load stopped. */
  readonly queueAtEnd: number | null;
  /** Write-behind: ms from the load's end until the queue was empty. */
  readonly drainMs: number | null;
  /** With a database: rows in it once drained, and how many equal memory's value. */
  readonly rows: number | null;
  readonly rowsEqual: number | null;
  /** Keys in memory at the end. */
  readonly entries: number;
  /** The node's own mean time per database write during the load (a batch in write-behind). */
  readonly dbWriteMs: number | null;
  /** Database writes (batches in write-behind) during the load. */
  readonly dbWrites: number;
}

async function waitForEmptyQueue(node: NodeProcess, timeoutMs = 60_000): Promise<number> {
  const start = performance.now();
  while (read(await scrape(node), 'tinycache_db_write_queue_depth') > 0) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(`the write-behind queue of ${node.url} did not drain in ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - start;
}

/** GET each key from the node on a few keep-alive connections; its body, or null if absent. */
async function valuesInMemory(node: NodeProcess, keys: readonly string[]) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const values = new Map<string, Buffer | null>();
  const get = (key: string) =>
    new Promise<void>((resolve, reject) => {
      httpRequest(`${node.url}/v1/keys/${key}`, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          values.set(key, res.statusCode === 200 ? Buffer.concat(chunks) : null);
          resolve();
        });
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  try {
    let next = 0;
    const worker = async () => {
      while (next < keys.length) await get(keys[next++]!);
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  } finally {
    agent.destroy();
  }
  return values;
}

/**
 * Does the database hold what memory holds? Every row's value beside the node's answer for
 * its key, with no read-through meanwhile (else an answer could come from the row itself).
 */
async function compareWithMemory(node: NodeProcess, url: string) {
  const rows = await withClient(url, async (c) => {
    const result = await c.query<{ key: string; value: Buffer }>(`SELECT key, value FROM ${TABLE}`);
    return result.rows;
  });
  const before = await scrape(node);
  const values = await valuesInMemory(
    node,
    rows.map((r) => r.key),
  );
  const after = await scrape(node);
  const readThrough = (t: string) => metricValue(t, 'tinycache_db_reads_total') ?? 0;
  if (readThrough(after) !== readThrough(before)) {
    throw new Error('the node read through to the database while its memory was compared');
  }
  const equal = rows.filter((r) => values.get(r.key)?.equals(r.value) === true).length;
  return { rows: rows.length, equal, entries: read(before, 'tinycache_entries') };
}

/** PUTs of `KEYS` keys for `seconds` on a fresh node (and a fresh database) of `mode`. */
async function puts(postgres: Postgres, mode: WriteMode, seconds: number): Promise<PutRun> {
  const database = mode === 'memory' ? null : await postgres.createDatabase();
  try {
    const args = database === null ? [] : ['--database-url', database.url];
    if (mode === 'behind') args.push('--write-mode', 'behind');
    const node = await spawnNode(args);
    try {
      const start = await scrape(node);
      const result = await bench(node, [
        ...['--keys', `${KEYS}`, '--read-ratio', '0'],
        ...['--warmup', '1s', '--duration', `${seconds}s`],
      ]);
      const end = await scrape(node);
      const queueAtEnd = mode === 'behind' ? read(end, 'tinycache_db_write_queue_depth') : null;
      const drainMs = mode === 'behind' ? await waitForEmptyQueue(node) : null;
      const check = database === null ? null : await compareWithMemory(node, database.url);
      return {
        figure: figureOf(result),
        errors: result.errorCount,
        queueAtEnd,
        drainMs,
        rows: check?.rows ?? null,
        rowsEqual: check?.equal ?? null,
        entries: check?.entries ?? read(end, 'tinycache_entries'),
        dbWriteMs: meanCallMs(start, end, 'write'),
        dbWrites: dbCalls(end, 'write').count - dbCalls(start, 'write').count,
      };
    } finally {
      await node.stop();
    }
  } finally {
    await database?.drop();
  }
}

const GET_CASES = ['memory hit (anchor)', 'database fallback (read-through)'] as const;
const PUT_CASES = [
  { name: 'memory-only (anchor)', mode: 'memory' },
  { name: 'write-through', mode: 'through' },
  { name: 'write-behind', mode: 'behind' },
] as const satisfies readonly { name: string; mode: WriteMode }[];

const ms = (value: number) => `${value.toFixed(2)} ms`;
const times = (value: number) => `${value.toFixed(2)}x`;
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

export async function dbBench(options: { seconds: number; rounds: number }): Promise<string> {
  const { seconds, rounds } = options;
  const postgres = await openPostgres();
  let getDatabase: Database | null = null;
  try {
    const fallbackKeys = Math.max(MIN_FALLBACK_KEYS, Math.ceil(seconds * FALLBACK_KEYS_PER_SECOND));
    getDatabase = await postgres.createDatabase();
    progress(
      `filling a database with ${formatRate(fallbackKeys)} keys of ${VALUE_BYTES} B ` +
        `(~${Math.ceil(fallbackKeys / 250_000)} s)`,
    );
    await fillDatabase(getDatabase.url, fallbackKeys);
    const db = getDatabase;

    const gets = new Map<string, GetRun[]>(GET_CASES.map((c) => [c, []]));
    const putRuns = new Map<string, PutRun[]>(PUT_CASES.map((c) => [c.name, []]));
    const cases = [
      {
        name: `GET ${GET_CASES[0]}`,
        run: async () => gets.get(GET_CASES[0])!.push(await memoryHit(db, seconds)),
      },
      {
        name: `GET ${GET_CASES[1]}`,
        run: async () =>
          gets.get(GET_CASES[1])!.push(await databaseFallback(db, fallbackKeys, seconds)),
      },
      ...PUT_CASES.map((c) => ({
        name: `PUT ${c.name}`,
        run: async () => putRuns.get(c.name)!.push(await puts(postgres, c.mode, seconds)),
      })),
    ];
    for (let round = 1; round <= rounds; round++) {
      // Every other round runs the cases backwards, so drift and order hit them alike.
      for (const c of round % 2 === 1 ? cases : [...cases].reverse()) {
        progress(`round ${round}/${rounds}: ${c.name} (${seconds} s)`);
        await c.run();
      }
    }
    return report({ seconds, rounds, postgres, fallbackKeys, gets, puts: putRuns });
  } finally {
    await getDatabase?.drop().catch(() => {});
    await postgres.stop();
  }
}

function summary(list: readonly Figure[]): Figure {
  return {
    rps: median(list.map((f) => f.rps)),
    p50Ms: median(list.map((f) => f.p50Ms)),
    p99Ms: median(list.map((f) => f.p99Ms)),
  };
}

/** The median of each round's ratio to the anchor of the same round. */
function ratio(runs: readonly Figure[], anchors: readonly Figure[], of: keyof Figure): number {
  return median(runs.map((f, i) => f[of] / anchors[i]![of]));
}

function report(r: {
  seconds: number;
  rounds: number;
  postgres: Postgres;
  fallbackKeys: number;
  gets: Map<string, GetRun[]>;
  puts: Map<string, PutRun[]>;
}): string {
  const hitRuns = r.gets.get(GET_CASES[0])!.map((g) => g.figure);
  const fallbackRuns = r.gets.get(GET_CASES[1])!.map((g) => g.figure);
  const getRows = [['case', 'req/s', 'p50', 'p99', 'from db', 'p50 vs hit', 'p99 vs hit']];
  for (const name of GET_CASES) {
    const runs = r.gets.get(name)!;
    const s = summary(runs.map((g) => g.figure));
    const anchor = name === GET_CASES[0];
    getRows.push([
      name,
      formatRate(s.rps),
      ms(s.p50Ms),
      ms(s.p99Ms),
      percent(median(runs.map((g) => g.fromDb))),
      anchor ? '' : times(ratio(fallbackRuns, hitRuns, 'p50Ms')),
      anchor ? '' : times(ratio(fallbackRuns, hitRuns, 'p99Ms')),
    ]);
  }
  const byRound = (of: keyof Figure) =>
    fallbackRuns.map((f, i) => times(f[of] / hitRuns[i]![of])).join(', ');

  const memoryRuns = r.puts.get(PUT_CASES[0].name)!.map((p) => p.figure);
  const putRows = [['mode', 'req/s', 'p50', 'p99', 'vs memory', 'errors']];
  for (const c of PUT_CASES) {
    const runs = r.puts.get(c.name)!;
    const figures = runs.map((p) => p.figure);
    const s = summary(figures);
    putRows.push([
      c.name,
      formatRate(s.rps),
      ms(s.p50Ms),
      ms(s.p99Ms),
      c.mode === 'memory' ? '' : times(ratio(figures, memoryRuns, 'rps')),
      formatRate(median(runs.map((p) => p.errors))),
    ]);
  }
  const behind = r.puts.get(PUT_CASES[2].name)!;
  const { batch, intervalMs, maxQueue } = WRITE_BEHIND_DEFAULTS;
  const meanOf = (list: readonly (number | null)[]) => {
    const known = list.filter((v): v is number => v !== null);
    return known.length === 0 ? '?' : ms(median(known));
  };
  const through = r.puts.get(PUT_CASES[1].name)!;
  // After each run (write-behind: once its queue drained), the database must hold exactly
  // what memory holds: as many rows as keys in memory, every row's value equal to memory's.
  const inDatabase = PUT_CASES.filter((c) => c.mode !== 'memory').map((c) => {
    const runs = r.puts.get(c.name)!;
    const bad = runs
      .map((p, i) => ({ p, round: i + 1 }))
      .filter(({ p }) => p.rowsEqual !== p.rows || p.rows !== p.entries);
    const verdict =
      bad.length === 0
        ? 'every row equal to memory, as many rows as keys in memory'
        : `MISMATCH ${bad
            .map(
              ({ p, round }) =>
                `round ${round}: ${formatRate(p.rowsEqual!)} of ${formatRate(p.rows!)} rows ` +
                `equal to memory, ${formatRate(p.entries)} keys in memory`,
            )
            .join('; ')}`;
    return `${c.name} ${runs.map((p) => formatRate(p.rows!)).join('/')} rows, ${verdict}`;
  });
  const fallbackDbMs = meanOf(r.gets.get(GET_CASES[1])!.map((g) => g.dbReadMs));
  // Batches during the warm-up second and the measured seconds.
  const batches = median(behind.map((p) => p.dbWrites)) / (r.seconds + 1);
  return [
    `Database fallback vs memory hit, GET of 64 B values (uniform keys) on write-through nodes, ` +
      `tinycache bench -c ${CONNECTIONS}, ${r.seconds} s x ${r.rounds} rounds, medians ` +
      `(vs hit: of each round's ratio); ${r.postgres.description}`,
    table(getRows),
    `  database fallback vs memory hit: p50 ${times(ratio(fallbackRuns, hitRuns, 'p50Ms'))}, ` +
      `p99 ${times(ratio(fallbackRuns, hitRuns, 'p99Ms'))}, req/s ` +
      `${times(ratio(fallbackRuns, hitRuns, 'rps'))}; p50 by round: ${byRound('p50Ms')}; ` +
      `the node's own time per database read: ${fallbackDbMs} (mean)`,
    `  hit: ${formatRate(KEYS)} keys written through the node, then read; fallback: a fresh node ` +
      `reading uniformly among ${formatRate(r.fallbackKeys)} keys put in its database by SQL, so ` +
      `nearly every GET is a miss in memory, loaded from PostgreSQL; from db: GETs the node ` +
      `loaded from the database (tinycache_db_reads_total{result="hit"}), the rest repeats`,
    '',
    `Write modes, PUT of 64 B values (all writes) on ${formatRate(KEYS)} keys (uniform), ` +
      `tinycache bench -c ${CONNECTIONS} after a 1 s warm-up, ${r.seconds} s x ${r.rounds} rounds, ` +
      `medians (vs memory: of each round's ratio); each case a fresh node and database`,
    table(putRows),
    `  the node's own time per database write (mean): write-through ` +
      `${meanOf(through.map((p) => p.dbWriteMs))} a PUT, write-behind ` +
      `${meanOf(behind.map((p) => p.dbWriteMs))} a batch, ${batches.toFixed(0)} batches a second`,
    `  write-behind queue at the end: ${formatRate(median(behind.map((p) => p.queueAtEnd!)))} ` +
      `keys (median; by round: ${behind.map((p) => formatRate(p.queueAtEnd!)).join(', ')}), ` +
      `drained in ${behind.map((p) => `${Math.round(p.drainMs!)}`).join(', ')} ms; it writes ` +
      `batches of up to ${batch} keys back to back while any are queued (an idle queue is ` +
      `looked at every ${intervalMs} ms) and holds ${formatRate(maxQueue)} (--write-queue), ` +
      `the whole key space here`,
    `  in the database after each run (write-behind: once drained): ${inDatabase.join('; ')}`,
  ].join('\n');
}
