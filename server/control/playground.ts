/**
 * The playground: one supervisor, the monitor that samples its nodes and the live load that
 * drives them, with one lifetime. The control plane's routers (server/trpc) act on this object
 * and nothing else.
 */
import { LoadManager } from '../load/manager.ts';
import { type LiveSample, Monitor } from './monitor.ts';
import { type NodeInfo, Supervisor } from './supervisor.ts';

/** Something the dashboard shows as it happens: a node changed, or a new sample. */
export type LiveEvent =
  | {
      readonly kind: 'history';
      readonly samples: readonly LiveSample[];
      readonly nodes: NodeInfo[];
    }
  | { readonly kind: 'sample'; readonly sample: LiveSample }
  | { readonly kind: 'node'; readonly node: NodeInfo };

export class Playground {
  readonly supervisor = new Supervisor();
  readonly load = new LoadManager(() =>
    this.supervisor
      .list()
      .filter((node) => node.url !== '')
      .map((node) => ({ id: node.id, url: node.url })),
  );
  readonly monitor = new Monitor(this.supervisor, () => {
    const status = this.load.status();
    return status.running ? status : null;
  });
  private closing: Promise<void> | null = null;

  constructor() {
    // A node that starts or comes back on another port joins a running load.
    this.supervisor.subscribe((node) => {
      if (node.status === 'up') this.load.retarget();
    });
    this.monitor.start();
  }

  /** Calls `listener` with the history so far, then with every change; returns the unsubscribe. */
  subscribe(listener: (event: LiveEvent) => void): () => void {
    listener({
      kind: 'history',
      samples: this.monitor.samples(),
      nodes: this.supervisor.list(),
    });
    const offSample = this.monitor.subscribe((sample) => listener({ kind: 'sample', sample }));
    const offNode = this.supervisor.subscribe((node) => listener({ kind: 'node', node }));
    return () => {
      offSample();
      offNode();
    };
  }

  /** Stops the load, the sampling and every node; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.monitor.stop();
      await this.load.close();
      await this.supervisor.close();
    })();
    return this.closing;
  }
}
