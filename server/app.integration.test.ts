/**
 * The control plane over real HTTP, with real `tinycache node` processes behind it: what a
 * script gets from tRPC (API.md §4), and that nodes answer REST directly.
 */
import {
  createTRPCClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  TRPCClientError,
} from '@trpc/client';
import { EventSource } from 'eventsource';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from './app.ts';
import type { LiveSample } from './control/monitor.ts';
import type { LiveEvent } from './control/playground.ts';
import { isGone, request, waitUntil } from './testing/processes.ts';
import type { AppRouter } from './trpc/router.ts';

let app: App;
let dataDir: string;
let client: ReturnType<typeof createTRPCClient<AppRouter>>;
const pids = new Set<number>();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tinycache-app-'));
  // Open to the embedded PostgreSQL's own user (as root), so its files stay here and go with it.
  chmodSync(dataDir, 0o755);

  app = await startApp({ port: 0, nodes: 2, dashboard: false, dataDir });
  const url = `${app.url}/api/trpc`;
  client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url, EventSource }),
        false: httpBatchLink({ url }),
      }),
    ],
  });
}, 60_000);

afterAll(async () => {
  await app?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The tRPC error code (`BAD_REQUEST`, `FORBIDDEN`, ...) and message of a refused call. */
async function refusal(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCClientError);
    const e = error as TRPCClientError<AppRouter>;
    return { code: e.data?.code ?? '', message: e.message };
  }
  throw new Error('expected the call to be refused');
}

async function state() {
  const cluster = await client.cluster.state.query();
  for (const node of cluster.nodes) if (node.pid !== null) pids.add(node.pid);
  return cluster;
}

/** Collects live events until `done` says so. */
function watchLive(done: (sample: LiveSample) => boolean, timeoutMs = 15_000) {
  return new Promise<{ history: LiveSample[]; sample: LiveSample }>((resolve, reject) => {
    let history: LiveSample[] | null = null;
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`no matching sample in ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = client.metrics.live.subscribe(undefined, {
      onData: (event: LiveEvent) => {
        if (event.kind === 'history') history = [...event.samples];
        if (event.kind !== 'sample' || !done(event.sample)) return;
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve({ history: history ?? [], sample: event.sample });
      },
      onError: reject,
    });
  });
}

describe('the control plane', () => {
  it('lists the nodes it started, and each answers REST at its url', async () => {
    const cluster = await state();
    expect(cluster.nodes.map((node) => [node.id, node.status, node.role])).toEqual([
      ['n1', 'up', 'leader'],
      ['n2', 'up', 'leader'],
    ]);
    // Lone nodes: no cluster until a shard is added (Level 5).
    expect(cluster.shards).toEqual([]);
    expect(cluster).toMatchObject({ epoch: 0, resharding: null });
    const [n1] = cluster.nodes;
    expect(n1!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const put = await request(`${n1!.url}/v1/keys/direct`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: '{"via":"rest"}',
    });
    expect(put.status).toBe(201);
    expect(await (await request(`${n1!.url}/v1/keys/direct`)).json()).toEqual({ via: 'rest' });
  });

  it('serves Prometheus service discovery for every node', async () => {
    const res = await fetch(`${app.url}/api/prometheus/targets`);
    expect(res.status).toBe(200);
    const { nodes } = await state();
    expect(await res.json()).toEqual(
      nodes.map((node) => ({
        targets: [new URL(node.url).host],
        labels: { shard: '', role: 'leader', node: node.id },
      })),
    );
  });

  it('refuses changes from another origin, and requests naming another host', async () => {
    const before = (await state()).nodes.length;
    const foreign = await fetch(`${app.url}/api/trpc/node.start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: '{}',
    });
    expect(foreign.status).toBe(403);
    expect(await foreign.text()).toContain('may not change this cluster');
    // DNS rebinding: a page on evil.example whose name now points at 127.0.0.1.
    const rebinding = await request(`${app.url}/api/trpc/cluster.state`, {
      headers: { Host: 'evil.example' },
    });
    expect(rebinding.status).toBe(403);
    expect((await state()).nodes.length).toBe(before);
    // Same origin, as the dashboard sends it: allowed.
    const own = await fetch(`${app.url}/api/trpc/load.status`, {
      headers: { origin: app.url },
    });
    expect(own.status).toBe(200);
  });

  it('names the bad field of a bad input, and changes nothing', async () => {
    const bad = await refusal(client.load.start.mutate({ rate: -5 }));
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/^rate: /);
    expect((await client.load.status.query()).running).toBe(false);
    const config = await refusal(
      client.config.set.mutate({ id: 'n1', patch: { maxMemoryBytes: 10 } }),
    );
    expect(config).toMatchObject({ code: 'BAD_REQUEST' });
    expect(config.message).toMatch(/^patch\.maxMemoryBytes: /);
    const unknown = await refusal(client.node.kill.mutate({ id: 'n99' }));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toContain('n1, n2');
  });

  it('kills, restarts, pauses and resumes a node, and starts new ones', async () => {
    const started = await client.node.start.mutate({ config: { policy: 'wtinylfu' } });
    expect(started).toMatchObject({ id: 'n3', status: 'up', config: { policy: 'wtinylfu' } });
    pids.add(started.pid!);

    const killed = await client.node.kill.mutate({ id: 'n3' });
    expect(killed).toMatchObject({ status: 'down', pid: null, exitSignal: 'SIGKILL' });
    expect(isGone(started.pid!)).toBe(true);
    const { lines } = await client.node.logs.query({ id: 'n3' });
    expect(lines.at(-1)).toContain('SIGKILL');
    expect((await refusal(client.node.pause.mutate({ id: 'n3' }))).code).toBe('CONFLICT');

    const restarted = await client.node.restart.mutate({ id: 'n3' });
    expect(restarted).toMatchObject({ status: 'up', port: started.port });
    pids.add(restarted.pid!);
    expect(restarted.pid).not.toBe(started.pid);

    expect(await client.node.pause.mutate({ id: 'n3' })).toMatchObject({ status: 'paused' });
    expect(await client.node.resume.mutate({ id: 'n3' })).toMatchObject({ status: 'up' });
    expect(await client.node.stop.mutate({ id: 'n3' })).toMatchObject({ status: 'down' });
  });

  it('changes config on a running node, and a restart keeps it', async () => {
    const [changed] = await client.config.set.mutate({
      id: 'n2',
      patch: { maxMemoryBytes: 1024 * 1024, policy: 'wtinylfu' },
    });
    expect(changed).toMatchObject({ id: 'n2', config: { maxMemoryBytes: 1048576 } });
    const n2 = (await state()).nodes[1]!;
    expect(await (await request(`${n2.url}/v1/config`)).json()).toMatchObject({
      maxMemoryBytes: 1048576,
      policy: 'wtinylfu',
    });
    await client.node.restart.mutate({ id: 'n2' });
    expect(await client.config.get.query({ id: 'n2' })).toMatchObject({
      maxMemoryBytes: 1048576,
      policy: 'wtinylfu',
    });
    await state();
  });

  it('sends a REST request for the console and shows it as curl', async () => {
    const put = await client.rest.send.mutate({
      id: 'n1',
      method: 'PUT',
      key: 'user:1',
      value: '{"name":"Ada"}',
      ttlSeconds: 5,
    });
    const n1 = (await state()).nodes[0]!;
    expect(put.status).toBe(201);
    expect(put.curl).toBe(
      `curl -i -X PUT '${n1.url}/v1/keys/user%3A1?ttl=5' -H 'Content-Type: application/json' --data-binary '{"name":"Ada"}'`,
    );
    const get = await client.rest.send.mutate({ id: 'n1', method: 'GET', key: 'user:1' });
    expect(get).toMatchObject({ status: 200, body: '{"name":"Ada"}' });
    expect(Number(get.headers['x-ttl-ms'])).toBeGreaterThan(0);
  });

  it('drives load against every node and streams what nodes and client see', async () => {
    const status = await client.load.start.mutate({ rate: 400, keys: 1000 });
    // Not n3: it was stopped on purpose, as a drained server leaves a load balancer.
    expect(status).toMatchObject({ running: true, targets: ['n1', 'n2'] });
    const { sample, history } = await watchLive(
      (s) =>
        s.total.requestsPerSecond > 100 &&
        s.load !== null &&
        s.load.requestsPerSecond > 100 &&
        s.nodes.every((node) => node.status !== 'up' || (node.requestsPerSecond ?? 0) > 0),
    );
    expect(history.length).toBeGreaterThan(0);
    expect(sample.total.p99Ms).not.toBeNull();
    expect(sample.load!.p99Ms).not.toBeNull();
    expect(sample.total.entries).toBeGreaterThan(0);

    // A killed node keeps its share, which fails: a crash is what clients meet.
    await client.node.restart.mutate({ id: 'n3' });
    await client.node.kill.mutate({ id: 'n3' });
    // The load worker takes the new targets a moment later.
    const targets = async () => (await client.load.status.query()).targets;
    await expect.poll(targets, { timeout: 5000 }).toEqual(['n1', 'n2', 'n3']);
    await client.node.restart.mutate({ id: 'n3' });
    await client.node.stop.mutate({ id: 'n3' });
    await expect.poll(targets, { timeout: 5000 }).toEqual(['n1', 'n2']);

    const updated = await client.load.update.mutate({ rate: 200 });
    expect(updated.settings).toMatchObject({ rate: 200, keys: 1000 });
    const stopped = await client.load.stop.mutate();
    expect(stopped.running).toBe(false);
    const quiet = await watchLive((s) => s.load === null && s.total.requestsPerSecond === 0);
    expect(quiet.sample.load).toBeNull();
  });

  it('starts a node that writes through to the embedded PostgreSQL, which can stop and start', async () => {
    expect(await client.db.status.query()).toMatchObject({ running: false, port: null });
    const node = await client.node.start.mutate({ storage: { writeMode: 'through' } });
    expect(node.storage).toEqual({ writeMode: 'through' });
    expect(await client.db.status.query()).toMatchObject({ running: true });
    const put = (key: string) =>
      request(`${node.url}/v1/keys/${key}`, {
        method: 'PUT',
        body: '1',
        headers: { 'Content-Type': 'text/plain' },
      });
    expect((await put('kept')).status).toBe(201);
    const back = await client.node.restart.mutate({ id: node.id }); // memory is empty again
    expect((await request(`${back.url}/v1/keys/kept`)).status).toBe(200); // read through

    await client.db.stop.mutate();
    expect((await put('while-down')).status).toBe(503);
    expect((await request(`${back.url}/v1/keys/kept`)).status).toBe(200); // a hit, from memory
    await client.db.start.mutate();
    let recovered = false;
    for (let i = 0; i < 100 && !recovered; i++) {
      recovered = (await put('after')).status === 201;
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(recovered).toBe(true);
    await client.node.stop.mutate({ id: node.id });
  });

  it('stops every node it started when it closes', async () => {
    await state();
    expect(pids.size).toBeGreaterThanOrEqual(4);
    await app.close();
    expect(await waitUntil(() => [...pids].every(isGone), 5000)).toBe(true);
  });
});

/** A port p such that p and p + 1 are both free now. */
async function twoFreePorts(): Promise<number> {
  const bind = (port: number) =>
    new Promise<Server | null>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(null));
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  for (;;) {
    const first = await bind(0);
    const port = (first!.address() as { port: number }).port;
    const second = port < 65535 ? await bind(port + 1) : null;
    await Promise.all([first, second].map((s) => new Promise((r) => (s ? s.close(r) : r(0)))));
    if (second !== null) return port;
  }
}

describe('the first nodes', () => {
  it('listen on the ports asked for, one after another', async () => {
    const nodePort = await twoFreePorts();
    const own = await startApp({ port: 0, nodes: 2, nodePort, dashboard: false });
    try {
      expect(own.playground.supervisor.list().map((node) => node.port)).toEqual([
        nodePort,
        nodePort + 1,
      ]);
    } finally {
      await own.close();
    }
  });
});
