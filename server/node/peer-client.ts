/**
 * How a node talks to its peers: plain HTTP/1.1 over pooled keep-alive connections, one
 * request and one buffered answer at a time. Forwarded key requests, map exchanges and key
 * transfers all go through `PeerClient.send`, so there is one place that bounds them.
 */
import { Agent, request } from 'node:http';

export interface PeerRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Path and query, e.g. `/v1/keys/a?ttl=5`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

export interface PeerAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** A peer that does not answer in this long is treated as unreachable. */
export const PEER_TIMEOUT_MS = 2000;
/** Connections kept open to one peer; more requests wait for one. */
export const PEER_SOCKETS = 64;
/** The largest answer a peer may send (a value of the largest allowed size, and headroom). */
const MAX_ANSWER_BYTES = 160 * 1024 * 1024;

export class PeerUnreachable extends Error {
  constructor(
    readonly url: string,
    cause: string,
  ) {
    super(`${url} did not answer: ${cause}`);
  }
}

export class PeerClient {
  private readonly agent = new Agent({
    keepAlive: true,
    maxSockets: PEER_SOCKETS,
    maxFreeSockets: PEER_SOCKETS,
    scheduling: 'lifo',
  });

  constructor(private readonly timeoutMs = PEER_TIMEOUT_MS) {}

  /** Sends `req` to the node at `baseUrl`; rejects with PeerUnreachable when it cannot. */
  send(baseUrl: string, req: PeerRequest): Promise<PeerAnswer> {
    return new Promise((resolve, reject) => {
      const url = new URL(req.path, baseUrl);
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body !== undefined) headers['content-length'] = req.body.length;
      const out = request(
        url,
        { method: req.method, headers, agent: this.agent, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              res.destroy(new Error(`answer over ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            const answerHeaders: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (typeof value === 'string') answerHeaders[name] = value;
              else if (Array.isArray(value)) answerHeaders[name] = value.join(', ');
            }
            resolve({
              status: res.statusCode ?? 0,
              headers: answerHeaders,
              body: Buffer.concat(chunks),
            });
          });
          res.on('error', (error) => reject(new PeerUnreachable(baseUrl, error.message)));
        },
      );
      out.on('timeout', () => out.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      out.on('error', (error) => reject(new PeerUnreachable(baseUrl, error.message)));
      out.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
