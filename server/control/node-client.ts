/** The control plane's own requests to a node's REST API (API.md §2). */
import { request } from 'node:http';

export interface NodeAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly durationMs: number;
}

export interface NodeRequest {
  readonly method: string;
  /** Path and query, such as `/v1/keys/a?ttl=5`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
  readonly timeoutMs?: number;
}

/** Sends one request to the node at `baseUrl`; rejects when the node does not answer. */
export function nodeRequest(baseUrl: string, req: NodeRequest): Promise<NodeAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const timeoutMs = req.timeoutMs ?? 3000;
    const outgoing = request(
      new URL(req.path, baseUrl),
      { method: req.method, headers: req.headers, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined)
              headers[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({
            status: res.statusCode ?? 0,
            headers,
            body: Buffer.concat(chunks),
            durationMs: performance.now() - started,
          });
        });
        res.on('error', reject);
      },
    );
    outgoing.on('timeout', () =>
      outgoing.destroy(new Error(`the node did not answer within ${timeoutMs} ms`)),
    );
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}
