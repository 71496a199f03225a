/**
 * The playground: one supervisor, the monitor that samples its nodes and the live load that
 * drives them, with one lifetime. The control plane's routers (server/trpc) act on this object
 * and nothing else.
 */
import { type EmbeddedDatabase, startEmbeddedDatabase } from '../db/embedded.ts';
import { LoadManager } from '../load/manager.ts';
import { ClusterManager, type ClusterState } from './cluster.ts';
import { type LiveSample, Monitor } from './monitor.ts';
import { type NodeInfo, Supervisor } from './supervisor.ts';

/** Something the dashboard shows as it happens: a node changed, or a new sample. */
export type LiveEvent =
  | {
      readonly kind: 'history';
      readonly samples: readonly LiveSample[];
      readonly nodes: NodeInfo[];
      readonly database: DatabaseStatus;
      readonly cluster: ClusterState;
    }
  | { readonly kind: 'sample'; readonly sample: LiveSample }
  | { readonly kind: 'node'; readonly node: NodeInfo }
  | { readonly kind: 'node-removed'; readonly id: string }
  | { readonly kind: 'database'; readonly database: DatabaseStatus }
  | { readonly kind: 'cluster'; readonly cluster: ClusterState };

export type DatabaseState = 'stopped' | 'starting' | 'running' | 'stopping';

/** The embedded PostgreSQL (Level 3). */
export interface DatabaseStatus {
  readonly state: DatabaseState;
  readonly running: boolean;
  /** Null until it first starts. */
  readonly port: number | null;
  /** The postmaster's pid while it runs. */
  readonly pid: number | null;
  readonly dataDir: string;
  /** Why the last start or stop failed; null once one succeeds. */
  readonly error: string | null;
}

export class Playground {
  /** Replicas (Level 6) keep their Raft logs in `<dataDir>/nodes/<id>`, beside PostgreSQL's. */
  readonly supervisor: Supervisor;
  readonly cluster: ClusterManager;
  /**
   * Live load goes to every node that has an address, except one stopped on purpose (it
   * exited cleanly, as behind a load balancer that takes a drained server out). A killed or
   * crashed node keeps its share, which fails: that is what a crash looks like to clients.
   */
  readonly load = new LoadManager(
    () =>
      this.supervisor
        .list()
        // A node stopped on purpose leaves the load; so does a dead replica, whose shard's
        // other replicas answer for it (a client retries there). A dead lone node stays: its
        // keys are really unavailable, and the charts should say so.
        .filter(
          (node) =>
            node.url !== '' &&
            !(node.status === 'down' && (node.exitCode === 0 || node.dataDir != null)),
        )
        .map((node) => ({ id: node.id, url: node.url, shard: node.shard })),
    () => this.cluster.state().map,
  );
  readonly monitor: Monitor;
  private closing: Promise<void> | null = null;
  private database: EmbeddedDatabase | null = null;
  /** Set while a start or stop is under way. */
  private databaseMoving: 'starting' | 'stopping' | null = null;
  private databaseError: string | null = null;
  private databaseQueue: Promise<unknown> = Promise.resolve();
  private readonly databaseListeners = new Set<(status: DatabaseStatus) => void>();

  /** `dataDir`: where the embedded PostgreSQL keeps its files (Level 3). */
  constructor(private readonly dataDir: string) {
    this.supervisor = new Supervisor({ dataRoot: dataDir });
    this.cluster = new ClusterManager(this.supervisor);
    this.monitor = new Monitor(this.supervisor, () => {
      const status = this.load.status();
      return status.running ? status : null;
    });
    // A node that starts or comes back on another port joins a running load; one stopped on
    // purpose leaves it.
    this.supervisor.subscribe((node) => {
      if (node.status === 'up' || node.status === 'down') this.load.retarget();
    });
    // A retired node (a shard removed) gets no more load; a new cluster map reaches smart
    // routing at once (the map changes rarely; progress ticks keep the same epoch).
    this.supervisor.subscribeRemoved(() => this.load.retarget());
    let epoch = 0;
    this.cluster.subscribe((state) => {
      if (state.epoch === epoch) return;
      epoch = state.epoch;
      this.load.retarget();
    });
    this.monitor.start();
  }

  /** Calls `listener` with the history so far, then with every change; returns the unsubscribe. */
  subscribe(listener: (event: LiveEvent) => void): () => void {
    listener({
      kind: 'history',
      samples: this.monitor.samples(),
      nodes: this.supervisor.list(),
      database: this.databaseStatus(),
      cluster: this.cluster.state(),
    });
    const offSample = this.monitor.subscribe((sample) => listener({ kind: 'sample', sample }));
    const offNode = this.supervisor.subscribe((node) => listener({ kind: 'node', node }));
    const offRemoved = this.supervisor.subscribeRemoved((id) =>
      listener({ kind: 'node-removed', id }),
    );
    const onDatabase = (database: DatabaseStatus) => listener({ kind: 'database', database });
    this.databaseListeners.add(onDatabase);
    const offCluster = this.cluster.subscribe((cluster) => listener({ kind: 'cluster', cluster }));
    return () => {
      offSample();
      offNode();
      offRemoved();
      offCluster();
      this.databaseListeners.delete(onDatabase);
    };
  }

  /** The embedded PostgreSQL: running or not, and where. */
  databaseStatus(): DatabaseStatus {
    const db = this.database;
    const running = db?.running ?? false;
    return {
      state: this.databaseMoving ?? (running ? 'running' : 'stopped'),
      running,
      port: db?.port ?? null,
      pid: db?.pid ?? null,
      dataDir: this.dataDir,
      error: this.databaseError,
    };
  }

  /** Starts the embedded PostgreSQL (its files kept under dataDir); its URL once it runs. */
  startDatabase(): Promise<string> {
    if (this.closing !== null) return Promise.reject(new Error('The playground is closing.'));
    if (this.database?.running === true && this.databaseMoving === null) {
      return Promise.resolve(this.database.url);
    }
    return this.moveDatabase('starting', async () => {
      if (this.database !== null) {
        await this.database.start();
        return this.database.url;
      }
      this.database = await startEmbeddedDatabase({
        dir: `${this.dataDir}/postgres`,
        persistent: true,
      });
      return this.database.url;
    });
  }

  /** Stops the embedded PostgreSQL; its data stays for the next start. */
  async stopDatabase(): Promise<void> {
    await this.moveDatabase('stopping', async () => {
      await this.database?.stop();
    });
  }

  /**
   * Runs a start or stop after any under way (a stop clicked during a start waits for it),
   * telling every listener as it begins and as it ends.
   */
  private moveDatabase<T>(how: 'starting' | 'stopping', run: () => Promise<T>): Promise<T> {
    const move = this.databaseQueue.then(() => this.runDatabaseMove(how, run));
    this.databaseQueue = move.catch(() => undefined);
    return move;
  }

  private async runDatabaseMove<T>(
    how: 'starting' | 'stopping',
    run: () => Promise<T>,
  ): Promise<T> {
    this.databaseMoving = how;
    this.emitDatabase();
    try {
      const result = await run();
      this.databaseError = null;
      return result;
    } catch (error) {
      this.databaseError = error instanceof Error ? error.message : String(error);
      throw error;
    } finally {
      this.databaseMoving = null;
      this.emitDatabase();
    }
  }

  private emitDatabase(): void {
    const status = this.databaseStatus();
    for (const listener of this.databaseListeners) listener(status);
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
