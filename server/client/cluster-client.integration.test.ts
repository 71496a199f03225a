/**
 * The exported client against one shard of three real replicas: the leader is killed with
 * SIGKILL while the client writes in a loop. Every write call resolves or throws within the
 * retry bound, the client follows the new leader, and every acknowledged value reads back
 * (a write that threw may or may not have applied: either its value or the last acknowledged
 * one reads back). Nothing here asserts on wall-clock speed beyond the bound.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY } from './backoff.ts';
import { ClusterClient } from './cluster-client.ts';
import { type ReplicatedShard, startShard } from './replicas-fixture.ts';

let shard: ReplicatedShard | null = null;
afterAll(async () => {
  await shard?.close();
});

describe('ClusterClient on replicated shards', () => {
  it('rides out a SIGKILLed leader: bounded calls, the new leader followed, acknowledged writes read back', async () => {
    shard = await startShard();
    const { node: leader, term } = await shard.leader();
    const client = await ClusterClient.connect(...shard.nodes.map((n) => n.proc.url));
    const keys = 16;
    /** Per key: the last acknowledged value, and values of failed writes since. */
    const acked = new Map<string, string>();
    const unsure = new Map<string, Set<string>>();
    let failures = 0;
    let slowest = 0;
    let killedAt = -1;
    for (let i = 0; i < 400; i++) {
      if (i === 100) {
        killedAt = i;
        await leader.proc.stop('SIGKILL');
      }
      const key = `k${i % keys}`;
      const value = `v${i}`;
      const started = performance.now();
      try {
        await client.set(key, value);
        acked.set(key, value);
        unsure.delete(key);
      } catch {
        failures++;
        const set = unsure.get(key) ?? new Set<string>();
        set.add(value);
        unsure.set(key, set);
      }
      slowest = Math.max(slowest, performance.now() - started);
    }
    expect(killedAt).toBe(100);
    // Each call ends within the bound (plus one attempt's timeout).
    expect(slowest).toBeLessThan(DEFAULT_RETRY_POLICY.totalMs + 2500);
    expect(client.retries).toBeGreaterThan(0);
    const { node: next, term: nextTerm } = await shard.leader(term);
    expect(next.id).not.toBe(leader.id);
    expect(nextTerm).toBeGreaterThan(term);
    // Most writes were acknowledged: the new leader took over within the bound.
    expect(failures).toBeLessThan(10);
    for (let k = 0; k < keys; k++) {
      const key = `k${k}`;
      const value = await client.get(key);
      const allowed = new Set([acked.get(key), ...(unsure.get(key) ?? [])]);
      expect(allowed.has(value ?? undefined), `${key} read ${value}`).toBe(true);
    }
    // The client's writes after the failover carry its session and go to the new leader.
    const res = await fetch(`${next.proc.url}/v1/keys/k0`);
    expect(res.headers.get('x-tinycache-leader')).toBe(next.id);
  });
});
