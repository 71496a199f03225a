/**
 * Level 3, PostgreSQL write-through: a node that commits every write to PostgreSQL before it
 * answers, reads a miss through from it, and refuses (503) rather than loses a write while
 * the database is down. Every check reads the nodes' own answers.
 */
import { DEFAULT_CONFIG } from '../../core/config.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import type { LoadSettings } from '../../server/load/settings.ts';
import { formatMs } from '../format.ts';
import {
  exchangesFor,
  inARow,
  isSuccess,
  keyOf,
  loadSeen,
  median,
  nodeIn,
  restSeen,
  samplesSeen,
} from './facts.ts';
import type {
  ActionContext,
  CheckView,
  LevelWalkthrough,
  NodeStartedSeen,
  RestSeen,
  StepCheck,
} from './model.ts';

const ORDER = JSON.stringify({ id: 1001, items: ['tea', 'scones'], total: 12.5 });

const orderKey = (view: Pick<CheckView, 'session'>) => keyOf(view, 'order');
const downKey = (view: Pick<CheckView, 'session'>) => keyOf(view, 'while-down');
const backKey = (view: Pick<CheckView, 'session'>) => keyOf(view, 'after');

/** The writes sent while PostgreSQL stops: `payment-7-k3x9`, each with its own value. */
const PAYMENT_PREFIX = 'payment-';
const paymentKey = (view: Pick<CheckView, 'session'>, i: number) =>
  keyOf(view, `${PAYMENT_PREFIX}${i}`);
const paymentValue = (i: number) => JSON.stringify({ payment: i, amount: 10 + i });
/** At most this many writes while the database stops; they stop once a few were refused. */
const MAX_PAYMENTS = 60;

/** Small memory on the write-through node, so a steady share of reads goes to PostgreSQL. */
const SMALL_MEMORY_BYTES = 256 * 1024;
/** Mostly reads over more keys than that memory holds: hits and read-throughs side by side. */
const READ_PATH_LOAD: Partial<LoadSettings> = {
  mode: 'open',
  rate: 600,
  readRatio: 0.9,
  keys: 5000,
  distribution: 'zipf',
  valueBytes: 256,
  compressible: false,
};

/** The write-through node this visit started, as last started (a restart counts). */
function throughNode(view: CheckView): NodeStartedSeen | undefined {
  return view.journal
    .filter((o): o is NodeStartedSeen => o.kind === 'node-started')
    .filter((o) => o.node.storage?.writeMode === 'through')
    .at(-1);
}

async function throughNodeNow(ctx: ActionContext): Promise<NodeInfo> {
  const seen = throughNode(ctx.view());
  const node = ctx.view().nodes.find((n) => n.id === seen?.node.id && n.status === 'up');
  if (node === undefined) throw new Error('Start the write-through node first (step 1).');
  return node;
}

/** The last database start or stop this visit saw. */
function lastDb(view: CheckView) {
  return view.journal.filter((o) => o.kind === 'db').at(-1);
}

export function checkThroughNode(view: CheckView): StepCheck {
  const seen = throughNode(view);
  const node = view.nodes.find((n) => n.id === seen?.node.id);
  if (seen !== undefined && node?.status === 'up') {
    return {
      done: true,
      detail: `${node.id} is up at ${node.url} and writes through to PostgreSQL.`,
    };
  }
  return { done: false, detail: 'Not yet: start a node that writes through to PostgreSQL.' };
}

export function checkCompared(view: CheckView): StepCheck {
  const through = throughNode(view)?.node.id;
  const puts = exchangesFor(view.journal, orderKey(view), 'PUT').filter((o) =>
    isSuccess(o.exchange),
  );
  const onThrough = puts.filter((o) => o.request.nodeId === through).at(-1);
  const inMemory = puts.filter((o) => o.request.nodeId !== through).at(-1);
  if (onThrough !== undefined && inMemory !== undefined) {
    return {
      done: true,
      detail: `The same PUT took ${inMemory.exchange.durationMs} ms on a memory-only node and ${onThrough.exchange.durationMs} ms through PostgreSQL, which committed it first.`,
    };
  }
  return { done: false, detail: 'Not yet: send the order to both nodes.' };
}

export function checkReadThrough(view: CheckView): StepCheck {
  const restart = throughNode(view);
  const read = exchangesFor(view.journal, orderKey(view), 'GET').find(
    (o: RestSeen) =>
      o.request.nodeId === restart?.node.id && o.sentAt > restart.at && o.exchange.status === 200,
  );
  const restarted = view.journal.filter(
    (o) => o.kind === 'node-started' && o.node.id === restart?.node.id,
  ).length;
  if (read !== undefined && restarted > 1) {
    return {
      done: true,
      detail: `After the restart the node's memory was empty; the GET answered 200 in ${read.exchange.durationMs} ms, read through from PostgreSQL.`,
    };
  }
  return { done: false, detail: 'Not yet: restart the node, then read the order back.' };
}

export function checkRefused(view: CheckView): StepCheck {
  const stopped = lastDb(view);
  if (stopped === undefined || stopped.running) {
    return { done: false, detail: 'Not yet: stop PostgreSQL, then try a write.' };
  }
  const refused = exchangesFor(view.journal, downKey(view), 'PUT').find(
    (o) => o.sentAt > stopped.at && o.exchange.status === 503,
  );
  const hit = exchangesFor(view.journal, orderKey(view), 'GET').find(
    (o) => o.sentAt > stopped.at && o.exchange.status === 200,
  );
  if (refused !== undefined && hit !== undefined) {
    return {
      done: true,
      detail: `With PostgreSQL stopped the write was refused with 503 in ${refused.exchange.durationMs} ms (nothing half-written), and the order, already in memory, was still served.`,
    };
  }
  return { done: false, detail: 'Not yet: with PostgreSQL stopped, try a write and a read.' };
}

export function checkRecovered(view: CheckView): StepCheck {
  const started = lastDb(view);
  if (started === undefined || !started.running) {
    return { done: false, detail: 'Not yet: start PostgreSQL again.' };
  }
  const write = exchangesFor(view.journal, backKey(view), 'PUT').find(
    (o) => o.sentAt > started.at && isSuccess(o.exchange),
  );
  if (write !== undefined) {
    return {
      done: true,
      detail: `PostgreSQL is back and writes are acknowledged again (${write.exchange.status} in ${write.exchange.durationMs} ms), with no restart of the node.`,
    };
  }
  return { done: false, detail: 'Not yet: PostgreSQL is starting; the write is retried.' };
}

/** The read path of the write-through node, in the samples since the read-path load started. */
export function checkReadPath(view: CheckView): StepCheck {
  const through = throughNode(view)?.node.id;
  const started = loadSeen(view.journal).find((o) => o.step === 4 && o.status.running);
  if (through === undefined || started === undefined) {
    return { done: false, detail: 'Not yet: start the read load.' };
  }
  const samples = samplesSeen(view, started.at);
  const readsOf = (sample: (typeof samples)[number]) => nodeIn(sample, through)?.reads ?? null;
  const both = (sample: (typeof samples)[number]) => {
    const reads = readsOf(sample);
    return (reads?.memory.p50Ms ?? null) !== null && (reads?.database.p50Ms ?? null) !== null;
  };
  if (!inARow(samples, 3, both)) {
    return {
      done: false,
      detail: 'Not yet: waiting for three seconds with both hits and read-throughs.',
    };
  }
  const seen = samples.filter(both).map(readsOf);
  const memory = median(seen.map((r) => r!.memory.p50Ms!))!;
  const database = median(seen.map((r) => r!.database.p50Ms!))!;
  return {
    done: true,
    detail: `On ${through}, a hit took ${formatMs(memory)} at the median and a read-through from PostgreSQL ${formatMs(database)}: ${Math.round(database / memory)}× slower.`,
  };
}

/** The payments the visit sent while PostgreSQL stopped, by answer. */
function payments(view: CheckView): { acknowledged: RestSeen[]; refused: RestSeen[] } {
  const sent = restSeen(
    view.journal,
    (o) =>
      o.request.method === 'PUT' &&
      o.request.key.startsWith(PAYMENT_PREFIX) &&
      o.request.key.endsWith(`-${view.session}`),
  );
  return {
    acknowledged: sent.filter((o) => isSuccess(o.exchange)),
    refused: sent.filter((o) => o.exchange.status === 503),
  };
}

export function checkRefusedUnderLoad(view: CheckView): StepCheck {
  const refused = checkRefused(view);
  if (!refused.done) return refused;
  const { acknowledged, refused: turnedAway } = payments(view);
  if (acknowledged.length === 0 || turnedAway.length === 0) {
    return { done: false, detail: 'Not yet: send payments while the database stops.' };
  }
  return {
    ...refused,
    lines: [
      `Payments sent while it stopped: ${acknowledged.length} acknowledged (2xx), ${turnedAway.length} refused (503).`,
    ],
  };
}

/** After the last restart of the write-through node, every acknowledged payment reads back. */
export function checkNothingLost(view: CheckView): StepCheck {
  const restart = throughNode(view);
  const { acknowledged, refused } = payments(view);
  if (restart === undefined || acknowledged.length === 0) {
    return { done: false, detail: 'Not yet: do the steps before this one.' };
  }
  const readBack = (key: string) =>
    exchangesFor(view.journal, key, 'GET').find(
      (o) => o.request.nodeId === restart.node.id && o.sentAt > restart.at,
    );
  const lost: string[] = [];
  let read = 0;
  for (const put of acknowledged) {
    const got = readBack(put.request.key);
    if (got === undefined) continue;
    read++;
    if (got.exchange.status !== 200 || got.exchange.body !== put.request.value) {
      lost.push(put.request.key);
    }
  }
  const refusedRead = refused.filter((put) => readBack(put.request.key) !== undefined);
  const applied = refusedRead.filter((put) => readBack(put.request.key)?.exchange.status === 200);
  const total = acknowledged.length + refused.length;
  if (read + refusedRead.length < total) {
    return {
      done: false,
      detail: `Not yet: restart the node and read the payments back (${read + refusedRead.length} of ${total} read).`,
    };
  }
  const lines = [
    `Acknowledged and read back from PostgreSQL: ${read - lost.length} of ${acknowledged.length}.`,
    `Refused with 503 and not in the database: ${refused.length - applied.length} of ${refused.length}.`,
  ];
  if (lost.length > 0 || applied.length > 0) {
    return {
      done: false,
      detail: `Something is wrong: ${lost.length} acknowledged payments are missing or different, and ${applied.length} refused ones were stored.`,
      lines,
    };
  }
  return {
    done: true,
    detail:
      'Every write that was acknowledged survived the outage and a restart; none that was refused was half-written.',
    lines,
  };
}

/**
 * Sends payments to `nodeId` one after another while `stopping` runs, until it has ended and
 * a few were refused (or MAX_PAYMENTS went out).
 */
async function paymentsWhile(
  ctx: ActionContext,
  nodeId: string,
  stopping: Promise<void>,
): Promise<void> {
  let stopped = false;
  void stopping.then(
    () => (stopped = true),
    () => (stopped = true),
  );
  let refusedAfterStop = 0;
  for (let i = 0; i < MAX_PAYMENTS && refusedAfterStop < 3; i++) {
    const answer = await ctx.rest({
      nodeId,
      method: 'PUT',
      key: paymentKey(ctx, i),
      value: paymentValue(i),
      contentType: 'application/json',
    });
    if (stopped && answer.status === 503) refusedAfterStop++;
    await ctx.sleep(30);
  }
  await stopping;
}

export const LEVEL_3: LevelWalkthrough = {
  n: 3,
  steps: [
    {
      title: 'Start a write-through node',
      explain: (
        <>
          <p>
            The button starts an embedded PostgreSQL (the real server, run by the playground) and a
            node started with <code>--database-url</code>. That node acknowledges a PUT only after
            PostgreSQL has committed it, and reads a miss through from it.
          </p>
          <p>
            <strong>Why it matters:</strong> most caches front a database. Whether a write is
            acknowledged before or after the database has it decides what a crash can lose.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Start a write-through node',
          run: async (ctx) => {
            await ctx.startNode(undefined, { writeMode: 'through' });
          },
        },
      ],
      check: checkThroughNode,
      charts: [{ chart: 'throughput', windowSeconds: 60, caption: 'Every node, the new one too.' }],
      undo: <p>Stop the node from the dashboard when you are done.</p>,
    },
    {
      title: 'Compare write latency',
      explain: (
        <>
          <p>
            The same PUT goes to a memory-only node and to the write-through node. Compare the times
            under each answer: the second one waits for PostgreSQL's commit.
          </p>
          <p>
            <strong>Why it matters:</strong> write-through trades write latency for durability.
            Write-behind (<code>--write-mode behind</code>) answers from memory and flushes in
            batches, at the cost of what is queued when a node dies.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Send the order to both nodes',
          run: async (ctx) => {
            const through = await throughNodeNow(ctx);
            const memory = (await ctx.upNodes()).find((n) => n.storage === null);
            const key = orderKey(ctx);
            const put = (nodeId: string) =>
              ctx.rest({
                nodeId,
                method: 'PUT',
                key,
                value: ORDER,
                contentType: 'application/json',
              });
            if (memory !== undefined) await put(memory.id);
            await put(through.id);
          },
        },
      ],
      check: checkCompared,
      charts: [{ chart: 'latency', windowSeconds: 60 }],
    },
    {
      title: 'Restart it and read through',
      explain: (
        <>
          <p>
            A restarted node starts with empty memory. The GET misses in memory, so the node loads
            the order from PostgreSQL, keeps it, and answers with it.
          </p>
          <p>
            <strong>Why it matters:</strong> a cold cache in front of a database is slower, not
            wrong. Concurrent misses for one key cause one query, so a restart does not stampede the
            database.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Restart the node and read the order',
          run: async (ctx) => {
            const node = await throughNodeNow(ctx);
            const back = await ctx.restartNode(node.id);
            await ctx.rest({ nodeId: back.id, method: 'GET', key: orderKey(ctx) });
          },
        },
      ],
      check: checkReadThrough,
      charts: [{ chart: 'latency', windowSeconds: 60 }],
    },
    {
      title: 'Put the read path under load',
      explain: (
        <>
          <p>
            The button shrinks the write-through node&apos;s memory to 256 KiB and starts a
            read-mostly load over 5,000 keys, more than that memory holds. Every hit is answered
            from memory; every miss goes to PostgreSQL. The chart draws the two paths side by side.
          </p>
          <p>
            <strong>Why it matters:</strong> the hit rate decides what a backend really waits for. A
            read-through is a network round trip and a query, an order of magnitude slower than a
            hit, so a few points of hit rate move the average a long way.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Shrink its memory and start a read load',
          run: async (ctx) => {
            const node = await throughNodeNow(ctx);
            await ctx.setConfig({ maxMemoryBytes: SMALL_MEMORY_BYTES }, node.id);
            await ctx.startLoad(READ_PATH_LOAD);
          },
        },
      ],
      check: checkReadPath,
      charts: [
        {
          chart: 'readPath',
          windowSeconds: 60,
          caption: 'Nodes with a database: memory hits (green) against PostgreSQL (blue).',
        },
      ],
      undo: <p>The last step stops the load and gives the node its default memory back.</p>,
    },
    {
      title: 'Stop the database under load',
      explain: (
        <>
          <p>
            The button stops PostgreSQL while it sends numbered payments to the write-through node,
            one after another. Those sent before the stop are acknowledged; after it, the node
            cannot commit, so it refuses them with <code>503</code> and <code>Retry-After</code> at
            once (a circuit breaker stops it waiting on a dead database). Keys already in memory are
            still served, and the load&apos;s misses and writes show as errors.
          </p>
          <p>
            <strong>Why it matters:</strong> a write that was acknowledged must never be lost; a
            clear refusal lets the client retry. Nothing is half-written.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Stop PostgreSQL while writing',
          run: async (ctx) => {
            const node = await throughNodeNow(ctx);
            const stopping = ctx.sleep(150).then(() => ctx.setDatabase(false));
            await paymentsWhile(ctx, node.id, stopping);
            await ctx.rest({
              nodeId: node.id,
              method: 'PUT',
              key: downKey(ctx),
              value: '"refused"',
              contentType: 'application/json',
            });
            await ctx.rest({ nodeId: node.id, method: 'GET', key: orderKey(ctx) });
          },
        },
      ],
      check: checkRefusedUnderLoad,
      charts: [{ chart: 'throughput', windowSeconds: 60, caption: 'Errors are the 503s.' }],
    },
    {
      title: 'Start it again and watch it recover',
      explain: (
        <>
          <p>
            Start PostgreSQL again. The node notices by itself within a second or so and
            acknowledges writes again; the button retries one write until it is.
          </p>
          <p>
            <strong>Why it matters:</strong> recovery without a restart or a human is what keeps an
            outage of the database from turning into an outage of everything in front of it.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Start PostgreSQL and write',
          run: async (ctx) => {
            const node = await throughNodeNow(ctx);
            await ctx.setDatabase(true);
            for (let attempt = 0; attempt < 20; attempt++) {
              const answer = await ctx.rest({
                nodeId: node.id,
                method: 'PUT',
                key: backKey(ctx),
                value: '"back"',
                contentType: 'application/json',
              });
              if (isSuccess(answer)) return;
              await ctx.sleep(500);
            }
          },
        },
      ],
      check: checkRecovered,
      charts: [{ chart: 'throughput', windowSeconds: 60 }],
    },
    {
      title: 'Count what was lost',
      explain: (
        <>
          <p>
            The button stops the load, restarts the write-through node (its memory is empty again)
            and reads every payment back, so each answer comes from PostgreSQL.
          </p>
          <p>
            <strong>Why it matters:</strong> this is the promise of write-through, checked: an
            acknowledged write is in the database, whatever happened after; a refused one is not
            there at all.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Restart the node and read every payment',
          run: async (ctx) => {
            await ctx.stopLoad();
            const node = await throughNodeNow(ctx);
            const back = await ctx.restartNode(node.id);
            await ctx.setConfig({ maxMemoryBytes: DEFAULT_CONFIG.maxMemoryBytes }, back.id);
            const { acknowledged, refused } = payments(ctx.view());
            for (const put of [...acknowledged, ...refused]) {
              await ctx.rest({ nodeId: back.id, method: 'GET', key: put.request.key });
            }
          },
        },
      ],
      check: checkNothingLost,
      charts: [{ chart: 'readPath', windowSeconds: 60 }],
    },
  ],
};
