import { describe, expect, it } from 'vitest';
import { UsageError } from './cli-args.ts';
import { RAFT_BASE } from './sim-command.ts';
import {
  formatSweep,
  formatSweepProgress,
  parseSweepArgs,
  replayCommand,
  runSweepCommand,
  SWEEP_USAGE,
} from './sim-sweep.ts';

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

const BASE = RAFT_BASE;

describe('the raft sweep (npm run sim:sweep)', () => {
  it('runs a few seeds on worker threads and prints how many ran and failed', async () => {
    const argv = ['--seeds', '8', '--from', '100', '--faults-for', '3s', '--threads', '2'];
    const { out, io: streams } = io();
    expect(await runSweepCommand(argv, streams)).toBe(0);
    expect(out.stdout).toBe(
      'Raft sweep: seeds 100 to 107 of: npx tinycache sim raft --seed N --faults-for 3s\n' +
        '8 seeds, 0 failures\n',
    );
    // Not a terminal: a progress line every tenth, then the speed.
    expect(out.stderr).toMatch(/^sweep: 1\/8 seeds, 0 failures, [\d,]+ seeds\/min, ETA /);
    expect(out.stderr).toMatch(
      /\nsweep: 8 seeds in [\d.]+ s on 2 threads \([\d,]+ seeds\/min\)\n$/,
    );
  });

  it('prints each failure in seed order with the command that replays it', () => {
    const base = { ...BASE, replicas: 5, faultMs: 3000 };
    const text = formatSweep(base, { from: 1, count: 200 }, [
      { seed: 170, why: 'linearizability: key k1 read "v3" after "v4" was acknowledged' },
      { seed: 17, why: 'lost 1 acknowledged write\nclient c2 set k0=v9 at 1200 ms' },
    ]);
    expect(text).toBe(
      [
        'Raft sweep: seeds 1 to 200 of: npx tinycache sim raft --seed N --replicas 5 --faults-for 3s',
        '200 seeds, 2 failures',
        '',
        'Failing seeds, each with the command that replays it:',
        '  seed 17: lost 1 acknowledged write',
        '    client c2 set k0=v9 at 1200 ms',
        '    npx tinycache sim raft --seed 17 --replicas 5 --faults-for 3s',
        '  seed 170: linearizability: key k1 read "v3" after "v4" was acknowledged',
        '    npx tinycache sim raft --seed 170 --replicas 5 --faults-for 3s',
        '',
      ].join('\n'),
    );
    expect(formatSweep(BASE, { from: 5, count: 1 }, [])).toBe(
      'Raft sweep: seeds 5 to 5 of: npx tinycache sim raft --seed N\n1 seed, 0 failures\n',
    );
    expect(replayCommand({ ...BASE, faults: { ...BASE.faults, crashes: false } }, 3)).toBe(
      'npx tinycache sim raft --seed 3 --no-crashes',
    );
  });

  it('reports progress as seeds done, failures, seeds a minute and time left', () => {
    expect(formatSweepProgress(250, 1000, 1, 30)).toBe(
      '250/1,000 seeds, 1 failure, 500 seeds/min, ETA 1m 30s',
    );
    expect(formatSweepProgress(1000, 1000, 0, 60)).toBe(
      '1,000/1,000 seeds, 0 failures, 1,000 seeds/min, ETA 0s',
    );
  });

  it('takes a range of seeds, threads and the raft options; refuses a bad one by name', () => {
    expect(parseSweepArgs([], 4)).toEqual({ base: BASE, from: 1, count: 1000, threads: 4 });
    expect(
      parseSweepArgs(['--seeds', '50', '--from', '7', '--threads', '1', '--replicas', '5'], 4),
    ).toEqual({ base: { ...BASE, replicas: 5 }, from: 7, count: 50, threads: 1 });
    for (const [argv, option] of [
      [['--seeds', '0'], '--seeds'],
      [['--from', '-1'], '--from'],
      [['--threads', 'all'], '--threads'],
      [['--seed', '3'], '--seed'],
      [['--replicas', '2'], '--replicas'],
      [['--json'], '--json'],
    ] as const) {
      expect(() => parseSweepArgs([...argv])).toThrow(UsageError);
      expect(() => parseSweepArgs([...argv])).toThrow(option);
    }
    expect(parseSweepArgs(['--help'])).toBe('help');
    expect(SWEEP_USAGE).toContain('--faults-for D');
  });
});
