/**
 * Level 2, metrics and load testing: see a node count requests in /metrics, drive 2,000 req/s,
 * compare the client's latency with the nodes', and push the closed model past the knee.
 */
import { formatCount, formatMs, formatRate } from '../format.ts';
import {
  inARow,
  keyOf,
  known,
  loadSeen,
  mean,
  median,
  nodeIn,
  restSeen,
  samplesSeen,
} from './facts.ts';
import type { ActionContext, CheckView, LevelWalkthrough, StepCheck } from './model.ts';

/** GETs the "count them" button sends. */
export const PROBE_REQUESTS = 20;
export const TARGET_RATE = 2000;
/** Three samples in a row at 90% of the target count as reaching it. */
export const RATE_REACHED = 0.9 * TARGET_RATE;

/** Connection counts of the closed-model buttons. */
export const CLOSED_CONNECTIONS = [4, 64, 512] as const;
/** A segment's samples count once the load has settled for this long. */
const SETTLE_MS = 2000;

const probeKey = (view: Pick<CheckView, 'session'>) => keyOf(view, 'probe');

/** Step 1: the node's scraped counters rose by at least the GETs sent. */
export function checkCounted(view: CheckView): StepCheck {
  const sent = restSeen(view.journal, (o) => o.request.key === probeKey(view) && !o.auto);
  const first = sent[0];
  if (first === undefined) {
    return { done: false, detail: `Not yet: send ${PROBE_REQUESTS} GETs and watch them counted.` };
  }
  const nodeId = first.request.nodeId;
  let counted = 0;
  let previous: number | null = null;
  let samples = 0;
  for (const sample of view.samples) {
    if (sample.t > first.sentAt && previous !== null) {
      counted += (nodeIn(sample, nodeId)?.requestsPerSecond ?? 0) * ((sample.t - previous) / 1000);
      samples++;
    }
    previous = sample.t;
  }
  // Rates are counts over measured intervals; a whole request may come back as 19.98 of one.
  const enough = Math.round(counted) >= sent.length;
  return {
    done: enough,
    detail: enough
      ? `${nodeId}'s tinycache_requests_total rose by ${formatCount(counted)} in the ${samples} samples since you sent ${sent.length} GETs: every one was counted.`
      : `${nodeId} has counted ${formatCount(counted)} of the ${sent.length} GETs so far; the next scrape comes within a second.`,
  };
}

/** Step 2: the nodes served at least 1,800 req/s in 3 samples in a row. */
export function checkRate(view: CheckView): StepCheck {
  const seen = samplesSeen(view);
  const done = inARow(seen, 3, (s) => s.total.requestsPerSecond >= RATE_REACHED);
  const now = seen.at(-1)?.total.requestsPerSecond ?? 0;
  return {
    done,
    detail: done
      ? `The nodes served at least ${formatCount(RATE_REACHED)} req/s for 3 seconds in a row (now ${formatRate(now)}).`
      : `Now ${formatRate(now)}; done after 3 samples in a row at ${formatCount(RATE_REACHED)} req/s or more.`,
  };
}

interface LatencyViews {
  readonly client: number;
  readonly nodes: number;
  readonly samples: number;
}

/** The mean p99 of the client and of the nodes over the last 5 samples that have both. */
export function latencyViews(view: CheckView): LatencyViews | null {
  const both = samplesSeen(view)
    .filter((s) => s.load?.p99Ms != null && s.total.p99Ms !== null)
    .slice(-5);
  const client = mean(known(both.map((s) => s.load?.p99Ms)));
  const nodes = mean(known(both.map((s) => s.total.p99Ms)));
  if (client === null || nodes === null) return null;
  return { client, nodes, samples: both.length };
}

function judge(ctx: ActionContext, choice: 'client' | 'nodes'): void {
  const views = latencyViews(ctx.view());
  if (views === null) {
    throw new Error(
      'No load is running, so there is no client view to compare. Start the load in step 2 first.',
    );
  }
  const higher = views.client > views.nodes ? 'client' : 'nodes';
  const gap = Math.abs(views.client - views.nodes);
  const figures = `Over the last ${views.samples} s the client's p99 averaged ${formatMs(views.client)} and the nodes' ${formatMs(views.nodes)}`;
  const why =
    higher === 'client'
      ? `${formatMs(gap)} of a slow request is spent outside the node's own timer: the network stack, socket queues, both event loops, and in the open model any time a request waited to be sent.`
      : 'the client measured less than the nodes, which happens when a node stalls between requests it has already timed; look again in a few seconds.';
  ctx.answer(
    choice === higher,
    choice === higher ? `Right. ${figures}: ${why}` : `Not this time. ${figures}: ${why}`,
  );
}

/** Step 3: a question about the chart, answered as the live samples say. */
export function checkCompared(view: CheckView): StepCheck {
  const answers = view.journal.filter((o) => o.kind === 'answer' && o.step === 3);
  const right = answers.find((o) => o.kind === 'answer' && o.correct);
  if (right?.kind === 'answer') return { done: true, detail: right.explain };
  const last = answers.at(-1);
  if (last?.kind === 'answer') return { done: false, detail: last.explain };
  return {
    done: false,
    detail: 'Read the dashed (client) and solid (nodes) p99 lines, then answer.',
  };
}

interface Segment {
  readonly connections: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly samples: number;
}

/**
 * The closed-model settings the load ran with, each with the median throughput and client p50
 * of its settled samples.
 */
export function closedSegments(view: CheckView): Segment[] {
  const changes = loadSeen(view.journal);
  const segments: Segment[] = [];
  for (const [i, change] of changes.entries()) {
    const settings = change.status.settings;
    if (!change.status.running || settings?.mode !== 'closed') continue;
    const end = changes[i + 1]?.at ?? Infinity;
    const settled = view.samples.filter(
      (s) => s.t >= change.at + SETTLE_MS && s.t < end && s.load !== null,
    );
    const rps = median(settled.map((s) => s.load!.requestsPerSecond));
    const p50 = median(known(settled.map((s) => s.load!.p50Ms)));
    if (settled.length < 2 || rps === null || p50 === null) continue;
    segments.push({
      connections: settings.connections,
      requestsPerSecond: rps,
      p50Ms: p50,
      samples: settled.length,
    });
  }
  return segments;
}

/**
 * Step 4: two closed-model runs where more connections bought at most 30% more throughput but
 * at least 3x the median latency: the knee.
 */
export function checkKnee(view: CheckView): StepCheck {
  const segments = closedSegments(view);
  const lines = segments.map(
    (s) =>
      `${formatCount(s.connections)} connections: ${formatRate(s.requestsPerSecond)}, p50 ${formatMs(s.p50Ms)} (client)`,
  );
  for (const low of segments) {
    for (const high of segments) {
      if (high.connections <= low.connections) continue;
      if (high.p50Ms >= 3 * low.p50Ms && high.requestsPerSecond <= 1.3 * low.requestsPerSecond) {
        const gain = (high.requestsPerSecond / low.requestsPerSecond - 1) * 100;
        return {
          done: true,
          detail: `From ${low.connections} to ${high.connections} connections throughput changed by ${gain >= 0 ? '+' : ''}${gain.toFixed(0)}% while p50 grew ${(high.p50Ms / low.p50Ms).toFixed(0)}x: past the knee, more load only waits in line.`,
          lines,
        };
      }
    }
  }
  return {
    done: false,
    detail:
      segments.length === 0
        ? 'Not yet: run the closed model with a few connections, then with many (a few seconds each).'
        : 'Not past the knee yet: try more connections and give each setting a few seconds.',
    lines,
  };
}

/** Step 5: a load was seen while the page was open, and the last 2 samples have none. */
export function checkStopped(view: CheckView): StepCheck {
  const seen = samplesSeen(view);
  const lastLoad = seen.findLastIndex((s) => s.load !== null);
  const idleAfter = lastLoad < 0 ? 0 : seen.length - 1 - lastLoad;
  if (lastLoad >= 0 && idleAfter >= 2) {
    return {
      done: true,
      detail: `No load for the last ${idleAfter} samples; the nodes serve ${formatRate(seen.at(-1)?.total.requestsPerSecond ?? 0)}.`,
    };
  }
  return {
    done: false,
    detail:
      lastLoad < 0 ? 'No load has run while this page was open.' : 'The load is still running.',
  };
}

async function closed(ctx: ActionContext, connections: number): Promise<void> {
  await ctx.startLoad({ mode: 'closed', connections });
}

export const LEVEL_2: LevelWalkthrough = {
  n: 2,
  steps: [
    {
      title: 'Find the metrics',
      explain: (
        <>
          <p>
            Every node serves <code>GET /metrics</code> in the Prometheus text format: counters such
            as <code>tinycache_requests_total{'{op,code}'}</code>, hits and misses, a latency
            histogram and memory gauges. The playground reads each node once a second, and every
            chart here is the difference between two readings. Open the first node&apos;s metrics,
            send {PROBE_REQUESTS} GETs, and see them counted.
          </p>
          <p>
            <strong>Why it matters:</strong> in production Prometheus pulls these same counters from
            every node and your alerts are built on them. Counters only go up and rates come from
            differences, so a scrape that fails loses no requests.
          </p>
        </>
      ),
      aside: (view) => {
        const node = view.nodes.find((n) => n.status === 'up');
        return node === undefined ? null : (
          <p>
            <a href={`${node.url}/metrics`} target="_blank" rel="noreferrer">
              Open {node.id}&apos;s /metrics
            </a>{' '}
            and look for <code>tinycache_requests_total{'{op="get",code="404"}'}</code>: the GETs
            ask for a key that does not exist, so each is a miss.
          </p>
        );
      },
      actions: [
        {
          label: `Send ${PROBE_REQUESTS} GETs to the first node`,
          run: async (ctx) => {
            const node = await ctx.node();
            for (let i = 0; i < PROBE_REQUESTS; i++) {
              await ctx.rest({ nodeId: node.id, method: 'GET', key: probeKey(ctx) });
            }
          },
        },
      ],
      check: checkCounted,
      charts: [
        {
          chart: 'throughput',
          node: 0,
          windowSeconds: 60,
          caption: 'Your GETs appear as a bump of about 20 requests in one or two seconds.',
        },
      ],
    },
    {
      title: 'Drive 2,000 req/s',
      explain: (
        <>
          <p>
            The load generator runs beside the dashboard and drives every node at once. In the{' '}
            <strong>open model</strong> requests arrive at a fixed rate whether or not answers have
            come back, the way users arrive at a website; latency is measured from when each request
            was <em>meant</em> to be sent, so a stalled server cannot hide (coordinated omission).
            The load uses the playground&apos;s default mix, mostly reads over keys of which a few
            are hot (Zipf); its exact settings appear below once it runs.
          </p>
          <p>
            <strong>Why it matters:</strong> a capacity figure is only meaningful at a stated rate
            and mix. Start at a rate you expect in production and check the cluster holds it before
            you look at anything else.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Start 2,000 req/s (open model)',
          run: async (ctx) => {
            await ctx.startLoad({ mode: 'open', rate: TARGET_RATE });
          },
        },
      ],
      check: checkRate,
      charts: [
        {
          chart: 'throughput',
          caption: 'Stacked by node: the load is spread over every node.',
        },
      ],
      undo: <>The last step stops the load (so does Stop on the dashboard).</>,
    },
    {
      title: 'Compare client and node latency',
      explain: (
        <>
          <p>
            The latency chart has two views. The solid lines are the <strong>nodes&apos;</strong>{' '}
            p50 and p99, from their histograms: the time from a request parsed to its answer
            written. The dashed lines are the <strong>client&apos;s</strong>, measured by the load
            generator from when each request was meant to be sent to when its answer arrived. Right
            now, which p99 is higher?
          </p>
          <p>
            <strong>Why it matters:</strong> users feel the client&apos;s view; the nodes&apos; view
            says whether the time is spent in the cache or around it. And p99 is not rare: a page
            that makes 20 cache reads waits on at least one p99-slow read 18% of the time.
          </p>
        </>
      ),
      actions: [
        { label: 'The client’s p99 is higher', run: async (ctx) => judge(ctx, 'client') },
        { label: 'The nodes’ p99 is higher', run: async (ctx) => judge(ctx, 'nodes') },
      ],
      check: checkCompared,
      charts: [
        {
          chart: 'latency',
          caption: 'Log scale. Solid: inside the nodes. Dashed: what the client saw.',
        },
      ],
    },
    {
      title: 'Push until latency rises',
      explain: (
        <>
          <p>
            In the <strong>closed model</strong> each connection sends its next request as soon as
            the last answer arrives, so the load goes as fast as the cluster allows. Throughput
            rises with connections until the nodes (or this machine&apos;s cores) are busy; after
            that, more connections only wait in line, and latency grows with them (Little&apos;s
            law: latency = connections / throughput). Press the buttons in order, a few seconds
            apart. Watch the solid lines too: the nodes&apos; own p50 hardly moves, because the
            waiting happens in queues before a node&apos;s timer starts, the time only the
            client&apos;s view shows.
          </p>
          <p>
            <strong>Why it matters:</strong> that knee is your capacity. Past it, every extra
            request adds queueing delay to every other one, so production runs with headroom below
            it, and a load test&apos;s job is to find where it is.
          </p>
        </>
      ),
      actions: CLOSED_CONNECTIONS.map((connections) => ({
        label: `Closed model, ${connections} connections`,
        run: (ctx: ActionContext) => closed(ctx, connections),
      })),
      check: checkKnee,
      charts: [
        { chart: 'throughput', caption: 'Throughput flattens once the nodes are saturated…' },
        { chart: 'latency', caption: '…while latency keeps climbing with connections.' },
      ],
      undo: <>The next step stops the load.</>,
    },
    {
      title: 'Stop the load',
      explain: (
        <>
          <p>
            Stop the load generator; the nodes go back to idle and the charts fall to zero. The keys
            it wrote stay in the caches until they are evicted.
          </p>
          <p>
            <strong>Why it matters:</strong> a load test left running skews every measurement after
            it, including the next person&apos;s.
          </p>
        </>
      ),
      actions: [{ label: 'Stop the load', run: async (ctx) => void (await ctx.stopLoad()) }],
      check: checkStopped,
      charts: [{ chart: 'throughput', caption: 'Back to zero once the load stops.' }],
    },
  ],
};
