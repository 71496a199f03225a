import { describe, expect, it } from 'vitest';
import { formatRaftReport } from '../sim/raft/report.ts';
import { DEFAULT_RAFT_SIM, runRaft } from '../sim/raft/run.ts';
import type { RaftSimOptions } from '../sim/raft/types.ts';
import { UsageError } from './cli-args.ts';
import {
  formatMs,
  parseSimArgs,
  RAFT_BASE,
  raftArgs,
  runSimCommand,
  SIM_USAGE,
  simulate,
  type SimRun,
} from './sim-command.ts';

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
    expect(() => parseSimArgs(['paxos'])).toThrow(
      /unknown scenario "paxos".*resharding, cache, raft, and sweep/,
    );
  });

  it('prints help for --help, with or without a scenario', async () => {
    for (const argv of [[], ['--help'], ['resharding', '--help'], ['cache', '-h']]) {
      const { out, io: streams } = io();
      expect(await runSimCommand(argv, streams)).toBe(0);
      expect(out.stdout).toBe(SIM_USAGE);
    }
    expect(SIM_USAGE).toContain('--no-transfer');
    expect(SIM_USAGE).toContain('--faults-for D');
    expect(SIM_USAGE).toContain('npm run sim:sweep');
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

/** A short raft run: 3 virtual seconds of faults. */
const RAFT = ['raft', '--faults-for', '3s'];

describe('tinycache sim raft', () => {
  it("prints the run's report; the same seed prints the same bytes, another seed another", () => {
    const first = report([...RAFT, '--seed', '42']);
    const options: RaftSimOptions = { ...DEFAULT_RAFT_SIM, seed: 42, faultMs: 3000, record: false };
    expect(first).toBe(formatRaftReport(runRaft(options)));
    expect(report([...RAFT, '--seed', '42'])).toBe(first);
    expect(report([...RAFT, '--seed', '43'])).not.toBe(first);
  });

  it('takes the options it lists, over the defaults', () => {
    const run = parseSimArgs([
      'raft',
      '--seed',
      '9',
      '--replicas',
      '5',
      '--clients',
      '4',
      '--keys',
      '3',
      '--faults-for',
      '1.5s',
      '--liveness',
      '1m',
      '--loss',
      '0.2',
      '--duplication',
      '0',
      '--no-reorder',
      '--no-crashes',
      '--no-partitions',
      '--clock-drift',
      '500',
      '--snapshot-every',
      '20',
      '--max-memory',
      '1MiB',
      '--json',
    ]);
    expect(run).toEqual({
      scenario: 'raft',
      json: true,
      options: {
        ...DEFAULT_RAFT_SIM,
        seed: 9,
        replicas: 5,
        clients: 4,
        keys: 3,
        faultMs: 1500,
        livenessMs: 60_000,
        faults: {
          crashes: false,
          partitions: false,
          loss: 0.2,
          duplication: 0,
          reordering: false,
          clockDriftPpm: 500,
        },
        snapshotEvery: 20,
        maxMemoryBytes: 1 << 20,
        record: false,
      },
    });
    expect(parseSimArgs(['raft'])).toEqual({
      scenario: 'raft',
      json: false,
      options: { ...DEFAULT_RAFT_SIM, seed: 1, record: false },
    });
  });

  it('gives back any options as the arguments that parse to them (the sweep prints these)', () => {
    expect(raftArgs(RAFT_BASE)).toEqual([]);
    const argv = ['--replicas', '7', '--faults-for', '2500ms', '--no-crashes', '--loss', '0.125'];
    const run = parseSimArgs(['raft', ...argv]) as Extract<SimRun, { scenario: 'raft' }>;
    const { seed: __, ...options } = run.options;
    expect(raftArgs(options)).toEqual([
      '--replicas',
      '7',
      '--faults-for',
      '2.5s',
      '--loss',
      '0.125',
      '--no-crashes',
    ]);
    expect(parseSimArgs(['raft', ...raftArgs(options)])).toEqual(run);
    expect([formatMs(20_000), formatMs(120_000), formatMs(250), formatMs(1001)]).toEqual([
      '20s',
      '2m',
      '250ms',
      '1001ms',
    ]);
  });

  it.each([
    [['raft', '--replicas', '4'], '--replicas'],
    [['raft', '--replicas', '11'], '--replicas'],
    [['raft', '--loss', '1.5'], '--loss'],
    [['raft', '--duplication', '-0.1'], '--duplication'],
    [['raft', '--faults-for', 'soon'], '--faults-for'],
    [['raft', '--liveness', '0'], '--liveness'],
    [['raft', '--clock-drift', 'fast'], '--clock-drift'],
    [['raft', '--snapshot-every', '0'], '--snapshot-every'],
    [['raft', '--max-memory', '0'], '--max-memory'],
    [['raft', '--loss', '1'], '--loss'],
    [['raft', '--clock-drift', '500000'], '--clock-drift'],
    [['raft', '--json=yes'], '--json'],
    [['raft', '--duration', '5'], '--duration'],
  ])('refuses %j in one line naming %s', (argv, option) => {
    expect(() => parseSimArgs(argv)).toThrow(UsageError);
    expect(() => parseSimArgs(argv)).toThrow(option);
  });

  it('prints the report on stdout, events and client requests a wall second on stderr', async () => {
    const argv = [...RAFT, '--seed', '42'];
    const { out, io: streams } = io();
    const run = parseSimArgs(argv) as SimRun;
    const expected = simulate(run);
    expect(await runSimCommand(argv, streams)).toBe(expected.failed ? 1 : 0);
    expect(out.stdout).toBe(expected.report);
    expect(out.stderr).toMatch(
      /^sim raft: simulated [\d,]+ events in [\d.]+ s \([\d,]+ events\/s, [\d,]+ client requests\/s\)\n$/,
    );
  });

  it('prints the report as JSON with --json, the same for the same seed', async () => {
    const argv = [...RAFT, '--seed', '42', '--json'];
    const { out, io: streams } = io(true);
    await runSimCommand(argv, streams);
    const parsed = JSON.parse(out.stdout) as ReturnType<typeof runRaft>;
    expect(parsed.options).toMatchObject({ seed: 42, faultMs: 3000 });
    expect(typeof parsed.ok).toBe('boolean');
    expect(parsed.traceHash).toBe(
      runRaft({ ...DEFAULT_RAFT_SIM, seed: 42, faultMs: 3000, record: false }).traceHash,
    );
    expect(out.stdout).toBe(report(argv));
    expect(out.stderr).toContain('% of virtual time');
  });
});
