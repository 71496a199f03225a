/**
 * The load worker: runs a LiveLoad off the main thread, so the control plane and the
 * dashboard stay responsive while it drives tens of thousands of requests a second. Talks
 * to LoadManager (manager.ts) in the messages below.
 */
import { parentPort } from 'node:worker_threads';
import type { ClusterMap } from '../../core/cluster/index.ts';
import { startLoad } from './load.ts';
import { LiveLoad } from './live.ts';
import { IDLE_STATUS, type LoadSettings, type LoadStatus, type LoadTarget } from './settings.ts';

/** A request; `id` is echoed in the answer (`replyTo`), so answers meet their requests. */
export type ToWorker = { readonly id: number } & (
  | {
      readonly type: 'start';
      readonly settings: LoadSettings;
      readonly targets: LoadTarget[];
      readonly map: ClusterMap | null;
    }
  | { readonly type: 'update'; readonly patch: Partial<LoadSettings> }
  | { readonly type: 'targets'; readonly targets: LoadTarget[]; readonly map: ClusterMap | null }
  | { readonly type: 'stop' }
);

/** `replyTo` is null on the status sent each second. */
export type FromWorker = { readonly replyTo: number | null } & (
  | { readonly type: 'status'; readonly status: LoadStatus }
  | { readonly type: 'error'; readonly message: string }
);

const port = parentPort;
if (port === null) throw new Error('worker.ts runs as a worker thread (see manager.ts).');

let load: LiveLoad | null = null;
let ticker: NodeJS.Timeout | null = null;

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function stop(): void {
  load?.stop();
  if (ticker !== null) clearInterval(ticker);
  ticker = null;
}

function reply(id: number): void {
  send({ type: 'status', replyTo: id, status: load?.status() ?? IDLE_STATUS });
}

port.on('message', (message: ToWorker) => {
  try {
    switch (message.type) {
      case 'start':
        stop();
        load = new LiveLoad(
          message.settings,
          message.targets,
          (options, sink, owns, ledger) => startLoad(options, { sink, owns, ledger }),
          message.map,
        );
        ticker = setInterval(() => {
          if (load === null) return;
          send({ type: 'status', replyTo: null, status: load.tick() });
          if (!load.running) stop();
        }, 1000);
        break;
      case 'update':
        load?.update(message.patch);
        break;
      case 'targets':
        load?.setTargets(message.targets, message.map);
        break;
      case 'stop':
        stop();
        break;
    }
    reply(message.id);
  } catch (error) {
    send({ type: 'error', replyTo: message.id, message: (error as Error).message });
  }
});
