import { describe, expect, it } from 'vitest';
import { parseSimArgs, simulate } from '../../../server/sim-command.ts';
import {
  DEFAULT_RAFT_FORM,
  raftCliArgs,
  raftOptionsOf,
  runRaftSimulation,
  type RaftForm,
} from './form.ts';

describe('the /sim Raft form', () => {
  const forms: RaftForm[] = [
    DEFAULT_RAFT_FORM,
    { ...DEFAULT_RAFT_FORM, replicas: 5, clients: 7, seed: 42, lossPercent: 0 },
    { ...DEFAULT_RAFT_FORM, crashes: false, partitions: false, lossPercent: 12.5, faultSeconds: 3 },
    { ...DEFAULT_RAFT_FORM, lossPercent: 0.7 },
  ];
  for (const form of forms) {
    it(`is the run its command line names: ${raftCliArgs(form).join(' ')}`, () => {
      const run = parseSimArgs(raftCliArgs(form));
      expect(run).not.toBe('help');
      // The page records the timeline to draw it; the command does not, and prints the same.
      expect(run).toEqual({ scenario: 'raft', options: raftOptionsOf(form, false), json: false });
    });
  }

  it('prints what the command prints, byte for byte', () => {
    const form = { ...DEFAULT_RAFT_FORM, faultSeconds: 3 };
    const run = parseSimArgs(raftCliArgs(form));
    if (run === 'help') throw new Error('help');
    const page = runRaftSimulation(form);
    expect(page.report.timeline).not.toBeNull();
    expect(simulate(run).report).toBe(page.text);
  });

  it('takes its defaults from the command, but 10 s of faults', () => {
    const options = raftOptionsOf(DEFAULT_RAFT_FORM);
    expect(options.faultMs).toBe(10_000);
    expect(options.record).toBe(true);
    expect(raftCliArgs(DEFAULT_RAFT_FORM).join(' ')).toBe(
      'raft --seed 1 --replicas 3 --clients 4 --faults-for 10s --loss 0.05',
    );
  });
});
