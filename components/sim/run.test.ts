import { describe, expect, it } from 'vitest';
import { parseSimArgs } from '../../server/sim-command.ts';
import { cliArgs, DEFAULT_FORM, optionsOf, runSimulation, type SimForm } from './run.ts';

const SMALL: SimForm = { ...DEFAULT_FORM, shards: 4, count: 1, keys: 2000, ratePerSecond: 2000 };

describe('the /sim form', () => {
  const forms: SimForm[] = [
    DEFAULT_FORM,
    { ...DEFAULT_FORM, change: 'remove', count: 3, transfer: false },
    { ...DEFAULT_FORM, durationSeconds: 4, seed: 123, ratePerSecond: 2500 },
  ];
  for (const form of forms) {
    it(`is the run its command line names: ${cliArgs(form).join(' ')}`, () => {
      const run = parseSimArgs(cliArgs(form));
      expect(run).not.toBe('help');
      expect(run).toEqual({ scenario: 'resharding', options: optionsOf(form) });
    });
  }
});

describe('runSimulation', () => {
  it('gives the same report and trace for the same seed', () => {
    const a = runSimulation({ ...SMALL, durationSeconds: 2 });
    const b = runSimulation({ ...SMALL, durationSeconds: 2 });
    expect(b.report).toBe(a.report);
    expect(b.traceHash).toBe(a.traceHash);
    expect(a.report).toContain(`Trace       ${a.traceHash}`);
    expect(a.samples.length).toBeGreaterThan(0);
    expect(a.wallMs).toBeGreaterThan(0);
  });

  it('gives another run for another seed', () => {
    const a = runSimulation({ ...SMALL, durationSeconds: 2 });
    const b = runSimulation({ ...SMALL, durationSeconds: 2, seed: SMALL.seed + 1 });
    expect(b.traceHash).not.toBe(a.traceHash);
  });

  it("refuses what the scenario refuses, with the scenario's message", () => {
    expect(() => runSimulation({ ...SMALL, change: 'remove', count: 4 })).toThrow(/remove/);
  });
});
