/**
 * `npm run bench [-- http|engine|hitrate|playground|db|ring|cluster|sim|raft|raft-transport|replication ...] [--duration 10] [--rounds 3] [--kills 20]`
 * Runs the benchmarks and prints each figure beside its anchor. Not part of `npm test`.
 */
import { parseArgs } from 'node:util';
import { clusterBench, reshardBench } from './cluster.ts';
import { dbBench } from './db.ts';
import { engineBench } from './engine.ts';
import { hitRateBench } from './hitrate.ts';
import { httpBench } from './http.ts';
import { machine } from './lib.ts';
import { playgroundBench } from './playground.ts';
import { raftBench } from './raft.ts';
import { raftTransportBench } from './raft-transport.ts';
import { replicationBench } from './replication.ts';
import { ringBench } from './ring.ts';
import { simBench } from './sim.ts';

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string', default: '10' },
        rounds: { type: 'string', default: '3' },
        kills: { type: 'string', default: '20' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    const why = (error as Error).message.split('.')[0];
    process.stderr.write(`bench: ${why}; the options are --duration, --rounds and --kills\n`);
    process.exit(2);
  }
})();
const { values, positionals } = parsed;
const seconds = Number(values.duration);
const rounds = Number(values.rounds);
const kills = Number(values.kills);
if (
  !(seconds > 0) ||
  !Number.isInteger(rounds) ||
  rounds < 1 ||
  !Number.isInteger(kills) ||
  kills < 1
) {
  process.stderr.write(
    'bench: --duration must be seconds > 0, --rounds and --kills whole numbers >= 1\n',
  );
  process.exit(2);
}
const all = [
  'http',
  'engine',
  'hitrate',
  'playground',
  'db',
  'ring',
  'cluster',
  'sim',
  'raft',
  'raft-transport',
  'replication',
];
const chosen = positionals.length === 0 ? all : positionals;
for (const name of chosen) {
  if (!all.includes(name)) {
    process.stderr.write(
      `bench: unknown benchmark ${JSON.stringify(name)}; choose from ${all.join(', ')}\n`,
    );
    process.exit(2);
  }
}

console.log(`TinyCache benchmarks: ${machine()}\n`);
for (const name of chosen) {
  const output =
    name === 'http'
      ? await httpBench({ seconds, rounds })
      : name === 'engine'
        ? engineBench({ rounds })
        : name === 'hitrate'
          ? hitRateBench()
          : name === 'playground'
            ? await playgroundBench({ seconds, rounds })
            : name === 'db'
              ? await dbBench({ seconds, rounds })
              : name === 'ring'
                ? ringBench()
                : name === 'cluster'
                  ? `${await clusterBench({ seconds, rounds })}\n\n${await reshardBench()}`
                  : name === 'sim'
                    ? simBench()
                    : name === 'raft'
                      ? await raftBench({ seconds, rounds })
                      : name === 'raft-transport'
                        ? await raftTransportBench({ seconds, rounds })
                        : await replicationBench({ seconds, rounds, kills });
  console.log(`${output}\n`);
}
