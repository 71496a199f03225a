/**
 * Test support: start real `tinycache` processes and talk to them over real sockets.
 * Integration tests use these; nothing here stands in for a TinyCache part.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

export { TINYCACHE_BIN as BIN } from '../bin.ts';
import { TINYCACHE_BIN as BIN } from '../bin.ts';

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tinycache ...args` to completion. */
export function runCli(args: string[], timeoutMs = 20_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tinycache ${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ServerProcess {
  /** The URL the process printed when it was ready. */
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Output so far. */
  output(): string;
  /** Sends `signal` and waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export type NodeProcess = ServerProcess;

/**
 * Starts `command args` and waits until its output matches `ready`, whose first group is the
 * URL it serves (or give `url` when the output does not say it).
 */
export function spawnServer(
  command: string,
  args: string[],
  ready: RegExp,
  {
    timeoutMs = 20_000,
    url: knownUrl,
    env = process.env,
  }: { timeoutMs?: number; url?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not start in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      output += d.toString();
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        const url = knownUrl ?? match[1]!;
        resolve({
          url,
          port: Number(new URL(url).port),
          child,
          output: () => output,
          stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code} before it was ready:\n${output}`));
    });
  });
}

/**
 * Starts `tinycache node --port 0 ...args` and waits until it prints its URL. Its database is
 * the one `args` names, never a DATABASE_URL inherited from the environment.
 */
export function spawnNode(args: string[] = [], timeoutMs = 20_000): Promise<NodeProcess> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  return spawnServer(
    process.execPath,
    [BIN, 'node', '--port', '0', ...args],
    /listening on (http:\/\/[^\s]+)/,
    { timeoutMs, env },
  );
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  text(): string;
  json(): unknown;
}

/**
 * One HTTP request with node:http, exactly as given: no automatic decompression or
 * Accept-Encoding (unlike fetch), so tests see what the node sent.
 */
export function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: Uint8Array | string;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: () => body.toString('utf8'),
            json: () => JSON.parse(body.toString('utf8')) as unknown,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Writes raw bytes to the node's socket and collects what comes back until the node closes
 * the connection or `waitMs` passes. For requests no HTTP client would send.
 */
export function rawExchange(
  port: number,
  chunks: (string | Buffer)[],
  { waitMs = 2000, destroyAfterWrite = false } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, waitMs);
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      if (destroyAfterWrite) {
        socket.destroy();
        clearTimeout(timer);
        resolve(received);
      }
    });
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A connection the node cut is an answer too: what arrived before the cut.
      if (destroyAfterWrite || error.code === 'ECONNRESET' || error.code === 'EPIPE') {
        resolve(received);
      } else {
        reject(error);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}

/** True once the process has exited: no such pid, or a zombie nobody has reaped yet. */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    // An orphan that exited waits as a zombie ('Z') until init reaps it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
