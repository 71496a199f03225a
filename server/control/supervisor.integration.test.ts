/**
 * The supervisor against real `tinycache node` processes: no part of it is mocked.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGone, request, waitUntil } from '../testing/processes.ts';
import { ControlError, type NodeInfo, Supervisor } from './supervisor.ts';

const PARENT_FIXTURE = fileURLToPath(new URL('./orphan-parent.fixture.ts', import.meta.url));

/** A client that gives up quickly, so a paused node shows as a timeout, not a hang. */
async function getWithin(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return res.text();
}

async function put(node: NodeInfo, key: string, value: string): Promise<number> {
  const res = await request(`${node.url}/v1/keys/${key}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'text/plain' },
    body: value,
  });
  return res.status;
}

async function get(node: NodeInfo, key: string): Promise<string> {
  return (await request(`${node.url}/v1/keys/${key}`)).text();
}

/** Whether `port` on 127.0.0.1 can be bound, i.e. no process holds it. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function refusal(action: () => unknown): { code: string; message: string } {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ControlError);
    return { code: (error as ControlError).code, message: (error as Error).message };
  }
  throw new Error('expected a ControlError');
}

describe('Supervisor', () => {
  const supervisor = new Supervisor();
  let a: NodeInfo;
  let b: NodeInfo;

  beforeAll(async () => {
    [a, b] = await Promise.all([supervisor.start(), supervisor.start({ policy: 'wtinylfu' })]);
  });
  afterAll(() => supervisor.close());

  it('starts nodes on their own free ports, each serving PUT and GET', async () => {
    expect(a).toMatchObject({ id: 'n1', status: 'up', role: 'leader', shard: null });
    expect(b).toMatchObject({ id: 'n2', status: 'up', config: { policy: 'wtinylfu' } });
    expect(a.port).not.toBe(b.port);
    expect(a.url).toBe(`http://127.0.0.1:${a.port}`);
    expect(JSON.parse(JSON.stringify(supervisor.list()))).toEqual(supervisor.list());

    expect(await put(a, 'k', 'on a')).toBe(201);
    expect(await put(b, 'k', 'on b')).toBe(201);
    expect(await get(a, 'k')).toBe('on a');
    expect(await get(b, 'k')).toBe('on b');
  });

  it('a paused node answers nothing until it is resumed', async () => {
    expect(supervisor.pause(a.id).status).toBe('paused');
    await expect(getWithin(`${a.url}/v1/keys/k`, 300)).rejects.toThrow();
    expect(await get(b, 'k')).toBe('on b');

    expect(supervisor.resume(a.id).status).toBe('up');
    expect(await getWithin(`${a.url}/v1/keys/k`, 5_000)).toBe('on a');
  });

  it('kill sends SIGKILL: the node is down, its exit kept, its port free', async () => {
    const killed = await supervisor.kill(a.id);
    expect(killed).toMatchObject({ status: 'down', exitCode: null, exitSignal: 'SIGKILL' });
    expect(isGone(a.pid!)).toBe(true);
    expect(await portIsFree(a.port)).toBe(true);
  });

  it('refuses unknown ids and signals to a down node, with a code', async () => {
    expect(refusal(() => supervisor.get('n99'))).toMatchObject({ code: 'unknown_node' });
    expect(refusal(() => supervisor.pause(a.id))).toMatchObject({ code: 'node_down' });
    expect(refusal(() => supervisor.resume(a.id))).toMatchObject({ code: 'node_down' });
    await expect(supervisor.kill(a.id)).rejects.toMatchObject({ code: 'node_down' });
    await expect(supervisor.stop(a.id)).rejects.toMatchObject({ code: 'node_down' });
    await expect(supervisor.start({ policy: 'fifo' as 'lru' })).rejects.toMatchObject({
      code: 'invalid_config',
    });
  });

  it('restart brings a killed node back under its id and config, and tells subscribers', async () => {
    const seen: string[] = [];
    const unsubscribe = supervisor.subscribe((node) => seen.push(`${node.id} ${node.status}`));
    const back = await supervisor.restart(a.id);
    unsubscribe();

    expect(back).toMatchObject({ id: a.id, status: 'up', config: a.config, exitSignal: null });
    expect(back.pid).not.toBe(a.pid);
    expect(seen).toEqual([`${a.id} starting`, `${a.id} up`]);
    expect(await put(back, 'k', 'again')).toBe(201);
    expect(await get(back, 'k')).toBe('again');
    a = back;
  });

  it('restart moves to a free port when the old one is taken', async () => {
    await supervisor.kill(a.id);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(a.port, '127.0.0.1', resolve));
    try {
      const back = await supervisor.restart(a.id);
      expect(back.status).toBe('up');
      expect(back.port).not.toBe(a.port);
      expect(await put(back, 'k', 'moved')).toBe(201);
      a = back;
    } finally {
      squatter.close();
    }
  });

  it('walks one node through every status, and tells subscribers each step in order', async () => {
    const seen: string[] = [];
    const unsubscribe = supervisor.subscribe((node) => seen.push(node.status));
    const node = await supervisor.start();
    supervisor.pause(node.id);
    supervisor.resume(node.id);
    await supervisor.kill(node.id);
    expect(supervisor.get(node.id).pid).toBeNull();
    await supervisor.restart(node.id);
    await supervisor.stop(node.id);
    unsubscribe();
    expect(seen).toEqual(['starting', 'up', 'paused', 'up', 'down', 'starting', 'up', 'down']);
  });

  it('starts on the port asked for, or on a free one when it is taken', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    try {
      const moved = await supervisor.start({}, taken);
      expect(moved.port).not.toBe(taken);
      expect(supervisor.logs(moved.id).join('\n')).toContain(`could not start on port ${taken}`);
      await supervisor.stop(moved.id);
    } finally {
      squatter.close();
    }
    const asked = await supervisor.start({}, taken);
    expect(asked.port).toBe(taken);
    await supervisor.stop(asked.id);
  });

  it('keeps a config set while the node runs for its next start, and tells subscribers', async () => {
    const node = await supervisor.start();
    const config = { ...node.config, maxMemoryBytes: 1024 * 1024 };
    const seen: NodeInfo[] = [];
    const unsubscribe = supervisor.subscribe((info) => seen.push(info));
    expect(supervisor.setConfig(node.id, config).config).toEqual(config);
    unsubscribe();
    expect(seen.map((info) => info.config)).toEqual([config]);
    const back = await supervisor.restart(node.id);
    expect(back.config).toEqual(config);
    expect(await (await request(`${back.url}/v1/config`)).json()).toEqual(config);
    await supervisor.stop(node.id);
  });

  it('passes every valid config to the node, even a TTL too small to print plainly', async () => {
    const node = await supervisor.start({ defaultTtlSeconds: 1e-7, policy: 'wtinylfu' });
    expect(node.status).toBe('up');
    const config = (await request(`${node.url}/v1/config`)).json();
    expect(config).toMatchObject({ defaultTtlSeconds: 0.001, policy: 'wtinylfu' });
    await supervisor.stop(node.id);
  });

  it('logs hold the listening line and notes of each exit', () => {
    const lines = supervisor.logs(a.id);
    expect(lines).toContainEqual(expect.stringMatching(/^tinycache node listening on http:/));
    expect(lines).toContainEqual(expect.stringMatching(/exited with SIGKILL$/));
    expect(supervisor.logs(a.id, 1)).toEqual(lines.slice(-1));
  });

  it('stop sends SIGTERM and the node exits cleanly with code 0', async () => {
    const stopped = await supervisor.stop(b.id);
    expect(stopped).toMatchObject({ status: 'down', exitCode: 0, exitSignal: null });
    expect(supervisor.logs(b.id)).toContainEqual(expect.stringMatching(/SIGTERM, shutting down/));
  });

  it('an exit nobody asked for is noticed and noted', async () => {
    const c = await supervisor.start();
    process.kill(c.pid!, 'SIGTERM');
    expect(await waitUntil(() => supervisor.get(c.id).status === 'down', 10_000)).toBe(true);
    expect(supervisor.get(c.id).exitCode).toBe(0);
    expect(supervisor.logs(c.id).at(-1)).toMatch(/exited unexpectedly with code 0$/);
  });

  it('close() stops every node it started, paused ones too', async () => {
    const c = await supervisor.start();
    supervisor.pause(c.id);
    const pids = supervisor
      .list()
      .filter((node) => node.status !== 'down')
      .map((node) => node.pid!);
    expect(pids.length).toBe(2);

    await supervisor.close();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
    expect(supervisor.list().every((node) => node.status === 'down')).toBe(true);
    await expect(supervisor.start()).rejects.toMatchObject({ code: 'start_failed' });
  });
});

describe('a node whose supervisor dies', () => {
  it('exits by itself, so no orphan keeps its port', async () => {
    const parent = spawn(process.execPath, ['--import', 'tsx', PARENT_FIXTURE], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pid = 0;
    try {
      pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        parent.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(Number(out.trim()));
        });
        parent.once('exit', (code) => reject(new Error(`the parent exited with ${code}`)));
      });
      expect(isGone(pid)).toBe(false);

      parent.kill('SIGKILL');
      expect(await waitUntil(() => isGone(pid), 5_000)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      // Should the node outlive its parent after all, do not leave it holding a port.
      if (pid > 0 && !isGone(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});

describe('replicas and their data directories (Level 6)', () => {
  it('a new replica starts on an empty <root>/nodes/<id>, even where an earlier run left one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tinycache-supervisor-'));
    const supervisor = new Supervisor({ dataRoot: root });
    try {
      mkdirSync(join(root, 'nodes', 'n1'), { recursive: true });
      writeFileSync(join(root, 'nodes', 'n1', 'left-by-an-earlier-run'), 'x');
      const node = await supervisor.start({}, 0, null, { replica: true });
      expect(node).toMatchObject({
        id: 'n1',
        dataDir: join(root, 'nodes', 'n1'),
        role: 'follower',
      });
      expect(existsSync(join(root, 'nodes', 'n1', 'left-by-an-earlier-run'))).toBe(false);
      const lone = await supervisor.start();
      expect(lone).toMatchObject({ role: 'leader', term: null, dataDir: null });
    } finally {
      await supervisor.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('with reuseDataDirs (tinycache cluster --data-dir run again) it keeps what is there', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tinycache-supervisor-'));
    const supervisor = new Supervisor({ dataRoot: root, reuseDataDirs: true });
    try {
      mkdirSync(join(root, 'nodes', 'n1'), { recursive: true });
      writeFileSync(join(root, 'nodes', 'n1', 'kept'), 'x');
      await supervisor.start({}, 0, null, { replica: true });
      expect(existsSync(join(root, 'nodes', 'n1', 'kept'))).toBe(true);
    } finally {
      await supervisor.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a replica without a data root, saying why', async () => {
    const supervisor = new Supervisor();
    await expect(supervisor.start({}, 0, null, { replica: true })).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringMatching(/no data root/) as unknown,
    });
    expect(supervisor.list()).toEqual([]);
  });
});
