import { describe, expect, it } from 'vitest';
import type { SecondSample } from '../../sim/workload/recorder.ts';
import { runReshardingScenario } from '../../sim/scenarios/resharding.ts';
import { samplesOfRun } from './samples.ts';

function second(n: number, figures: Partial<SecondSample> = {}): SecondSample {
  return {
    second: n,
    requestsPerSecond: 100,
    hits: 80,
    misses: 10,
    writes: 10,
    errors: 0,
    hitRate: 80 / 90,
    p50Ms: 0.2,
    p99Ms: 0.5,
    ...figures,
  };
}

describe('samplesOfRun', () => {
  it('stamps each virtual second at its end, in ms from the run start', () => {
    const samples = samplesOfRun([second(0), second(1), second(2)], 3000);
    expect(samples.map((s) => s.t)).toEqual([1000, 2000, 3000]);
  });

  it("puts the clients' view in load, throughput, hit rate and errors in total", () => {
    const [sample] = samplesOfRun([second(0, { requestsPerSecond: 250, errors: 3 })], 1000);
    expect(sample!.total).toMatchObject({
      requestsPerSecond: 250,
      errorsPerSecond: 3,
      hitRate: 80 / 90,
    });
    expect(sample!.load).toMatchObject({
      running: true,
      requestsPerSecond: 250,
      errors: 3,
      hitRate: 80 / 90,
      p50Ms: 0.2,
      p99Ms: 0.5,
      totalRequests: 250,
      totalErrors: 3,
    });
  });

  it('invents no figure the simulator did not measure: node latency, per-node series, reads', () => {
    const [sample] = samplesOfRun([second(0)], 1000);
    expect(sample!.total.p50Ms).toBeNull();
    expect(sample!.total.p99Ms).toBeNull();
    expect(sample!.total.reads).toBeNull();
    expect(sample!.total.nodesUp).toBe(0);
    expect(sample!.nodes).toEqual([]);
  });

  it('keeps a second without reads as no hit rate and no latency', () => {
    const quiet = second(4, {
      requestsPerSecond: 0,
      hits: 0,
      misses: 0,
      writes: 0,
      hitRate: null,
      p50Ms: null,
      p99Ms: null,
    });
    const [sample] = samplesOfRun([quiet], 10_000);
    expect(sample!.t).toBe(5000);
    expect(sample!.total.hitRate).toBeNull();
    expect(sample!.load?.p99Ms).toBeNull();
  });

  it('counts the totals up to each second', () => {
    const samples = samplesOfRun([second(0), second(1, { errors: 2 }), second(2)], 3000);
    expect(samples.map((s) => s.load?.totalRequests)).toEqual([100, 200, 300]);
    expect(samples.map((s) => s.load?.totalErrors)).toEqual([0, 2, 2]);
  });

  it('leaves out the drain: the seconds that began after the clients stopped', () => {
    const drain = second(2, { requestsPerSecond: 1, hits: 1, misses: 0, writes: 0 });
    const samples = samplesOfRun([second(0), second(1), drain], 2000);
    expect(samples.map((s) => s.t)).toEqual([1000, 2000]);
    // A second the clients were sending for part of is kept.
    expect(samplesOfRun([second(0), second(1), drain], 2500)).toHaveLength(3);
  });

  it("draws a real resharding run: one sample a virtual second, the report's figures", () => {
    const result = runReshardingScenario({
      seed: 3,
      shards: 4,
      add: 1,
      keys: 2000,
      ratePerSecond: 2000,
      durationMs: 3000,
      moveAtMs: 1000,
    });
    const samples = samplesOfRun(result.workload.series, 3000);
    const sending = result.workload.series.filter((s) => s.second < 3);
    expect(samples).toHaveLength(3);
    const requests = sending.reduce((sum, s) => sum + s.requestsPerSecond, 0);
    expect(samples.at(-1)?.load?.totalRequests).toBe(requests);
    expect(samples.map((s) => s.total.hitRate)).toEqual(sending.map((s) => s.hitRate));
    expect(samples.map((s) => s.load?.p99Ms)).toEqual(sending.map((s) => s.p99Ms));
  });
});
