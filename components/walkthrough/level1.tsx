/**
 * Level 1, an in-memory cache with TTL: store a JSON object with a TTL, read it, watch it
 * expire, delete a key. Every check reads the node's own answers.
 */
import { formatCount } from '../format.ts';
import { clockTenths, exchangesFor, header, isSuccess, keyOf } from './facts.ts';
import type { ActionContext, CheckView, LevelWalkthrough, StepCheck } from './model.ts';

export const TTL_SECONDS = 5;
export const USER = { name: 'Ada Lovelace', role: 'admin', visits: 42 };
const USER_JSON = JSON.stringify(USER);
const GREETING = 'hello, cache';

const userKey = (view: Pick<CheckView, 'session'>) => keyOf(view, 'user');
const greetingKey = (view: Pick<CheckView, 'session'>) => keyOf(view, 'greeting');

async function storeUser(ctx: ActionContext): Promise<void> {
  const node = await ctx.node();
  const key = userKey(ctx);
  await ctx.rest({
    nodeId: node.id,
    method: 'PUT',
    key,
    value: USER_JSON,
    contentType: 'application/json',
    ttlSeconds: TTL_SECONDS,
  });
  await ctx.rest({ nodeId: node.id, method: 'GET', key });
}

async function readUser(ctx: ActionContext): Promise<void> {
  const node = await ctx.node();
  await ctx.rest({ nodeId: node.id, method: 'GET', key: userKey(ctx) });
}

/** Step 1: a GET answered 200 with X-TTL-Ms: the key is stored, and it will expire. */
export function checkStored(view: CheckView): StepCheck {
  const key = userKey(view);
  const gets = exchangesFor(view.journal, key, 'GET');
  const withTtl = gets.find(
    (o) => o.exchange.status === 200 && header(o.exchange, 'x-ttl-ms') !== undefined,
  );
  if (withTtl !== undefined) {
    const ms = Number(header(withTtl.exchange, 'x-ttl-ms'));
    return {
      done: true,
      detail: `GET answered 200 with X-TTL-Ms: ${formatCount(ms)}: ${key} is stored and expires in about ${(ms / 1000).toFixed(1)} s.`,
    };
  }
  const put = exchangesFor(view.journal, key, 'PUT').at(-1);
  if (put !== undefined && !isSuccess(put.exchange)) {
    return { done: false, detail: `The PUT was refused (${put.exchange.status}); see its answer.` };
  }
  return { done: false, detail: `Not yet: press the button to PUT ${key} with a 5 s TTL.` };
}

/** Step 2: a GET pressed in this step found the key (a hit). */
export function checkRead(view: CheckView): StepCheck {
  const key = userKey(view);
  const reads = exchangesFor(view.journal, key, 'GET').filter((o) => o.step === 2 && !o.auto);
  const hit = reads.find((o) => o.exchange.status === 200);
  if (hit !== undefined) {
    const ttl = header(hit.exchange, 'x-ttl-ms');
    return {
      done: true,
      detail:
        `A hit: 200, the object exactly as stored (${header(hit.exchange, 'content-type') ?? 'no type'})` +
        (ttl === undefined ? '.' : `, with ${formatCount(Number(ttl))} ms left to live.`),
    };
  }
  if (reads.at(-1)?.exchange.status === 404) {
    return {
      done: false,
      detail: `404: ${key} has expired already (its TTL was 5 s). Store it again, then GET it within 5 s.`,
    };
  }
  return { done: false, detail: `Not yet: GET ${key} while it is still alive.` };
}

/**
 * Step 3: after the latest PUT with a TTL, a GET sent once it was stored answered 404, and no
 * DELETE of the key was sent in between: the key expired on its own.
 */
export function checkExpired(view: CheckView): StepCheck {
  const key = userKey(view);
  const all = exchangesFor(view.journal, key);
  const put = all
    .filter((o) => o.request.method === 'PUT' && o.request.ttlSeconds !== undefined)
    .filter((o) => isSuccess(o.exchange))
    .at(-1);
  if (put === undefined) {
    return {
      done: false,
      detail: `Nothing to watch yet: store ${key} with a 5 s TTL (the button below).`,
    };
  }
  // Only the node it was stored on can say it expired.
  const after = all.filter((o) => o.sentAt > put.at && o.request.nodeId === put.request.nodeId);
  const gone = after.find((o) => o.request.method === 'GET' && o.exchange.status === 404);
  const deleted = after.find(
    (o) => o.request.method === 'DELETE' && o.sentAt < (gone?.at ?? Infinity),
  );
  if (gone !== undefined && deleted === undefined) {
    const seconds = ((gone.at - put.sentAt) / 1000).toFixed(1);
    return {
      done: true,
      detail: `Stored at ${clockTenths(put.sentAt)} with a ${put.request.ttlSeconds} s TTL; GET answered 404 not_found at ${clockTenths(gone.at)}, ${seconds} s later. Nobody deleted it: it expired.`,
    };
  }
  const last = after.filter((o) => o.request.method === 'GET').at(-1);
  const left = last === undefined ? undefined : header(last.exchange, 'x-ttl-ms');
  return {
    done: false,
    detail:
      left === undefined
        ? `Watching ${key}: a GET once a second until it answers 404.`
        : `Still there: GET answered 200 with X-TTL-Ms: ${formatCount(Number(left))}.`,
  };
}

/** Step 4: a DELETE answered 204 (the key existed), and a GET sent after it answered 404. */
export function checkDeleted(view: CheckView): StepCheck {
  const key = greetingKey(view);
  const all = exchangesFor(view.journal, key);
  const deleted = all.filter((o) => o.request.method === 'DELETE' && o.exchange.status === 204);
  for (const del of deleted) {
    const gone = all.find(
      (o) =>
        o.request.method === 'GET' &&
        o.request.nodeId === del.request.nodeId &&
        o.sentAt >= del.at &&
        o.exchange.status === 404,
    );
    if (gone !== undefined) {
      return {
        done: true,
        detail: `DELETE answered 204 (it existed); the GET after it answered 404 not_found: ${key} is gone.`,
      };
    }
  }
  const last = all.filter((o) => o.request.method === 'DELETE').at(-1);
  if (last?.exchange.status === 404) {
    return {
      done: false,
      detail: `DELETE answered 404: there was no ${key} to delete. Store it first, then delete it.`,
    };
  }
  return { done: false, detail: `Not yet: store ${key}, then delete it.` };
}

export const LEVEL_1: LevelWalkthrough = {
  n: 1,
  steps: [
    {
      title: 'Store a JSON object with a 5 s TTL',
      explain: (
        <>
          <p>
            <code>PUT /v1/keys/&lt;key&gt;</code> stores the request body under a key. With{' '}
            <code>Content-Type: application/json</code> the node checks that the body is JSON and
            gives it back byte for byte; <code>?ttl=5</code> makes it expire 5 seconds later. The
            button sends the PUT, then a GET to check it is there: the answer carries{' '}
            <code>X-TTL-Ms</code>, the milliseconds it has left.
          </p>
          <p>
            <strong>Why it matters:</strong> sessions, one-time tokens, rate-limit windows and
            copies of data that changes elsewhere are stored with a TTL, so a stale copy cannot
            outlive its use even when nobody remembers to delete it.
          </p>
        </>
      ),
      actions: [{ label: 'Store it with a 5 s TTL', run: storeUser }],
      check: checkStored,
      charts: [
        {
          chart: 'throughput',
          node: 0,
          windowSeconds: 60,
          caption:
            'Each button press is a request or two. The node counts them in its /metrics, and this chart is drawn from those counts.',
        },
      ],
    },
    {
      title: 'Read it',
      explain: (
        <>
          <p>
            <code>GET /v1/keys/&lt;key&gt;</code> answers with the bytes and the{' '}
            <code>Content-Type</code> they were stored with: a hit. You have 5 seconds from the PUT;
            if it is gone already, store it again and read it at once.
          </p>
          <p>
            <strong>Why it matters:</strong> this is the path a cache exists for. A hit here costs
            about what a bare HTTP round trip costs (see the README&apos;s figures), and every hit
            is a database query or a service call your backend did not make.
          </p>
        </>
      ),
      actions: [
        { label: 'GET it', run: readUser },
        { label: 'Store it again (5 s TTL)', run: storeUser },
      ],
      check: checkRead,
      charts: [
        {
          chart: 'hitRate',
          node: 0,
          windowSeconds: 60,
          caption: 'Your GET is a hit: the node’s hit rate for that second jumps up.',
        },
      ],
    },
    {
      title: 'Watch it expire',
      explain: (
        <>
          <p>
            Nothing deletes the key. Once its time is up the node stops returning it and answers{' '}
            <code>404 not_found</code>; a background sweep reclaims the memory of expired keys
            nobody asks for. While this step is on screen it sends a GET once a second, so you can
            watch <code>X-TTL-Ms</code> count down.
          </p>
          <p>
            <strong>Why it matters:</strong> expiry costs nothing per key until the key is read or
            swept: no timer per entry. A cache holding millions of keys with TTLs stays as fast as
            one holding none.
          </p>
        </>
      ),
      actions: [{ label: 'Store it again (5 s TTL)', run: storeUser }],
      check: checkExpired,
      poll: {
        everyMs: 1000,
        when: (view) =>
          exchangesFor(view.journal, userKey(view), 'PUT').some(
            (o) => o.request.ttlSeconds !== undefined,
          ),
        run: readUser,
      },
      charts: [
        {
          chart: 'evictions',
          node: 0,
          windowSeconds: 60,
          caption:
            'The expirations line counts keys the node found expired. Yours shows up when it goes.',
        },
      ],
    },
    {
      title: 'Delete a key',
      explain: (
        <>
          <p>
            <code>DELETE /v1/keys/&lt;key&gt;</code> removes a key at once:{' '}
            <code>204 No Content</code> when it was there, <code>404</code> when it was not. Store a
            greeting, then delete it; the delete button also sends a GET to show the key is gone.
          </p>
          <p>
            <strong>Why it matters:</strong> deleting is how a backend invalidates. When the row in
            the database changes, delete the cached copy, and the next read fetches the fresh one.
            TTLs bound staleness; deletes end it.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Store a greeting',
          run: async (ctx) => {
            const node = await ctx.node();
            await ctx.rest({
              nodeId: node.id,
              method: 'PUT',
              key: greetingKey(ctx),
              value: GREETING,
              contentType: 'text/plain',
            });
          },
        },
        {
          label: 'Delete the greeting',
          run: async (ctx) => {
            const node = await ctx.node();
            const key = greetingKey(ctx);
            const answer = await ctx.rest({ nodeId: node.id, method: 'DELETE', key });
            if (answer.status === 204) await ctx.rest({ nodeId: node.id, method: 'GET', key });
          },
        },
      ],
      check: checkDeleted,
      charts: [
        {
          chart: 'throughput',
          node: 0,
          windowSeconds: 60,
          caption: 'Requests the node served, by second: your PUT, DELETE and GET among them.',
        },
      ],
    },
  ],
};
