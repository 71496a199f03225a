/**
 * The eight levels as a newcomer meets them: what each is about, the question it answers, and
 * whether its walkthrough is built yet. Plain data, so the index, a coming level's page and
 * the walkthroughs all read one list (DESIGN.md, "The levels").
 */

export type LevelStatus = 'built' | 'coming';

export interface LevelInfo {
  readonly n: number;
  readonly title: string;
  /** The question an engineer meets when a backend meets real load; the level answers it. */
  readonly question: string;
  readonly status: LevelStatus;
  /** The request rate the first version of this level must at least sustain (DESIGN.md). */
  readonly targetRate: string;
  /** What the level builds, in two or three sentences. */
  readonly about: string;
  /** Why it matters in a real backend. */
  readonly why: string;
  /** Built levels: how long the walkthrough takes. */
  readonly minutes?: number;
  /** Coming levels: what the walkthrough will have you do. */
  readonly willTeach?: readonly string[];
}

export const LEVELS: readonly LevelInfo[] = [
  {
    n: 1,
    title: 'An in-memory cache with TTL',
    question: 'What does a cache node do, and how does an entry go stale on purpose?',
    status: 'built',
    targetRate: '10 req/s',
    minutes: 2,
    about:
      'A TinyCache node keeps values in memory and serves them over a small REST API: PUT to ' +
      'store, GET to read, DELETE to remove. Any value works: JSON is validated and comes back ' +
      'byte for byte, other bytes keep their Content-Type. A TTL (time to live) makes an entry ' +
      'expire by itself.',
    why:
      'In a real backend a cache sits in front of something slower, such as a database or ' +
      'another service. A hit skips that round trip; a TTL bounds how stale an answer can be, ' +
      'which is the simplest cache invalidation there is.',
  },
  {
    n: 2,
    title: 'Metrics and load testing',
    question: 'How many requests can it take, and how would you know?',
    status: 'built',
    targetRate: '50 req/s',
    minutes: 4,
    about:
      'Every node exposes Prometheus metrics at /metrics: requests by operation and status, a ' +
      'latency histogram, hits, misses, memory. The playground reads them once a second, and ' +
      'its load generator drives the nodes in the open model (a fixed rate) or the closed ' +
      'model (a fixed number of connections).',
    why:
      'You cannot tune what you do not measure. Percentiles, not averages, are what users ' +
      'feel; the gap between what a client sees and what a server reports tells you where ' +
      'time goes; and a load test finds the knee where more load only adds latency before ' +
      'your users do.',
  },
  {
    n: 3,
    title: 'PostgreSQL write-through',
    question: 'What happens when the cache must not lose a write?',
    status: 'built',
    targetRate: '100 req/s',
    minutes: 5,
    about:
      'Nodes gain an optional PostgreSQL store: a write is acknowledged once the database has ' +
      'it (write-through), or queued and flushed in batches (write-behind), and a miss can be ' +
      'read through from the database.',
    why:
      'Most caches front a database. How writes reach it decides what a crash can lose, and ' +
      'the database, not the cache, usually sets the latency of a miss.',
    willTeach: [
      'Start an embedded PostgreSQL and turn on write-through for a node.',
      'Compare the latency of a cache hit with a read that falls back to the database.',
      'Size the connection pool and watch what too few connections do to p99.',
      'Stop the database and see writes refused with 503 and Retry-After, not silently lost.',
    ],
  },
  {
    n: 4,
    title: 'Eviction, size limits and compression',
    question: 'What does the cache keep when memory runs out?',
    status: 'built',
    targetRate: '500 req/s',
    minutes: 6,
    about:
      'A node counts every byte it holds and never goes over its memory limit: when a write ' +
      'needs room, an eviction policy picks what to drop, LRU (least recently used) or ' +
      'W-TinyLFU (admit a new key only if it is used more often than what it would push out). ' +
      'Oversized keys and values are refused, and large values are stored gzip-compressed.',
    why:
      'Memory is the budget of every cache. The eviction policy decides the hit rate you get ' +
      'for that budget, size limits keep one huge value from flushing everything, and ' +
      'compression buys room for large documents at a little CPU.',
  },
  {
    n: 5,
    title: 'Sharding with consistent hashing',
    question: 'How do you spread keys over many nodes, and what moves when one joins?',
    status: 'built',
    minutes: 4,
    targetRate: '1K req/s',
    about:
      'Keys map to shards through a consistent-hash ring with virtual nodes. Any node accepts ' +
      'any key and forwards it to the owner over pooled connections; adding or removing a ' +
      'shard streams only the keys that change owner, while the cluster keeps serving.',
    why:
      'One machine runs out of memory or cores. Consistent hashing moves only about 1/N of ' +
      'the keys when a shard is added, so the hit rate does not collapse when you scale out.',
  },
  {
    n: 6,
    title: 'Replicas, Raft and failover',
    question: 'What happens when the node holding your data dies?',
    status: 'built',
    minutes: 5,
    targetRate: '5K req/s',
    about:
      'Each shard becomes a Raft group: a leader and its replicas, each with its log on disk. ' +
      'Writes commit through Raft before they are acknowledged; when the leader dies, the ' +
      'others elect a new one, clients retry, and a dead replica is replaced while writes go on.',
    why:
      'Machines fail. Replication keeps data when one does, and leader election decides how ' +
      'long writes stop while the cluster recovers.',
  },
  {
    n: 7,
    title: 'Fault tolerance and chaos',
    question: 'Does it survive kills, pauses, partitions and packet loss?',
    status: 'coming',
    targetRate: '50K req/s',
    about:
      'The playground injects faults into the live cluster: SIGKILL, SIGSTOP, restarts, ' +
      'network partitions, added latency and loss between nodes.',
    why:
      'Failures that are never practised surprise you in production. Chaos under load shows ' +
      'what users would see, and whether the system heals without a person.',
    willTeach: [
      'Partition a leader from its followers and watch a new leader take over.',
      'Add latency and loss between nodes and see p99 and retries respond.',
      'Pause a node (SIGSTOP) and tell a slow node from a dead one.',
    ],
  },
  {
    n: 8,
    title: 'Global distribution',
    question: 'How do you serve users on three continents at a million requests a second?',
    status: 'coming',
    targetRate: '1M req/s',
    about:
      'Regions with realistic round-trip times, nearest-region routing, cross-region ' +
      'replication and region failure, explored in a deterministic simulator that runs the ' +
      'same engine, ring and Raft code as the nodes.',
    why:
      'The speed of light sets a floor on latency between regions. Where data lives, and how ' +
      'far a write must travel before it is acknowledged, decides what global users wait for.',
    willTeach: [
      'Run a simulated cluster in three regions at a million requests a second.',
      'Route reads to the nearest region and see latency drop.',
      'Fail a whole region and replay the run from its seed.',
    ],
  },
];

/** The level numbered `n`, or undefined for anything but 1 to 8. */
export function levelInfo(n: number): LevelInfo | undefined {
  return LEVELS.find((level) => level.n === n);
}

/** Reads a level number from a URL segment: `1` to `8` exactly (no `01`, `1.0`, ` 1`). */
export function parseLevel(segment: string): number | undefined {
  return /^[1-9]$/.test(segment) && levelInfo(Number(segment)) !== undefined
    ? Number(segment)
    : undefined;
}
