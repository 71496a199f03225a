/**
 * The `tinycache` command (API.md §1): dispatches to a subcommand. A bad option prints one
 * line naming it and exits with status 2.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './cli-args.ts';
import { runClusterCommand } from './control/cluster-command.ts';
import { runBenchCommand } from './load/command.ts';
import { runNodeCommand } from './node/command.ts';
import { runSimCommand } from './sim-command.ts';

const { version: VERSION } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string };

const USAGE = `Usage: tinycache <command> [options]

Commands:
  node    run one cache node in the foreground         (tinycache node --port 7001)
  bench   load a node like wrk or vegeta would         (tinycache bench --duration 10s)
  cluster a local cluster: shards of 1, 3, 5 or 7 nodes (tinycache cluster --shards 2 --replicas 3)
  sim     run a scenario in the simulator, replayable  (tinycache sim resharding --seed 7)

Run \`tinycache <command> --help\` for a command's options, \`tinycache --version\` for the version.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  node: runNodeCommand,
  bench: runBenchCommand,
  cluster: runClusterCommand,
  sim: runSimCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    process.stdout.write(`tinycache ${VERSION}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(
      `tinycache: unknown command ${JSON.stringify(name)}; the commands are ${Object.keys(COMMANDS).join(', ')}\n`,
    );
    return 2;
  }
  try {
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tinycache ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

// Exit explicitly: a keep-alive socket must not hold a finished command open.
process.exit(await main(process.argv.slice(2)));
