import { describe, expect, it } from 'vitest';
import { formatReshardingReport } from '../report.ts';
import { type ReshardingOptions, runReshardingScenario } from './resharding.ts';

/** 20 shards + 2 at 1 s, 10,000 keys, 5,000 req/s for 3 s: tens of ms. */
const small: Partial<ReshardingOptions> = {
  shards: 20,
  add: 2,
  clients: 4,
  keys: 10_000,
  ratePerSecond: 5_000,
  durationMs: 3_000,
  moveAtMs: 1_000,
};

describe('the resharding scenario', () => {
  it('replays a seed exactly, and runs differently under another', () => {
    const first = runReshardingScenario({ ...small, seed: 42 });
    const second = runReshardingScenario({ ...small, seed: 42 });
    expect(formatReshardingReport(second)).toBe(formatReshardingReport(first));
    expect(second.traceHash).toBe(first.traceHash);
    const other = runReshardingScenario({ ...small, seed: 43 });
    expect(other.traceHash).not.toBe(first.traceHash);
    expect(formatReshardingReport(other)).not.toBe(formatReshardingReport(first));
  });

  it('streams every moved key, finishes the move, and passes the check', () => {
    const r = runReshardingScenario({ ...small, seed: 1 });
    expect(r.addedShards).toEqual(['shard-20', 'shard-21']);
    expect(r.moveEndMs).not.toBeNull();
    expect(r.moveEndMs!).toBeGreaterThan(r.moveStartMs);
    // Nothing is evicted (each node has room for every key), so each moved key is sent once.
    expect(r.streamedKeys).toBe(r.movedKeys);
    expect(r.copiesApplied + r.copiesSkipped).toBeGreaterThanOrEqual(r.streamedKeys);
    expect(r.check.readsChecked).toBeGreaterThan(10_000);
    expect(r.check.violations).toBe(0);
    expect(r.workload.errors).toBe(0);
    // Every old owner dropped what moved: the stores hold each key once.
    expect(r.keysAfter.mean * r.keysAfter.shards).toBeLessThanOrEqual(10_000);
  });

  it('moves about M/(N+M) of the keys when 100 shards become 110, and K/N when 10 leave', () => {
    const common = { keys: 20_000, ratePerSecond: 1_000, durationMs: 1_000, moveAtMs: 500 };
    const grow = runReshardingScenario({ ...common, seed: 7, shards: 100, add: 10 });
    expect(grow.idealMovedFraction).toBeCloseTo(10 / 110, 10);
    expect(Math.abs(grow.movedFraction / grow.idealMovedFraction - 1)).toBeLessThan(0.1);
    expect(Math.abs(grow.ringMovedFraction / grow.idealMovedFraction - 1)).toBeLessThan(0.1);
    expect(grow.check.violations).toBe(0);
    const shrink = runReshardingScenario({ ...common, seed: 7, shards: 100, add: 0, remove: 10 });
    expect(shrink.removedShards).toHaveLength(10);
    expect(shrink.idealMovedFraction).toBeCloseTo(0.1, 10);
    expect(Math.abs(shrink.movedFraction / shrink.idealMovedFraction - 1)).toBeLessThan(0.1);
    expect(shrink.keysAfter.shards).toBe(90);
    expect(shrink.check.violations).toBe(0);
  });

  it('keeps the hit rate through the move with transfer, and dips without it', () => {
    const uniform = { ...small, distribution: { kind: 'uniform' } as const };
    const streamed = runReshardingScenario({ ...uniform, seed: 3 });
    const naive = runReshardingScenario({ ...uniform, seed: 3, transfer: false });
    const before = streamed.hitRateBefore!;
    expect(naive.hitRateBefore).toBe(before); // the same run until the move
    expect(streamed.lowestHitRate!.hitRate).toBeGreaterThan(before - 0.03);
    expect(naive.lowestHitRate!.hitRate).toBeLessThan(before - 0.03);
    expect(naive.lowestHitRate!.hitRate).toBeLessThan(streamed.lowestHitRate!.hitRate);
    expect(naive.streamedKeys).toBe(0);
    expect(naive.check.violations).toBe(0);
  });

  it('the checker catches a copy that overwrites a settled key (Handoff rule 3 broken)', () => {
    // A slow stream leaves time for writes to reach keys before their copy does.
    const slow = { ...small, transferKeysPerSecond: 200, durationMs: 4_000 };
    const ok = runReshardingScenario({ ...slow, seed: 5 });
    const broken = runReshardingScenario({ ...slow, seed: 5, handoffFault: 'copy-over-settled' });
    expect(ok.check.violations).toBe(0);
    expect(broken.check.stale + broken.check.resurrected).toBeGreaterThan(0);
    expect(formatReshardingReport(broken)).toMatch(/Check {7}FAILED/);
  });

  it('the checker catches a delete that leaves no tombstone (Handoff rule 2 broken)', () => {
    const deletes = {
      ...small,
      distribution: { kind: 'uniform' },
      keys: 2_000,
      readRatio: 0.5,
      deleteRatio: 0.5,
      transferKeysPerSecond: 50,
      durationMs: 4_000,
    } as const;
    const ok = runReshardingScenario({ ...deletes, seed: 5 });
    const broken = runReshardingScenario({
      ...deletes,
      seed: 5,
      handoffFault: 'delete-not-settled',
    });
    expect(ok.check.violations).toBe(0);
    expect(broken.check.resurrected).toBeGreaterThan(0);
  });

  it('refuses options it cannot honour', () => {
    expect(() => runReshardingScenario({ seed: 1, shards: 0 })).toThrow(/shards/);
    expect(() => runReshardingScenario({ seed: 1, shards: 4, remove: 4 })).toThrow(/remove/);
    expect(() => runReshardingScenario({ seed: 1, valueBytes: 2 })).toThrow(/valueBytes/);
    expect(() => runReshardingScenario({ seed: 1, moveAtMs: 20_000 })).toThrow(/moveAtMs/);
  });
});
