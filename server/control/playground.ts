/**
 * The playground: one supervisor, the monitor that samples its nodes and the live load that
 * drives them, with one lifetime. The control plane's routers (server/trpc) act on this object
 * and nothing else.
 */
import { type EmbeddedDatabase, startEmbeddedDatabase } from '../db/embedded.ts';
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

export interface DatabaseStatus {
  readonly running: boolean;
  /** Null until it first starts. */
  readonly port: number | null;
  readonly dataDir: string;
}

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
  private database: EmbeddedDatabase | null = null;
  private databaseStarting: Promise<EmbeddedDatabase> | null = null;

  /** `dataDir`: where the embedded PostgreSQL keeps its files (Level 3). */
  constructor(private readonly dataDir: string) {
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

  /** The embedded PostgreSQL: running or not, and where. */
  databaseStatus(): DatabaseStatus {
    const db = this.database;
    return { running: db?.running ?? false, port: db?.port ?? null, dataDir: this.dataDir };
  }

  /** Starts the embedded PostgreSQL (its files kept under dataDir); its URL once it runs. */
  async startDatabase(): Promise<string> {
    if (this.closing !== null) throw new Error('The playground is closing.');
    if (this.database !== null) {
      await this.database.start();
      return this.database.url;
    }
    this.databaseStarting ??= startEmbeddedDatabase({
      dir: `${this.dataDir}/postgres`,
      persistent: true,
    }).finally(() => (this.databaseStarting = null));
    this.database = await this.databaseStarting;
    return this.database.url;
  }

  /** Stops the embedded PostgreSQL; its data stays for the next start. */
  async stopDatabase(): Promise<void> {
    await this.database?.stop();
  }

  /** Stops the load, the sampling, every node and the database; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.monitor.stop();
      await this.load.close();
      await this.supervisor.close();
      await this.database?.stop();
    })();
    return this.closing;
  }
}
