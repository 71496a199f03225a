/**
 * The client's Level 6 behaviour against a scripted HTTP server on a real socket: session
 * headers, a retry of the same seq after a dropped connection or a 503, leader hints, and the
 * bound on retries. The real replicated nodes are in cluster-client.integration.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterClient, ClusterError } from './cluster-client.ts';

interface Seen {
  readonly node: string;
  readonly method: string;
  readonly client: string | undefined;
  readonly seq: string | undefined;
}

type Script = (node: string, seen: Seen, req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Nodes a and b of one shard; `script` answers key requests. */
async function fakeShard(script: Script): Promise<{ seen: Seen[]; urls: string[] }> {
  const seen: Seen[] = [];
  const urls: string[] = [];
  const ids = ['a', 'b'];
  const listen = (id: string) =>
    new Promise<string>((resolve) => {
      const server = createServer((req, res) => {
        if (req.url === '/v1/cluster') {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ map: mapOf() }));
          return;
        }
        req.resume();
        req.on('end', () => {
          const s: Seen = {
            node: id,
            method: req.method ?? '',
            client: req.headers['x-tinycache-client'] as string | undefined,
            seq: req.headers['x-tinycache-seq'] as string | undefined,
          };
          seen.push(s);
          script(id, s, req, res);
        });
      });
      servers.push(server);
      server.listen(0, '127.0.0.1', () => {
        resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      });
    });
  for (const id of ids) urls.push(await listen(id));
  const mapOf = () => ({
    epoch: 1,
    vnodes: 8,
    shards: [{ id: 's1', nodes: ids.map((id, i) => ({ id, url: urls[i] })) }],
    moving: null,
  });
  return { seen, urls };
}

const fast = { retry: { baseMs: 1, capMs: 5, totalMs: 300 }, seed: 1 };

describe('ClusterClient sessions and retries', () => {
  it('sends a session on writes (one seq each, in call order) and none on reads', async () => {
    const { seen, urls } = await fakeShard((_n, s, _req, res) => {
      res.statusCode = s.method === 'DELETE' ? 204 : 200;
      res.end(s.method === 'DELETE' ? undefined : 'x');
    });
    const client = await ClusterClient.connectWith({ ...fast, clientId: 'me' }, urls[0]!);
    await Promise.all([client.set('k1', 'v'), client.set('k2', 'v'), client.delete('k3')]);
    await client.get('k1');
    expect(seen.map((s) => [s.method, s.client, s.seq])).toEqual([
      ['PUT', 'me', '1'],
      ['PUT', 'me', '2'],
      ['DELETE', 'me', '3'],
      ['GET', undefined, undefined],
    ]);
  });

  it('repeats the same seq after a dropped connection and a 503, then follows the leader hint', async () => {
    let calls = 0;
    const { seen, urls } = await fakeShard((node, _s, _req, res) => {
      calls++;
      if (calls === 1) {
        res.socket?.destroy(); // applied, but the answer is lost
        return;
      }
      if (calls === 2) {
        res.statusCode = 503;
        res.setHeader('retry-after', '1');
        res.setHeader('x-tinycache-leader', 'b');
        res.end('{"error":{"code":"unavailable"}}');
        return;
      }
      res.statusCode = 200;
      res.setHeader('x-tinycache-leader', 'b');
      res.end(node);
    });
    const client = await ClusterClient.connectWith(fast, urls[0]!);
    await client.set('k', 'v');
    await client.set('k', 'w');
    const writes = seen.map((s) => s.seq);
    expect(writes).toEqual(['1', '1', '1', '2']);
    expect(client.retries).toBe(2);
    // The first attempt went to a (the map's first node); the dropped connection moved the
    // next one on to b, and b's answers named b leader: the rest stay there.
    expect(seen.map((s) => s.node)).toEqual(['a', 'b', 'b', 'b']);
  });

  it('gives up after the bound: a 503 throws, nothing is sent past it', async () => {
    const { seen, urls } = await fakeShard((_n, _s, _req, res) => {
      res.statusCode = 503;
      res.end('{"error":{"code":"unavailable"}}');
    });
    const client = await ClusterClient.connectWith(fast, urls[0]!);
    const started = performance.now();
    await expect(client.set('k', 'v')).rejects.toBeInstanceOf(ClusterError);
    expect(performance.now() - started).toBeLessThan(fast.retry.totalMs + 200);
    expect(seen.length).toBeGreaterThan(3);
    expect(new Set(seen.map((s) => s.seq))).toEqual(new Set(['1']));
    // The session goes on with the next seq.
    await expect(client.set('k', 'v')).rejects.toBeInstanceOf(ClusterError);
    expect(seen.at(-1)!.seq).toBe('2');
  });
});
