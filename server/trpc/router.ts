/**
 * The control plane (API.md §4): thin routers that validate their input with zod and call
 * the playground's supervisor, monitor and load. A refused request is a tRPC error whose
 * message says what to do.
 */
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { CONFIG_LIMITS, type NodeConfig, POLICIES, MAX_TTL_SECONDS } from '../../core/config.ts';
import { LOAD_DISTRIBUTIONS, LOAD_LIMITS, LOAD_MODES } from '../load/load.ts';
import { LOAD_ROUTINGS, LOAD_SCOPES } from '../load/settings.ts';
import { nodeRequest } from '../control/node-client.ts';
import type { LiveEvent, Playground } from '../control/playground.ts';
import type { NodeInfo } from '../control/supervisor.ts';
import { MAX_REPLICAS } from '../control/cluster.ts';
import { mutation, query, router } from './trpc.ts';

const limit = (name: keyof typeof CONFIG_LIMITS) =>
  z.number().int().min(CONFIG_LIMITS[name].min).max(CONFIG_LIMITS[name].max);

/** `Partial<Config>` (the JSON of `/v1/config`). */
export const configPatch = z
  .object({
    policy: z.enum(POLICIES),
    maxMemoryBytes: limit('maxMemoryBytes'),
    maxKeyBytes: limit('maxKeyBytes'),
    maxValueBytes: limit('maxValueBytes'),
    compressThresholdBytes: limit('compressThresholdBytes'),
    defaultTtlSeconds: z.number().positive().max(MAX_TTL_SECONDS).nullable(),
  })
  .partial()
  .strict();

const nodeId = z.object({ id: z.string().min(1) });

export const loadSettings = z
  .object({
    routing: z.enum(LOAD_ROUTINGS),
    scope: z.enum(LOAD_SCOPES),
    mode: z.enum(LOAD_MODES),
    connections: z.number().int().min(LOAD_LIMITS.connections.min).max(LOAD_LIMITS.connections.max),
    rate: z.number().positive().max(LOAD_LIMITS.rate.max),
    readRatio: z.number().min(0).max(1),
    keys: z.number().int().min(1).max(100_000_000),
    distribution: z.enum(LOAD_DISTRIBUTIONS),
    zipfS: z.number().min(LOAD_LIMITS.zipfS.min).max(LOAD_LIMITS.zipfS.max),
    valueBytes: z
      .number()
      .int()
      .min(0)
      .max(16 * 1024 * 1024),
    compressible: z.boolean(),
    durationSeconds: z
      .number()
      .positive()
      .max(24 * 3600)
      .nullable(),
  })
  .partial()
  .strict();

const restInput = z.object({
  id: z.string().min(1),
  method: z.enum(['GET', 'HEAD', 'PUT', 'DELETE']),
  key: z.string().min(1).max(CONFIG_LIMITS.maxKeyBytes.max),
  value: z
    .string()
    .max(1024 * 1024)
    .optional(),
  contentType: z.string().max(255).optional(),
  ttlSeconds: z.number().positive().max(MAX_TTL_SECONDS).optional(),
  /** Level 6: a read any replica may answer from its own copy (`?consistency=stale`). */
  consistency: z.enum(['linearizable', 'stale']).optional(),
});

/** What the REST console shows: the exact request, as curl, and the node's answer. */
export interface RestExchange {
  readonly curl: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body as text (binary bodies are described, not shown). */
  readonly body: string;
  readonly durationMs: number;
}

/** Runs `action`, turning a supervisor's or load's refusal into the tRPC error it means. */
async function act<T>(action: () => T | Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw toTrpcError(error);
  }
}

const CODES = {
  unknown_node: 'NOT_FOUND',
  unknown_shard: 'NOT_FOUND',
  busy: 'CONFLICT',
  no_leader: 'CONFLICT',
  membership_refused: 'CONFLICT',
  unsupported: 'PRECONDITION_FAILED',
  node_down: 'CONFLICT',
  node_starting: 'CONFLICT',
  invalid_config: 'BAD_REQUEST',
  start_failed: 'INTERNAL_SERVER_ERROR',
} as const;

function toTrpcError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  const e = error as Error & { code?: string };
  if (e.name === 'ControlError' && e.code !== undefined && e.code in CODES) {
    return new TRPCError({ code: CODES[e.code as keyof typeof CODES], message: e.message });
  }
  if (e.name === 'LoadError') return new TRPCError({ code: 'BAD_REQUEST', message: e.message });
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: e.message, cause: error });
}

/** The node's URL, or a CONFLICT saying why there is none. */
function urlOf(node: NodeInfo): string {
  if (node.status === 'up') return node.url;
  const why = node.status === 'paused' ? 'paused; resume it' : `${node.status}; restart it`;
  throw new TRPCError({ code: 'CONFLICT', message: `Node ${node.id} is ${why} first.` });
}

async function readConfig(node: NodeInfo): Promise<NodeConfig> {
  const answer = await nodeRequest(urlOf(node), { method: 'GET', path: '/v1/config' });
  return JSON.parse(answer.body.toString()) as NodeConfig;
}

async function writeConfig(
  playground: Playground,
  node: NodeInfo,
  patch: Partial<NodeConfig>,
): Promise<NodeConfig> {
  const answer = await nodeRequest(urlOf(node), {
    method: 'PATCH',
    path: '/v1/config',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(patch),
  });
  const body = JSON.parse(answer.body.toString()) as NodeConfig & { message?: string };
  if (answer.status !== 200) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `Node ${node.id} refused the config: ${body.message ?? answer.status}`,
    });
  }
  playground.supervisor.setConfig(node.id, body);
  return body;
}

/** Single quotes for a POSIX shell. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

async function sendRest(node: NodeInfo, input: z.infer<typeof restInput>): Promise<RestExchange> {
  const url = urlOf(node);
  const params = new URLSearchParams();
  if (input.ttlSeconds !== undefined) params.set('ttl', String(input.ttlSeconds));
  if (input.consistency === 'stale') params.set('consistency', 'stale');
  const query = params.size === 0 ? '' : `?${params.toString()}`;
  const path = `/v1/keys/${encodeURIComponent(input.key)}${query}`;
  const withBody = input.method === 'PUT';
  const contentType = input.contentType ?? 'application/json';
  const body = withBody ? (input.value ?? '') : undefined;
  const curl = [
    'curl -i',
    input.method === 'HEAD' ? '-I' : input.method === 'GET' ? '' : `-X ${input.method}`,
    shellQuote(`${url}${path}`),
    withBody
      ? `-H ${shellQuote(`Content-Type: ${contentType}`)} --data-binary ${shellQuote(body!)}`
      : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
  const answer = await nodeRequest(url, {
    method: input.method,
    path,
    headers: withBody ? { 'content-type': contentType } : {},
    body,
  });
  const type = answer.headers['content-type'] ?? '';
  const textual = /^(text\/|application\/(json|xml|javascript))/.test(type) || type === '';
  return {
    curl,
    status: answer.status,
    headers: answer.headers,
    body: textual
      ? answer.body.toString('utf8')
      : `(${answer.body.length} bytes of ${type}; not shown)`,
    durationMs: Math.round(answer.durationMs * 100) / 100,
  };
}

/**
 * The cluster as API.md §4 describes it: every node (a lone node has shard null), the shards
 * of the cluster map and its epoch, the move in progress and, beyond API.md, the map itself
 * and the last move (what the ring picture draws).
 */
function clusterState(playground: Playground) {
  return { nodes: playground.supervisor.list(), ...playground.cluster.state() };
}

export const appRouter = router({
  cluster: router({
    state: query.query(({ ctx }) => clusterState(ctx.playground)),
    /** Level 5: a new node becomes a shard and its keys start moving to it at once. */
    addShard: mutation
      .input(z.object({}).strict().optional())
      .mutation(({ ctx }) => act(() => ctx.playground.cluster.addShard())),
    removeShard: mutation
      .input(z.object({ shard: z.string().min(1).max(200) }).strict())
      .mutation(({ ctx, input }) => act(() => ctx.playground.cluster.removeShard(input.shard))),
    /**
     * Level 6: a new cluster of `shards` Raft groups of `replicas` new nodes each (with data
     * dirs); resolves once every shard has a leader. Refused once a cluster is formed.
     */
    formReplicated: mutation
      .input(
        z
          .object({
            shards: z.number().int().min(1).max(16),
            replicas: z
              .number()
              .int()
              .min(1)
              .max(MAX_REPLICAS)
              .refine((r) => r % 2 === 1, 'replicas must be odd (1, 3, 5 or 7)'),
          })
          .strict(),
      )
      .mutation(({ ctx, input }) =>
        act(async () => {
          const { leaders } = await ctx.playground.cluster.formReplicated(input);
          return { ...clusterState(ctx.playground), leaders };
        }),
      ),
    /** Level 6: SIGKILLs the shard's current leader; its other replicas elect another. */
    killLeader: mutation
      .input(z.object({ shard: z.string().min(1).max(200) }).strict())
      .mutation(({ ctx, input }) => act(() => ctx.playground.cluster.killLeader(input.shard))),
    /**
     * Level 6, membership (one change at a time, through the shard's leader): a new replica
     * joins `shard` and catches up; a replica leaves (and is retired with its data dir); a
     * (dead) replica is replaced: removed, then a new one added.
     */
    addReplica: mutation
      .input(z.object({ shard: z.string().min(1).max(200) }).strict())
      .mutation(({ ctx, input }) => act(() => ctx.playground.cluster.addReplica(input.shard))),
    removeReplica: mutation
      .input(nodeId.strict())
      .mutation(({ ctx, input }) => act(() => ctx.playground.cluster.removeReplica(input.id))),
    replaceReplica: mutation
      .input(nodeId.strict())
      .mutation(({ ctx, input }) => act(() => ctx.playground.cluster.replaceReplica(input.id))),
    /**
     * Retires every node of the cluster and drops its map (the playground's fresh start for
     * another level); a new lone node is started if none is left. Refused while keys move.
     */
    dissolve: mutation.input(z.object({}).strict().optional()).mutation(({ ctx }) =>
      act(async () => {
        const { retired, started } = await ctx.playground.cluster.dissolve();
        return { ...clusterState(ctx.playground), retired, started };
      }),
    ),
    /** How fast keys move: keys a second each new owner copies, now and for later moves. */
    throttle: mutation
      .input(z.object({ keysPerSecond: z.number().int().min(1).max(10_000_000) }).strict())
      .mutation(({ ctx, input }) =>
        act(() => ctx.playground.cluster.throttle(input.keysPerSecond)),
      ),
  }),
  node: router({
    start: mutation
      .input(
        z
          .object({
            config: configPatch.optional(),
            /** Level 3: write through (or behind) to the embedded PostgreSQL, started if need be. */
            storage: z
              .object({ writeMode: z.enum(['through', 'behind']) })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .mutation(({ ctx, input }) =>
        act(async () => {
          const { playground } = ctx;
          const storage =
            input.storage === undefined
              ? null
              : {
                  databaseUrl: await playground.startDatabase(),
                  writeMode: input.storage.writeMode,
                };
          return playground.supervisor.start(input.config, 0, storage);
        }),
      ),
    kill: mutation.input(nodeId).mutation(({ ctx, input }) =>
      act(() => {
        // A leader lost with it dates from now (the failover time), not from its exit.
        ctx.playground.cluster.signalled(input.id);
        return ctx.playground.supervisor.kill(input.id);
      }),
    ),
    pause: mutation.input(nodeId).mutation(({ ctx, input }) =>
      act(() => {
        ctx.playground.cluster.signalled(input.id);
        return ctx.playground.supervisor.pause(input.id);
      }),
    ),
    resume: mutation
      .input(nodeId)
      .mutation(({ ctx, input }) => act(() => ctx.playground.supervisor.resume(input.id))),
    restart: mutation
      .input(nodeId)
      .mutation(({ ctx, input }) => act(() => ctx.playground.supervisor.restart(input.id))),
    stop: mutation
      .input(nodeId)
      .mutation(({ ctx, input }) => act(() => ctx.playground.supervisor.stop(input.id))),
    logs: query
      .input(
        z.object({ id: z.string().min(1), lines: z.number().int().min(1).max(500).optional() }),
      )
      .query(({ ctx, input }) =>
        act(() => ({ lines: ctx.playground.supervisor.logs(input.id, input.lines) })),
      ),
  }),
  config: router({
    get: query
      .input(nodeId)
      .query(({ ctx, input }) => act(() => readConfig(ctx.playground.supervisor.get(input.id)))),
    set: mutation
      .input(z.object({ id: z.string().min(1).optional(), patch: configPatch }).strict())
      .mutation(({ ctx, input }) =>
        act(async () => {
          const { supervisor } = ctx.playground;
          const nodes =
            input.id === undefined
              ? supervisor.list().filter((node) => node.status === 'up')
              : [supervisor.get(input.id)];
          const configs = await Promise.all(
            nodes.map((node) => writeConfig(ctx.playground, node, input.patch)),
          );
          return nodes.map((node, i) => ({ id: node.id, config: configs[i]! }));
        }),
      ),
  }),
  load: router({
    start: mutation
      .input(loadSettings.optional())
      .mutation(({ ctx, input }) => act(() => ctx.playground.load.start(input ?? {}))),
    update: mutation
      .input(loadSettings)
      .mutation(({ ctx, input }) => act(() => ctx.playground.load.update(input))),
    stop: mutation.mutation(({ ctx }) => act(() => ctx.playground.load.stop())),
    status: query.query(({ ctx }) => ctx.playground.load.status()),
  }),
  db: router({
    /** The embedded PostgreSQL (Level 3). */
    status: query.query(({ ctx }) => ctx.playground.databaseStatus()),
    start: mutation.mutation(({ ctx }) =>
      act(async () => {
        await ctx.playground.startDatabase();
        return ctx.playground.databaseStatus();
      }),
    ),
    stop: mutation.mutation(({ ctx }) =>
      act(async () => {
        await ctx.playground.stopDatabase();
        return ctx.playground.databaseStatus();
      }),
    ),
  }),
  rest: router({
    /** The REST console: one request to a node, sent by the control plane. */
    send: mutation
      .input(restInput)
      .mutation(({ ctx, input }) =>
        act(() => sendRest(ctx.playground.supervisor.get(input.id), input)),
      ),
  }),
  metrics: router({
    /** The history so far, then each node change and one sample a second. */
    live: query.subscription(async function* ({ ctx, signal }) {
      const queue: LiveEvent[] = [];
      let wake: (() => void) | null = null;
      const off = ctx.playground.subscribe((event) => {
        queue.push(event);
        wake?.();
      });
      // One abort listener for the stream's life: one per wait would pile up, one a second.
      const onAbort = () => wake?.();
      signal?.addEventListener('abort', onAbort);
      try {
        while (signal?.aborted !== true) {
          const event = queue.shift();
          if (event !== undefined) {
            yield event;
            continue;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
        off();
      }
    }),
  }),
});

export type AppRouter = typeof appRouter;
