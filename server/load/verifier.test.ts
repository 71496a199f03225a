/**
 * The live load's verifier against scripted servers on real sockets: one that keeps every
 * write (nothing lost), one that acknowledges writes it then drops (lost), and one that
 * forgets keys as an evicting cache may (missing, not lost).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveLoad } from './live.ts';
import { startLoad } from './load.ts';
import { DEFAULT_LOAD_SETTINGS, type LoadStatus } from './settings.ts';

const servers: Server[] = [];
const loads: LiveLoad[] = [];
afterEach(async () => {
  for (const load of loads.splice(0)) load.stop();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

type Behaviour = 'keeps' | 'drops-after-20' | 'forgets';

async function store(behaviour: Behaviour): Promise<string> {
  const values = new Map<string, Buffer>();
  let writes = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = req.url ?? '';
      if (req.method === 'PUT') {
        writes++;
        if (behaviour === 'keeps' || writes <= 20) values.set(key, Buffer.concat(chunks));
        res.statusCode = 201;
        res.end();
        return;
      }
      const value = behaviour === 'forgets' ? undefined : values.get(key);
      res.statusCode = value === undefined ? 404 : 200;
      res.end(value);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function run(behaviour: Behaviour): Promise<LoadStatus> {
  const url = await store(behaviour);
  const load = new LiveLoad(
    {
      ...DEFAULT_LOAD_SETTINGS,
      mode: 'closed',
      connections: 2,
      readRatio: 0,
      keys: 3,
      distribution: 'uniform',
      valueBytes: 32,
    },
    [{ id: 'n1', url }],
    (options, sink, owns, ledger) => startLoad(options, { sink, owns, ledger }),
  );
  loads.push(load);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  load.tick();
  return load.status();
}

describe('the live load verifier', () => {
  it('counts nothing lost when every acknowledged write reads back', async () => {
    const status = await run('keeps');
    expect(status.verified).toBeGreaterThan(10);
    expect(status.lostWrites).toBe(0);
    expect(status.missing).toBe(0);
  });

  it('counts acknowledged writes that a store dropped as lost', async () => {
    const status = await run('drops-after-20');
    expect(status.verified).toBeGreaterThan(10);
    expect(status.lostWrites).toBeGreaterThan(5);
  });

  it('counts an absent key as missing, not lost (an eviction explains it)', async () => {
    const status = await run('forgets');
    expect(status.verified).toBeGreaterThan(10);
    expect(status.missing).toBe(status.verified);
    expect(status.lostWrites).toBe(0);
  });
});
