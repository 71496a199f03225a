/**
 * Starts the playground as `npm start` does (building the dashboard when needed) on a free
 * port, and hands its URL to the tests. The teardown stops it and checks that every node
 * process it had is gone: no test leaves a process behind.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isGone, waitUntil } from '../server/testing/processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The server's own output, kept as an artifact of the run. */
const SERVER_LOG = `${ROOT}test-results/e2e-server.log`;
const READY = /TinyCache playground: (http:\/\/\S+)/;
/** A fresh clone builds the dashboard first. */
const START_TIMEOUT_MS = 240_000;

interface ClusterState {
  nodes: { pid: number | null }[];
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', NODES: '2', NODE_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  mkdirSync(`${ROOT}test-results`, { recursive: true });
  const log = createWriteStream(SERVER_LOG);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The playground did not start in ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = READY.exec(output);
      if (match === null) return;
      clearTimeout(timer);
      resolve(match[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The playground exited with ${code} before it was ready:\n${output}`));
    });
  });
  process.env.TINYCACHE_URL = url;
  // Every node and database pid the run has seen, so the teardown can prove they are all gone.
  const seen = new Set<number>();
  const query = async <T>(path: string): Promise<T | null> => {
    const res = await fetch(`${url}/api/trpc/${path}`).catch(() => null);
    if (res === null || !res.ok) return null;
    return ((await res.json()) as { result: { data: T } }).result.data;
  };
  const record = async () => {
    const [cluster, database] = await Promise.all([
      query<ClusterState>('cluster.state'),
      query<{ pid: number | null }>('db.status'),
    ]);
    for (const node of cluster?.nodes ?? []) if (node.pid !== null) seen.add(node.pid);
    if (database?.pid != null) seen.add(database.pid);
  };
  await record();
  const watcher = setInterval(() => void record(), 500);

  return async () => {
    clearInterval(watcher);
    await record();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    const left = () => [...seen].filter((pid) => !isGone(pid));
    if (!(await waitUntil(() => left().length === 0, 5000))) {
      for (const pid of left()) process.kill(pid, 'SIGKILL');
      throw new Error(`Processes outlived the playground: ${left().join(', ')}`);
    }
  };
}
