/**
 * Test support: one shard of real replicated node processes (`tinycache node --data-dir`),
 * formed from a published map, with its leader found through /healthz. Used by the client's
 * and the live load's failover tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterMap } from '../../core/cluster/index.ts';
import { type NodeProcess, spawnNode } from '../testing/processes.ts';

export interface ReplicaNode {
  readonly id: string;
  readonly dir: string;
  readonly proc: NodeProcess;
}

export interface ReplicatedShard {
  readonly nodes: readonly ReplicaNode[];
  readonly map: ClusterMap;
  /** The node leading in the highest term any node reports, waiting up to 15 s for one. */
  leader(aboveTerm?: number): Promise<{ node: ReplicaNode; term: number }>;
  close(): Promise<void>;
}

interface Health {
  role: string;
  term: number;
}

async function health(node: ReplicaNode): Promise<Health | null> {
  try {
    const res = await fetch(`${node.proc.url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200 ? ((await res.json()) as Health) : null;
  } catch {
    return null;
  }
}

export async function startShard(ids: readonly string[] = ['n1', 'n2', 'n3']) {
  const nodes: ReplicaNode[] = [];
  const close = async () => {
    await Promise.all(nodes.map((n) => n.proc.stop('SIGKILL')));
    await Promise.all(nodes.map((n) => rm(n.dir, { recursive: true, force: true })));
  };
  try {
    for (const id of ids) {
      const dir = await mkdtemp(join(tmpdir(), `tinycache-${id}-`));
      const proc = await spawnNode(['--node-id', id, '--data-dir', dir]);
      nodes.push({ id, dir, proc });
    }
    const map: ClusterMap = {
      epoch: 1,
      vnodes: 64,
      shards: [{ id: 's1', nodes: nodes.map((n) => ({ id: n.id, url: n.proc.url })) }],
      moving: null,
    };
    for (const node of nodes) {
      const res = await fetch(`${node.proc.url}/v1/cluster`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(map),
      });
      if (res.status !== 200) throw new Error(`map refused: ${await res.text()}`);
    }
    const leader = async (aboveTerm = 0) => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const states = await Promise.all(nodes.map(health));
        const top = Math.max(...states.map((s) => s?.term ?? 0));
        const i = states.findIndex((s) => s?.role === 'leader' && s.term === top);
        if (i !== -1 && top > aboveTerm) return { node: nodes[i]!, term: top };
        if (Date.now() > deadline) throw new Error('no leader in 15 s');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    const shard: ReplicatedShard = { nodes, map, leader, close };
    return shard;
  } catch (error) {
    await close();
    throw error;
  }
}
