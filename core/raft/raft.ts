/**
 * Raft as a pure state machine, in the shape of etcd-io/raft: the driver feeds it messages
 * (`step`) and clock ticks (`tick`), asks what it wants done (`ready`) and says when that is
 * done (`advance`). No I/O, no clock, randomness injected. Section numbers refer to the Raft
 * paper (Ongaro and Ousterhout, 2014) and "thesis" to Ongaro's dissertation (2014).
 *
 * A role is a set of functions: becomeFollower/becomePreCandidate/becomeCandidate/becomeLeader
 * and stepFollower/stepCandidate/stepLeader, tickElection/tickHeartbeat. A driver calls only
 * tick/campaign/propose/step/hasReady/ready/advance; the role functions are public for tests,
 * as etcd's tests call them, and skip step()'s term checks.
 *
 * Reads are linearizable through ReadIndex (thesis §6.4), not leases: see readIndex().
 *
 * Membership changes (thesis §4.1, single-server changes; etcd's ConfChange). The leader
 * proposes one voter added or removed as a 'conf-change' entry (proposeConfChange). Each node
 * uses the configuration as of its APPLIED index: a change takes effect on a node when its
 * driver reports the entry applied (advance), not, as in the thesis, as soon as the entry is in
 * its log. Why etcd's rule rather than the thesis's:
 *  - a node's configuration only ever moves forward: applied entries are committed and never
 *    truncated, so there is nothing to revert when a leader overwrites a suffix;
 *  - the configuration at the applied index is exactly the one a snapshot taken there must
 *    carry (Snapshot.voters), and a restart rebuilds it from the snapshot and the entries it
 *    replays, with no scan of uncommitted entries.
 * What the thesis's rule gets for free, this one gets from three rules (etcd's):
 *  1. One change at a time: the leader refuses a change until it has applied the previous one
 *     (`#pendingConfIndex <= applied`), so C(k+1) is appended only once C(k) is committed.
 *  2. A node does not campaign while its log holds a committed conf change it has not applied
 *     (hup). Together with 1, and since an append that carries C(k+1) also carries a commit
 *     index at or past C(k), a candidate counts votes in C(k) only if its log holds nothing
 *     past C(k+1); a configuration two changes ahead, C(k+2), was committed by a majority of
 *     C(k+1), which overlaps every majority of C(k), so one of its voters holds C(k+2) and
 *     refuses the candidate (§5.4.1). Any two configurations that can elect or commit at once
 *     differ by one server, whose majorities overlap: the thesis's §4.1 argument.
 *  3. A new leader proposes no change before it has committed an entry of its own term (its
 *     no-op): the fix Ongaro posted to raft-dev in 2015 for single-server changes. Without it,
 *     a leader of term t could commit C' from C while an uncommitted C'' (also one server from
 *     C, but two from C') proposed in term t-1 is still in logs that can win an election, and
 *     C'' and C' have disjoint majorities. Committing in term t first makes every such C''
 *     unelectable (§5.4.1).
 * A removed leader leads until the removal is applied, then steps down (thesis §4.2.2),
 * handing over to an up-to-date voter at once (MsgTimeoutNow). A node not in its configuration
 * never campaigns; a removed node that has not learned it is removed (it was cut off) only
 * pre-votes and is refused, or ignored within a leader's lease, so it inflates no term
 * (thesis §4.2.3). A new member starts with no log, not a voter in its own eyes until it
 * applies its addition; the leader probes it and, when it needs compacted entries, sends the
 * snapshot (§7), which carries the voters.
 *
 * Proposals are accepted on the leader only (no forwarding).
 */
import type { Rng } from '../random.ts';
import { RaftLog } from './log.ts';
import { Progress } from './progress.ts';
import type { Storage } from './storage.ts';
import {
  type ConfChange,
  decodeConfChange,
  encodeConfChange,
  type Entry,
  type EntryType,
  type HardState,
  type Message,
  type MsgApp,
  type MsgAppResp,
  type MsgHeartbeat,
  type MsgHeartbeatResp,
  type MsgReadIndex,
  type MsgReadIndexResp,
  type MsgSnap,
  type MsgTimeoutNow,
  type MsgVote,
  type MsgVoteResp,
  type NodeId,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from './types.ts';

export interface RaftConfig {
  readonly id: NodeId;
  /**
   * The voting members the log starts from (before any conf change): the same list on every
   * node of the group, for its whole life. A node restarted from storage takes its members
   * from its snapshot (Snapshot.voters) and the conf changes it applies; a node joining a
   * running group passes the same list (which need not include it) and learns its membership
   * from the leader's log or snapshot. An id is never reused with new storage.
   */
  readonly peers: readonly NodeId[];
  /** What the driver persisted; a restarted node recovers its term, vote and log from it. */
  readonly storage: Storage;
  /** Draws the randomized election timeouts (§5.2). */
  readonly rng: Rng;
  /** A follower that hears no leader for [electionTicks, 2 * electionTicks) ticks campaigns. */
  readonly electionTicks?: number;
  /** A leader sends heartbeats every heartbeatTicks ticks; less than electionTicks. */
  readonly heartbeatTicks?: number;
  /** Campaign with a pre-vote first (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /**
   * A leader steps down when a quorum has not answered it within electionTicks; a node that
   * heard from a leader within electionTicks ignores vote requests (thesis §9.6). Default true.
   */
  readonly checkQuorum?: boolean;
  /** Entries per MsgApp, at most. */
  readonly maxEntriesPerAppend?: number;
  /** Unacknowledged MsgApps per follower in the replicate state, at most. */
  readonly maxInflightAppends?: number;
  /** The last index the state machine has applied (default: firstIndex - 1, replay all). */
  readonly applied?: number;
}

export const DEFAULT_ELECTION_TICKS = 10;
export const DEFAULT_HEARTBEAT_TICKS = 1;
export const DEFAULT_MAX_ENTRIES_PER_APPEND = 64;
export const DEFAULT_MAX_INFLIGHT_APPENDS = 4;

export type ProposeResult =
  | { readonly accepted: true; readonly index: number; readonly term: number }
  /**
   * Not the leader: `leader` is the one this node believes in, if any. Or the leader is
   * handing leadership over (thesis §3.10): `leader` is the member it is handing it to.
   */
  | { readonly accepted: false; readonly leader: NodeId | null };

/**
 * Why the leader refused a membership change:
 * - no-commit-in-term: it has not yet committed an entry of its own term (the 2015 fix);
 * - pending-conf-change: the previous change is not yet applied (one change at a time);
 * - already-voter / not-voter: adding a member, or removing a non-member, changes nothing;
 * - last-voter: removing the only voter would leave a group that can never elect.
 */
export type ConfChangeRefusal =
  'no-commit-in-term' | 'pending-conf-change' | 'already-voter' | 'not-voter' | 'last-voter';

export type ConfChangeResult =
  | ProposeResult
  | { readonly accepted: false; readonly leader: NodeId; readonly refused: ConfChangeRefusal };

type VoteResult = 'pending' | 'won' | 'lost';

/** A read the leader registered and is confirming its leadership for (thesis §6.4). */
interface PendingRead {
  /** The heartbeat round that confirms it: any answer to a heartbeat of this round or later. */
  readonly round: number;
  /** The leader's commit index when the read arrived. */
  readonly index: number;
  readonly ctx: Uint8Array;
  /** Who asked: this node, or the follower that forwarded it. */
  readonly from: NodeId;
  /** The members known to have been in this leader's term after the read arrived. */
  readonly acks: Set<NodeId>;
}

export class RaftNode {
  readonly id: NodeId;
  readonly log: RaftLog;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxEntriesPerAppend: number;
  readonly maxInflightAppends: number;

  term = 0;
  vote: NodeId | null = null;
  leader: NodeId | null = null;
  role: Role = 'follower';

  /**
   * Leader only: the member leadership is being handed to (thesis §3.10), or null. While set,
   * the leader accepts no proposals; it gives up after an election timeout.
   */
  leadTransferee: NodeId | null = null;
  /**
   * Leader only: the index of the last conf change it appended (at first its no-op's): no new
   * change until it has applied this index (etcd's pendingConfIndex).
   */
  #pendingConfIndex = 0;
  /** The voting members as of the applied index (see "Membership changes" above). */
  #voters: readonly NodeId[];
  /** RaftConfig.peers: the members of a snapshot that names none. */
  readonly #bootstrapVoters: readonly NodeId[];
  /** Leader only: what it knows of every member's log, itself included. */
  readonly progress = new Map<NodeId, Progress>();
  /** (Pre-)candidate only: the answers so far. */
  readonly #votes = new Map<NodeId, boolean>();
  #messages: Message[] = [];
  /** Confirmed reads not yet handed out in a Ready. */
  #readStates: ReadState[] = [];
  /** Leader only: reads waiting for a quorum's heartbeat answers, oldest first. */
  #pendingReads: PendingRead[] = [];
  /** Leader only: reads that arrived before it committed an entry of its term. */
  #readsAwaitingCommit: MsgReadIndex[] = [];
  /** The latest ReadIndex heartbeat round; only ever grows. */
  #readRound = 0;

  /** Ticks since the last election timeout or, on a follower, since hearing from a leader. */
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTimeout = 0;
  readonly #rng: Rng;

  #prevHardState: HardState;
  #prevSoftState: SoftState = { leader: null, role: 'follower' };
  #handedOut: Ready | null = null;

  constructor(config: RaftConfig) {
    this.id = config.id;
    this.electionTicks = config.electionTicks ?? DEFAULT_ELECTION_TICKS;
    this.heartbeatTicks = config.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS;
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.maxEntriesPerAppend = config.maxEntriesPerAppend ?? DEFAULT_MAX_ENTRIES_PER_APPEND;
    this.maxInflightAppends = config.maxInflightAppends ?? DEFAULT_MAX_INFLIGHT_APPENDS;
    validate(this, config);
    this.#rng = config.rng;
    this.log = new RaftLog(config.storage, config.applied ?? config.storage.firstIndex() - 1);
    // The members as of the applied index: the snapshot's, then every change applied since.
    this.#bootstrapVoters = [...config.peers];
    this.#voters = [...(config.storage.snapshot().voters ?? config.peers)];
    for (const entry of this.log.slice(this.log.firstIndex(), this.log.applied + 1)) {
      if (entry.type === 'conf-change')
        this.#voters = changed(this.#voters, decodeConfChange(entry.data));
    }

    // Figure 2: term, vote and log survive a restart; everything else starts afresh.
    const hardState = config.storage.hardState();
    this.#prevHardState = hardState;
    this.becomeFollower(hardState.term, null);
    this.vote = hardState.vote;
  }

  // ---- The driver's interface ------------------------------------------------------------

  /** One tick of the logical clock: elections and heartbeats are counted in ticks. */
  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Start an election now, as if the election timer had fired. */
  campaign(): void {
    this.step({ type: 'MsgHup', from: this.id, to: this.id, term: 0 });
  }

  /**
   * Appends `data` to the log if this node is the leader. An accepted proposal is committed
   * only if the entry at `index` still has `term` when it is applied; a new leader may
   * overwrite it, so the client must be prepared to retry (§8).
   */
  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { accepted: false, leader: this.leader };
    // Thesis §3.10: during a transfer, new entries would only keep the target behind.
    if (this.leadTransferee !== null) return { accepted: false, leader: this.leadTransferee };
    const index = this.appendEntries([data]);
    this.bcastAppend();
    return { accepted: true, index, term: this.term };
  }

  /**
   * Leader only: proposes adding or removing one voter (thesis §4.1) as a 'conf-change' entry.
   * Refused (with `refused`) while the previous change is not yet applied, before the leader
   * has committed an entry of its term, or when the change would change nothing or leave no
   * voter. The new membership is used on each node once it applies the entry (advance).
   */
  proposeConfChange(cc: ConfChange): ConfChangeResult {
    if (this.role !== 'leader') return { accepted: false, leader: this.leader };
    if (this.leadTransferee !== null) return { accepted: false, leader: this.leadTransferee };
    const refused = this.confChangeRefusal(cc);
    if (refused !== null) return { accepted: false, leader: this.id, refused };
    const index = this.appendEntries([encodeConfChange(cc)], 'conf-change');
    this.#pendingConfIndex = index;
    this.bcastAppend();
    return { accepted: true, index, term: this.term };
  }

  /** The voting members as of the applied index, this node included if it is one. */
  voters(): readonly NodeId[] {
    return this.#voters;
  }

  /** The same as voters(): fixed before membership changes, kept for drivers that read it. */
  get peers(): readonly NodeId[] {
    return this.#voters;
  }

  /**
   * The driver saw the leader go (its connection closed, as when its process dies): a
   * follower that follows `leader` stops waiting out its election timeout. It forgets the
   * leader, so its lease (§9.6) no longer refuses another candidate's (pre-)vote, and
   * campaigns after 1 + 2 × rank ticks, its rank the place of its id among the other voters
   * (sorted): followers that saw the same loss campaign in turn, two ticks apart, instead of
   * splitting the vote (which would cost a whole randomized timeout). If the first one's log
   * is behind, the next is refused nothing and wins. A hint for liveness only: safety never
   * depends on timing, and a leader that is still alive (the connection broke, not the
   * process) is heard again at its next heartbeat, and the other followers' leases refuse
   * a candidate meanwhile. Not in the thesis; the simulator does not call it (a lost process
   * there is silence).
   */
  leaderLost(leader: NodeId): void {
    if (this.role !== 'follower' || this.leader !== leader || !this.isVoter()) return;
    this.leader = null;
    const rank = this.#voters
      .filter((id) => id !== leader)
      .sort()
      .indexOf(this.id);
    const wait = Math.min(1 + 2 * rank, this.electionTicks);
    this.#electionElapsed = Math.max(this.#electionElapsed, this.#randomizedElectionTimeout - wait);
  }

  /**
   * Leader only: hands leadership to `to` (thesis §3.10). The leader stops accepting
   * proposals, brings `to`'s log up to date, then sends it MsgTimeoutNow, on which `to`
   * campaigns at once. If `to` is not leader within an election timeout, the transfer is
   * abandoned and proposals are accepted again.
   */
  transferLeader(to: NodeId): void {
    this.step({ type: 'MsgTransferLeader', from: this.id, to: this.id, term: 0, transferee: to });
  }

  /**
   * A linearizable read (thesis §6.4, ReadIndex): once confirmed, a Ready's `readStates`
   * holds `{ index, ctx }`, and the driver may serve the read from its state machine as soon
   * as it has applied `index`. On a follower the request goes to the leader; without a known
   * leader, or if leadership changes before it is confirmed, it is dropped and the client
   * retries.
   *
   * The leader records its commit index, then sends a heartbeat round and waits until a
   * quorum answers it in its term. Why that is safe with no clock at all: each of those nodes
   * was still in the leader's term after the read arrived. A leader of a later term needs votes
   * from a quorum, which includes one of them, so it was elected only after the read arrived;
   * every write completed before the read began was therefore committed in this term or an
   * earlier one, is in this leader's log (Leader Completeness, §5.4) and, once the leader has
   * committed an entry of its own term (its no-op, §8; reads wait for it), is at or below its
   * commit index. Only the order of messages matters, not their timing.
   *
   * A leader lease (serving reads with no round trip while "no election can have finished
   * yet") would instead rely on the followers' election timers and the leader's clock
   * measuring the same interval: it needs bounded clock drift (and no process pauses), or a
   * leader whose clock runs slow would serve stale reads after its successor took writes.
   */
  readIndex(ctx: Uint8Array): void {
    this.step({ type: 'MsgReadIndex', from: this.id, to: this.id, term: 0, ctx });
  }

  /** Handles a message from a peer, or a local MsgHup/MsgProp/MsgTransferLeader/MsgReadIndex. */
  step(m: Message): void {
    if (m.type === 'MsgReadIndex' && m.term === 0) {
      if (this.role === 'leader') this.handleReadIndex(m);
      else if (this.role === 'follower' && this.leader !== null) {
        this.send({ ...m, to: this.leader, term: this.term });
      }
      return;
    }
    if (m.type === 'MsgHup') {
      this.hup(false);
      return;
    }
    if (m.type === 'MsgTransferLeader') {
      if (this.role === 'leader') this.handleTransferLeader(m.transferee);
      return;
    }
    if (m.type === 'MsgProp') {
      if (this.role === 'leader' && this.leadTransferee === null) {
        this.appendEntries(m.data);
        this.bcastAppend();
      }
      // Followers and candidates drop proposals; propose() tells the caller who leads.
      return;
    }

    // §5.1: a message from a later term makes us follow that term; one from an earlier term
    // is stale.
    if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        // Thesis §9.6: a node that heard from a leader within the election timeout does not
        // grant a vote or move to the candidate's term, so a node that rejoins from a
        // partition cannot depose a healthy leader. (The leader itself counts as hearing
        // from a leader: checkQuorum steps it down when it loses its quorum.)
        // A transfer's election is the leader's own wish, so the lease does not stand in its way.
        const inLease =
          this.checkQuorum &&
          m.transfer !== true &&
          this.leader !== null &&
          this.#electionElapsed < this.electionTicks;
        if (inLease) return;
      }
      if (m.type === 'MsgPreVote') {
        // A pre-vote never changes our term (thesis §9.6).
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // A granted pre-vote carries the term we would campaign in, not one anyone is in.
      } else {
        const fromLeader = m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap')
      ) {
        // A leader from an earlier term (for example one cut off while we moved on) would
        // otherwise never learn it is stale: with pre-vote, no vote request will tell it.
        this.send(appResp(this, m.from, { index: 0, reject: false }));
      } else if (m.type === 'MsgPreVote') {
        // Tell a pre-candidate from an earlier term about ours, so it stops campaigning.
        this.send(voteResp(this, m.from, 'MsgPreVoteResp', this.term, true));
      }
      return;
    }

    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case 'follower':
        this.stepFollower(m);
        break;
      case 'pre-candidate':
      case 'candidate':
        this.stepCandidate(m);
        break;
      case 'leader':
        this.stepLeader(m);
        break;
    }
  }

  /** Whether ready() has anything to hand out (always false while a Ready is out). */
  hasReady(): boolean {
    if (this.#handedOut !== null) return false;
    return (
      !sameSoftState(this.softState(), this.#prevSoftState) ||
      !sameHardState(this.hardState(), this.#prevHardState) ||
      this.log.pendingSnapshot() !== null ||
      this.log.unstableEntries().length > 0 ||
      this.#messages.length > 0 ||
      this.log.hasNextCommittedEntries() ||
      this.#readStates.length > 0
    );
  }

  /**
   * What the driver must do next, in the order Ready documents (types.ts): persist entries
   * and hard state, then send messages, then apply committed entries, then advance().
   */
  ready(): Ready {
    if (this.#handedOut !== null) {
      throw new Error('ready() called again before advance() for the last Ready');
    }
    const softState = this.softState();
    const hardState = this.hardState();
    const ready: Ready = {
      softState: sameSoftState(softState, this.#prevSoftState) ? null : softState,
      hardState: sameHardState(hardState, this.#prevHardState) ? null : hardState,
      snapshot: this.log.pendingSnapshot(),
      entries: [...this.log.unstableEntries()],
      committedEntries: this.log.nextCommittedEntries(),
      messages: this.#messages,
      readStates: this.#readStates,
    };
    this.#messages = [];
    this.#readStates = [];
    this.#handedOut = ready;
    return ready;
  }

  /** The driver has done what `ready` asked: its entries are stable, its commits applied. */
  advance(ready: Ready): void {
    if (ready !== this.#handedOut) throw new Error('advance() with a Ready not handed out last');
    this.#handedOut = null;
    if (ready.softState !== null) this.#prevSoftState = ready.softState;
    if (ready.hardState !== null) this.#prevHardState = ready.hardState;
    if (ready.snapshot !== null) {
      // Persisted, and the state machine restored from it: entries after it apply next.
      this.log.stableSnapshotTo(ready.snapshot.index);
      this.log.appliedTo(ready.snapshot.index);
    }
    const lastEntry = ready.entries.at(-1);
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = ready.committedEntries.at(-1);
    if (lastApplied !== undefined) this.log.appliedTo(lastApplied.index);
    // Applied: a conf change takes effect now (see "Membership changes" above).
    for (const entry of ready.committedEntries) {
      if (entry.type === 'conf-change') this.applyConfChange(decodeConfChange(entry.data));
    }
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  // ---- Roles: becoming -------------------------------------------------------------------

  becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
  }

  /**
   * Thesis §9.6: before disrupting anyone, ask whether we could win. Neither term nor vote
   * changes, so a node that keeps failing pre-votes in a minority partition rejoins at the
   * term it left with.
   */
  becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('a leader cannot become a pre-candidate');
    this.#votes.clear();
    this.leader = null;
    this.role = 'pre-candidate';
  }

  /** §5.2: a candidate moves to the next term and votes for itself. */
  becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  /**
   * §5.2 and §5.3: the leader starts every follower's nextIndex just past its own log, and
   * appends an empty entry of its term: committing it commits every earlier entry, which the
   * leader may not commit by counting (§5.4.2, §8).
   */
  becomeLeader(): void {
    if (this.role === 'follower') throw new Error('a follower cannot become the leader');
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    this.progress.get(this.id)!.becomeReplicate();
    // No conf change before this no-op is applied, so committed: an entry of our own term
    // (the 2015 single-server-change fix; proposeConfChange checks it too).
    this.#pendingConfIndex = this.appendEntries([new Uint8Array(0)]);
  }

  /** What every role change resets; the term moves only forward and a new term has no vote. */
  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#randomizedElectionTimeout = this.electionTicks + this.#rng.nextInt(this.electionTicks);
    this.#votes.clear();
    this.leadTransferee = null;
    this.#pendingReads = [];
    this.#readsAwaitingCommit = [];
    this.#pendingConfIndex = 0;
    this.progress.clear();
    const lastIndex = this.log.lastIndex();
    for (const peer of this.#voters) {
      const progress = new Progress(lastIndex + 1, this.maxInflightAppends);
      if (peer === this.id) progress.match = lastIndex;
      this.progress.set(peer, progress);
    }
  }

  // ---- Roles: ticking --------------------------------------------------------------------

  /** §5.2: a follower or candidate that hears nothing for its election timeout campaigns. */
  tickElection(): void {
    this.#electionElapsed++;
    if (this.isVoter() && this.#electionElapsed >= this.#randomizedElectionTimeout) {
      this.#electionElapsed = 0;
      this.campaign();
    }
  }

  /** §5.2: a leader sends heartbeats; every election timeout, it checks it still leads. */
  tickHeartbeat(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.electionTicks) {
      this.#electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      // Thesis §3.10: a transfer that did not finish within an election timeout is abandoned
      // (the target may be down), so the leader serves clients again.
      this.leadTransferee = null;
      for (const [peer, progress] of this.progress) {
        if (peer !== this.id) progress.recentActive = false;
      }
    }
    if (this.#heartbeatElapsed >= this.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  // ---- Roles: stepping -------------------------------------------------------------------

  stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgApp':
        this.#electionElapsed = 0;
        this.leader = m.from;
        this.handleAppendEntries(m);
        break;
      case 'MsgHeartbeat':
        this.#electionElapsed = 0;
        this.leader = m.from;
        this.handleHeartbeat(m);
        break;
      case 'MsgSnap':
        this.#electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshot(m);
        break;
      case 'MsgReadIndexResp':
        this.#readStates.push({ index: m.index, ctx: m.ctx });
        break;
      case 'MsgTimeoutNow':
        // Thesis §3.10: the leader chose us and our log matches its own; campaign now, with
        // no pre-vote (the leader is stepping aside, so there is nothing to protect).
        this.hup(true);
        break;
      default:
        // Votes answered, stale leader-only answers ignored.
        break;
    }
  }

  stepCandidate(m: Message): void {
    // A pre-candidate counts pre-votes only, a candidate votes only: late pre-vote answers
    // may reach a candidate in the term it campaigns in.
    const answer = this.role === 'pre-candidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (m.type) {
      case 'MsgApp':
        // §5.2: another node won this term.
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        break;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        break;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        break;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp': {
        if (m.type !== answer) break;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === 'pre-candidate') {
            this.campaignIn('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          // (A rejection from a later term never gets here: step() made us follow that term.)
          this.becomeFollower(this.term, null);
        }
        break;
      }
      default:
        break;
    }
  }

  stepLeader(m: Message): void {
    const progress = this.progress.get(m.from);
    if (progress === undefined || m.from === this.id) return;
    switch (m.type) {
      case 'MsgAppResp':
        progress.recentActive = true;
        this.handleAppendResponse(m, progress);
        break;
      case 'MsgHeartbeatResp':
        progress.recentActive = true;
        // An answer means the follower is reachable again: resume a paused flow. An append
        // (empty if the in-flight window is full) also recovers from appends that were lost.
        progress.paused = false;
        // We have no report that a snapshot arrived (etcd's ReportSnapshot): an answer means
        // the follower is reachable, so probe just past the snapshot; if it was lost, the
        // rejection sends it again.
        if (progress.state === 'snapshot') progress.becomeProbe();
        this.ackReads(m.from, m.readRound);
        if (progress.match < this.log.lastIndex() || progress.state === 'probe') {
          this.sendAppend(m.from);
        }
        break;
      case 'MsgReadIndex':
        this.handleReadIndex(m);
        break;
      default:
        break;
    }
  }

  // ---- Reads (thesis §6.4, ReadIndex) ----------------------------------------------------

  /** Leader: registers a read at the commit index and starts a heartbeat round to confirm it. */
  private handleReadIndex(m: MsgReadIndex): void {
    if (this.log.term(this.log.committed) !== this.term) {
      this.#readsAwaitingCommit.push(m);
      return;
    }
    const index = this.log.committed;
    if (this.quorum() === 1) {
      this.releaseRead(m.from, index, m.ctx);
      return;
    }
    this.#readRound++;
    this.#pendingReads.push({
      round: this.#readRound,
      index,
      ctx: m.ctx,
      from: m.from,
      acks: new Set([this.id]),
    });
    this.bcastHeartbeat();
  }

  /** `from` answered a heartbeat of `round` in our term: it confirms every read up to it. */
  private ackReads(from: NodeId, round: number): void {
    for (const read of this.#pendingReads) if (read.round <= round) read.acks.add(from);
    this.releaseConfirmedReads();
  }

  /** Releases, in order, the reads a quorum of the current voters confirmed. */
  private releaseConfirmedReads(): void {
    // Acks of a round count for every earlier one, so reads are released in order.
    while (
      this.#pendingReads[0] !== undefined &&
      this.votersAmong(this.#pendingReads[0].acks) >= this.quorum()
    ) {
      const read = this.#pendingReads.shift()!;
      this.releaseRead(read.from, read.index, read.ctx);
    }
  }

  private releaseRead(from: NodeId, index: number, ctx: Uint8Array): void {
    if (from === this.id) {
      this.#readStates.push({ index, ctx });
      return;
    }
    const m: MsgReadIndexResp = {
      type: 'MsgReadIndexResp',
      from: this.id,
      to: from,
      term: this.term,
      index,
      ctx,
    };
    this.send(m);
  }

  // ---- Elections (§5.2, §5.4.1, thesis §9.6) ---------------------------------------------

  /** Campaigns; `transfer` when the leader asked for it (MsgTimeoutNow). */
  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.isVoter()) return;
    // Rule 2 of "Membership changes": votes would be counted in a configuration we know is
    // already replaced. Apply first (the driver's next Ready does), then campaign.
    if (this.hasUnappliedConfChanges()) return;
    this.campaignIn(this.preVote && !transfer ? 'pre-election' : 'election', transfer);
  }

  private campaignIn(kind: 'pre-election' | 'election', transfer = false): void {
    let term: number;
    let type: MsgVote['type'];
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      type = 'MsgPreVote';
      // Pre-votes ask for the term we would move to, without moving.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = 'MsgVote';
      term = this.term;
    }
    // Our own vote counts at once: the vote is in this Ready's hard state, which the driver
    // persists before it sends anything that could depend on it.
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'pre-election') this.campaignIn('election');
      else {
        this.becomeLeader();
        this.bcastAppend();
      }
      return;
    }
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const peer of this.#voters) {
      if (peer === this.id) continue;
      const m: MsgVote = { type, from: this.id, to: peer, term, lastLogIndex, lastLogTerm };
      this.send(transfer ? { ...m, transfer } : m);
    }
  }

  /**
   * §5.2 and §5.4.1: grant a vote to at most one candidate per term, and only to one whose
   * log is at least as up to date as ours. A pre-vote is granted on the same terms but, being
   * for a future term, binds nothing.
   */
  private handleVote(m: MsgVote): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.type === 'MsgPreVote' && m.term > this.term);
    const answer = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      // Answer in the message's term: a granted pre-vote is for a term we are not in, and
      // the pre-candidate ignores answers from earlier terms than the one it asked about.
      this.send(voteResp(this, m.from, answer, m.term, false));
      if (m.type === 'MsgVote') {
        this.#electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(voteResp(this, m.from, answer, this.term, true));
    }
  }

  private poll(from: NodeId, granted: boolean): VoteResult {
    if (!this.#votes.has(from)) this.#votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const [voter, vote] of this.#votes) {
      // Only members count (a removed node may still answer).
      if (!this.#voters.includes(voter)) continue;
      if (vote) yes++;
      else no++;
    }
    if (yes >= this.quorum()) return 'won';
    if (no > this.#voters.length - this.quorum()) return 'lost';
    return 'pending';
  }

  // ---- Leadership transfer (thesis §3.10) ------------------------------------------------

  private handleTransferLeader(to: NodeId): void {
    if (to === this.id || !this.#voters.includes(to) || to === this.leadTransferee) return;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout (tickHeartbeat aborts it).
    this.#electionElapsed = 0;
    if (this.progress.get(to)!.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  private sendTimeoutNow(to: NodeId): void {
    const m: MsgTimeoutNow = { type: 'MsgTimeoutNow', from: this.id, to, term: this.term };
    this.send(m);
  }

  // ---- Replication (§5.3, §5.4.2) --------------------------------------------------------

  /** The leader appends entries of its term; its own copy counts toward commitment. */
  private appendEntries(data: readonly Uint8Array[], type?: EntryType): number {
    let index = this.log.lastIndex();
    const entries: Entry[] = data.map((payload) =>
      type === undefined
        ? { term: this.term, index: ++index, data: payload }
        : { term: this.term, index: ++index, data: payload, type },
    );
    const lastIndex = this.log.append(entries);
    // Counting our copy before the driver persists it is safe under the Ready contract:
    // nothing that depends on the commit leaves this node before the entries are durable.
    this.progress.get(this.id)!.maybeUpdate(lastIndex);
    this.maybeCommit();
    return lastIndex;
  }

  /**
   * §5.3 and §5.4.2: the commit index is the largest index a majority holds, if the entry
   * there is from the current term (Figure 8).
   */
  private maybeCommit(): boolean {
    const matches = this.#voters.map((peer) => this.progress.get(peer)!.match);
    matches.sort((a, b) => b - a);
    if (!this.log.maybeCommit(matches[this.quorum() - 1]!, this.term)) return false;
    // The first commit of our term: reads that waited for it may go ahead (thesis §6.4).
    const waiting = this.#readsAwaitingCommit;
    this.#readsAwaitingCommit = [];
    for (const m of waiting) this.handleReadIndex(m);
    return true;
  }

  private bcastAppend(): void {
    for (const peer of this.#voters) if (peer !== this.id) this.sendAppend(peer);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends `to` the entries from its nextIndex, at most maxEntriesPerAppend of them, unless its
   * flow is paused (probing, or maxInflightAppends unacknowledged). With `sendIfEmpty`, an
   * append with no entries still goes (it carries the commit index, or probes).
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.progress.get(to)!;
    if (progress.isPaused()) return false;
    const prevLogIndex = progress.next - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    if (prevLogTerm === undefined || progress.next < this.log.firstIndex()) {
      // §7: the entries the follower needs are compacted away; send the snapshot instead.
      this.sendSnapshot(to, progress);
      return true;
    }
    const entries =
      progress.state === 'replicate' && progress.inflightFull()
        ? []
        : this.log.slice(progress.next, this.log.lastIndex() + 1, this.maxEntriesPerAppend);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const m: MsgApp = {
      type: 'MsgApp',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm,
      entries,
      commit: this.log.committed,
    };
    this.send(m);
    progress.sentEntries(entries.length);
    progress.sentCommit = m.commit;
    return true;
  }

  private sendSnapshot(to: NodeId, progress: Progress): void {
    const snapshot = this.log.snapshot();
    if (snapshot.index === 0) throw new Error(`no snapshot to send ${to} at ${progress.next}`);
    const m: MsgSnap = { type: 'MsgSnap', from: this.id, to, term: this.term, snapshot };
    this.send(m);
    progress.becomeSnapshot(snapshot.index);
    progress.sentCommit = Math.max(progress.sentCommit, snapshot.index);
  }

  private bcastHeartbeat(): void {
    for (const peer of this.#voters) {
      if (peer === this.id) continue;
      const progress = this.progress.get(peer)!;
      const m: MsgHeartbeat = {
        type: 'MsgHeartbeat',
        from: this.id,
        to: peer,
        term: this.term,
        // Never past what the follower is known to hold (it may not have our entries yet).
        commit: Math.min(progress.match, this.log.committed),
        readRound: this.#readRound,
      };
      this.send(m);
      progress.sentCommit = Math.max(progress.sentCommit, m.commit);
    }
  }

  /** Figure 2, AppendEntries receiver; rejections carry the fast-backtracking hint. */
  private handleAppendEntries(m: MsgApp): void {
    if (m.prevLogIndex < this.log.committed) {
      // Everything up to our commit index matches any leader's log (§5.4.3).
      this.send(appResp(this, m.from, { index: this.log.committed, reject: false }));
      return;
    }
    const lastIndex = this.log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.commit, m.entries);
    if (lastIndex !== null) {
      this.send(appResp(this, m.from, { index: lastIndex, reject: false }));
      return;
    }
    // No entry at prevLogIndex with prevLogTerm. Every entry of ours after the last one whose
    // term is <= prevLogTerm cannot match the leader's log (terms only rise along a log, and
    // the leader's are <= prevLogTerm up to prevLogIndex), so point the leader there.
    const hint = this.log.findConflictByTerm(
      Math.min(m.prevLogIndex, this.log.lastIndex()),
      m.prevLogTerm,
    );
    this.send(
      appResp(this, m.from, {
        index: m.prevLogIndex,
        reject: true,
        hintIndex: hint.index,
        hintTerm: hint.term,
      }),
    );
  }

  /**
   * §7, InstallSnapshot receiver: answer with our last index once installed, or with our
   * commit index when the snapshot tells us nothing new.
   */
  private handleSnapshot(m: MsgSnap): void {
    const index = this.restore(m.snapshot) ? this.log.lastIndex() : this.log.committed;
    this.send(appResp(this, m.from, { index, reject: false }));
  }

  /**
   * Installs `snapshot` unless it is stale (at or below our commit index), or our log holds
   * its last entry: then the entries after it are kept (§7, receiver rule 6) and only the
   * commit index moves. Otherwise the whole log is replaced (rule 7). True when installed.
   */
  private restore(snapshot: Snapshot): boolean {
    if (snapshot.index <= this.log.committed) return false;
    if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      this.log.commitTo(snapshot.index);
      return false;
    }
    this.log.restore(snapshot);
    // Everything up to the snapshot counts as applied once the driver restores it, so its
    // members are ours now (a snapshot with no voters predates every change: the peers).
    this.#voters = [...(snapshot.voters ?? this.#bootstrapVoters)];
    return true;
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    this.log.commitTo(m.commit);
    const resp: MsgHeartbeatResp = {
      type: 'MsgHeartbeatResp',
      from: this.id,
      to: m.from,
      term: this.term,
      readRound: m.readRound,
    };
    this.send(resp);
  }

  private handleAppendResponse(m: MsgAppResp, progress: Progress): void {
    // Index 0 is never a real acknowledgement (a leader's log holds at least its empty
    // entry): it is the "your term is stale" answer of step(), delayed into a later term.
    if (!m.reject && m.index === 0) return;
    if (m.reject) {
      // Fast backtracking (§5.3; etcd's stepLeader): the follower's log may match ours at
      // most up to (hintIndex, hintTerm). Our own entries after the last one whose term is <=
      // hintTerm cannot match either, so probe at that entry: at most one round per term.
      const probeIndex =
        m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (progress.maybeDecreaseTo(m.index, probeIndex)) {
        if (progress.state === 'replicate') progress.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const updated = progress.maybeUpdate(m.index);
    if (!updated && !(progress.match === m.index && progress.state === 'probe')) return;
    if (progress.state === 'probe') progress.becomeReplicate();
    else if (progress.state === 'snapshot') {
      // The snapshot is installed once the follower holds an entry we still have after it.
      if (progress.match + 1 >= this.log.firstIndex()) {
        progress.becomeProbe();
        progress.becomeReplicate();
      }
    } else progress.freeInflightUpTo(m.index);
    if (this.maybeCommit()) {
      // Tell everyone the new commit index now rather than at the next heartbeat.
      this.bcastAppend();
    } else if (progress.canBumpCommit(this.log.committed)) {
      // This follower caught up after the commit index moved: tell it now.
      this.sendAppend(m.from);
    }
    // The window may have room again: stream what is left, without empty appends.
    while (this.maybeSendAppend(m.from, false)) {
      // keep sending
    }
    // Thesis §3.10: the transfer target has caught up; it may campaign now.
    if (m.from === this.leadTransferee && progress.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  // ---- Membership changes (thesis §4.1; see the top of this file) -------------------------

  private confChangeRefusal(cc: ConfChange): ConfChangeRefusal | null {
    // Rule 3: the 2015 fix. (The no-op's #pendingConfIndex implies it; this says why.)
    if (this.log.term(this.log.committed) !== this.term) return 'no-commit-in-term';
    // Rule 1: one change at a time, the previous one applied here first.
    if (this.#pendingConfIndex > this.log.applied) return 'pending-conf-change';
    const member = this.#voters.includes(cc.node);
    if (cc.type === 'add') return member ? 'already-voter' : null;
    if (!member) return 'not-voter';
    return this.#voters.length === 1 ? 'last-voter' : null;
  }

  /** The committed log holds a conf change not yet applied (rule 2). */
  private hasUnappliedConfChanges(): boolean {
    const from = Math.max(this.log.applied + 1, this.log.firstIndex());
    if (from > this.log.committed) return false;
    return this.log.slice(from, this.log.committed + 1).some((e) => e.type === 'conf-change');
  }

  /** An applied conf change: the new membership is in use from now on. */
  private applyConfChange(cc: ConfChange): void {
    const voters = changed(this.#voters, cc);
    if (voters === this.#voters) return;
    this.#voters = voters;
    if (this.role !== 'leader') return;
    if (cc.type === 'add') {
      // Probe the new member from our last index; a new, empty log backs up to the start or,
      // once compacted, to the snapshot (§7). Active, so checkQuorum gives it a timeout.
      const progress = new Progress(this.log.lastIndex() + 1, this.maxInflightAppends);
      progress.recentActive = true;
      this.progress.set(cc.node, progress);
      this.sendAppend(cc.node);
    } else {
      this.progress.delete(cc.node);
      if (this.leadTransferee === cc.node) this.leadTransferee = null;
    }
    if (!this.isVoter()) {
      // Thesis §4.2.2: a leader removed from the group steps down once the removal is
      // committed (here: applied). It hands over to a voter whose log matches its own, so the
      // group need not wait for an election timeout.
      const successor = this.#voters.find(
        (id) => this.progress.get(id)?.match === this.log.lastIndex(),
      );
      if (successor !== undefined) this.sendTimeoutNow(successor);
      this.becomeFollower(this.term, null);
      return;
    }
    // A smaller quorum may commit what waited, and confirm reads that waited.
    if (this.maybeCommit()) this.bcastAppend();
    this.releaseConfirmedReads();
  }

  // ---- Helpers ---------------------------------------------------------------------------

  private quorum(): number {
    return Math.floor(this.#voters.length / 2) + 1;
  }

  private votersAmong(ids: ReadonlySet<NodeId>): number {
    let count = 0;
    for (const id of this.#voters) if (ids.has(id)) count++;
    return count;
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const [peer, progress] of this.progress) {
      if (peer === this.id || progress.recentActive) active++;
    }
    return active >= this.quorum();
  }

  private isVoter(): boolean {
    return this.#voters.includes(this.id);
  }

  private send(m: Message): void {
    this.#messages.push(m);
  }
}

function appResp(
  node: RaftNode,
  to: NodeId,
  fields: { index: number; reject: boolean; hintIndex?: number; hintTerm?: number },
): MsgAppResp {
  return {
    type: 'MsgAppResp',
    from: node.id,
    to,
    term: node.term,
    index: fields.index,
    reject: fields.reject,
    hintIndex: fields.hintIndex ?? 0,
    hintTerm: fields.hintTerm ?? 0,
  };
}

function voteResp(
  node: RaftNode,
  to: NodeId,
  type: MsgVoteResp['type'],
  term: number,
  reject: boolean,
): MsgVoteResp {
  return { type, from: node.id, to, term, reject };
}

/** `voters` with `cc` applied; the same array when it changes nothing. */
function changed(voters: readonly NodeId[], cc: ConfChange): readonly NodeId[] {
  const member = voters.includes(cc.node);
  if (cc.type === 'add') return member ? voters : [...voters, cc.node];
  return member ? voters.filter((id) => id !== cc.node) : voters;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function validate(node: RaftNode, config: RaftConfig): void {
  const positiveInteger = (name: string, value: number): void => {
    if (!Number.isInteger(value) || value < 1) {
      throw new TypeError(`RaftConfig.${name} must be a positive integer, got ${value}`);
    }
  };
  positiveInteger('electionTicks', node.electionTicks);
  positiveInteger('heartbeatTicks', node.heartbeatTicks);
  positiveInteger('maxEntriesPerAppend', node.maxEntriesPerAppend);
  positiveInteger('maxInflightAppends', node.maxInflightAppends);
  if (node.heartbeatTicks >= node.electionTicks) {
    throw new TypeError('RaftConfig.heartbeatTicks must be less than electionTicks');
  }
  if (config.id === '') throw new TypeError('RaftConfig.id must not be empty');
  if (new Set(config.peers).size !== config.peers.length) {
    throw new TypeError('RaftConfig.peers must not repeat a member');
  }
  if (config.peers.length === 0) throw new TypeError('RaftConfig.peers must not be empty');
}
