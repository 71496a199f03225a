/**
 * Runs with sessions (LoadOptions.sessions) against a scripted server on a real socket: each
 * write carries a session, a 503 or a dropped connection sends the same request again (same
 * seq) and counts a retry rather than an error, values are stamped for the ledger, and a run
 * without sessions sends the bytes it always did.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteLedger } from './ledger.ts';
import { Counters, sessionPrefix, startLoad } from './load.ts';

interface Seen {
  readonly method: string;
  readonly client: string | undefined;
  readonly seq: string | undefined;
  readonly body: Buffer;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server that drops the first answer, answers the next two writes 503, then 200s. */
async function flakyServer(): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  let writes = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        client: req.headers['x-tinycache-client'] as string | undefined,
        seq: req.headers['x-tinycache-seq'] as string | undefined,
        body: Buffer.concat(chunks),
      });
      if (req.method === 'PUT') writes++;
      if (writes === 1 && req.method === 'PUT') {
        res.socket?.destroy();
        return;
      }
      if (req.method === 'PUT' && (writes === 2 || writes === 3)) {
        res.statusCode = 503;
        res.setHeader('retry-after', '1');
        res.end('{"error":{"code":"unavailable"}}');
        return;
      }
      res.statusCode = req.method === 'PUT' ? 201 : 404;
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('load runs with sessions', () => {
  it('a session head is two header lines up to the seq', () => {
    expect(sessionPrefix('r1-3') + '7\r\n').toBe(
      'X-TinyCache-Client: r1-3\r\nX-TinyCache-Seq: 7\r\n',
    );
  });

  it('retries a 503 and a lost answer with the same seq, counts retries, stamps values', async () => {
    const { url, seen } = await flakyServer();
    const ledger = new WriteLedger('abcd');
    const sink = new Counters();
    const handle = startLoad(
      {
        url,
        mode: 'closed',
        connections: 2,
        readRatio: 0.2,
        keys: 8,
        valueBytes: 32,
        durationSeconds: 0.6,
        sessions: 'run',
        timeoutMs: 1000,
      },
      { sink, ledger },
    );
    const result = await handle.done;
    expect(result.errorCount).toBe(0);
    expect(sink.retries).toBe(3);
    const writes = seen.filter((s) => s.method === 'PUT');
    expect(writes.length).toBeGreaterThan(10);
    // Per session: seqs 1, 2, 3… with a retry repeating its seq.
    const bySession = new Map<string, number[]>();
    for (const w of writes) {
      expect(w.client).toMatch(/^run-\d+$/);
      bySession.set(w.client!, [...(bySession.get(w.client!) ?? []), Number(w.seq)]);
    }
    // At most one per connection plus one per retry waiting out its backoff.
    expect(bySession.size).toBeLessThanOrEqual(2 + 3);
    for (const seqs of bySession.values()) {
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]! - seqs[i - 1]!).toBeLessThanOrEqual(1);
      expect(seqs[0]).toBe(1);
    }
    const repeated = writes.length - new Set(writes.map((w) => `${w.client}/${w.seq}`)).size;
    expect(repeated).toBe(3);
    // A retry sends the same bytes: the same stamp.
    const first = writes[0]!;
    const again = writes.slice(1).find((w) => w.client === first.client && w.seq === first.seq);
    expect(again!.body.equals(first.body)).toBe(true);
    expect(ledger.stampOf(writes[0]!.body)).toBe(1);
    expect(ledger.keys.length).toBeGreaterThan(0);
    // Reads carry no session.
    const reads = seen.filter((s) => s.method === 'GET');
    expect(reads.every((r) => r.client === undefined)).toBe(true);
  });

  it('without sessions: no session headers, a 503 is an error, nothing retried', async () => {
    const { url, seen } = await flakyServer();
    const sink = new Counters();
    const handle = startLoad(
      { url, mode: 'closed', connections: 1, readRatio: 0, keys: 4, durationSeconds: 0.3 },
      { sink },
    );
    const result = await handle.done;
    expect(sink.retries).toBe(0);
    expect(result.errors).toMatchObject({ '503': 2 });
    expect(seen.every((s) => s.client === undefined && s.seq === undefined)).toBe(true);
  });

  it('a stopped run gives its writes in flight up in the ledger', async () => {
    const server = createServer(() => undefined); // never answers
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ledger = new WriteLedger('stop');
    const handle = startLoad(
      { url, mode: 'closed', connections: 3, readRatio: 0, keys: 4, valueBytes: 32, sessions: 's' },
      { ledger },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    handle.stop();
    expect((await handle.done).unfinished).toBe(3);
    const n = ledger.sent();
    expect(n).toBe(4);
    ledger.acked(0, n);
    expect(ledger.expectation(0)).toEqual({ acked: n, floor: n });
    server.closeAllConnections();
  });
});
