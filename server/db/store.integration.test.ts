/** The PostgreSQL store against a real PostgreSQL (embedded, or DATABASE_URL). */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgStore, TABLE } from './store.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

let database: TestDatabase;
let store: PgStore;

beforeAll(async () => {
  database = await createTestDatabase();
  store = new PgStore({ url: database.url });
  await store.migrate();
});

afterAll(async () => {
  await store?.close();
  await database?.drop();
});

const entry = (key: string, value: string, expiresAt: number | null = null) => ({
  key,
  value: Buffer.from(value),
  contentType: 'application/json',
  compressed: false,
  rawBytes: value.length,
  expiresAt,
});

describe('PgStore', () => {
  it('migrates twice, and from several nodes at once, without error', async () => {
    const others = [1, 2, 3].map(() => new PgStore({ url: database.url }));
    await Promise.all([store.migrate(), ...others.map((other) => other.migrate())]);
    await Promise.all(others.map((other) => other.close()));
  });

  it('stores bytes exactly, replaces on a second put, and deletes', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254, 0x1f, 0x8b]);
    const png = { value: bytes, contentType: 'image/png', compressed: true, rawBytes: 100 };
    await store.put({ ...entry('bin', ''), ...png });
    expect(await store.get('bin', Date.now())).toEqual({ key: 'bin', ...png, expiresAt: null });
    await store.put(entry('bin', '"replaced"'));
    expect((await store.get('bin', Date.now()))?.value.toString()).toBe('"replaced"');
    expect(await store.delete('bin')).toBe(true);
    expect(await store.delete('bin')).toBe(false);
    expect(await store.get('bin', Date.now())).toBeNull();
  });

  it('keeps expiry to the millisecond, and ignores an expired row on read', async () => {
    const at = 1_900_000_000_123;
    await store.put(entry('ttl', '1', at));
    expect((await store.get('ttl', at - 1))?.expiresAt).toBe(at);
    expect(await store.get('ttl', at)).toBeNull();
  });

  it('removes expired rows in bounded batches', async () => {
    const now = 2_000_000_000_000;
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => store.put(entry(`old-${i}`, '0', now - 1000))),
    );
    await store.put(entry('young', '0', now + 60_000));
    expect(await store.deleteExpired(now, 3)).toBe(3);
    // 'ttl' from the test before has expired too.
    expect(await store.deleteExpired(now, 100)).toBe(3);
    expect(await store.deleteExpired(now, 100)).toBe(0);
    expect(await store.get('young', now)).not.toBeNull();
  });

  it('fails fast when the database is slow: no free connection, or a statement too long', async () => {
    // Another session locks a row; a put of it waits, holding the pool's one connection.
    await store.put(entry('locked', '0'));
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT * FROM ${TABLE} WHERE key = 'locked' FOR UPDATE`);
    const small = new PgStore({
      url: database.url,
      maxClients: 1,
      connectionTimeoutMs: 200,
      statementTimeoutMs: 500,
    });
    try {
      const started = performance.now();
      const [put, get] = await Promise.allSettled([
        small.put(entry('locked', '1')),
        small.get('other', Date.now()),
      ]);
      const elapsed = performance.now() - started;
      expect(get.status).toBe('rejected'); // waited 200 ms for the busy connection
      expect(put.status).toBe('rejected'); // cancelled by statement_timeout after 500 ms
      expect(String((put as PromiseRejectedResult).reason)).toMatch(/statement timeout/);
      expect(elapsed).toBeLessThan(2000);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
      await small.close();
    }
    expect((await store.get('locked', Date.now()))?.value.toString()).toBe('0');
  });

  it('has its table named as documented', () => {
    expect(TABLE).toBe('tinycache_entries');
  });
});
