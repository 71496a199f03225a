import { describe, expect, it } from 'vitest';
import { UsageError } from './cli-args.ts';
import { parseSimArgs, runSimCommand, SIM_USAGE, simulate, type SimRun } from './sim-command.ts';

/** A small resharding run: 20 shards + 2, 10,000 keys, 2 virtual seconds. */
const SMALL = ['--shards', '20', '--add', '2', '--keys', '10000', '--duration', '2'];

function report(argv: string[]): string {
  return simulate(parseSimArgs(argv) as SimRun).report;
}

function io(isTTY = false) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: { write: (text: string) => (out.stdout += text) },
      stderr: { write: (text: string) => (out.stderr += text), isTTY },
    },
  };
}

describe('tinycache sim', () => {
  it('prints the same report for the same seed, and another for another seed', () => {
    const first = report(['resharding', ...SMALL, '--seed', '7']);
    expect(report(['resharding', ...SMALL, '--seed', '7'])).toBe(first);
    expect(report(['resharding', ...SMALL, '--seed', '8'])).not.toBe(first);
    expect(first).toContain('resharding scenario, seed 7');
    const cache = ['cache', '--duration', '1', '--rate', '2000', '--keys', '2000'];
    expect(report([...cache, '--seed', '3'])).toBe(report([...cache, '--seed', '3']));
    expect(report([...cache, '--seed', '3'])).not.toBe(report([...cache, '--seed', '4']));
  });

  it('takes the options it lists', () => {
    const run = parseSimArgs([
      'resharding',
      '--shards',
      '50',
      '--remove',
      '5',
      '--no-transfer',
      '--dist',
      'uniform',
      '--duration',
      '4s',
      '--move-at',
      '500ms',
      '--batch-keys',
      '10',
      '--transfer-rate',
      '250',
      '--value-bytes',
      '1KiB',
    ]);
    expect(run).toMatchObject({
      scenario: 'resharding',
      options: {
        shards: 50,
        add: 0,
        remove: 5,
        transfer: false,
        distribution: { kind: 'uniform' },
        durationMs: 4000,
        moveAtMs: 500,
        transferBatchKeys: 10,
        transferKeysPerSecond: 250,
        valueBytes: 1024,
      },
    });
    expect(parseSimArgs(['resharding'])).toMatchObject({
      options: { shards: 100, add: 10, moveAtMs: 3000, durationMs: 10_000 },
    });
    expect(parseSimArgs(['cache', '--nodes', '3', '--policy', 'wtinylfu'])).toMatchObject({
      scenario: 'cache',
      options: { nodes: 3, policy: 'wtinylfu' },
    });
  });

  it.each([
    [['resharding', '--shards', '0'], '--shards'],
    [['resharding', '--rate', '-5'], '--rate'],
    [['resharding', '--shards', '4', '--remove', '4'], '--remove'],
    [['resharding', '--dist', 'pareto'], '--dist'],
    [['resharding', '--duration', '2', '--move-at', '3'], '--move-at'],
    [['resharding', '--value-bytes', '4'], '--value-bytes'],
    [['resharding', '--nodes', '3'], '--nodes'],
    [['cache', '--shards', '3'], '--shards'],
    [['cache', '--policy', 'fifo'], '--policy'],
    [['resharding', '--seed', '1.5'], '--seed'],
  ])('refuses %j in one line naming %s', (argv, option) => {
    expect(() => parseSimArgs(argv)).toThrow(UsageError);
    expect(() => parseSimArgs(argv)).toThrow(option);
  });

  it('refuses an unknown scenario, naming the ones there are', () => {
    expect(() => parseSimArgs(['raft'])).toThrow(/unknown scenario "raft".*resharding, cache/);
  });

  it('prints help for --help, with or without a scenario', async () => {
    for (const argv of [[], ['--help'], ['resharding', '--help'], ['cache', '-h']]) {
      const { out, io: streams } = io();
      expect(await runSimCommand(argv, streams)).toBe(0);
      expect(out.stdout).toBe(SIM_USAGE);
    }
    expect(SIM_USAGE).toContain('--no-transfer');
  });

  it('prints the report alone on stdout, the wall-clock speed on stderr', async () => {
    const argv = ['resharding', ...SMALL, '--seed', '7'];
    const { out, io: streams } = io();
    expect(await runSimCommand(argv, streams)).toBe(0);
    expect(out.stdout).toBe(report(argv));
    expect(out.stdout).not.toMatch(/wall|simulated req\/s/);
    expect(out.stderr).toMatch(
      /^sim: [\d,]+ simulated requests .* simulated req\/s, [\d,]+ events\/s\n$/,
    );
  });

  it('draws progress on stderr only when it is a terminal', async () => {
    const argv = ['resharding', ...SMALL, '--seed', '7'];
    const { out, io: streams } = io(true);
    expect(await runSimCommand(argv, streams)).toBe(0);
    expect(out.stderr).toContain('% of virtual time');
    expect(out.stdout).toBe(report(argv));
  });
});
