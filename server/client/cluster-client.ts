/**
 * A smart client for a TinyCache cluster (Level 5): it reads the cluster map from any node,
 * routes each key with the same ring as the nodes (core/cluster `route`), and sends it
 * straight to its owner, skipping the forwarding hop. When the map changes under it, the
 * owner's answer says so (a 421, or `X-TinyCache-Shard` naming another shard, or a
 * forwarded answer): the client fetches the map again and carries on.
 *
 *   const cache = await ClusterClient.connect('http://127.0.0.1:7001');
 *   await cache.set('user-42', '{"name":"Ada"}');
 *   const value = await cache.get('user-42'); // a string, or null when absent
 *
 * Level 6, replicated shards: the client rides out a leader's failure.
 * - Leader hints: every answer of a replicated shard names its leader (`X-TinyCache-Leader`);
 *   the shard's next requests go to that node's URL from the map, so they skip the
 *   follower's forwarding hop. A node that cannot be reached loses the hint, and the next
 *   attempt goes to the shard's next node.
 * - Retries: a 503 (an election, `Retry-After`), a connection error or a request timeout is
 *   retried with bounded exponential backoff and full jitter (server/client/backoff.ts;
 *   25 ms doubling to 1 s, no retry later than 5 s after the first attempt), then the call
 *   throws a ClusterError (503) or the connection error.
 * - Sessions: each client instance is one session, a random client id, with a sequence
 *   number per write (`X-TinyCache-Client`, `X-TinyCache-Seq`). A retry repeats its seq, so
 *   a write the old leader applied but never answered is not applied twice: the new leader
 *   answers it with the first answer. A node refuses a seq below the latest it applied, so a
 *   session has one write in flight at a time: this client queues its writes, in call order.
 *   Concurrent writers that must not wait for each other use a client each.
 *
 * A plain HTTP client works too: any node forwards; this one just saves the hop.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { type ClusterMap, parseClusterMap, route } from '../../core/cluster/index.ts';
import { createRng, type Rng } from '../../core/random.ts';
import { DEFAULT_RETRY_POLICY, nextRetryDelayMs, type RetryPolicy } from './backoff.ts';

export interface ClientAnswer {
  readonly status: number;
  readonly body: string;
  /** The shard that served it (X-TinyCache-Shard). */
  readonly shard: string | null;
  /** True when the node it reached had to forward it (the client's map was stale). */
  readonly forwarded: boolean;
  /** The shard's leader as the answer named it (X-TinyCache-Leader); null on a lone shard. */
  readonly leader: string | null;
}

export class ClusterError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`TinyCache answered ${status}: ${body.slice(0, 200)}`);
  }
}

export interface ClusterClientOptions {
  readonly retry?: RetryPolicy;
  /** One attempt is abandoned (and retried) after this long. */
  readonly requestTimeoutMs?: number;
  /** The session's client id (X-TinyCache-Client); random by default. */
  readonly clientId?: string;
  /** Seeds the jitter (tests); random by default. */
  readonly seed?: number;
}

/** One attempt is abandoned after this long: a node's own wait for a leader is 1.5 s. */
export const CLIENT_REQUEST_TIMEOUT_MS = 2000;

type Method = 'GET' | 'PUT' | 'DELETE';

export class ClusterClient {
  /** Times the map was fetched (the first time included). */
  refreshes = 0;
  /** Attempts sent again after a 503, a connection error or a timeout. */
  retries = 0;
  /** The session's client id (X-TinyCache-Client). */
  readonly clientId: string;
  /** The seq of the latest write (X-TinyCache-Seq); 0 before the first. */
  private seq = 0;
  /** The end of the write queue: one write of the session in flight at a time. */
  private writes: Promise<unknown> = Promise.resolve();
  /** Shard id → the node id its latest answer named leader. */
  private readonly leaders = new Map<string, string>();
  /** Shard id → index of the node to try when no leader is known (moves on when one is down). */
  private readonly cursor = new Map<string, number>();
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly rng: Rng;

  private constructor(
    private readonly seeds: readonly string[],
    private map: ClusterMap,
    options: ClusterClientOptions,
  ) {
    this.policy = options.retry ?? DEFAULT_RETRY_POLICY;
    this.timeoutMs = options.requestTimeoutMs ?? CLIENT_REQUEST_TIMEOUT_MS;
    this.clientId = options.clientId ?? `c-${randomBytes(8).toString('hex')}`;
    this.rng = createRng(options.seed ?? randomInt(2 ** 31));
  }

  /** Reads the map from the first seed node that answers. */
  static async connect(...seeds: string[]): Promise<ClusterClient> {
    return ClusterClient.connectWith({}, ...seeds);
  }

  static async connectWith(
    options: ClusterClientOptions,
    ...seeds: string[]
  ): Promise<ClusterClient> {
    const client = new ClusterClient(seeds, await fetchMap(seeds), options);
    client.refreshes = 1;
    return client;
  }

  get epoch(): number {
    return this.map.epoch;
  }

  /** The value of `key` as text, or null when absent. */
  async get(key: string): Promise<string | null> {
    const answer = await this.send('GET', key);
    if (answer.status === 404) return null;
    if (answer.status !== 200) throw new ClusterError(answer.status, answer.body);
    return answer.body;
  }

  async set(
    key: string,
    value: string,
    options: { ttlSeconds?: number; contentType?: string } = {},
  ) {
    const answer = await this.send('PUT', key, value, options);
    if (answer.status !== 200 && answer.status !== 201) {
      throw new ClusterError(answer.status, answer.body);
    }
  }

  /** True when the key existed. */
  async delete(key: string): Promise<boolean> {
    const answer = await this.send('DELETE', key);
    if (answer.status === 404) return false;
    if (answer.status !== 204) throw new ClusterError(answer.status, answer.body);
    return true;
  }

  /**
   * One request to the key's owner under this client's map (its leader when known), retried
   * within the bound; writes wait their turn in the session. Resolves with the last answer
   * (a 503 when the bound ran out on 503s); throws the last connection error when no node
   * answered.
   */
  send(
    method: Method,
    key: string,
    value?: string,
    options: { ttlSeconds?: number; contentType?: string } = {},
  ): Promise<ClientAnswer> {
    if (method === 'GET') return this.attempts(method, key, value, options, null);
    const run = this.writes.then(() => this.attempts(method, key, value, options, ++this.seq));
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async attempts(
    method: Method,
    key: string,
    value: string | undefined,
    options: { ttlSeconds?: number; contentType?: string },
    seq: number | null,
  ): Promise<ClientAnswer> {
    const first = performance.now();
    for (let attempt = 0; ; attempt++) {
      let answer: ClientAnswer | null = null;
      let failure: unknown = null;
      try {
        answer = await this.once(method, key, value, options, seq);
      } catch (error) {
        failure = error;
      }
      if (answer !== null && answer.status !== 503) return answer;
      const delay = nextRetryDelayMs(this.policy, attempt, first, performance.now(), this.rng);
      if (delay === null) {
        if (answer !== null) return answer;
        throw failure;
      }
      this.retries++;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** One attempt (two when the map was stale: a 421 is sent again under the new map). */
  private async once(
    method: Method,
    key: string,
    value: string | undefined,
    options: { ttlSeconds?: number; contentType?: string },
    seq: number | null,
  ): Promise<ClientAnswer> {
    for (let attempt = 0; ; attempt++) {
      const owner = route(this.map, key);
      const url = this.nodeUrl(owner.shard, owner.node.url);
      const query = options.ttlSeconds === undefined ? '' : `?ttl=${options.ttlSeconds}`;
      const headers: Record<string, string> = {};
      if (value !== undefined) headers['content-type'] = options.contentType ?? 'text/plain';
      if (seq !== null) {
        headers['x-tinycache-client'] = this.clientId;
        headers['x-tinycache-seq'] = String(seq);
      }
      let res: Response;
      try {
        res = await fetch(`${url}/v1/keys/${encodeURIComponent(key)}${query}`, {
          method,
          headers,
          body: value,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        this.unreachable(owner.shard, url);
        throw error;
      }
      const answer: ClientAnswer = {
        status: res.status,
        body: await res.text(),
        shard: res.headers.get('x-tinycache-shard'),
        forwarded: res.headers.has('x-tinycache-forwarded-by'),
        leader: res.headers.get('x-tinycache-leader'),
      };
      if (answer.leader !== null) this.leaders.set(owner.shard, answer.leader);
      // The map moved on: this answer is still right (the node forwarded it, or refused
      // with 421 and changed nothing), but the next request should go straight.
      const stale = answer.status === 421 || answer.forwarded;
      if (stale) await this.refresh(url);
      if (answer.status !== 421 || attempt > 0) return answer;
    }
  }

  /** The URL for a request of `shard`: its leader's as last named, else the next node's. */
  private nodeUrl(shard: string, fallback: string): string {
    const nodes = this.map.shards.find((s) => s.id === shard)?.nodes ?? [];
    const leader = this.leaders.get(shard);
    const led = leader === undefined ? undefined : nodes.find((n) => n.id === leader);
    if (led !== undefined) return led.url;
    const at = this.cursor.get(shard);
    return at === undefined || nodes.length === 0 ? fallback : nodes[at % nodes.length]!.url;
  }

  /** `url` did not answer: forget it as leader, and try the shard's next node next time. */
  private unreachable(shard: string, url: string): void {
    const nodes = this.map.shards.find((s) => s.id === shard)?.nodes ?? [];
    const leader = this.leaders.get(shard);
    if (leader !== undefined && nodes.find((n) => n.id === leader)?.url === url) {
      this.leaders.delete(shard);
    }
    const at = nodes.findIndex((n) => n.url === url);
    if (at !== -1) this.cursor.set(shard, at + 1);
  }

  /** Fetches the map again, from the node that said ours is stale first. */
  async refresh(hint?: string): Promise<void> {
    const map = await fetchMap(hint === undefined ? this.seeds : [hint, ...this.seeds]);
    if (map.epoch > this.map.epoch) this.map = map;
    this.refreshes++;
  }
}

async function fetchMap(urls: readonly string[]): Promise<ClusterMap> {
  let last = 'no node to ask';
  for (const url of urls) {
    try {
      const res = await fetch(`${url}/v1/cluster`);
      const info = (await res.json()) as { map: unknown };
      if (info.map === null) {
        last = `${url} is a lone node, not in a cluster`;
        continue;
      }
      const parsed = parseClusterMap(info.map);
      if (parsed.ok) return parsed.value;
      last = parsed.error.message;
    } catch (error) {
      last = `${url}: ${String(error)}`;
    }
  }
  throw new Error(`No cluster map: ${last}`);
}
