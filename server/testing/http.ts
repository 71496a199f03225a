/**
 * One HTTP exchange with a node, for integration tests: the status, headers and body as text,
 * over a shared keep-alive agent (many requests, few sockets, as a real client would).
 */
import { Agent, request as httpRequest } from 'node:http';

/** Shared by every `call` in a test file; destroy it when the file is done with its nodes. */
export const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export function call(
  url: string,
  method = 'GET',
  body?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
