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
 * A plain HTTP client works too: any node forwards; this one just saves the hop.
 */
import { type ClusterMap, parseClusterMap, route } from '../../core/cluster/index.ts';

export interface ClientAnswer {
  readonly status: number;
  readonly body: string;
  /** The shard that served it (X-TinyCache-Shard). */
  readonly shard: string | null;
  /** True when the node it reached had to forward it (the client's map was stale). */
  readonly forwarded: boolean;
}

export class ClusterError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`TinyCache answered ${status}: ${body.slice(0, 200)}`);
  }
}

export class ClusterClient {
  /** Times the map was fetched (the first time included). */
  refreshes = 0;

  private constructor(
    private readonly seeds: readonly string[],
    private map: ClusterMap,
  ) {}

  /** Reads the map from the first seed node that answers. */
  static async connect(...seeds: string[]): Promise<ClusterClient> {
    const client = new ClusterClient(seeds, await fetchMap(seeds));
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

  /** One request, straight to the key's owner under this client's map. */
  async send(
    method: 'GET' | 'PUT' | 'DELETE',
    key: string,
    value?: string,
    options: { ttlSeconds?: number; contentType?: string } = {},
  ): Promise<ClientAnswer> {
    for (let attempt = 0; ; attempt++) {
      const owner = route(this.map, key);
      const query = options.ttlSeconds === undefined ? '' : `?ttl=${options.ttlSeconds}`;
      const res = await fetch(`${owner.node.url}/v1/keys/${encodeURIComponent(key)}${query}`, {
        method,
        headers: value === undefined ? {} : { 'content-type': options.contentType ?? 'text/plain' },
        body: value,
      });
      const answer: ClientAnswer = {
        status: res.status,
        body: await res.text(),
        shard: res.headers.get('x-tinycache-shard'),
        forwarded: res.headers.has('x-tinycache-forwarded-by'),
      };
      // The map moved on: this answer is still right (the node forwarded it, or refused
      // with 421 and changed nothing), but the next request should go straight.
      const stale = answer.status === 421 || answer.forwarded;
      if (stale) await this.refresh(owner.node.url);
      if (answer.status !== 421 || attempt > 0) return answer;
    }
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
