/**
 * Level 3, PostgreSQL write-through: a node that commits every write to PostgreSQL before it
 * answers, reads a miss through from it, and refuses (503) rather than loses a write while
 * the database is down. Every check reads the nodes' own answers.
 */
import type { NodeInfo } from '../../server/control/supervisor.ts';
import { exchangesFor, isSuccess, keyOf } from './facts.ts';
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
      title: 'Stop the database',
      explain: (
        <>
          <p>
            With PostgreSQL stopped, the node cannot commit a write, so it refuses it with{' '}
            <code>503</code> and <code>Retry-After</code>, at once (a circuit breaker stops it
            waiting on a dead database). Keys already in memory are still served.
          </p>
          <p>
            <strong>Why it matters:</strong> a write that was acknowledged must never be lost; a
            clear refusal lets the client retry. Nothing is half-written.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Stop PostgreSQL, then write and read',
          run: async (ctx) => {
            const node = await throughNodeNow(ctx);
            await ctx.setDatabase(false);
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
      check: checkRefused,
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
  ],
};
