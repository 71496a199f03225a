/**
 * The live load against one shard of three real replicas while its leader is killed with
 * SIGKILL: runs retry (503s during the election, answers lost with the leader) instead of
 * failing at once, and the verifier reads acknowledged keys back throughout: none is older
 * than acknowledged. Nothing here asserts on wall-clock speed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type ReplicatedShard, startShard } from '../client/replicas-fixture.ts';
import { LiveLoad } from './live.ts';
import { startLoad } from './load.ts';
import { DEFAULT_LOAD_SETTINGS, type LoadSettings, type LoadStatus } from './settings.ts';

let shard: ReplicatedShard | null = null;
let load: LiveLoad | null = null;
afterAll(async () => {
  load?.stop();
  await shard?.close();
});

async function until<T>(what: string, check: () => T | null, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const targetsOf = (replicas: ReplicatedShard) =>
  replicas.nodes.map((n) => ({ id: n.id, url: n.proc.url, shard: 's1' }));

/** Half writes over 200 keys, 6 connections, on every replica of `replicas`. */
function liveLoad(replicas: ReplicatedShard, routing: LoadSettings['routing']): LiveLoad {
  return new LiveLoad(
    {
      ...DEFAULT_LOAD_SETTINGS,
      routing,
      mode: 'closed',
      connections: 6,
      readRatio: 0.5,
      keys: 200,
      distribution: 'uniform',
      valueBytes: 64,
    },
    targetsOf(replicas),
    (options, sink, owns, ledger) => startLoad(options, { sink, owns, ledger }),
    replicas.map,
  );
}

describe('LiveLoad on a replicated shard', () => {
  it('rides out a SIGKILLed leader: retries, no acknowledged write lost, keys verified', async () => {
    shard = await startShard();
    const { node: leader, term } = await shard.leader();
    load = liveLoad(shard, 'any');
    const statuses: LoadStatus[] = [];
    const tick = async (seconds: number) => {
      for (let i = 0; i < seconds; i++) {
        await sleep(1000);
        statuses.push(load!.tick());
      }
    };
    await tick(2);
    const before = statuses.at(-1)!;
    expect(before.requestsPerSecond).toBeGreaterThan(0);
    expect(before.verified).toBeGreaterThan(0);
    await leader.proc.stop('SIGKILL');
    await tick(5);
    const { node: next } = await shard.leader(term);
    expect(next.id).not.toBe(leader.id);
    const last = statuses.at(-1)!;
    load.stop();
    // The runs on the nodes still up retried through the election; only the dead node's own
    // run counts errors (its connections refused).
    expect(last.totalRetries).toBeGreaterThan(0);
    expect(last.lostWrites).toBe(0);
    expect(last.verified!).toBeGreaterThan(before.verified!);
    expect(last.missing).toBe(0);
    // Writes go on after the failover: the last second served requests.
    expect(last.requestsPerSecond).toBeGreaterThan(0);
  });

  it("with smart routing, sends the shard's load to its leader as answers name it, and follows a new one", async () => {
    load?.stop();
    await shard?.close();
    shard = await startShard(['m1', 'm2', 'm3']);
    const { node: leader, term } = await shard.leader();
    const targets = targetsOf(shard);
    load = liveLoad(shard, 'smart');
    // One run for the shard, moved to the leader once an answer names it.
    await until('the run on the leader', () =>
      load!.status().targets.join() === leader.id ? true : null,
    );
    await sleep(1000);
    expect(load.tick().requestsPerSecond).toBeGreaterThan(0);
    // The leader dies; the control plane drops it from the targets, as for any dead replica.
    await leader.proc.stop('SIGKILL');
    load.setTargets(
      targets.filter((t) => t.id !== leader.id),
      shard.map,
    );
    const { node: next } = await shard.leader(term);
    await until('the run on the new leader', () =>
      load!.status().targets.join() === next.id ? true : null,
    );
    await sleep(1000);
    load.tick();
    await sleep(1000);
    const last = load.tick();
    load.stop();
    expect(last.requestsPerSecond).toBeGreaterThan(0);
    expect(last.lostWrites).toBe(0);
    expect(last.verified).toBeGreaterThan(0);
  });
});
