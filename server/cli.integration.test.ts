/**
 * The `tinycache` command as a user meets it: bad options exit 2 with one line naming the
 * option, help exits 0, and a node shuts down cleanly on SIGINT and SIGTERM.
 */
import { describe, expect, it } from 'vitest';
import { request, runCli, spawnNode } from './testing/processes.ts';

describe('tinycache node options', () => {
  const bad: [string[], string][] = [
    [['--max-memory', '12XB'], '--max-memory'],
    [['--max-memory', '1'], '--max-memory'],
    [['--policy', 'fifo'], '--policy'],
    [['--port', '99999'], '--port'],
    [['--port', 'abc'], '--port'],
    [['--max-key-bytes', '0'], '--max-key-bytes'],
    [['--default-ttl', '-5'], '--default-ttl'],
    [['--compress-threshold', 'lots'], '--compress-threshold'],
    [['--no-such-option'], '--no-such-option'],
    [['--port', '-1'], '--port'],
    [['--max-memory', '1.5KiB'], '--max-memory'],
    [['--policy'], '--policy'],
    [['--data-dir', '/tmp/tinycache-unused'], '--data-dir'],
    [
      [
        '--data-dir',
        '/tmp/tinycache-unused',
        '--node-id',
        'n1',
        '--database-url',
        'postgres://u@127.0.0.1:1/db',
      ],
      '--data-dir',
    ],
    [['--join', 'n1,n2'], '--join'],
    [['--node-id', 'n4', '--data-dir', '/tmp/tinycache-unused', '--join', 'n1,,n2'], '--join'],
    [['--node-id', 'n4', '--data-dir', '/tmp/tinycache-unused', '--join', 'n1,n1'], '--join'],
    [['--node-id', 'n4', '--data-dir', '/tmp/tinycache-unused', '--join', 'n1,n4'], '--join'],
  ];
  it.each(bad)('exits 2 naming the option for %j', async (args, option) => {
    const run = await runCli(['node', ...args]);
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(option);
    // Our own words, not the argument parser's.
    expect(lines[0]).not.toMatch(/ambiguous|Unknown option/);
    expect(run.stdout).toBe('');
  });

  it('prints help and exits 0', async () => {
    const run = await runCli(['node', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--max-memory');
  });

  it('prints its version', async () => {
    const run = await runCli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^tinycache \d+\.\d+\.\d+\n$/);
  });

  it('exits 2 for an unknown command', async () => {
    const run = await runCli(['frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('frobnicate');
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('shuts down cleanly on %s', async (signal) => {
    const node = await spawnNode(['--max-memory', '1MiB', '--policy', 'wtinylfu']);
    expect(node.output()).toContain('policy wtinylfu, max-memory 1MiB');
    expect((await request(`${node.url}/healthz`)).status).toBe(200);
    expect(await node.stop(signal)).toBe(0);
  });

  it('says so in one line when the port is taken', async () => {
    const node = await spawnNode();
    try {
      const run = await runCli(['node', '--port', String(node.port)]);
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain('already in use');
    } finally {
      await node.stop();
    }
  });
});

describe('tinycache bench options', () => {
  it.each([
    [['--read-ratio', '2'], '--read-ratio'],
    [['-r', '-0.5'], '--rate'],
    [['--path', '/a b'], 'path'],
  ])('exits 2 naming a bad option for %j', async (args, option) => {
    const run = await runCli(['bench', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(option);
  });
});
