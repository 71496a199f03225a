/**
 * `tinycache cluster`: a local cluster of node processes without the dashboard (API.md §1).
 * It starts one node per shard, hands them the cluster map, prints their URLs and stops them
 * all on SIGINT or SIGTERM. The same supervisor and cluster map as the playground.
 */
import { badOption, numberOption, parseOptions } from '../cli-args.ts';
import { ClusterManager } from './cluster.ts';
import { Supervisor } from './supervisor.ts';

export const CLUSTER_USAGE = `Usage: tinycache cluster [--shards N] [--base-port P]

Starts a local cluster: one tinycache node per shard, each answering every key (a node
forwards a key to the shard that owns it). Prints the nodes' URLs; Ctrl-C stops them all.

Options:
  --shards N       shards, one node each, 1 to 16                      [3]
  --replicas R     nodes per shard; replication comes with Level 6      [1]
  --base-port P    the first node's port, then P+1, ...; 0: free ports  [7001]
  -h, --help       this text
`;

const OPTIONS = {
  shards: { type: 'string' },
  replicas: { type: 'string' },
  'base-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runClusterCommand(argv: string[]): Promise<number> {
  const { values } = parseOptions(argv, OPTIONS);
  if (values.help) {
    process.stdout.write(CLUSTER_USAGE);
    return 0;
  }
  const shards =
    values.shards === undefined
      ? 3
      : numberOption('shards', values.shards, { min: 1, max: 16, integer: true });
  if (values.replicas !== undefined && values.replicas !== '1') {
    badOption('replicas', '1 for now (replicas per shard come with Level 6)', values.replicas);
  }
  const basePort =
    values['base-port'] === undefined
      ? 7001
      : numberOption('base-port', values['base-port'], { min: 0, max: 65535 - 16, integer: true });

  const supervisor = new Supervisor();
  const cluster = new ClusterManager(supervisor);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('\nstopping the nodes…\n');
    void supervisor.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const ids: string[] = [];
    for (let i = 0; i < shards; i++) {
      const node = await supervisor.start({}, basePort === 0 ? 0 : basePort + i);
      ids.push(node.id);
      process.stderr.write(`started ${node.id} at ${node.url}\n`);
    }
    const state = await cluster.form(ids);
    process.stdout.write(
      `tinycache cluster: ${shards} shard${shards === 1 ? '' : 's'}, cluster map epoch ${state.epoch}\n`,
    );
    for (const node of supervisor.list()) {
      process.stdout.write(`  shard ${node.shard}  ${node.id}  ${node.url}\n`);
    }
    process.stdout.write(
      `Any node answers any key, e.g. curl -X PUT ${supervisor.list()[0]!.url}/v1/keys/hello -d world\nCtrl-C stops them all.\n`,
    );
  } catch (error) {
    process.stderr.write(`tinycache cluster: ${(error as Error).message}\n`);
    await supervisor.close();
    return 1;
  }
  // Runs until a signal; the nodes' exits are the supervisor's business.
  await new Promise<never>(() => {});
  return 0;
}
