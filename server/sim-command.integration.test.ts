/**
 * `tinycache sim` as a user runs it: the same seed prints the same stdout, byte for byte,
 * from two separate processes, and the simulator's speed goes to stderr only.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

function sim(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'server/cli.ts', 'sim', ...args],
      { cwd: ROOT, encoding: 'buffer', timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        if (code === null) reject(error);
        else resolve({ code, stdout, stderr: stderr.toString() });
      },
    );
  });
}

describe('tinycache sim (a real process)', () => {
  it('replays a seed: two processes print the same stdout, byte for byte', async () => {
    const args = ['resharding', '--shards', '20', '--add', '2', '--seed', '7', '--duration', '5'];
    const [a, b] = await Promise.all([sim(args), sim(args)]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(500);
    expect(a.stdout.equals(b.stdout)).toBe(true);
    expect(a.stdout.toString()).toContain('Check       ok');
    expect(a.stderr).toMatch(/simulated req\/s/);
    expect(a.stdout.toString()).not.toMatch(/simulated req\/s/);
  });

  it('replays a raft seed: two processes print the same stdout, byte for byte', async () => {
    const args = ['raft', '--seed', '42'];
    const [a, b] = await Promise.all([sim(args), sim(args)]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(0);
    expect(a.stdout.equals(b.stdout)).toBe(true);
    expect(a.stderr).toMatch(/^sim raft: simulated [\d,]+ events in .* client requests\/s\)\n$/);
  });

  it('exits 2 with one line naming a bad option', async () => {
    const run = await sim(['resharding', '--shards', 'many']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([
      'tinycache sim: --shards: expected a whole number from 1 to 4096 (got "many")',
    ]);
    expect(run.stdout.length).toBe(0);
    const raft = await sim(['raft', '--replicas', '4']);
    expect(raft.code).toBe(2);
    expect(raft.stderr).toBe(
      'tinycache sim: --replicas: expected an odd number from 1 to 9 (got "4")\n',
    );
  });
});
