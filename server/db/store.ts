/**
 * The PostgreSQL side of a node (Level 3): one table of entries behind a pg.Pool with every
 * bound explicit, so a slow or absent database costs bounded time and connections, and an
 * idle client's error is logged instead of crashing the node.
 */
import pg from 'pg';

/** An entry as the database keeps it: the stored bytes, as the cache stores them. */
export interface DbEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly contentType: string;
  readonly compressed: boolean;
  /** The value's size as sent, before compression. */
  readonly rawBytes: number;
  /** Absolute expiry in ms since the epoch; null: never. */
  readonly expiresAt: number | null;
}

export interface PgStoreOptions {
  readonly url: string;
  /** Connections at most (pg.Pool `max`). */
  readonly maxClients?: number;
  /** How long a query may wait for a free connection before it fails. */
  readonly connectionTimeoutMs?: number;
  /** An idle connection is closed after this long. */
  readonly idleTimeoutMs?: number;
  /** The server cancels a statement that runs longer (statement_timeout). */
  readonly statementTimeoutMs?: number;
  /** Errors of idle clients (the database restarted, the network dropped). */
  readonly onError?: (error: Error) => void;
}

export const DB_DEFAULTS = {
  maxClients: 10,
  connectionTimeoutMs: 1000,
  idleTimeoutMs: 10_000,
  statementTimeoutMs: 1000,
} as const;

export const TABLE = 'tinycache_entries';

const MIGRATION = `
  CREATE TABLE IF NOT EXISTS ${TABLE} (
    key          text        PRIMARY KEY,
    value        bytea       NOT NULL,
    content_type text        NOT NULL,
    compressed   boolean     NOT NULL,
    raw_bytes    integer     NOT NULL,
    expires_at   timestamptz NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS ${TABLE}_expires_at ON ${TABLE} (expires_at)
    WHERE expires_at IS NOT NULL;
`;

interface Row {
  key: string;
  value: Buffer;
  content_type: string;
  compressed: boolean;
  raw_bytes: number;
  expires_at: Date | null;
}

export class PgStore {
  private readonly pool: pg.Pool;

  constructor(options: PgStoreOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxClients ?? DB_DEFAULTS.maxClients,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? DB_DEFAULTS.connectionTimeoutMs,
      idleTimeoutMillis: options.idleTimeoutMs ?? DB_DEFAULTS.idleTimeoutMs,
      statement_timeout: options.statementTimeoutMs ?? DB_DEFAULTS.statementTimeoutMs,
      application_name: 'tinycache',
    });
    // Without a listener, an idle client's error (the server went away) would crash the node.
    this.pool.on('error', (error) => options.onError?.(error));
  }

  /**
   * Creates the table and its index unless they exist. Nodes starting together take turns
   * (an advisory lock), since CREATE ... IF NOT EXISTS alone can race.
   */
  migrate(): Promise<void> {
    return this.transaction(async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('${TABLE}'))`);
      await client.query(MIGRATION);
    });
  }

  /** Runs `work` in a transaction on one client: committed, or rolled back and rethrown. */
  private async transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      // A client that failed mid-transaction may be broken: the pool drops it.
      client.release(error as Error);
      throw error;
    }
  }

  /** The entry, unless it is absent or expired at `nowMs`. */
  async get(key: string, nowMs: number): Promise<DbEntry | null> {
    const { rows } = await this.pool.query<Row>(
      `SELECT key, value, content_type, compressed, raw_bytes, expires_at FROM ${TABLE}
        WHERE key = $1 AND (expires_at IS NULL OR expires_at > to_timestamp($2 / 1000.0))`,
      [key, nowMs],
    );
    const row = rows[0];
    return row === undefined ? null : fromRow(row);
  }

  /** Inserts or replaces the entry; resolves once the database has committed it. */
  async put(entry: DbEntry): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${TABLE} (key, value, content_type, compressed, raw_bytes, expires_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, to_timestamp($6 / 1000.0), now())
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,
         content_type = EXCLUDED.content_type, compressed = EXCLUDED.compressed,
         raw_bytes = EXCLUDED.raw_bytes, expires_at = EXCLUDED.expires_at, updated_at = now()`,
      [
        entry.key,
        entry.value,
        entry.contentType,
        entry.compressed,
        entry.rawBytes,
        entry.expiresAt,
      ],
    );
  }

  /**
   * Puts and deletes of distinct keys in one transaction: all of them, or (on an error) none.
   * One round trip per kind, however many keys.
   */
  writeBatch(puts: readonly DbEntry[], deletes: readonly string[]): Promise<void> {
    return this.transaction(async (client) => {
      if (puts.length > 0) {
        await client.query(
          `INSERT INTO ${TABLE} (key, value, content_type, compressed, raw_bytes, expires_at, updated_at)
           SELECT k, v, t, c, r, to_timestamp(e / 1000.0), now()
             FROM unnest($1::text[], $2::bytea[], $3::text[], $4::boolean[], $5::integer[], $6::float8[])
               AS b(k, v, t, c, r, e)
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,
             content_type = EXCLUDED.content_type, compressed = EXCLUDED.compressed,
             raw_bytes = EXCLUDED.raw_bytes, expires_at = EXCLUDED.expires_at, updated_at = now()`,
          [
            puts.map((e) => e.key),
            puts.map((e) => e.value),
            puts.map((e) => e.contentType),
            puts.map((e) => e.compressed),
            puts.map((e) => e.rawBytes),
            puts.map((e) => e.expiresAt),
          ],
        );
      }
      if (deletes.length > 0) {
        await client.query(`DELETE FROM ${TABLE} WHERE key = ANY($1::text[])`, [deletes]);
      }
    });
  }

  /** True when a row was deleted. */
  async delete(key: string): Promise<boolean> {
    const result = await this.pool.query(`DELETE FROM ${TABLE} WHERE key = $1`, [key]);
    return (result.rowCount ?? 0) > 0;
  }

  /** Deletes at most `limit` rows expired at `nowMs`; returns how many. */
  async deleteExpired(nowMs: number, limit: number): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM ${TABLE} WHERE key IN (
         SELECT key FROM ${TABLE} WHERE expires_at <= to_timestamp($1 / 1000.0) LIMIT $2)`,
      [nowMs, limit],
    );
    return result.rowCount ?? 0;
  }

  /** Connections: open in all, idle among them, and queries waiting for one. */
  clients(): { total: number; idle: number; waiting: number } {
    return {
      total: this.pool.totalCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

function fromRow(row: Row): DbEntry {
  return {
    key: row.key,
    value: row.value,
    contentType: row.content_type,
    compressed: row.compressed,
    rawBytes: row.raw_bytes,
    expiresAt: row.expires_at === null ? null : row.expires_at.getTime(),
  };
}
