/**
 * Live load for the playground: the load generator's loop (load.ts) against every node of the
 * cluster at once, one run per node so a dead node backs off on its own, with the figures of
 * their union (percentiles included) once a second. Runs inside the load worker (worker.ts);
 * plain data in and out, so the same settings cross the worker boundary and a tRPC call.
 *
 * Level 6: every run is a client that rides out a leader's failure (LoadOptions.sessions:
 * sessions on writes, retries with backoff, counted as retries), and the load checks that no
 * acknowledged write is lost: runs stamp their values and record acknowledgements in one
 * WriteLedger, and a verifier reads acknowledged keys back, VERIFY_PER_SECOND a second, one at
 * a time, through a node of the key's shard (linearizable: the default), classifying each
 * (ledger.ts). A node that does not answer it is skipped for the next. Its answers name the
 * key's shard's leader (X-TinyCache-Leader): with smart routing each replicated shard gets one
 * run, aimed at that leader, and moved when an answer names another (or when the control
 * plane drops a dead node from the targets: then the shard's first node, which forwards).
 */
import { randomInt } from 'node:crypto';
import {
  Counters,
  checkLoadOptions,
  DEFAULT_LOAD_OPTIONS,
  type LoadHandle,
  type LoadOptions,
  secondFigures,
} from './load.ts';
import { type ClusterMap, ringOf } from '../../core/cluster/index.ts';
import type { Ring } from '../../core/ring/index.ts';
import { keyName } from '../../core/workload/keys.ts';
import { WriteLedger } from './ledger.ts';
import {
  IDLE_STATUS,
  LIVE_TIMEOUT_MS,
  VERIFY_PER_SECOND,
  type LoadSettings,
  type LoadStatus,
  type LoadTarget,
} from './settings.ts';

/** The load options for one of `targets` targets: connections and rate are split evenly. */
export function shareOf(settings: LoadSettings, targets: number, url: string): LoadOptions {
  const n = Math.max(1, targets);
  // Routing and scope are the live load's business (owns, setTargets), not one run's options.
  const { routing, scope, ...options } = settings;
  return checkLoadOptions({
    ...DEFAULT_LOAD_OPTIONS,
    ...options,
    url,
    connections: Math.max(1, Math.round(settings.connections / n)),
    rate: settings.rate / n,
    durationSeconds: null,
    timeoutMs: LIVE_TIMEOUT_MS,
    seed: 1 + url.length * 7919 + Number(new URL(url).port),
  });
}

/**
 * `owns`: the keys the run's node should get (smart routing); called for every request.
 * `ledger`: where the run records its acknowledged writes (LoadHooks.ledger).
 */
export type StartFn = (
  options: LoadOptions,
  sink: Counters,
  owns: (keyId: number) => boolean,
  ledger: WriteLedger,
) => LoadHandle;

/** A run's session prefix: the ledger's tag, the target, and a run number (a restarted run's
 * sessions are new ones, as a node refuses a seq below one it applied). */
function sessionsOf(tag: string, target: string, run: number): string {
  return `load.${tag}.${target.replace(/[^\x21-\x7e]/g, '_').slice(0, 100)}.${run}`;
}

/** The runs of one live load; `tick()` once a second gives its status. */
export class LiveLoad {
  private readonly runs = new Map<string, { url: string; handle: LoadHandle }>();
  /** The cluster's ring and each target's shard, for smart routing; kept current by setTargets. */
  private ring: Ring | null = null;
  /** The nodes and map last offered, kept to apply a change of scope. */
  private offered: readonly LoadTarget[] = [];
  private map: ClusterMap | null = null;
  private readonly shards = new Map<string, string>();
  /**
   * Level 6: each shard's leader as the latest answer named it (X-TinyCache-Leader). With
   * smart routing a replicated shard's run goes to its leader, so writes and linearizable
   * reads take no hop; a new name moves the run.
   */
  private readonly leaders = new Map<string, string>();
  private readonly second = new Counters();
  private readonly startedMs: number;
  private lastTickMs: number;
  private totalRequests = 0;
  private totalErrors = 0;
  private totalRetries = 0;
  private verified = 0;
  private lostWrites = 0;
  private missing = 0;
  private readonly ledger: WriteLedger;
  private runCount = 0;
  private readonly verifier: NodeJS.Timeout;
  private verifying = false;
  /** Turns on a failed verifier read, so the next goes to another node. */
  private verifyCursor = 0;
  private stopped = false;
  private last: LoadStatus = IDLE_STATUS;

  constructor(
    private settings: LoadSettings,
    targets: readonly LoadTarget[],
    private readonly startRun: StartFn,
    map: ClusterMap | null = null,
  ) {
    // Validate once for the whole load, so a bad setting starts nothing.
    shareOf(settings, 1, 'http://127.0.0.1:1');
    this.startedMs = this.lastTickMs = performance.now();
    this.ledger = new WriteLedger(
      randomInt(36 ** 4)
        .toString(36)
        .padStart(4, '0'),
    );
    this.verifier = setInterval(() => void this.verifyOne(), 1000 / VERIFY_PER_SECOND);
    this.setTargets(targets, map);
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Changes settings for every run; throws RangeError naming a bad field, changing nothing. */
  update(patch: Partial<LoadSettings>): void {
    const settings = { ...this.settings, ...patch };
    shareOf(settings, 1, 'http://127.0.0.1:1');
    const rescoped = settings.scope !== this.settings.scope;
    this.settings = settings;
    if (rescoped) this.setTargets(this.offered, this.map);
    else this.resplit();
  }

  /**
   * Drives exactly these nodes: starts runs for new ones, stops runs for gone or moved ones.
   * `map` is the cluster's, which smart routing follows from the next request on.
   */
  setTargets(targets: readonly LoadTarget[], map: ClusterMap | null = null): void {
    if (this.stopped) return;
    this.offered = targets;
    this.map = map;
    this.ring = map === null ? null : ringOf(map);
    this.shards.clear();
    for (const target of targets) {
      if (target.shard != null) this.shards.set(target.id, target.shard);
    }
    const inScope =
      this.settings.scope === 'cluster' && map !== null
        ? targets.filter((target) => target.shard != null)
        : targets;
    const wanted = new Map(this.routed(inScope).map((target) => [target.id, target.url]));
    for (const [id, run] of this.runs) {
      if (wanted.get(id) !== run.url) {
        run.handle.stop();
        this.runs.delete(id);
      }
    }
    for (const [id, url] of wanted) {
      if (this.runs.has(id)) continue;
      const share = {
        ...shareOf(this.settings, wanted.size, url),
        sessions: sessionsOf(this.ledger.tag, id, ++this.runCount),
      };
      const handle = this.startRun(
        share,
        this.second,
        (keyId) => this.owns(id, keyId),
        this.ledger,
      );
      this.runs.set(id, { url, handle });
    }
    this.resplit();
  }

  /** The status of the second since the last tick; stops the load once its duration is over. */
  tick(): LoadStatus {
    const t = performance.now();
    const seconds = Math.max(0.001, (t - this.lastTickMs) / 1000);
    this.lastTickMs = t;
    const figures = secondFigures(this.second, seconds);
    this.totalRequests += this.second.requests;
    this.totalErrors += this.second.errorCount;
    const retries = this.second.retries;
    this.totalRetries += retries;
    let topError: string | null = null;
    for (const [kind, count] of this.second.errors) {
      if (topError === null || count > (this.second.errors.get(topError) ?? 0)) topError = kind;
    }
    this.second.reset();
    const elapsedSeconds = (t - this.startedMs) / 1000;
    const { durationSeconds } = this.settings;
    if (durationSeconds !== null && elapsedSeconds >= durationSeconds) this.stop();
    this.last = {
      running: !this.stopped,
      settings: this.settings,
      targets: [...this.runs.keys()],
      elapsedSeconds,
      ...figures,
      topError,
      totalRequests: this.totalRequests,
      totalErrors: this.totalErrors,
      retries,
      totalRetries: this.totalRetries,
      ...this.verification(),
    };
    return this.last;
  }

  /** The figures of the last tick, with the settings and targets in force now. */
  status(): LoadStatus {
    return {
      ...this.last,
      ...this.verification(),
      running: !this.stopped,
      settings: this.settings,
      targets: [...this.runs.keys()],
    };
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.verifier);
    for (const run of this.runs.values()) run.handle.stop();
  }

  private verification() {
    return { verified: this.verified, lostWrites: this.lostWrites, missing: this.missing };
  }

  /**
   * Reads one acknowledged key back and classifies it; one read at a time. Its answer also
   * names the key's shard's leader (noteLeader). With nothing acknowledged yet (a read-only
   * load, say) it reads any key of the load, for that name alone.
   */
  private async verifyOne(): Promise<void> {
    const keys = this.ledger.keys;
    if (this.verifying || this.stopped) return;
    if (keys.length === 0 && !(this.settings.routing === 'smart' && this.replicated)) return;
    const keyId = keys.length > 0 ? keys[randomInt(keys.length)]! : randomInt(this.settings.keys);
    const expected = keys.length > 0 ? this.ledger.expectation(keyId) : undefined;
    const key = keyName(keyId);
    const shard = this.ring?.owner(key) ?? null;
    const nodes = this.offered.filter((t) => shard === null || t.shard === shard);
    if ((keys.length > 0 && expected === undefined) || nodes.length === 0) return;
    const node = nodes[this.verifyCursor % nodes.length]!;
    this.verifying = true;
    try {
      const res = await fetch(`${node.url}/v1/keys/${encodeURIComponent(key)}`, {
        signal: AbortSignal.timeout(LIVE_TIMEOUT_MS),
      });
      const body = new Uint8Array(await res.arrayBuffer());
      if (this.stopped) return;
      this.noteLeader(shard, res.headers.get('x-tinycache-leader'));
      if (expected === undefined) return;
      if (res.status === 200 || res.status === 404) {
        const verdict = this.ledger.classify(expected, res.status === 200 ? body : null);
        this.verified++;
        if (verdict === 'lost') this.lostWrites++;
        else if (verdict === 'missing') this.missing++;
      } else {
        this.verifyCursor++;
      }
    } catch {
      this.verifyCursor++;
    } finally {
      this.verifying = false;
    }
  }

  /**
   * The targets that get a run. Smart routing in a cluster with replicated shards (a shard
   * of several nodes): one per shard, its leader as last named, else its first node (which
   * forwards to the leader until an answer names it). Otherwise every target.
   */
  /** Some shard of the map has several nodes: a Raft group with a leader. */
  private get replicated(): boolean {
    return this.map?.shards.some((s) => s.nodes.length > 1) ?? false;
  }

  private routed(targets: readonly LoadTarget[]): readonly LoadTarget[] {
    if (this.settings.routing !== 'smart' || !this.replicated) return targets;
    const byShard = new Map<string, LoadTarget>();
    for (const target of targets) {
      const shard = target.shard;
      if (shard == null) continue;
      const leads = this.leaders.get(shard) === target.id;
      if (!byShard.has(shard) || leads) byShard.set(shard, target);
    }
    return [...byShard.values()];
  }

  /** An answer named `leader` as `shard`'s: smart routing moves the shard's run to it. */
  private noteLeader(shard: string | null, leader: string | null): void {
    if (shard === null || leader === null || this.leaders.get(shard) === leader) return;
    this.leaders.set(shard, leader);
    if (this.settings.routing === 'smart' && !this.stopped) {
      this.setTargets(this.offered, this.map);
    }
  }

  /** Whether target `id` should get key `keyId`: always, unless routing is smart in a cluster. */
  private owns(id: string, keyId: number): boolean {
    if (this.settings.routing !== 'smart' || this.ring === null) return true;
    const shard = this.shards.get(id);
    return shard === undefined || this.ring.owner(keyName(keyId)) === shard;
  }

  private resplit(): void {
    for (const run of this.runs.values()) {
      const share = shareOf(this.settings, this.runs.size, run.url);
      run.handle.update({
        mode: share.mode,
        connections: share.connections,
        rate: share.rate,
        readRatio: share.readRatio,
        keys: share.keys,
        distribution: share.distribution,
        zipfS: share.zipfS,
        valueBytes: share.valueBytes,
        compressible: share.compressible,
      });
    }
  }
}
