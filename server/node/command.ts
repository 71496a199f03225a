/**
 * `tinycache node`: one cache node in the foreground until SIGINT/SIGTERM (API.md §1).
 */
import {
  CONFIG_LIMITS,
  DEFAULT_CONFIG,
  formatBytes,
  type NodeConfig,
  parseTtlSeconds,
  POLICIES,
  TTL_RULE,
} from '../../core/config.ts';
import { badOption, bytesOption, choiceOption, numberOption, parseOptions } from '../cli-args.ts';
import { Persistence } from '../db/persistence.ts';
import { DB_DEFAULTS, PgStore } from '../db/store.ts';
import { WRITE_BEHIND_DEFAULTS, WriteBehind } from '../db/write-behind.ts';
import { DEFAULT_TRANSFER_KEYS_PER_SECOND } from './cluster.ts';
import { startNode } from './server.ts';

export const NODE_USAGE = `Usage: tinycache node --port P [options]

Runs one cache node in the foreground until Ctrl-C (SIGINT) or SIGTERM.

Options:
  --port P                   port to listen on; 0 picks a free one         [7001]
  --host H                   address to bind; 0.0.0.0 exposes the node
                             to the network                                [127.0.0.1]
  --max-memory SIZE          accounted bytes (keys + values + per-entry
                             overhead) before eviction: 1048576, 512KiB,
                             64MiB, 2GiB                                   [64MiB]
  --policy lru|wtinylfu      eviction policy                               [lru]
  --max-key-bytes N          longest key, in UTF-8 bytes                   [1024]
  --max-value-bytes SIZE     largest value, as received                    [1MiB]
  --compress-threshold SIZE  gzip values at least this large when that
                             saves space; 0 turns it off                   [1KiB]
  --default-ttl SECONDS      TTL for writes that give none                 [none]
  --database-url URL         PostgreSQL behind the cache (postgres://...):
                             writes are acknowledged once it committed them,
                             misses read through it             [DATABASE_URL]
  --write-mode through|behind
                             through: acknowledge once the database
                             committed; behind: once memory holds it and it
                             is queued, flushed in batches         [through]
  --write-queue N            behind: keys queued at most; when full, writes
                             get 503                               [10000]
  --db-pool N                database connections at most; a query waits
                             1 s for one, then the request gets 503   [10]
  --node-id ID               this node's id in a cluster map (PUT
                             /v1/cluster); a node alone needs none  [host:port]
  --transfer-rate N          keys a second this node copies in at most
                             when a new cluster map gives it keys   [50000]
  --data-dir DIR             make the node a replica of its shard's Raft
                             group (Level 6): its Raft log, hard state
                             and snapshots live in DIR; needs --node-id,
                             not with --database-url               [none]
  --join ID,ID,...           with --data-dir: this node joins a running
                             shard whose group was formed with these
                             voters; it waits for the leader to add it
                             (POST /v1/raft/members)               [none]
  -h, --help                 this text
`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'max-memory': { type: 'string' },
  policy: { type: 'string' },
  'max-key-bytes': { type: 'string' },
  'max-value-bytes': { type: 'string' },
  'compress-threshold': { type: 'string' },
  'default-ttl': { type: 'string' },
  'database-url': { type: 'string' },
  'write-mode': { type: 'string' },
  'write-queue': { type: 'string' },
  'db-pool': { type: 'string' },
  'node-id': { type: 'string' },
  'transfer-rate': { type: 'string' },
  'data-dir': { type: 'string' },
  join: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface NodeCommandOptions {
  readonly host: string;
  readonly port: number;
  readonly config: NodeConfig;
  /** Null: memory only. */
  readonly databaseUrl: string | null;
  readonly writeMode: WriteMode;
  readonly writeQueue: number;
  readonly dbPool: number;
  /** Undefined: host:port. */
  readonly nodeId: string | undefined;
  readonly transferKeysPerSecond: number;
  /** Level 6: where the node's Raft state lives; undefined for a node that replicates nothing. */
  readonly dataDir: string | undefined;
  /** Level 6: the bootstrap voters of the running group this new replica joins; undefined: none. */
  readonly join: readonly string[] | undefined;
}

export const WRITE_MODES = ['through', 'behind'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/** Within the bounds of CONFIG_LIMITS, or a UsageError naming the option. */
function sizeWithin(option: string, text: string, limits: { min: number; max: number }): number {
  const bytes = bytesOption(option, text);
  if (bytes < limits.min || bytes > limits.max) {
    badOption(option, `a size from ${formatBytes(limits.min)} to ${formatBytes(limits.max)}`, text);
  }
  return bytes;
}

/** Parses `tinycache node` options; throws UsageError on the first bad one. */
export function parseNodeOptions(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): NodeCommandOptions | 'help' {
  const { values } = parseOptions(argv, OPTIONS);
  if (values.help) return 'help';
  /** The option's parsed value, or the default when it was not given. */
  const option = <T>(name: keyof typeof OPTIONS, fallback: T, parse: (text: string) => T): T => {
    const text = values[name];
    return typeof text === 'string' ? parse(text) : fallback;
  };
  const size = (name: string, limits: { min: number; max: number }) => (text: string) =>
    sizeWithin(name, text, limits);
  const port = option('port', 7001, (t) =>
    numberOption('port', t, { min: 0, max: 65535, integer: true }),
  );
  const host = option('host', '127.0.0.1', (t) =>
    t.trim() === '' ? badOption('host', 'an address such as 127.0.0.1', t) : t,
  );
  const d = DEFAULT_CONFIG;
  const limits = CONFIG_LIMITS;
  const config: NodeConfig = {
    policy: option('policy', d.policy, (t) => choiceOption('policy', t, POLICIES)),
    maxMemoryBytes: option(
      'max-memory',
      d.maxMemoryBytes,
      size('max-memory', limits.maxMemoryBytes),
    ),
    maxKeyBytes: option('max-key-bytes', d.maxKeyBytes, (t) =>
      numberOption('max-key-bytes', t, { ...limits.maxKeyBytes, integer: true }),
    ),
    maxValueBytes: option(
      'max-value-bytes',
      d.maxValueBytes,
      size('max-value-bytes', limits.maxValueBytes),
    ),
    compressThresholdBytes: option(
      'compress-threshold',
      d.compressThresholdBytes,
      size('compress-threshold', limits.compressThresholdBytes),
    ),
    defaultTtlSeconds: option<number | null>(
      'default-ttl',
      d.defaultTtlSeconds,
      (t) => parseTtlSeconds(t) ?? badOption('default-ttl', TTL_RULE, t),
    ),
  };
  const databaseUrl = option('database-url', env.DATABASE_URL || null, (t) =>
    /^postgres(ql)?:\/\//.test(t) ? t : badOption('database-url', 'a postgres:// URL', t),
  );
  const writeMode = option<WriteMode>('write-mode', 'through', (t) =>
    choiceOption('write-mode', t, WRITE_MODES),
  );
  const writeQueue = option('write-queue', WRITE_BEHIND_DEFAULTS.maxQueue, (t) =>
    numberOption('write-queue', t, { min: 1, max: 10_000_000, integer: true }),
  );
  const dbPool = option('db-pool', DB_DEFAULTS.maxClients, (t) =>
    numberOption('db-pool', t, { min: 1, max: 1000, integer: true }),
  );
  if (databaseUrl === null) {
    const needsDatabase = (['write-mode', 'write-queue', 'db-pool'] as const).find(
      (name) => typeof values[name] === 'string',
    );
    if (needsDatabase !== undefined) {
      const text = String(values[needsDatabase]);
      badOption(needsDatabase, 'used with --database-url (or DATABASE_URL)', text);
    }
  }
  const nodeId = option<string | undefined>('node-id', undefined, (t) =>
    /^[A-Za-z0-9._:-]{1,200}$/.test(t)
      ? t
      : badOption('node-id', 'letters, digits, ".", "_", ":" or "-", 1 to 200 of them', t),
  );
  const transferKeysPerSecond = option('transfer-rate', DEFAULT_TRANSFER_KEYS_PER_SECOND, (t) =>
    numberOption('transfer-rate', t, { min: 1, max: 10_000_000, integer: true }),
  );
  const dataDir = option<string | undefined>('data-dir', undefined, (t) =>
    t.trim() === '' ? badOption('data-dir', 'a directory such as ./data/n1', t) : t,
  );
  if (dataDir !== undefined && nodeId === undefined) {
    badOption('data-dir', 'used with --node-id (a replica is named in the cluster map)', dataDir);
  }
  if (dataDir !== undefined && databaseUrl !== null) {
    badOption(
      'data-dir',
      'a node without a database (--database-url or DATABASE_URL): a replica with a database is not built yet',
      dataDir,
    );
  }
  const join = option<readonly string[] | undefined>('join', undefined, (t) => {
    const ids = t.split(',').map((id) => id.trim());
    return ids.every((id) => /^[A-Za-z0-9._:-]{1,200}$/.test(id)) &&
      new Set(ids).size === ids.length
      ? ids
      : badOption('join', 'node ids separated by commas, each once, such as n1,n2,n3', t);
  });
  if (join !== undefined && dataDir === undefined) {
    badOption('join', 'used with --data-dir (a replica joins a Raft group)', join.join(','));
  }
  if (join !== undefined && nodeId !== undefined && join.includes(nodeId)) {
    badOption(
      'join',
      `the group's voters before this node joined, without this node (${nodeId}): an id is never reused`,
      join.join(','),
    );
  }
  return {
    host,
    port,
    config,
    databaseUrl,
    writeMode,
    writeQueue,
    dbPool,
    nodeId,
    transferKeysPerSecond,
    dataDir,
    join,
  };
}

export function describeConfig(config: NodeConfig): string {
  const ttl = config.defaultTtlSeconds === null ? 'none' : `${config.defaultTtlSeconds}s`;
  const compression =
    config.compressThresholdBytes === 0
      ? 'off'
      : `>= ${formatBytes(config.compressThresholdBytes)}`;
  return `policy ${config.policy}, max-memory ${formatBytes(config.maxMemoryBytes)}, compression ${compression}, default-ttl ${ttl}`;
}

/** Runs the node until a signal; resolves with the exit code. */
export async function runNodeCommand(argv: string[]): Promise<number> {
  const parsed = parseNodeOptions(argv);
  if (parsed === 'help') {
    process.stdout.write(NODE_USAGE);
    return 0;
  }
  let database: Persistence | undefined;
  if (parsed.databaseUrl !== null) {
    try {
      database = await openDatabase(parsed.databaseUrl, parsed.dbPool);
    } catch (error) {
      process.stderr.write(
        `tinycache node: cannot use the database at ${redact(parsed.databaseUrl)}: ${(error as Error).message}\n`,
      );
      return 1;
    }
  }
  const writeBehind =
    database !== undefined && parsed.writeMode === 'behind'
      ? new WriteBehind(database, { maxQueue: parsed.writeQueue })
      : undefined;
  let node;
  try {
    node = await startNode({ ...parsed, database, writeBehind });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? `port ${parsed.port} is already in use; pick another with --port, or --port 0 for any free one`
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
          ? `cannot bind ${parsed.host}; use an address of this machine, such as 127.0.0.1`
          : String(error);
    process.stderr.write(`tinycache node: ${why}\n`);
    await writeBehind?.close();
    await database?.close();
    return 1;
  }
  // Handlers first: whoever reads the line below may signal at once.
  const stopped = new Promise<number>((resolve) => {
    const stop = (why: string): void => {
      process.stdout.write(`tinycache node: ${why}, shutting down\n`);
      void node
        .close()
        .then(() => writeBehind?.close())
        .then(() => database?.close())
        .then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // The channel closes when the supervisor dies: exit, so no orphan keeps the port.
    if (process.channel) process.once('disconnect', () => stop('supervisor gone'));
  });
  const through =
    parsed.databaseUrl === null
      ? ''
      : `, write-${parsed.writeMode} to ${redact(parsed.databaseUrl)}`;
  const replica = parsed.dataDir === undefined ? '' : `, replica with data in ${parsed.dataDir}`;
  process.stdout.write(
    `tinycache node listening on ${node.url} (${describeConfig(node.config())}${through}${replica})\n`,
  );
  // Started by a supervisor (server/control) with an IPC channel: tell it where we listen.
  process.send?.({ type: 'listening', url: node.url, port: node.port, pid: process.pid });
  return stopped;
}

/** Connects, creates the table if need be, and starts sweeping expired rows. */
async function openDatabase(url: string, maxClients: number): Promise<Persistence> {
  const store = new PgStore({
    url,
    maxClients,
    onError: (error) => process.stderr.write(`tinycache node: database: ${error.message}\n`),
  });
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  const database = new Persistence(store);
  database.startSweeping();
  return database;
}

/** The URL without its password, fit to print. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return 'the given URL';
  }
}
