/**
 * A tiny key-value HTTP server for the load generator's tests: GET/PUT /v1/keys/{key} over a
 * Map, any other path answers 64 bytes, and switches for the awkward cases a client must
 * survive (status errors, chunked bodies, closed connections, a stall). A test fixture, not a
 * stand-in for a TinyCache node.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixtureOptions {
  /** Keys answered with 500. */
  readonly failKey?: (key: string) => boolean;
  /** Answer GET hits with a chunked body. */
  readonly chunked?: boolean;
  /** Every Nth answer carries `Connection: close`. */
  readonly closeEvery?: number;
  /** When request number `afterRequests` arrives, hold every answer for `ms`. */
  readonly stall?: { readonly afterRequests: number; readonly ms: number };
  /** Every Nth request: the server closes the connection cleanly without answering. */
  readonly dropEvery?: number;
  /** This path is never answered. */
  readonly hangPath?: string;
  /** PUTs of larger values get 413 with a TinyCache error body (`value_too_large`). */
  readonly maxValueBytes?: number;
}

export interface Fixture {
  readonly url: string;
  readonly store: Map<string, Buffer>;
  readonly counts: { requests: number; gets: number; puts: number; connections: number };
  close(): Promise<void>;
}

const PREFIX = '/v1/keys/';
const BODY_64 = Buffer.alloc(64, 'x');

export async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const store = new Map<string, Buffer>();
  const counts = { requests: 0, gets: 0, puts: 0, connections: 0 };
  let stallUntil = 0;

  const answer = (res: ServerResponse, status: number, body: Buffer, chunked = false) => {
    if (options.closeEvery && counts.requests % options.closeEvery === 0) {
      res.setHeader('Connection', 'close');
    }
    const send = () => {
      if (chunked && body.length > 1) {
        res.writeHead(status, { 'Content-Type': 'application/octet-stream' });
        res.write(body.subarray(0, 1));
        res.end(body.subarray(1));
      } else {
        res.writeHead(status, { 'Content-Length': body.length });
        res.end(body);
      }
    };
    const wait = stallUntil - Date.now();
    if (wait > 0) setTimeout(send, wait);
    else send();
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    counts.requests++;
    if (options.stall && counts.requests === options.stall.afterRequests) {
      stallUntil = Date.now() + options.stall.ms;
    }
    const url = req.url ?? '/';
    if (url === options.hangPath) return;
    if (options.dropEvery && counts.requests % options.dropEvery === 0) {
      req.socket.end();
      return;
    }
    if (!url.startsWith(PREFIX)) return answer(res, 200, BODY_64);
    const key = decodeURIComponent(url.slice(PREFIX.length));
    if (options.failKey?.(key)) return answer(res, 500, Buffer.from('{"error":{}}'));
    if (req.method === 'GET') {
      counts.gets++;
      const value = store.get(key);
      if (value === undefined) return answer(res, 404, Buffer.from('{"error":{}}'));
      return answer(res, 200, value, options.chunked);
    }
    counts.puts++;
    if (options.maxValueBytes !== undefined && body.length > options.maxValueBytes) {
      const error = { code: 'value_too_large', message: `The value is ${body.length} bytes.` };
      return answer(res, 413, Buffer.from(JSON.stringify({ error })));
    }
    const existed = store.has(key);
    store.set(key, body);
    return answer(res, existed ? 200 : 201, Buffer.from('{}'));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', () => counts.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port with nothing listening on it (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
