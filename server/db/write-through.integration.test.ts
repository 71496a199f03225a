/**
 * Level 3 end to end: real `tinycache node` processes in front of a real PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, request, runCli, spawnNode } from '../testing/processes.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded.ts';
import { PgStore } from './store.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

const put = (node: NodeProcess, key: string, body: string, query = '') =>
  request(`${node.url}/v1/keys/${key}${query}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body,
  });
const get = (node: NodeProcess, key: string) => request(`${node.url}/v1/keys/${key}`);

describe('write-through and read-through', () => {
  let database: TestDatabase;
  let rows: PgStore;
  const nodes: NodeProcess[] = [];
  const node = async () => {
    const started = await spawnNode(['--database-url', database.url]);
    nodes.push(started);
    return started;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    rows = new PgStore({ url: database.url });
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rows?.close();
    await database?.drop();
  });

  it('commits a write before acknowledging it, and a new node reads it through', async () => {
    const first = await node();
    expect(first.output()).toContain('write-through to postgres://postgres:***@');
    expect((await put(first, 'user-1', '{"name":"Ada"}')).status).toBe(201);
    expect((await rows.get('user-1', Date.now()))?.value.toString()).toBe('{"name":"Ada"}');
    await first.stop();

    const second = await node(); // empty memory
    const read = await get(second, 'user-1');
    expect(read.status).toBe(200);
    expect(read.headers['content-type']).toBe('application/json');
    expect(await read.text()).toBe('{"name":"Ada"}');
    const stats = (await (await request(`${second.url}/v1/stats`)).json()) as { entries: number };
    expect(stats.entries).toBe(1); // the read filled memory
  });

  it('keeps compressed values and their true size through the database', async () => {
    const first = await node();
    const big = JSON.stringify({ items: Array.from({ length: 400 }, (_, i) => i) });
    expect((await put(first, 'big', big)).status).toBe(201);
    const second = await node();
    const read = await get(second, 'big');
    expect(await read.text()).toBe(big);
    expect(Number(read.headers['content-length'])).toBe(big.length);
  });

  it('respects expiry through the database', async () => {
    const first = await node();
    expect((await put(first, 'session', '"s"', '?ttl=0.3')).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const second = await node();
    expect((await get(second, 'session')).status).toBe(404);
  });

  it('deletes from the database too', async () => {
    const first = await node();
    await put(first, 'gone', '1');
    expect((await request(`${first.url}/v1/keys/gone`, { method: 'DELETE' })).status).toBe(204);
    expect(await rows.get('gone', Date.now())).toBeNull();
    const second = await node();
    expect((await get(second, 'gone')).status).toBe(404);
    expect((await request(`${second.url}/v1/keys/gone`, { method: 'DELETE' })).status).toBe(404);
  });

  it('reports its database work in /metrics', async () => {
    const first = await node();
    await put(first, 'm', '1');
    await get(await node(), 'm'); // a read-through hit on a fresh node
    const second = nodes.at(-1)!;
    await get(second, 'absent');
    await get(second, 'm'); // now from memory
    const text = await (await request(`${second.url}/metrics`)).text();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('tinycache_db_reads_total{result="hit"}')).toBe(1);
    expect(value('tinycache_db_reads_total{result="miss"}')).toBe(1);
    expect(value('tinycache_db_query_duration_seconds_count{op="read"}')).toBe(2);
    expect(value('tinycache_db_breaker_state{state="closed"}')).toBe(1);
    expect(value('tinycache_db_pool_clients{state="total"}')).toBeGreaterThanOrEqual(1);
    // The read path side by side: one GET from memory, two read through (a row and a miss).
    expect(value('tinycache_db_get_duration_seconds_count{source="memory"}')).toBe(1);
    expect(value('tinycache_db_get_duration_seconds_count{source="database"}')).toBe(2);
    const firstText = await (await request(`${first.url}/metrics`)).text();
    expect(firstText).toMatch(/^tinycache_db_query_duration_seconds_count\{op="write"\} 1$/m);
  });

  it('does not join a cluster: moves keep the rules of memory, not of a database', async () => {
    const first = await node();
    const map = {
      epoch: 1,
      vnodes: 256,
      shards: [{ id: 's1', nodes: [{ id: 'x', url: first.url }] }],
      moving: null,
    };
    const answer = await request(`${first.url}/v1/cluster`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(map),
    });
    expect(answer.status).toBe(400);
    expect(answer.text()).toContain('cannot join a cluster');
  });

  it('refuses a bad write before the database sees it', async () => {
    const first = await node();
    expect((await put(first, 'bad', '{not json')).status).toBe(400);
    expect(await rows.get('bad', Date.now())).toBeNull();
  });
});

describe('a database that cannot be used', () => {
  it('stops the node at start-up with one clear line', async () => {
    const run = await runCli([
      'node',
      '--port',
      '0',
      '--database-url',
      'postgres://u:secret@127.0.0.1:1/x',
    ]);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^tinycache node: cannot use the database at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x: /,
    );
    expect(run.stderr).not.toContain('secret');
  });

  it('names a URL that is not postgres:// as a bad option', async () => {
    const run = await runCli(['node', '--database-url', 'mysql://x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--database-url');
  });
});

describe('the database going away under load', () => {
  let db: EmbeddedDatabase;
  let dir: string;
  let node: NodeProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tinycache-pg-kill-'));
    db = await startEmbeddedDatabase({ dir, persistent: true });
    node = await spawnNode(['--database-url', db.url]);
  }, 60_000);
  afterAll(async () => {
    await node?.stop();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 fast, serves hits from memory, loses no acknowledged write, and recovers', async () => {
    const acknowledged = new Set<string>();
    const refused = new Set<string>();
    let n = 0;
    let writing = true;
    let firstRefusedAt = 0;
    const writer = (async () => {
      while (writing) {
        const key = `w-${n++}`;
        const started = performance.now();
        const res = await put(node, key, String(n));
        const ms = performance.now() - started;
        if (res.status === 201) acknowledged.add(key);
        else {
          expect(res.status).toBe(503);
          expect(res.headers['retry-after']).toBeDefined();
          expect(ms).toBeLessThan(2000);
          refused.add(key);
          firstRefusedAt ||= performance.now();
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const hot = [...acknowledged][0]!;
    const stoppedAt = performance.now(); // the stop begins now; writes may fail before it returns
    await db.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(refused.size).toBeGreaterThan(0);
    const toFirst503Ms = firstRefusedAt - stoppedAt;
    expect(toFirst503Ms).toBeLessThan(2000);
    // Hits are still served from memory; a miss cannot be known, so it is 503.
    expect((await get(node, hot)).status).toBe(200);
    expect((await get(node, 'never-written')).status).toBe(503);
    const metrics = await (await request(`${node.url}/metrics`)).text();
    // Open, or for a moment half-open while one probe tries: not closed.
    expect(metrics).toMatch(/^tinycache_db_breaker_state\{state="closed"\} 0$/m);
    expect(metrics).toMatch(/^tinycache_db_errors_total\{op="write"\} [1-9]/m);

    await db.start();
    const restartedAt = performance.now();
    let recoveredMs = -1;
    while (performance.now() - restartedAt < 10_000) {
      if ((await put(node, `probe-${n++}`, '1')).status === 201) {
        recoveredMs = performance.now() - restartedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    writing = false;
    await writer;
    expect(recoveredMs).toBeGreaterThanOrEqual(0);
    expect(recoveredMs).toBeLessThan(10_000);

    const rows = new PgStore({ url: db.url });
    try {
      for (const key of acknowledged) expect(await rows.get(key, Date.now()), key).not.toBeNull();
      for (const key of refused) expect(await rows.get(key, Date.now()), key).toBeNull();
    } finally {
      await rows.close();
    }
    console.log(
      `database stopped under load: ${acknowledged.size} acknowledged writes (all present), ` +
        `${refused.size} refused with 503 (none present), first 503 ${Math.round(toFirst503Ms)} ms ` +
        `after the stop, recovered ${Math.round(recoveredMs)} ms after restart`,
    );
  }, 60_000);
});

describe('write-behind', () => {
  let db: EmbeddedDatabase;
  let dir: string;
  let rows: PgStore;
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tinycache-pg-behind-'));
    db = await startEmbeddedDatabase({ dir, persistent: true });
    rows = new PgStore({ url: db.url });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rows?.close();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const until = async (check: () => Promise<boolean>, ms: number) => {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  };

  it('acknowledges from memory and flushes to the database in batches', async () => {
    const node = await spawnNode(['--database-url', db.url, '--write-mode', 'behind']);
    nodes.push(node);
    expect(node.output()).toContain('write-behind to postgres://');
    const writes = Array.from({ length: 50 }, (_, i) => put(node, `b-${i}`, String(i)));
    expect((await Promise.all(writes)).every((r) => r.status === 201)).toBe(true);
    expect(await until(async () => (await rows.get('b-49', Date.now())) !== null, 2000)).toBe(true);
    expect(await rows.get('b-0', Date.now())).not.toBeNull();
    // A delete is answered at once and hides the row before it is flushed.
    expect((await request(`${node.url}/v1/keys/b-0`, { method: 'DELETE' })).status).toBe(204);
    expect((await get(node, 'b-0')).status).toBe(404);
    expect(await until(async () => (await rows.get('b-0', Date.now())) === null, 2000)).toBe(true);
    const metrics = await (await request(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/^tinycache_db_write_queue_depth 0$/m);
  });

  it('refuses writes with 503 when the queue is full, instead of growing memory', async () => {
    const node = await spawnNode([
      '--database-url',
      db.url,
      '--write-mode',
      'behind',
      '--write-queue',
      '5',
    ]);
    nodes.push(node);
    await db.stop();
    try {
      for (let i = 0; i < 5; i++) expect((await put(node, `q-${i}`, '1')).status).toBe(201);
      const refused = await put(node, 'q-5', '1');
      expect(refused.status).toBe(503);
      expect(await refused.text()).toContain('write-behind queue is full');
      expect((await put(node, 'q-4', '2')).status).toBe(200); // a queued key may be rewritten
      const stats = (await (await request(`${node.url}/v1/stats`)).json()) as { entries: number };
      expect(stats.entries).toBe(5);
      const metrics = await (await request(`${node.url}/metrics`)).text();
      expect(metrics).toMatch(/^tinycache_db_write_queue_depth 5$/m);
    } finally {
      await db.start();
    }
    // The database is back: the queue drains, the latest value of each key lands.
    expect(
      await until(
        async () => (await rows.get('q-4', Date.now()))?.value.toString() === '2',
        10_000,
      ),
    ).toBe(true);
    expect(await rows.get('q-0', Date.now())).not.toBeNull();
    expect(await rows.get('q-5', Date.now())).toBeNull();
  }, 30_000);
});

describe('a busy database', () => {
  it('answers 503 when every pooled connection is taken, instead of hanging', async () => {
    const database = await createTestDatabase();
    const node = await spawnNode(['--database-url', database.url, '--db-pool', '1']);
    const blocker = new pg.Client({ connectionString: database.url });
    try {
      expect((await put(node, 'locked', '0')).status).toBe(201);
      // Another session holds the row: a PUT of it waits on the node's only connection.
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM tinycache_entries WHERE key = 'locked' FOR UPDATE`);
      const started = performance.now();
      const [write, read] = await Promise.all([put(node, 'locked', '1'), get(node, 'elsewhere')]);
      const ms = performance.now() - started;
      expect(write.status).toBe(503); // its statement timed out
      expect(read.status).toBe(503); // no connection came free in time
      expect(ms).toBeLessThan(2500);
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      await blocker.end();
      await node.stop();
      await database.drop();
    }
  });

  it('names --db-pool without a database as a bad option', async () => {
    const run = await runCli(['node', '--db-pool', '2']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--db-pool');
  });
});
