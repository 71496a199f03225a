import { describe, expect, it } from 'vitest';
import { cpuSeconds, descendants, parseStat } from './proc.ts';

describe('parseStat', () => {
  it('reads pid, comm, ppid and user + system ticks, even when comm holds spaces and parens', () => {
    const line =
      '4242 (Web Content (x) 1) S 4200 4242 4242 0 -1 4194560 1 0 0 0 150 25 3 4 20 0 1 0 1 1 1';
    expect(parseStat(line)).toEqual({
      pid: 4242,
      comm: 'Web Content (x) 1',
      ppid: 4200,
      ticks: 175,
    });
  });
});

describe.runIf(process.platform === 'linux')('on Linux', () => {
  it('finds CPU time of this process and no descendants of a process without children', () => {
    expect(cpuSeconds([process.pid]).get(process.pid)).toBeGreaterThan(0);
    expect(descendants(2 ** 22 + 1)).toEqual([]);
  });
});
