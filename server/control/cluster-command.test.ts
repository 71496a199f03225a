import { describe, expect, it } from 'vitest';
import { UsageError } from '../cli-args.ts';
import { DEFAULT_CONFIG } from '../../core/config.ts';
import { describeCluster, parseClusterArgs } from './cluster-command.ts';
import type { NodeInfo } from './supervisor.ts';

function refusal(argv: string[]): string {
  try {
    parseClusterArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('tinycache cluster arguments', () => {
  it("defaults to three shards of one node on 7001 onwards, today's Level 5 cluster", () => {
    expect(parseClusterArgs([])).toEqual({
      help: false,
      shards: 3,
      replicas: 1,
      basePort: 7001,
      dataDir: null,
    });
  });

  it('accepts an odd number of replicas from 1 to 7', () => {
    for (const r of [1, 3, 5, 7]) {
      expect(parseClusterArgs(['--shards', '2', '--replicas', String(r)]).replicas).toBe(r);
    }
  });

  it('refuses an even, zero, too large or non-numeric replica count, naming the option', () => {
    expect(refusal(['--replicas', '2'])).toMatch(/^--replicas: expected an odd .*even group/);
    expect(refusal(['--replicas', '4'])).toMatch(/^--replicas: .*\(got "4"\)/);
    expect(refusal(['--replicas', '0'])).toMatch(/^--replicas: expected an odd whole number/);
    expect(refusal(['--replicas', '9'])).toMatch(/^--replicas: .*1 to 7/);
    expect(refusal(['--replicas', 'three'])).toMatch(/^--replicas: .*\(got "three"\)/);
    expect(refusal(['--replicas', '-3'])).toMatch(/^--replicas: /);
    expect(refusal(['--replicas', '1.5'])).toMatch(/^--replicas: /);
    expect(refusal(['--replicas'])).toMatch(/^--replicas: needs a value/);
  });

  it('keeps every node port in range: base port plus shards × replicas', () => {
    expect(
      parseClusterArgs(['--shards', '2', '--replicas', '3', '--base-port', '0']).basePort,
    ).toBe(0);
    expect(
      parseClusterArgs(['--shards', '2', '--replicas', '3', '--base-port', '65530']).basePort,
    ).toBe(65530);
    expect(refusal(['--shards', '2', '--replicas', '3', '--base-port', '65531'])).toMatch(
      /^--base-port: /,
    );
  });

  it('takes a data dir as an absolute path, and refuses an empty one', () => {
    expect(parseClusterArgs(['--data-dir', '/tmp/tc']).dataDir).toBe('/tmp/tc');
    expect(parseClusterArgs(['--data-dir', 'rel']).dataDir).toMatch(/^\/.*\/rel$/);
    expect(refusal(['--data-dir', ''])).toMatch(/^--data-dir: /);
  });

  it('refuses unknown options', () => {
    expect(refusal(['--replica', '3'])).toMatch(/^--replica: unknown option/);
  });
});

describe('describeCluster', () => {
  const node = (id: string, port: number, over: Partial<NodeInfo>): NodeInfo => ({
    id,
    url: `http://127.0.0.1:${port}`,
    pid: port,
    port,
    status: 'up',
    role: 'follower',
    term: 2,
    dataDir: `/data/nodes/${id}`,
    shard: 's1',
    startedAt: 0,
    config: DEFAULT_CONFIG,
    storage: null,
    exitCode: null,
    exitSignal: null,
    ...over,
  });

  it("lists each shard's nodes with URL and role, the leader marked", () => {
    const nodes = [
      node('n1', 7001, {}),
      node('n2', 7002, { role: 'leader' }),
      node('n3', 7003, {}),
    ];
    const text = describeCluster(
      nodes,
      [{ id: 's1', nodes: ['n1', 'n2', 'n3'] }],
      new Map([['s1', 'n2']]),
    );
    expect(text.split('\n')).toEqual([
      '  shard s1  n1  http://127.0.0.1:7001  pid 7001  follower',
      '            n2  http://127.0.0.1:7002  pid 7002  leader * (term 2)',
      '            n3  http://127.0.0.1:7003  pid 7003  follower',
      '',
    ]);
  });

  it('shows no role for nodes without a Raft group (Level 5)', () => {
    const nodes = [node('n1', 7001, { role: 'leader', term: null, dataDir: null })];
    expect(describeCluster(nodes, [{ id: 's1', nodes: ['n1'] }], new Map())).toBe(
      '  shard s1  n1  http://127.0.0.1:7001  pid 7001\n',
    );
  });
});
