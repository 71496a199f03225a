/**
 * Level 4, eviction, size limits and compression: shrink memory and watch evictions, see a
 * too-large value refused without harm, watch compression save memory, and compare LRU with
 * W-TinyLFU when a scan runs through the cache. Ends by restoring the defaults.
 */
import { DEFAULT_CONFIG, type NodeConfig } from '../../core/config.ts';
import type { LoadSettings } from '../../server/load/settings.ts';
import { formatBytes, formatCount, formatPercent, formatPerSecond } from '../format.ts';
import {
  configSeen,
  errorCode,
  exchangesFor,
  isSuccess,
  keyOf,
  known,
  loadSeen,
  mean,
  nodeIn,
  samplesSeen,
} from './facts.ts';
import type { ActionContext, CheckView, ConfigSeen, LevelWalkthrough, StepCheck } from './model.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
export const SMALL_MEMORY = 1 * MiB;
export const SMALL_VALUE_LIMIT = 4 * KiB;
const OLD_VALUE = 'v1 '.repeat(166) + 'ok'; // 500 B of text, under the compression threshold
const BIG_VALUE = 'v2 '.repeat(2730) + 'ok'; // 8 KiB of text
export const SCAN_SECONDS = 10;
export const SCAN_KEYS = 1_000_000;
/** Samples after a scan that the comparison needs. */
export const AFTER_SCAN_SAMPLES = 8;

/** Loads start from the control plane's defaults (open model, Zipf, random values). */
const WRITE_HEAVY: Partial<LoadSettings> = {
  rate: 2000,
  readRatio: 0.5,
  keys: 50_000,
  valueBytes: 512,
};
/** The comparison's hot keys; the scan leaves them and comes back to them. */
const COMPARE = { rate: 4000, readRatio: 0.9, keys: 10_000, valueBytes: 256 } as const;

const docKey = (view: Pick<CheckView, 'session'>) => keyOf(view, 'doc');
const reportKey = (view: Pick<CheckView, 'session'>) => keyOf(view, 'report');

/** A JSON report of about `bytes` bytes: repetitive, as real JSON is, so it compresses. */
export function report(bytes: number): string {
  const rows: object[] = [];
  let text = '';
  for (let i = 0; text.length < bytes - 80; i++) {
    rows.push({ id: i + 1, region: ['eu-west', 'us-east', 'ap-south'][i % 3], status: 'ok' });
    text = JSON.stringify({ report: 'daily-orders', rows });
  }
  return text;
}

/** Step 1: a node whose limit is at most 1 MiB evicted entries while the page was open. */
export function checkEvicting(view: CheckView): StepCheck {
  let lowered: string | null = null;
  // Newest first, so the figures shown are the latest that pass.
  for (const sample of [...samplesSeen(view)].reverse()) {
    for (const node of sample.nodes) {
      if (node.memoryLimitBytes === null || node.memoryLimitBytes > SMALL_MEMORY) continue;
      lowered = node.id;
      if ((node.evictionsPerSecond ?? 0) > 0) {
        return {
          done: true,
          detail: `${node.id}: ${formatBytes(node.memoryBytes ?? 0)} stored of a ${formatBytes(node.memoryLimitBytes)} limit, evicting ${formatPerSecond(node.evictionsPerSecond)} to make room.`,
        };
      }
    }
  }
  return {
    done: false,
    detail:
      lowered === null
        ? 'Not yet: lower the memory limit to 1 MiB.'
        : `${lowered}'s limit is 1 MiB; evictions start once writes need more room than that (start the load).`,
  };
}

/**
 * Step 2: a PUT answered 413 value_too_large, and a GET sent after it returned the value the
 * last successful PUT stored: the refused write changed nothing.
 */
export function checkRefused(view: CheckView): StepCheck {
  const key = docKey(view);
  const all = exchangesFor(view.journal, key);
  for (const [i, o] of all.entries()) {
    if (o.request.method !== 'PUT' || errorCode(o.exchange) !== 'value_too_large') continue;
    const stored = all
      .slice(0, i)
      .filter(
        (p) =>
          p.request.method === 'PUT' &&
          p.request.nodeId === o.request.nodeId &&
          isSuccess(p.exchange),
      )
      .at(-1);
    const read = all
      .slice(i + 1)
      .find(
        (g) =>
          g.request.method === 'GET' && g.request.nodeId === o.request.nodeId && g.sentAt >= o.at,
      );
    if (stored === undefined || read === undefined) continue;
    if (read.exchange.status === 200 && read.exchange.body === stored.request.value) {
      return {
        done: true,
        detail: `The ${formatBytes(o.request.value?.length ?? 0)} PUT answered 413 value_too_large, and the GET after it returned the ${formatBytes(stored.request.value?.length ?? 0)} value stored before: the refused write changed nothing.`,
      };
    }
    if (read.exchange.status === 404) {
      return {
        done: false,
        detail: `Refused with 413, but the old value had already been evicted (1 MiB under load is tight): press the button again.`,
      };
    }
  }
  const big = all
    .filter((o) => o.request.method === 'PUT' && (o.request.value?.length ?? 0) > SMALL_VALUE_LIMIT)
    .at(-1);
  if (big !== undefined && isSuccess(big.exchange)) {
    return {
      done: false,
      detail: `The 8 KiB PUT was accepted (${big.exchange.status}): that node still takes values up to ${formatBytes(DEFAULT_CONFIG.maxValueBytes)}. Lower its limit first.`,
    };
  }
  return { done: false, detail: 'Not yet: lower the limit, then try the 8 KiB value.' };
}

/**
 * Step 3: a node holds compressed entries, and the bytes compression saves on it rose above
 * what they were earlier while the page was open.
 */
export function checkCompressed(view: CheckView): StepCheck {
  const seen = samplesSeen(view);
  const lowest = new Map<string, number>();
  const rose = new Set<string>();
  for (const sample of seen) {
    for (const node of sample.nodes) {
      const saved = node.compressionSavedBytes;
      if (saved === null) continue;
      const floor = lowest.get(node.id);
      if (floor !== undefined && saved > floor && (node.compressedEntries ?? 0) > 0) {
        rose.add(node.id);
      }
      lowest.set(node.id, Math.min(saved, floor ?? Infinity));
    }
  }
  const now = seen.at(-1)?.nodes.find((node) => rose.has(node.id));
  if (rose.size === 0) {
    return {
      done: false,
      detail: 'Not yet: store a large JSON value, or run the load with compressible values.',
    };
  }
  return {
    done: true,
    detail:
      now === undefined
        ? `Compression saved memory on ${[...rose].join(', ')} while you watched.`
        : `${now.id} holds ${entries(now.compressedEntries ?? 0, 'compressed entry', 'compressed entries')}; compression saves ${formatBytes(now.compressionSavedBytes)} of its memory (tinycache_compression_saved_bytes).`,
  };
}

function entries(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** The latest configuration each node reported. */
function latestConfigs(view: CheckView): Map<string, ConfigSeen> {
  const latest = new Map<string, ConfigSeen>();
  for (const seen of configSeen(view.journal)) latest.set(seen.nodeId, seen);
  return latest;
}

/** The node reported running LRU and the one running W-TinyLFU, with the same memory. */
export function policyPair(view: CheckView): { lru: string; tiny: string } | null {
  const up = new Set(view.nodes.filter((n) => n.status === 'up').map((n) => n.id));
  const configs = [...latestConfigs(view).values()].filter((c) => up.has(c.nodeId));
  const lru = configs.find((c) => c.config.policy === 'lru');
  const tiny = configs.find(
    (c) => c.config.policy === 'wtinylfu' && c.config.maxMemoryBytes === lru?.config.maxMemoryBytes,
  );
  return lru === undefined || tiny === undefined ? null : { lru: lru.nodeId, tiny: tiny.nodeId };
}

function hitRates(view: CheckView, ids: readonly string[], from: number, to: number): string {
  const window = view.samples.filter((s) => s.t > from && s.t <= to);
  return ids
    .map((id) => formatPercent(mean(known(window.map((s) => nodeIn(s, id)?.hitRate)))))
    .join(' vs ');
}

/**
 * Step 4: one node runs LRU and another W-TinyLFU with the same memory, a scan ran, and at
 * least 8 samples after it have both nodes' hit rates. Reports what they were; it does not
 * require either policy to win.
 */
export function checkScanCompared(view: CheckView): StepCheck {
  const pair = policyPair(view);
  if (pair === null) {
    return { done: false, detail: 'Not yet: set up one node with LRU and one with W-TinyLFU.' };
  }
  const names = `${pair.lru} (LRU) vs ${pair.tiny} (W-TinyLFU)`;
  const ids = [pair.lru, pair.tiny];
  const loads = loadSeen(view.journal);
  const end = loads.findLast((o) => o.tag === 'scan-end');
  const start =
    end === undefined ? undefined : loads.findLast((o) => o.tag === 'scan-start' && o.at < end.at);
  if (end === undefined || start === undefined) {
    const scanning = loads.at(-1)?.tag === 'scan-start';
    return {
      done: false,
      detail: scanning
        ? `Scanning: hit rates ${names} ${hitRates(view, ids, view.now - 3000, view.now)} over the last 3 s.`
        : `Hit rates ${names}: ${hitRates(view, ids, view.now - 5000, view.now)} over the last 5 s. Run the scan once both level off (about 20 s after the load starts).`,
    };
  }
  const after = view.samples.filter(
    (s) => s.t > end.at && ids.every((id) => nodeIn(s, id)?.hitRate != null),
  );
  const lines = [
    `Before the scan (10 s): ${hitRates(view, ids, start.at - 10_000, start.at)}`,
    `During the scan: ${hitRates(view, ids, start.at, end.at)}`,
    `After the scan (first ${Math.min(after.length, 10)} s): ${hitRates(view, ids, end.at, after[Math.min(after.length, 10) - 1]?.t ?? end.at)}`,
  ];
  if (after.length < AFTER_SCAN_SAMPLES) {
    return {
      done: false,
      detail: `The scan is over; measuring how each policy recovers (${after.length} of ${AFTER_SCAN_SAMPLES} s).`,
      lines,
    };
  }
  const afterRates = ids.map((id) =>
    mean(known(after.slice(0, 10).map((s) => nodeIn(s, id)?.hitRate))),
  );
  const [lruAfter, tinyAfter] = afterRates;
  const summary =
    lruAfter == null || tinyAfter == null
      ? ''
      : ` In the first seconds after the scan, ${tinyAfter >= lruAfter ? 'W-TinyLFU' : 'LRU'} was ${(Math.abs(tinyAfter - lruAfter) * 100).toFixed(1)} points ahead.`;
  return { done: true, detail: `Hit rates, ${names}.${summary}`, lines };
}

const DEFAULTS: Partial<NodeConfig> = {
  policy: DEFAULT_CONFIG.policy,
  maxMemoryBytes: DEFAULT_CONFIG.maxMemoryBytes,
  maxValueBytes: DEFAULT_CONFIG.maxValueBytes,
  compressThresholdBytes: DEFAULT_CONFIG.compressThresholdBytes,
};

function isDefault(config: NodeConfig): boolean {
  return (Object.keys(DEFAULTS) as (keyof NodeConfig)[]).every(
    (field) => config[field] === DEFAULTS[field],
  );
}

/** Step 5: every node up reports the defaults, and the last sample has no load. */
export function checkRestored(view: CheckView): StepCheck {
  const up = view.nodes.filter((n) => n.status === 'up');
  const configs = latestConfigs(view);
  const off = up.filter((n) => {
    const config = configs.get(n.id)?.config;
    return config === undefined || !isDefault(config);
  });
  const loadRunning = view.samples.at(-1)?.load != null;
  if (up.length > 0 && off.length === 0 && !loadRunning) {
    return {
      done: true,
      detail: `Every node reports LRU, ${formatBytes(DEFAULT_CONFIG.maxMemoryBytes)} of memory, values up to ${formatBytes(DEFAULT_CONFIG.maxValueBytes)}, compression from ${formatBytes(DEFAULT_CONFIG.compressThresholdBytes)}; no load is running.`,
    };
  }
  const waiting = [
    ...(off.length > 0 ? [`${off.map((n) => n.id).join(', ')} not at the defaults yet`] : []),
    ...(loadRunning ? ['the load is still running'] : []),
  ];
  return {
    done: false,
    detail: waiting.length > 0 ? `Not yet: ${waiting.join('; ')}.` : 'Checking…',
  };
}

async function storeThenTryBig(ctx: ActionContext): Promise<void> {
  const node = await ctx.node();
  const key = docKey(ctx);
  const put = (value: string) =>
    ctx.rest({ nodeId: node.id, method: 'PUT', key, value, contentType: 'text/plain' });
  await put(OLD_VALUE);
  await put(BIG_VALUE);
  await ctx.rest({ nodeId: node.id, method: 'GET', key });
}

async function setUpComparison(ctx: ActionContext): Promise<void> {
  let up = await ctx.upNodes();
  if (up.length < 2) {
    await ctx.startNode();
    up = await ctx.upNodes();
  }
  const [a, b] = up;
  if (a === undefined || b === undefined) throw new Error('This step needs two nodes up.');
  const same = { maxMemoryBytes: SMALL_MEMORY, maxValueBytes: DEFAULT_CONFIG.maxValueBytes };
  await ctx.setConfig({ ...same, policy: 'lru' }, a.id);
  await ctx.setConfig({ ...same, policy: 'wtinylfu' }, b.id);
  await ctx.startLoad(COMPARE);
}

async function scan(ctx: ActionContext): Promise<void> {
  await ctx.updateLoad({ distribution: 'uniform', keys: SCAN_KEYS }, 'scan-start');
  await ctx.sleep(SCAN_SECONDS * 1000);
  await ctx.updateLoad({ distribution: 'zipf', keys: COMPARE.keys }, 'scan-end');
}

async function readConfigs(ctx: ActionContext, count = Infinity): Promise<void> {
  const up = (await ctx.upNodes()).slice(0, count);
  await Promise.all(up.map((node) => ctx.readConfig(node.id)));
}

export const LEVEL_4: LevelWalkthrough = {
  n: 4,
  steps: [
    {
      title: 'Shrink memory to 1 MiB and watch evictions',
      explain: (
        <>
          <p>
            A node counts every entry as its key, its stored value and 336 bytes of measured
            overhead, and never holds more than <code>maxMemoryBytes</code>. Lower it to 1 MiB and
            write more than fits: each write that needs room evicts the least recently used entries
            (LRU, the default policy).
          </p>
          <p>
            <strong>Why it matters:</strong> a cache that grows without bound takes its machine down
            with it; a bounded one degrades to a lower hit rate instead. A steady eviction rate is
            the sign that the working set does not fit.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Set max memory to 1 MiB on every node',
          run: (ctx) => ctx.setConfig({ maxMemoryBytes: SMALL_MEMORY }),
        },
        {
          label: 'Start a write-heavy load',
          run: async (ctx) => void (await ctx.startLoad(WRITE_HEAVY)),
        },
      ],
      check: checkEvicting,
      charts: [
        {
          chart: 'memory',
          node: 0,
          caption: 'Stored bytes fall to the new limit and stay under it.',
        },
        { chart: 'evictions', node: 0, caption: 'Evictions start as soon as writes need room.' },
      ],
      undo: (
        <>
          The last step restores {formatBytes(DEFAULT_CONFIG.maxMemoryBytes)}; by hand,{' '}
          <code>PATCH /v1/config</code> with <code>{'{"maxMemoryBytes":67108864}'}</code>.
        </>
      ),
    },
    {
      title: 'Refuse a value that is too large',
      explain: (
        <>
          <p>
            <code>maxValueBytes</code> (1 MiB by default, inclusive) bounds a single value. A larger
            PUT is refused with <code>413 value_too_large</code>, and a refused request changes
            nothing: the old value stays. Lower the limit on the first node to 4 KiB, then store a 1
            KiB value and try to replace it with 8 KiB.
          </p>
          <p>
            <strong>Why it matters:</strong> one huge value can push out thousands of small ones. A
            limit turns that into an error the client sees at once, and because a failed write
            changes nothing, the client can retry or fall back safely.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Set max value size to 4 KiB on the first node',
          run: async (ctx) =>
            ctx.setConfig({ maxValueBytes: SMALL_VALUE_LIMIT }, (await ctx.node()).id),
        },
        { label: 'Store 500 B, then try 8 KiB', run: storeThenTryBig },
      ],
      check: checkRefused,
      charts: [
        {
          chart: 'throughput',
          node: 0,
          windowSeconds: 60,
          caption: 'The refused PUT is counted in the errors line under its status, 413.',
        },
      ],
      undo: <>The last step restores the 1 MiB value limit.</>,
    },
    {
      title: 'Compress large values',
      explain: (
        <>
          <p>
            Values of at least <code>compressThresholdBytes</code> (1 KiB) are stored
            gzip-compressed when that saves space; the PUT&apos;s answer shows <code>bytes</code>{' '}
            against <code>storedBytes</code>. A client that sends <code>Accept-Encoding: gzip</code>{' '}
            gets the stored bytes as they are; others get them inflated. Store a 3 KiB JSON report,
            then switch the load to 2 KiB compressible values.
          </p>
          <p>
            <strong>Why it matters:</strong> JSON, HTML and logs often shrink several times over.
            Under a memory limit that means more entries in the same budget, so a higher hit rate,
            for a little CPU per write.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Store a 3 KiB JSON report',
          run: async (ctx) => {
            const node = await ctx.node();
            await ctx.rest({
              nodeId: node.id,
              method: 'PUT',
              key: reportKey(ctx),
              value: report(3 * KiB),
              contentType: 'application/json',
            });
          },
        },
        {
          label: 'Run the load with 2 KiB compressible values',
          run: async (ctx) =>
            void (await ctx.startLoad({ ...WRITE_HEAVY, valueBytes: 2 * KiB, compressible: true })),
        },
      ],
      check: checkCompressed,
      charts: [
        {
          chart: 'memory',
          node: 0,
          windowSeconds: 45,
          caption: 'The “saved by compression” line: bytes the node would hold without gzip.',
        },
      ],
    },
    {
      title: 'Compare LRU and W-TinyLFU under a scan',
      explain: (
        <>
          <p>
            Give two nodes the same 1 MiB and the same load, but LRU on the first and W-TinyLFU on
            the second. Once both hit rates level off (about 20 s), run a scan: for {SCAN_SECONDS} s
            the load reads and writes keys picked uniformly from a million, so almost every key is
            seen once, like a batch job or a crawler walking a catalogue. Then the load returns to
            its hot keys. LRU lets the scan&apos;s one-off keys push out the hot set and must learn
            it again; W-TinyLFU admits a new key only if it is used more often than the entry it
            would replace.
          </p>
          <p>
            The load generator knows uniform and Zipf keys, so the scan is a phase of uniform keys:
            during it both policies miss nearly everything. What differs is what each still holds
            when the hot keys come back.
          </p>
          <p>
            <strong>Why it matters:</strong> real traffic mixes a hot set with one-off reads. A
            policy that one scan can flush turns a nightly report into a latency spike for everyone.
          </p>
        </>
      ),
      actions: [
        { label: 'Set up LRU on the first node, W-TinyLFU on the second', run: setUpComparison },
        { label: `Run a ${SCAN_SECONDS} s scan`, run: scan },
      ],
      check: checkScanCompared,
      poll: { everyMs: 3000, run: (ctx) => readConfigs(ctx, 2) },
      charts: [
        { chart: 'hitRate', node: 0, caption: 'First node: LRU.' },
        { chart: 'hitRate', node: 1, caption: 'Second node: W-TinyLFU.' },
      ],
      undo: <>The next step puts both nodes back on LRU with 64 MiB and stops the load.</>,
    },
    {
      title: 'Restore the defaults',
      explain: (
        <>
          <p>
            Put every node back on LRU with {formatBytes(DEFAULT_CONFIG.maxMemoryBytes)} of memory,
            values up to {formatBytes(DEFAULT_CONFIG.maxValueBytes)} and compression from{' '}
            {formatBytes(DEFAULT_CONFIG.compressThresholdBytes)}, and stop the load. The step reads
            each node&apos;s configuration back to check.
          </p>
          <p>
            <strong>Why it matters:</strong> the next person to open the dashboard, maybe you,
            expects the defaults.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Restore the defaults and stop the load',
          run: async (ctx) => {
            await ctx.setConfig(DEFAULTS);
            await ctx.stopLoad();
          },
        },
      ],
      check: checkRestored,
      poll: { everyMs: 2000, run: (ctx) => readConfigs(ctx) },
      charts: [{ chart: 'memory', caption: 'The limit line goes back up to 64 MiB per node.' }],
    },
  ],
};
