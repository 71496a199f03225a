'use client';
/**
 * The walkthroughs' memory: per level, the journal of what the cluster answered, which step is
 * on screen and when each step was first seen done. Kept in a store outside the page, so
 * moving between levels keeps each one's progress until the tab is closed.
 *
 * Actions run one at a time per level, in the order they were pressed: a reader (or a test)
 * pressing "store" then "delete" gets exactly that order on the node.
 */
import { create } from 'zustand';
import type { NodeConfig } from '../../core/config.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import type { LoadSettings, LoadStatus } from '../../server/load/settings.ts';
import { type LiveState, useLive } from '../live-store.ts';
import { errorMessage, trpc } from '../trpc.ts';
import type { ActionContext, CheckView, LoadTag, Observation, RestRequest } from './model.ts';

/** Observations kept per level; polls add one a second, so old ones must go. */
const JOURNAL_LIMIT = 600;

export interface LevelProgress {
  readonly journal: readonly Observation[];
  /** The step on screen, 1-based. */
  readonly current: number;
  /** Step number → when its check first passed. */
  readonly doneAt: Readonly<Record<number, number>>;
  /** The action running now (`step:label`), and those pressed after it. */
  readonly running: string | null;
  readonly queued: readonly string[];
}

export interface JournalState {
  /** A short id of this visit, made in the browser (null while the page hydrates). */
  readonly session: string | null;
  readonly openedAt: number;
  readonly levels: Readonly<Record<number, LevelProgress>>;
}

const EMPTY: LevelProgress = { journal: [], current: 1, doneAt: {}, running: null, queued: [] };

export const useJournal = create<JournalState>()(() => ({
  session: null,
  openedAt: 0,
  levels: {},
}));

export function progressOf(state: JournalState, level: number): LevelProgress {
  return state.levels[level] ?? EMPTY;
}

function update(level: number, change: (progress: LevelProgress) => Partial<LevelProgress>): void {
  useJournal.setState((state) => {
    const progress = progressOf(state, level);
    return { levels: { ...state.levels, [level]: { ...progress, ...change(progress) } } };
  });
}

/** Called once the page is in the browser: names this visit. */
export function startSession(): void {
  if (useJournal.getState().session !== null) return;
  const id = String(Math.floor(1000 + Math.random() * 9000));
  useJournal.setState({ session: id, openedAt: Date.now() });
}

export function record(level: number, observation: Observation): void {
  update(level, ({ journal }) => ({
    journal:
      journal.length >= JOURNAL_LIMIT
        ? [...journal.slice(1 - JOURNAL_LIMIT), observation]
        : [...journal, observation],
  }));
}

export function setCurrent(level: number, step: number): void {
  update(level, () => ({ current: step }));
}

export function markDone(level: number, step: number, at: number): void {
  update(level, ({ doneAt }) =>
    doneAt[step] === undefined ? { doneAt: { ...doneAt, [step]: at } } : {},
  );
}

/** The live state and a level's journal, as checks see them. */
export function viewOf(
  live: Pick<LiveState, 'samples' | 'nodes' | 'cluster'>,
  journal: JournalState,
  level: number,
  now: number,
): CheckView {
  return {
    now,
    openedAt: journal.openedAt,
    samples: live.samples,
    nodes: live.nodes,
    cluster: live.cluster,
    journal: progressOf(journal, level).journal,
    session: journal.session ?? '0000',
  };
}

/** As `viewOf`, for code outside React (actions, polls): the stores as they are now. */
export function checkView(level: number): CheckView {
  return viewOf(useLive.getState(), useJournal.getState(), level, Date.now());
}

// ---------------------------------------------------------------------------------------------
// Running actions

const chains = new Map<number, Promise<void>>();

export function actionId(step: number, label: string): string {
  return `${step}:${label}`;
}

/**
 * Runs `run` after every action pressed before it on this level. A failure is recorded as an
 * error observation (the message says what to do) and does not stop the ones queued after it.
 */
export function enqueue(
  level: number,
  step: number,
  label: string,
  run: (ctx: ActionContext) => Promise<void>,
): Promise<void> {
  const id = actionId(step, label);
  update(level, ({ queued }) => ({ queued: [...queued, id] }));
  const previous = chains.get(level) ?? Promise.resolve();
  const next = previous.then(async () => {
    update(level, ({ queued }) => ({ running: id, queued: queued.filter((q) => q !== id) }));
    await attempt(level, step, false, label, run);
    update(level, () => ({ running: null }));
  });
  chains.set(level, next);
  return next;
}

/** Runs a step's poll outside the queue (it only reads). */
export function runPoll(
  level: number,
  step: number,
  run: (ctx: ActionContext) => Promise<void>,
): Promise<void> {
  return attempt(level, step, true, 'check', run);
}

/** Runs `run`, recording a failure in the journal instead of throwing. */
async function attempt(
  level: number,
  step: number,
  auto: boolean,
  label: string,
  run: (ctx: ActionContext) => Promise<void>,
): Promise<void> {
  try {
    await run(actionContext(level, step, auto));
  } catch (error) {
    record(level, {
      kind: 'error',
      at: Date.now(),
      step,
      auto,
      action: label,
      message: errorMessage(error),
    });
  }
}

async function upNodes(): Promise<NodeInfo[]> {
  let nodes = useLive.getState().nodes;
  // Before the live stream's first event, ask the control plane directly.
  if (nodes.length === 0) nodes = (await trpc.cluster.state.query()).nodes;
  const up = nodes.filter((node) => node.status === 'up');
  if (up.length === 0) {
    throw new Error('No node is up. Start or restart one on the dashboard, then try again.');
  }
  return up;
}

function actionContext(level: number, step: number, auto: boolean): ActionContext {
  const base = { step, auto };
  const raft = { ...base, kind: 'raft' as const, term: null, added: null };
  const loadSeen = (status: LoadStatus, tag?: LoadTag) => {
    record(level, { ...base, kind: 'load', at: Date.now(), status, tag: tag ?? null });
    return status;
  };
  return {
    step,
    session: checkView(level).session,
    upNodes,
    async node(index = 0) {
      const up = await upNodes();
      const node = up[index];
      if (node === undefined) {
        throw new Error(`This needs ${index + 1} nodes up; ${up.length} is. Start one first.`);
      }
      return node;
    },
    async rest(request: RestRequest) {
      const sentAt = Date.now();
      const exchange = await trpc.rest.send.mutate({
        id: request.nodeId,
        method: request.method,
        key: request.key,
        value: request.value,
        contentType: request.contentType,
        ttlSeconds: request.ttlSeconds,
        consistency: request.consistency,
      });
      record(level, { ...base, kind: 'rest', at: Date.now(), sentAt, request, exchange });
      return exchange;
    },
    async setConfig(patch: Partial<NodeConfig>, nodeId?: string) {
      const answers = await trpc.config.set.mutate({ id: nodeId, patch });
      for (const answer of answers) {
        record(level, {
          ...base,
          kind: 'config',
          at: Date.now(),
          nodeId: answer.id,
          config: answer.config,
          patch,
        });
      }
    },
    async readConfig(nodeId: string) {
      const config = await trpc.config.get.query({ id: nodeId });
      record(level, { ...base, kind: 'config', at: Date.now(), nodeId, config, patch: null });
      return config;
    },
    async startLoad(settings: Partial<LoadSettings>) {
      return loadSeen(await trpc.load.start.mutate(settings));
    },
    async updateLoad(patch: Partial<LoadSettings>, tag?: LoadTag) {
      return loadSeen(await trpc.load.update.mutate(patch), tag);
    },
    async stopLoad() {
      return loadSeen(await trpc.load.stop.mutate());
    },
    async startNode(config?: Partial<NodeConfig>, storage?: { writeMode: 'through' | 'behind' }) {
      const node = await trpc.node.start.mutate({ config, storage });
      useLive.getState().upsertNode(node);
      record(level, { ...base, kind: 'node-started', at: Date.now(), node });
      return node;
    },
    async restartNode(id: string) {
      const node = await trpc.node.restart.mutate({ id });
      useLive.getState().upsertNode(node);
      record(level, { ...base, kind: 'node-started', at: Date.now(), node });
      return node;
    },
    async setDatabase(running: boolean) {
      const status = running ? await trpc.db.start.mutate() : await trpc.db.stop.mutate();
      record(level, { ...base, kind: 'db', at: Date.now(), running: status.running });
    },
    async addShard() {
      const { shard } = await trpc.cluster.addShard.mutate({});
      record(level, { ...base, kind: 'shard', at: Date.now(), change: 'added', shard });
      return shard;
    },
    async removeShard(shard: string) {
      await trpc.cluster.removeShard.mutate({ shard });
      record(level, { ...base, kind: 'shard', at: Date.now(), change: 'removed', shard });
    },
    async moveOver(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const state = await trpc.cluster.state.query();
        if (state.resharding === null) return;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      throw new Error('Keys are still moving; the dashboard shows how far they are.');
    },
    async formReplicated(shards: number, replicas: number) {
      if ((await trpc.cluster.state.query()).epoch > 0) await trpc.cluster.dissolve.mutate({});
      const state = await trpc.cluster.formReplicated.mutate({ shards, replicas });
      for (const node of state.nodes) useLive.getState().upsertNode(node);
      record(level, { ...raft, action: 'formed', at: Date.now(), shard: null, node: null });
      return state;
    },
    async killLeader(shard: string) {
      const killed = await trpc.cluster.killLeader.mutate({ shard });
      record(level, {
        ...raft,
        action: 'killed-leader',
        at: Date.now(),
        shard,
        node: killed.killed,
        term: killed.term,
      });
      return killed;
    },
    async signalNode(id: string, how: 'kill' | 'pause' | 'resume') {
      const node =
        how === 'kill'
          ? await trpc.node.kill.mutate({ id })
          : how === 'pause'
            ? await trpc.node.pause.mutate({ id })
            : await trpc.node.resume.mutate({ id });
      useLive.getState().upsertNode(node);
      const action = how === 'kill' ? 'killed' : how === 'pause' ? 'paused' : 'resumed';
      record(level, {
        ...raft,
        action,
        at: Date.now(),
        shard: node.shard,
        node: id,
        term: node.term ?? null,
      });
      return node;
    },
    async replaceReplica(id: string) {
      const { added } = await trpc.cluster.replaceReplica.mutate({ id });
      useLive.getState().upsertNode(added);
      record(level, {
        ...raft,
        action: 'replaced',
        at: Date.now(),
        shard: added.shard,
        node: id,
        added: added.id,
      });
      return added;
    },
    answer(correct: boolean, explain: string) {
      record(level, { ...base, kind: 'answer', at: Date.now(), correct, explain });
    },
    view: () => checkView(level),
    sleep: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}
