/**
 * The main thread's side of live load: checks settings before they leave (so a bad one is
 * refused at once, naming the field), runs the load in a worker thread (worker.ts) and keeps
 * its latest status.
 */
import { Worker } from 'node:worker_threads';
import type { ClusterMap } from '../../core/cluster/index.ts';
import { shareOf } from './live.ts';
import {
  DEFAULT_LOAD_SETTINGS,
  IDLE_STATUS,
  type LoadSettings,
  type LoadStatus,
  type LoadTarget,
} from './settings.ts';
import type { FromWorker, ToWorker } from './worker.ts';

type Request = ToWorker extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never;

const WORKER_URL = new URL('./worker.ts', import.meta.url).href;
/** tsx's programmatic loader: a worker thread does not inherit the main thread's. */
const TSX_API = import.meta.resolve('tsx/esm/api');

/** A refused load request (bad settings, or an update with no load running). */
export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}

export class LoadManager {
  private worker: Worker | null = null;
  private last: LoadStatus = IDLE_STATUS;
  private readonly pending = new Map<
    number,
    { resolve: (status: LoadStatus) => void; reject: (error: Error) => void }
  >();
  private nextId = 1;

  /** `map`: the cluster's map (Level 5), which smart routing follows; null without one. */
  constructor(
    private readonly targets: () => LoadTarget[],
    private readonly map: () => ClusterMap | null = () => null,
  ) {}

  status(): LoadStatus {
    return this.last;
  }

  /** Starts (or restarts) the load against every target; resolves with its first status. */
  start(patch: Partial<LoadSettings>): Promise<LoadStatus> {
    const settings = check({ ...DEFAULT_LOAD_SETTINGS, ...patch });
    return this.ask({ type: 'start', settings, targets: this.targets(), map: this.map() });
  }

  update(patch: Partial<LoadSettings>): Promise<LoadStatus> {
    if (!this.last.running || this.last.settings === null) {
      throw new LoadError('No load is running; start one first.');
    }
    check({ ...this.last.settings, ...patch });
    return this.ask({ type: 'update', patch });
  }

  /** Stops the load; resolves with its final status. */
  async stop(): Promise<LoadStatus> {
    if (this.worker === null || !this.last.running) return this.last;
    return this.ask({ type: 'stop' });
  }

  /** Tells a running load that the nodes changed (started, moved to another port, removed). */
  retarget(): void {
    if (this.last.running) {
      this.post({ type: 'targets', targets: this.targets(), map: this.map() });
    }
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) await worker.terminate();
    this.last = { ...this.last, running: false };
  }

  private ask(message: Request): Promise<LoadStatus> {
    return new Promise((resolve, reject) => {
      const id = this.post(message);
      this.pending.set(id, { resolve, reject });
    });
  }

  private post(message: Request): number {
    const id = this.nextId++;
    this.ensureWorker().postMessage({ ...message, id } as ToWorker);
    return id;
  }

  private ensureWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const source =
      `import(${JSON.stringify(TSX_API)})` +
      `.then(({ tsImport }) => tsImport(${JSON.stringify(WORKER_URL)}, ${JSON.stringify(WORKER_URL)}))`;
    const worker = new Worker(source, { eval: true });
    worker.on('message', (message: FromWorker) => {
      const waiter = message.replyTo === null ? undefined : this.pending.get(message.replyTo);
      if (message.replyTo !== null) this.pending.delete(message.replyTo);
      if (message.type === 'status') {
        this.last = message.status;
        waiter?.resolve(message.status);
      } else {
        waiter?.reject(new LoadError(message.message));
      }
    });
    worker.on('error', (error) => {
      this.last = { ...this.last, running: false, topError: error.message };
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
      this.worker = null;
    });
    // A worker that idles keeps the process alive no longer than the control plane does.
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

function check(settings: LoadSettings): LoadSettings {
  try {
    shareOf(settings, 1, 'http://127.0.0.1:1');
  } catch (error) {
    throw new LoadError((error as Error).message);
  }
  return settings;
}
