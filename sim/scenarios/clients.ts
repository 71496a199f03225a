/**
 * What the scenarios share about their clients: starting one open-loop cache-aside client per
 * name, checking at the end that every request issued has ended, and checking the load's
 * options (each scenario checks the rest of its own).
 */
import type { KeyDistribution } from '../../core/workload/samplers.ts';
import type { DelayDistribution } from '../distributions.ts';
import type { Network } from '../network/network.ts';
import { usFromMs } from '../time.ts';
import {
  CacheAsideClient,
  type CacheAsideWorld,
  type KeyMessage,
} from '../workload/cache-aside.ts';
import { OpenLoop } from '../workload/open-loop.ts';
import type { Recorder, WorkloadSummary } from '../workload/recorder.ts';

/** The load's options, as both scenarios name them. */
export interface ClientLoad {
  readonly seed: number;
  readonly clients: number;
  /** Arrivals per virtual second, over all clients. */
  readonly ratePerSecond: number;
  /** Clients issue requests for this long. */
  readonly durationMs: number;
  readonly timeoutMs: number;
  readonly keys: number;
  readonly distribution: KeyDistribution;
  readonly readRatio: number;
  readonly deleteRatio: number;
  readonly loadTime: DelayDistribution;
}

/** Starts a client at each of `names`, issuing from virtual time 0 to `durationMs`. */
export function startClients<M extends { readonly kind: string }>(
  world: CacheAsideWorld,
  network: Network<M | KeyMessage>,
  names: readonly string[],
  o: ClientLoad,
): OpenLoop[] {
  return names.map((name) => {
    const client = new CacheAsideClient(world, network, name, o);
    const loop = new OpenLoop(
      world.scheduler,
      o.seed,
      `workload/${name}`,
      {
        ratePerSecond: o.ratePerSecond / names.length,
        keys: o.keys,
        distribution: o.distribution,
        readRatio: o.readRatio,
        startUs: 0,
        stopUs: usFromMs(o.durationMs),
      },
      (keyId, read) => client.issue(keyId, read),
    );
    loop.start();
    return loop;
  });
}

/**
 * Events a run may take before it counts as scheduling without end: every request ends by its
 * timeout, so the queue empties (about 8 events make a request; duplicates add a few).
 */
export function maxEventsFor(o: ClientLoad, extra = 0): number {
  return Math.ceil(((o.ratePerSecond * o.durationMs) / 1000) * 64) + 1_000_000 + extra;
}

/** The workload's summary once the run drained; throws when a request never ended. */
export function finishClients(
  loops: readonly OpenLoop[],
  recorder: Recorder,
  endUs: number,
  o: ClientLoad,
): WorkloadSummary {
  const issued = loops.reduce((sum, loop) => sum + loop.issued, 0);
  const workload = recorder.finish(Math.max(endUs, usFromMs(o.durationMs)));
  if (workload.requests !== issued) {
    throw new Error(`${issued} requests were issued but ${workload.requests} ended.`);
  }
  return workload;
}

/** Throws a RangeError naming `name` unless `value` is a whole number in [min, max]. */
export function checkWhole(name: string, value: number, min: number, max: number): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`${name} must be a whole number from ${min} to ${max} (got ${value}).`);
  }
}

/** Checks the load's options; a RangeError names the first bad one. */
export function checkLoad(o: ClientLoad): void {
  checkWhole('clients', o.clients, 1, 10_000);
  if (!(o.durationMs > 0 && o.durationMs <= 24 * 3600 * 1000)) {
    throw new RangeError(`durationMs must be above 0 and at most a day (got ${o.durationMs}).`);
  }
  if (!(o.timeoutMs > 0 && o.timeoutMs <= 3600 * 1000)) {
    throw new RangeError(`timeoutMs must be above 0 and at most an hour (got ${o.timeoutMs}).`);
  }
  const expected = (o.ratePerSecond * o.durationMs) / 1000;
  if (!(expected <= 1e9)) {
    throw new RangeError(`ratePerSecond × durationMs asks for ${expected} requests; 1e9 at most.`);
  }
}
