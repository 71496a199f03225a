/**
 * Level 6, replicas and failover: a shard becomes a Raft group of three node processes; a
 * write through a follower reaches the leader; a read is linearizable or stale by choice; the
 * leader is killed under load and another takes over with no acknowledged write lost; the
 * killed node comes back from its data dir; a paused leader shows what a slow node costs; a
 * dead replica is replaced. Every check reads the cluster's own answers, its failover records
 * and the live samples.
 */
import type { Failover } from '../../server/control/cluster.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import type { LoadSettings } from '../../server/load/settings.ts';
import { formatFailoverMs, loadVerification, lostWritesOf } from '../cluster/timeline.ts';
import { formatCount } from '../format.ts';
import { header, isSuccess, keyOf, nodeIn, restSeen, samplesSeen } from './facts.ts';
import type {
  ActionContext,
  CheckView,
  LevelWalkthrough,
  NodeStartedSeen,
  Observation,
  RaftSeen,
  StepCheck,
} from './model.ts';

const SHARD = 's1';

/** Writes and reads over a few thousand keys: every write is a Raft commit. */
const REPLICATED_LOAD: Partial<LoadSettings> = {
  scope: 'cluster',
  mode: 'open',
  rate: 400,
  readRatio: 0.5,
  keys: 2000,
  distribution: 'uniform',
  valueBytes: 64,
  compressible: false,
};

function raftSeen(
  journal: readonly Observation[],
  action: RaftSeen['action'],
  step?: number,
): RaftSeen[] {
  return journal.filter(
    (o): o is RaftSeen =>
      o.kind === 'raft' && o.action === action && (step === undefined || o.step === step),
  );
}

/** The shard's replicas as the control plane lists them now. */
function replicas(view: Pick<CheckView, 'nodes'>, shard = SHARD): readonly NodeInfo[] {
  return view.nodes.filter((n) => n.shard === shard && typeof n.dataDir === 'string');
}

function leaderOf(view: Pick<CheckView, 'nodes'>, shard = SHARD): NodeInfo | null {
  return replicas(view, shard).find((n) => n.status === 'up' && n.role === 'leader') ?? null;
}

/** The failover that followed the loss of `node` at `at` (the control plane's record). */
function failoverAfter(view: CheckView, node: string, at: number): Failover | null {
  return (
    (view.cluster?.failovers ?? []).find((f) => f.oldLeader === node && f.electedAt >= at - 1000) ??
    null
  );
}

/** What the load saw since `after`: lost writes (its verification), failures, retries. */
function loadSince(view: CheckView, after: number) {
  const samples = samplesSeen(view, after).filter((s) => s.load?.running === true);
  const lost = samples.map((s) => lostWritesOf(s.load)).filter((n): n is number => n !== null);
  const last = samples.at(-1)?.load ?? null;
  const counts = loadVerification(last);
  return {
    samples: samples.length,
    lost: lost.length === 0 ? null : Math.max(...lost),
    failed: samples.reduce((sum, s) => sum + (s.load?.errors ?? 0), 0),
    retries: counts?.retries ?? null,
    verified: counts?.verified ?? null,
  };
}

function loadLine(load: ReturnType<typeof loadSince>): string {
  const failed =
    load.failed === 0
      ? 'no request failed'
      : `${formatCount(load.failed)} requests failed (while there was no leader)`;
  return `The load meanwhile: ${failed}; ${load.retries === null ? 'the client retried' : `${formatCount(load.retries)} retries in the run so far`}; acknowledged writes lost: ${load.lost ?? '—'}${load.verified === null ? '' : ` (${formatCount(load.verified)} reads checked against acknowledged writes)`}.`;
}

/**
 * A node that joined or came back has caught up: some sample since `after` shows it applied
 * at least the highest commit index any replica had in the first sample after `after`.
 */
export function caughtUp(view: CheckView, id: string, after: number) {
  const samples = samplesSeen(view, after);
  const first = samples[0];
  const commits =
    first === undefined
      ? []
      : replicas(view)
          .map((n) => nodeIn(first, n.id)?.raftCommit)
          .filter((n): n is number => typeof n === 'number');
  const applied = samples
    .map((s) => nodeIn(s, id)?.raftApplied)
    .filter((n): n is number => typeof n === 'number');
  const target = commits.length === 0 ? null : Math.max(...commits);
  const most = applied.length === 0 ? null : Math.max(...applied);
  return { target, applied: most, ok: target !== null && most !== null && most >= target };
}

export function checkReplicated(view: CheckView): StepCheck {
  const formed = raftSeen(view.journal, 'formed', 1).at(-1);
  const group = replicas(view);
  const leader = leaderOf(view);
  if (formed === undefined || view.cluster?.replicated !== true) {
    return { done: false, detail: 'Not yet: make the replicated shard.' };
  }
  if (group.length < 3 || leader === null) {
    return { done: false, detail: `Shard ${SHARD} is electing its leader…` };
  }
  const followers = group.filter((n) => n.id !== leader.id).map((n) => n.id);
  return {
    done: true,
    detail: `Shard ${SHARD} is a Raft group of ${group.map((n) => n.id).join(', ')}: ${leader.id} leads in term ${leader.term ?? '?'}, and ${followers.join(' and ')} follow.`,
  };
}

export function checkFollowerWrite(view: CheckView): StepCheck {
  const answers = restSeen(view.journal, (o) => o.step === 2 && isSuccess(o.exchange));
  const write = answers.find(
    (o) =>
      o.request.method === 'PUT' &&
      header(o.exchange, 'x-tinycache-forwarded-by') === o.request.nodeId,
  );
  if (write === undefined) {
    return { done: false, detail: 'Not yet: write a key through a follower.' };
  }
  const reads = answers.filter(
    (o) => o.request.method === 'GET' && o.request.key === write.request.key && o.at > write.at,
  );
  const linearizable = reads.find((o) => o.request.consistency !== 'stale');
  const stale = reads.find((o) => o.request.consistency === 'stale');
  if (linearizable === undefined || stale === undefined) {
    return { done: false, detail: 'Not yet: read the key back both ways.' };
  }
  const leader = header(write.exchange, 'x-tinycache-leader');
  const via = (o: typeof write) => header(o.exchange, 'x-tinycache-forwarded-by');
  return {
    done: true,
    detail: `${write.request.nodeId} is a follower: it sent the write on to ${leader ?? 'the leader'}, which answered once a majority had it.`,
    lines: [
      `PUT ${write.request.key} through ${write.request.nodeId}: ${write.exchange.status}, served by ${leader ?? '?'} in term ${header(write.exchange, 'x-tinycache-term') ?? '?'}.`,
      `GET through ${linearizable.request.nodeId} (linearizable): ${via(linearizable) === undefined ? 'answered by the leader itself' : `sent on to ${header(linearizable.exchange, 'x-tinycache-leader') ?? 'the leader'}`}, ${linearizable.exchange.durationMs} ms.`,
      `GET through ${stale.request.nodeId} with ?consistency=stale: answered from its own copy (${via(stale) === undefined ? 'no hop' : 'forwarded'}), ${stale.exchange.durationMs} ms.`,
    ],
  };
}

export function checkKilledLeader(view: CheckView): StepCheck {
  const killed = raftSeen(view.journal, 'killed-leader', 3).at(-1);
  if (killed === undefined || killed.node === null) {
    return { done: false, detail: 'Not yet: start the load and kill the leader.' };
  }
  const failover = failoverAfter(view, killed.node, killed.at);
  if (failover === null) {
    return { done: false, detail: `${killed.node} is dead; its followers are electing…` };
  }
  const load = loadSince(view, killed.at - 1000);
  if (load.samples < 3) {
    return { done: false, detail: 'A new leader; watching the load for a few seconds…' };
  }
  const lines = [
    `${killed.node} (leader in term ${killed.term ?? '?'}) killed; ${failover.newLeader} leads in term ${failover.term} after ${formatFailoverMs(failover.ms)} (±${failover.resolutionMs} ms).`,
    loadLine(load),
  ];
  if (load.lost !== null && load.lost > 0) {
    return { done: false, detail: `${load.lost} acknowledged writes were lost!`, lines };
  }
  if (load.lost === null) {
    return { done: false, detail: 'A new leader; the load has not counted lost writes yet…' };
  }
  return {
    done: true,
    detail: `${failover.newLeader} took over in ${formatFailoverMs(failover.ms)}, and no acknowledged write was lost.`,
    lines,
  };
}

export function checkRestarted(view: CheckView): StepCheck {
  const killed = raftSeen(view.journal, 'killed-leader', 3).at(-1);
  const back = view.journal
    .filter((o): o is NodeStartedSeen => o.kind === 'node-started' && o.step === 4)
    .at(-1);
  if (back === undefined) {
    return { done: false, detail: 'Not yet: restart the killed node.' };
  }
  const node = view.nodes.find((n) => n.id === back.node.id);
  if (node === undefined || node.status !== 'up' || node.role !== 'follower') {
    return { done: false, detail: `${back.node.id} is starting from its data dir…` };
  }
  const progress = caughtUp(view, node.id, back.at);
  if (!progress.ok) {
    return {
      done: false,
      detail: `${node.id} is a follower again, catching up (applied ${progress.applied ?? '—'} of ${progress.target ?? '—'})…`,
    };
  }
  return {
    done: true,
    detail: `${node.id} came back from its data dir with its term and log, and follows in term ${node.term ?? '?'}.`,
    lines: [
      `It applied index ${progress.applied}, at least the ${progress.target} entries the leader had committed when it came back${killed?.term == null ? '' : `; it had led in term ${killed.term}`}.`,
    ],
  };
}

export function checkPaused(view: CheckView): StepCheck {
  const paused = raftSeen(view.journal, 'paused', 5).at(-1);
  if (paused === undefined || paused.node === null) {
    return { done: false, detail: 'Not yet: pause the leader.' };
  }
  const failover = failoverAfter(view, paused.node, paused.at);
  if (failover === null) {
    return {
      done: false,
      detail: `${paused.node} is frozen; its followers wait out their timeout…`,
    };
  }
  const resumed = raftSeen(view.journal, 'resumed', 5).find((o) => o.at > paused.at);
  const node = view.nodes.find((n) => n.id === paused.node);
  if (resumed === undefined || node === undefined || node.status !== 'up') {
    return { done: false, detail: `${failover.newLeader} leads; resume ${paused.node}…` };
  }
  if (node.role !== 'follower' || (node.term ?? 0) < failover.term) {
    return {
      done: false,
      detail: `${node.id} is back; it has not heard of term ${failover.term} yet…`,
    };
  }
  const killed = raftSeen(view.journal, 'killed-leader', 3).at(-1);
  const kill = killed?.node == null ? null : failoverAfter(view, killed.node, killed.at);
  const load = loadSince(view, paused.at - 1000);
  const lines = [
    `${paused.node} paused; ${failover.newLeader} leads in term ${failover.term} after ${formatFailoverMs(failover.ms)}: its followers waited out the election timeout (250–500 ms)${kill === null ? '' : `, where the killed leader's saw its connections close at once (${formatFailoverMs(kill.ms)})`}.`,
    `${node.id}, resumed, found term ${node.term ?? '?'} and follows: a deposed leader acknowledges nothing it could not commit.`,
    loadLine(load),
  ];
  if (load.lost !== null && load.lost > 0) {
    return { done: false, detail: `${load.lost} acknowledged writes were lost!`, lines };
  }
  return {
    done: true,
    detail: `A slow leader costs a whole election timeout; a dead one's crash is seen at once.`,
    lines,
  };
}

export function checkReplaced(view: CheckView): StepCheck {
  const replaced = raftSeen(view.journal, 'replaced', 6).at(-1);
  if (replaced === undefined || replaced.added === null) {
    return { done: false, detail: 'Not yet: replace a replica.' };
  }
  const added = view.nodes.find((n) => n.id === replaced.added);
  if (added === undefined || added.status !== 'up' || added.role !== 'follower') {
    return { done: false, detail: `${replaced.added} is joining ${SHARD}…` };
  }
  const progress = caughtUp(view, added.id, replaced.at);
  if (!progress.ok) {
    return {
      done: false,
      detail: `${added.id} is catching up (applied ${progress.applied ?? '—'} of ${progress.target ?? '—'})…`,
    };
  }
  const killed = raftSeen(view.journal, 'killed', 6).at(-1);
  const load = loadSince(view, (killed?.at ?? replaced.at) - 1000);
  const lines = [
    `${replaced.node} left ${SHARD}'s group; ${added.id} joined with an empty data dir and applied index ${progress.applied} (the leader's commit was ${progress.target}): it came up to date from the leader's snapshot and log.`,
    `${SHARD} is ${replicas(view)
      .map((n) => n.id)
      .join(', ')}.`,
    loadLine(load),
  ];
  if (load.lost !== null && load.lost > 0) {
    return { done: false, detail: `${load.lost} acknowledged writes were lost!`, lines };
  }
  return {
    done: true,
    detail: `${added.id} replaced ${replaced.node}: three replicas again, and nothing lost.`,
    lines,
  };
}

async function writeThroughAFollower(ctx: ActionContext): Promise<void> {
  const view = ctx.view();
  const leader = leaderOf(view);
  const followers = replicas(view).filter((n) => n.status === 'up' && n !== leader);
  const [first, second] = followers;
  if (leader === null || first === undefined || second === undefined) {
    throw new Error(`Shard ${SHARD} needs a leader and two followers up; make it first (step 1).`);
  }
  const key = keyOf(ctx, 'order-1');
  await ctx.rest({
    nodeId: first.id,
    method: 'PUT',
    key,
    value: JSON.stringify({ id: 1, item: 'book', paid: true }),
    contentType: 'application/json',
  });
  await ctx.rest({ nodeId: second.id, method: 'GET', key });
  await ctx.rest({ nodeId: second.id, method: 'GET', key, consistency: 'stale' });
}

/** Until the control plane has recorded the loss of `node`'s leadership (at most 10 s). */
async function failedOver(ctx: ActionContext, node: string, since: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (failoverAfter(ctx.view(), node, since) !== null) return;
    await ctx.sleep(200);
  }
  throw new Error(`No new leader took over from ${node} within 10 s; see the nodes' logs.`);
}

export const LEVEL_6: LevelWalkthrough = {
  n: 6,
  steps: [
    {
      title: 'Make a shard of three replicas',
      explain: (
        <>
          <p>
            The button retires the cluster there is and starts three new nodes, each with a data
            directory, as one shard <code>{SHARD}</code>. They run Raft: they elect a leader, and
            every write goes into the leader&apos;s log, is copied to the followers&apos; logs and
            fsynced, and is applied once a majority (two of three) has it.
          </p>
          <p>
            <strong>Why it matters:</strong> a cache that holds the only copy loses it with the
            machine. With three replicas any one can die, and the two left still make a majority.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Make a shard of three replicas',
          run: async (ctx) => {
            await ctx.formReplicated(1, 3);
          },
        },
      ],
      check: checkReplicated,
      charts: [{ chart: 'throughput', windowSeconds: 60 }],
    },
    {
      title: 'Write through a follower, read both ways',
      explain: (
        <>
          <p>
            The button writes a key through a follower, then reads it through another follower
            twice: linearizable (the default) and with <code>?consistency=stale</code>. A follower
            sends writes and linearizable reads on to the leader (one hop); the answers say who
            served them (<code>X-TinyCache-Leader</code>, <code>X-TinyCache-Term</code>). A stale
            read is answered from the follower&apos;s own copy: no hop, but it may lag.
          </p>
          <p>
            <strong>Why it matters:</strong> a linearizable read never shows a value older than an
            acknowledged write, which costs a round to the leader. Many reads can take a little
            staleness and spread over every replica instead.
          </p>
        </>
      ),
      actions: [{ label: 'Write through a follower, read it twice', run: writeThroughAFollower }],
      check: checkFollowerWrite,
      charts: [{ chart: 'latency', windowSeconds: 60 }],
    },
    {
      title: 'Kill the leader under load',
      explain: (
        <>
          <p>
            The button starts a load of reads and writes, then SIGKILLs the leader. Its followers
            see its connections close and elect another within a few ticks of 25 ms. Meanwhile a
            request finds no leader: the node waits up to a second, then answers 503, and the load
            retries it with the same client session, so a write is applied once.
          </p>
          <p>
            <strong>Why it matters:</strong> the load checks every acknowledged write it reads back.
            A write acknowledged is on a majority, so the new leader has it: the count of lost
            writes must stay 0.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Start load, then kill the leader',
          run: async (ctx) => {
            await ctx.startLoad(REPLICATED_LOAD);
            await ctx.sleep(3000);
            const { killed } = await ctx.killLeader(SHARD);
            await failedOver(ctx, killed, Date.now() - 1000);
            await ctx.sleep(3000);
          },
        },
      ],
      check: checkKilledLeader,
      charts: [
        { chart: 'throughput', windowSeconds: 60, caption: 'The dip is the election.' },
        { chart: 'latency', windowSeconds: 60 },
      ],
    },
    {
      title: 'Restart the killed node',
      explain: (
        <>
          <p>
            The button restarts the killed node on its data directory. It recovers its term, its
            vote and its log from disk, hears from the new leader, and catches up on what was
            committed while it was dead.
          </p>
          <p>
            <strong>Why it matters:</strong> a restart must not cost a full copy of the data, and a
            node must never forget a vote it gave: that could elect two leaders in one term.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Restart it on its data directory',
          run: async (ctx) => {
            const killed = raftSeen(ctx.view().journal, 'killed-leader').at(-1)?.node;
            const down = replicas(ctx.view()).find(
              (n) => n.status === 'down' && (killed == null || n.id === killed),
            );
            if (down === undefined) throw new Error('No replica is down; kill the leader first.');
            await ctx.restartNode(down.id);
            await ctx.sleep(2000);
          },
        },
      ],
      check: checkRestarted,
      charts: [{ chart: 'throughput', windowSeconds: 60 }],
    },
    {
      title: 'Pause the leader',
      explain: (
        <>
          <p>
            The button freezes the leader with SIGSTOP, waits for another to be elected, then
            resumes it. A frozen process keeps its connections open, so its followers cannot tell it
            from a slow one: they wait out their election timeout (250–500 ms). The old leader,
            resumed, finds a later term and steps down.
          </p>
          <p>
            <strong>Why it matters:</strong> a long GC pause or a stalled disk looks like this. A
            deposed leader must not acknowledge a write it could not commit, and Raft makes sure it
            cannot.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Pause the leader, then resume it',
          run: async (ctx) => {
            const leader = leaderOf(ctx.view());
            if (leader === null)
              throw new Error(`Shard ${SHARD} has no leader now; wait a moment.`);
            const at = Date.now();
            await ctx.signalNode(leader.id, 'pause');
            await failedOver(ctx, leader.id, at);
            await ctx.sleep(1000);
            await ctx.signalNode(leader.id, 'resume');
            await ctx.sleep(2000);
          },
        },
      ],
      check: checkPaused,
      charts: [{ chart: 'throughput', windowSeconds: 60 }],
    },
    {
      title: 'Replace a dead replica',
      explain: (
        <>
          <p>
            The button kills a follower, then replaces it: the leader removes it from the group (a
            Raft membership change), a new node starts with an empty data directory, the leader adds
            it, and it catches up from the leader&apos;s snapshot and log. One change at a time, so
            every majority of the old group overlaps every majority of the new one.
          </p>
          <p>
            <strong>Why it matters:</strong> machines die for good. Replacing one restores the
            margin for the next failure, without stopping writes.
          </p>
        </>
      ),
      actions: [
        {
          label: 'Kill a follower and replace it, then stop the load',
          run: async (ctx) => {
            const view = ctx.view();
            const leader = leaderOf(view);
            const follower = replicas(view).find((n) => n.status === 'up' && n !== leader);
            if (follower === undefined) throw new Error(`Shard ${SHARD} has no follower up.`);
            await ctx.signalNode(follower.id, 'kill');
            await ctx.sleep(1000);
            await ctx.replaceReplica(follower.id);
            await ctx.sleep(3000);
            await ctx.stopLoad();
          },
        },
      ],
      check: checkReplaced,
      charts: [{ chart: 'throughput', windowSeconds: 60 }],
      undo: (
        <p>
          The cluster stays; the dashboard&apos;s cluster panel adds, removes and replaces replicas
          and dissolves the cluster.
        </p>
      ),
    },
  ],
};
