/**
 * `tinycache cluster`: a local cluster of node processes without the dashboard (API.md §1).
 * It starts the nodes, hands them the cluster map, prints their URLs and stops them all on
 * SIGINT or SIGTERM. The same supervisor and cluster map as the playground.
 *
 * With `--replicas R` above 1 (Level 6) each shard is a Raft group of R nodes, each with a
 * data directory (under a temporary root removed at exit, or under `--data-dir`, kept); the
 * command waits until every shard has elected a leader before it prints the cluster.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { badOption, numberOption, parseOptions } from '../cli-args.ts';
import { ClusterManager, MAX_REPLICAS } from './cluster.ts';
import { type NodeInfo, Supervisor } from './supervisor.ts';

export const CLUSTER_USAGE = `Usage: tinycache cluster [--shards N] [--replicas R] [--base-port P] [--data-dir DIR]

Starts a local cluster of tinycache nodes, each answering every key (a node forwards a key
to the shard that owns it). Prints the nodes' URLs; Ctrl-C stops them all.

With --replicas R above 1, each shard is a Raft group of R nodes (Level 6): writes commit
on a majority, and when a shard's leader dies the others elect a new one. The command
waits until every shard has a leader, then prints each shard's nodes with their roles.

Options:
  --shards N       shards, 1 to 16                                       [3]
  --replicas R     nodes per shard, odd: 1, 3, 5 or 7                    [1]
  --base-port P    the first node's port, then P+1, ...; 0: free ports   [7001]
  --data-dir DIR   where replicas keep their Raft logs (DIR/nodes/<id>), kept at exit and
                   reused by the next run; by default a temporary folder removed at exit
  -h, --help       this text
`;

const OPTIONS = {
  shards: { type: 'string' },
  replicas: { type: 'string' },
  'base-port': { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ClusterArgs {
  readonly help: boolean;
  readonly shards: number;
  readonly replicas: number;
  readonly basePort: number;
  /** Absolute; null: a temporary root (only used with replicas). */
  readonly dataDir: string | null;
}

/** The command's options, checked; a bad one throws a UsageError naming it. */
export function parseClusterArgs(argv: string[]): ClusterArgs {
  const { values } = parseOptions(argv, OPTIONS);
  const shards =
    values.shards === undefined
      ? 3
      : numberOption('shards', values.shards, { min: 1, max: 16, integer: true });
  let replicas = 1;
  if (values.replicas !== undefined) {
    const accepted = `an odd whole number of nodes per shard, 1 to ${MAX_REPLICAS} (1, 3, 5 or 7)`;
    replicas = Number(values.replicas);
    if (!/^\d+$/.test(values.replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
      badOption('replicas', accepted, values.replicas);
    }
    if (replicas % 2 === 0) {
      badOption(
        'replicas',
        `${accepted}: an even group tolerates no more failures than one node fewer`,
        values.replicas,
      );
    }
  }
  const nodes = shards * replicas;
  const basePort =
    values['base-port'] === undefined
      ? 7001
      : numberOption('base-port', values['base-port'], {
          min: 0,
          max: 65536 - nodes,
          integer: true,
        });
  const dataDir = values['data-dir'];
  if (dataDir !== undefined && dataDir.trim() === '') {
    badOption('data-dir', 'a folder path', dataDir);
  }
  return {
    help: values.help === true,
    shards,
    replicas,
    basePort,
    dataDir: dataDir === undefined ? null : resolve(dataDir),
  };
}

/** What the cluster prints once it runs: each shard's nodes, the leader marked. */
export function describeCluster(
  nodes: readonly NodeInfo[],
  shards: readonly { id: string; nodes: readonly string[] }[],
  leaders: ReadonlyMap<string, string>,
): string {
  const lines: string[] = [];
  for (const shard of shards) {
    shard.nodes.forEach((id, i) => {
      const node = nodes.find((n) => n.id === id);
      const label = i === 0 ? `shard ${shard.id}` : ' '.repeat(`shard ${shard.id}`.length);
      const leads = leaders.get(shard.id) === id;
      const role =
        node === undefined
          ? ''
          : node.dataDir == null
            ? ''
            : leads
              ? `  leader * (term ${node.term ?? 0})`
              : `  ${node.role}`;
      const pid = node?.pid == null ? '' : `  pid ${node.pid}`;
      lines.push(`  ${label}  ${id}  ${node?.url ?? '?'}${pid}${role}`);
    });
  }
  return `${lines.join('\n')}\n`;
}

export async function runClusterCommand(argv: string[]): Promise<number> {
  const args = parseClusterArgs(argv);
  if (args.help) {
    process.stdout.write(CLUSTER_USAGE);
    return 0;
  }
  const { shards, replicas, basePort } = args;
  const replicated = replicas > 1;
  // Replicas' data: a temporary root removed at exit, or the one given, kept.
  const dataRoot = !replicated
    ? null
    : (args.dataDir ?? mkdtempSync(join(tmpdir(), 'tinycache-cluster-')));
  const temporary = replicated && args.dataDir === null;
  if (dataRoot !== null) mkdirSync(dataRoot, { recursive: true });
  const removeData = () => {
    if (temporary && dataRoot !== null) rmSync(dataRoot, { recursive: true, force: true });
  };

  const supervisor = new Supervisor({ dataRoot, reuseDataDirs: !temporary });
  const cluster = new ClusterManager(supervisor, (line) =>
    process.stderr.write(`[cluster] ${line}\n`),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('\nstopping the nodes…\n');
    void supervisor.close().then(() => {
      removeData();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  try {
    let leaders = new Map<string, string>();
    if (replicated) {
      const formed = await cluster.formReplicated({
        shards,
        replicas,
        basePort,
        onProgress: progress,
      });
      leaders = new Map(formed.leaders.map((l) => [l.shard, l.id]));
    } else {
      const ids: string[] = [];
      for (let i = 0; i < shards; i++) {
        const node = await supervisor.start({}, basePort === 0 ? 0 : basePort + i);
        ids.push(node.id);
        progress(`started ${node.id} at ${node.url}`);
      }
      await cluster.form(ids);
    }
    const state = cluster.state();
    const nodes = supervisor.list();
    const s = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    process.stdout.write(
      `tinycache cluster: ${s(shards, 'shard')}${replicated ? ` × ${s(replicas, 'replica')} (Raft)` : ''}, cluster map epoch ${state.epoch}\n`,
    );
    process.stdout.write(describeCluster(nodes, state.shards, leaders));
    const first = nodes[0]!.url;
    const last = nodes[nodes.length - 1]!.url;
    if (replicated) {
      process.stdout.write(
        `${temporary ? 'Data in a temporary folder, removed at exit' : `Data kept in ${dataRoot}`}.\n` +
          `* leads its shard. Any node answers any key; writes go to the shard's leader and commit on a majority:\n` +
          `  curl -X PUT ${first}/v1/keys/hello -d world\n` +
          `  curl ${last}/v1/keys/hello\n` +
          `Kill a leader (kill -9 its pid) and the shard elects another; curl -s ${first}/healthz shows role and term.\n`,
      );
    } else {
      process.stdout.write(
        `Any node answers any key, e.g. curl -X PUT ${first}/v1/keys/hello -d world\n`,
      );
    }
    process.stdout.write('Ctrl-C stops them all.\n');
  } catch (error) {
    process.stderr.write(`tinycache cluster: ${(error as Error).message}\n`);
    await supervisor.close();
    removeData();
    return 1;
  }
  // Runs until a signal; the nodes' exits are the supervisor's business.
  await new Promise<never>(() => {});
  return 0;
}
