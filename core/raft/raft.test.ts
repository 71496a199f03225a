import { describe, expect, it } from 'vitest';
import { createRng } from '../random.ts';
import { RaftNode } from './raft.ts';
import { MemoryStorage } from './storage.ts';
import { Network, decode, encode, entriesOfTerms, type NetworkOptions } from './testing.ts';
import type { Message, MsgApp, MsgAppResp, MsgVote } from './types.ts';

const THREE = ['n1', 'n2', 'n3'];
const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'];

/** A network whose leader is `leader`, elected and with its empty entry committed. */
function withLeader(ids: readonly string[], leader = 'n1', options = {}): Network {
  const network = new Network(ids, options);
  network.campaign(leader);
  expect(network.leader()).toBe(leader);
  return network;
}

describe('leader election (§5.2)', () => {
  it('elects one leader, and keeps it while nothing fails', () => {
    const network = new Network(THREE);
    const leader = network.waitForLeader();
    const term = network.node(leader).term;
    network.tick(100);
    expect(network.leaders()).toEqual([`${leader}@${term}`]);
    for (const id of THREE) expect(network.node(id).leader).toBe(leader);
  });

  it('draws election timeouts in [electionTicks, 2 * electionTicks)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const node = new RaftNode({
        id: 'n1',
        peers: THREE,
        storage: new MemoryStorage(),
        rng: createRng(seed),
        electionTicks: 10,
        preVote: false,
      });
      let ticks = 0;
      while (node.role === 'follower') {
        node.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
    }
  });

  it('elects a new leader when the leader is cut off, and again when that one is', () => {
    const network = new Network(THREE);
    const first = network.waitForLeader();
    network.isolate(first);
    network.tick(50);
    const second = network.leader();
    expect(second).not.toBe(first);
    expect(second).not.toBeNull();
    expect(network.node(second!).term).toBeGreaterThan(network.node(first).term);

    // The old leader rejoins: it follows the new one.
    network.heal();
    network.tick(5);
    expect(network.leaders()).toEqual([`${second}@${network.node(second!).term}`]);

    // Without a quorum, nobody leads: the cut-off old leader stepped down (checkQuorum).
    network.isolate(second!);
    const other = THREE.find((id) => id !== second && id !== first)!;
    network.isolate(other);
    network.tick(50);
    expect(network.leader()).toBeNull();

    network.heal();
    expect(network.waitForLeader()).not.toBeNull();
  });

  it('elects a leader across many rounds of cutting the leader off', () => {
    const network = new Network(FIVE, { seed: 7 });
    for (let round = 0; round < 10; round++) {
      const leader = network.waitForLeader();
      network.isolate(leader);
      network.tick(40);
      network.heal();
      network.tick(5);
    }
    expect(network.leaders()).toHaveLength(1);
  });

  it('does not elect a candidate whose log is behind a majority (§5.4.1)', () => {
    const network = withLeader(THREE);
    network.isolate('n3');
    network.propose('n1', 'x');
    expect(network.node('n1').log.committed).toBe(2);

    // n3 has missed x; n1 goes down. Only n2 can win.
    network.crash('n1');
    network.heal();
    expect(network.waitForLeader()).toBe('n2');
    expect(network.applied.get('n3')).toEqual(['x']);
  });

  it('a voter refuses a candidate whose last term is older, or same term and shorter', () => {
    const network = Network.fromLogs(
      { n1: [1, 2], n2: [1, 1, 1], n3: [1] },
      { term: 2, commit: 1 },
    );
    const vote = (from: string, lastLogIndex: number, lastLogTerm: number): boolean => {
      const node = network.node('n1');
      const request: MsgVote = {
        type: 'MsgVote',
        from,
        to: 'n1',
        term: node.term + 1,
        lastLogIndex,
        lastLogTerm,
      };
      node.step(request);
      const ready = node.ready();
      node.advance(ready);
      const answer = ready.messages.find((m) => m.type === 'MsgVoteResp');
      return answer !== undefined && answer.type === 'MsgVoteResp' && !answer.reject;
    };
    expect(vote('n2', 3, 1)).toBe(false); // a longer log of an older term
    expect(vote('n3', 1, 2)).toBe(false); // same last term, shorter
    expect(vote('n2', 2, 2)).toBe(true); // as up to date
  });

  it('a node votes once per term, for the first candidate that asks', () => {
    const network = Network.fromLogs({ n1: [1], n2: [1], n3: [1] }, { term: 1, commit: 1 });
    const n3 = network.node('n3');
    const ask = (from: string): boolean => {
      n3.step({ type: 'MsgVote', from, to: 'n3', term: 2, lastLogIndex: 1, lastLogTerm: 1 });
      const ready = n3.ready();
      n3.advance(ready);
      return ready.messages.some((m) => m.type === 'MsgVoteResp' && !m.reject);
    };
    expect(ask('n1')).toBe(true);
    expect(ask('n2')).toBe(false);
    expect(ask('n1')).toBe(true); // a repeat of the request it granted
  });
});

describe('leaderLost: the driver saw the leader go (its connection closed)', () => {
  it('the followers elect another leader in a few ticks, in turn (no split vote), not after a whole election timeout', () => {
    for (let seed = 0; seed < 20; seed++) {
      const network = withLeader(THREE, 'n1', { seed, electionTicks: 10 });
      const term = network.node('n1').term;
      network.crash('n1');
      for (const id of ['n2', 'n3']) network.node(id).leaderLost('n1');
      let ticks = 0;
      while (network.leader() === null && ticks < 100) {
        network.tick();
        ticks++;
      }
      expect(ticks, `seed ${seed}`).toBeLessThanOrEqual(2);
      expect(network.leader(), `seed ${seed}`).toBe('n2');
      expect(network.node(network.leader()!).term).toBeGreaterThan(term);
    }
    // Without the hint, the same crash waits out an election timeout: at least electionTicks.
    const network = withLeader(THREE, 'n1', { seed: 1, electionTicks: 10 });
    network.crash('n1');
    let ticks = 0;
    while (network.leader() === null) {
      network.tick();
      ticks++;
    }
    expect(ticks).toBeGreaterThanOrEqual(9);
  });

  it('when the first in turn has fallen behind, the next one wins', () => {
    const network = withLeader(THREE, 'n1', { electionTicks: 10 });
    network.cut('n1', 'n2');
    network.propose('n1', 'x'); // n1 and n3 have it; n2 does not
    network.crash('n1');
    network.heal();
    for (const id of ['n2', 'n3']) network.node(id).leaderLost('n1');
    network.tick(4);
    expect(network.leader()).toBe('n3');
    network.tick(2);
    expect(network.applied.get('n2')).toEqual(['x']);
  });

  it('is ignored for another node than the leader, and on the leader', () => {
    const network = withLeader(THREE);
    network.node('n2').leaderLost('n3');
    expect(network.node('n2').leader).toBe('n1');
    network.node('n1').leaderLost('n1');
    expect(network.node('n1').role).toBe('leader');
    network.tick(3);
    expect(network.leader()).toBe('n1');
  });

  it('a leader that is still alive is heard again and keeps leading (a hint, not a verdict)', () => {
    const network = withLeader(THREE, 'n1', { electionTicks: 10 });
    const term = network.node('n1').term;
    network.node('n2').leaderLost('n1');
    expect(network.node('n2').leader).toBeNull();
    network.tick(1); // n1's heartbeat
    expect(network.node('n2').leader).toBe('n1');
    network.tick(30);
    // n2 may have campaigned once, but n3 heard from n1 within its lease: n1 still leads.
    expect(network.leaders()).toEqual([`n1@${term}`]);
  });
});

describe('pre-vote (thesis §9.6)', () => {
  it('a node rejoining from a partition does not depose a healthy leader', () => {
    const network = withLeader(THREE);
    const term = network.node('n1').term;
    network.isolate('n3');
    network.tick(100); // n3 times out again and again, but never wins a pre-vote
    expect(network.node('n3').term).toBe(term);
    network.propose('n1', 'x'); // the majority moves on: n3's log is now behind

    network.heal();
    network.tick(30);
    expect(network.leaders()).toEqual([`n1@${term}`]);
    expect(network.applied.get('n3')).toEqual(['x']);
  });

  it('nor does one with an up-to-date log that reaches only a follower (leader lease)', () => {
    // n3 can reach n2 but not n1. Its log is as up to date as theirs, so only the lease rule
    // stops n2 from granting its pre-vote and vote: n2 heard from n1 within electionTicks.
    const network = withLeader(THREE);
    const term = network.node('n1').term;
    network.isolate('n3');
    network.tick(100);
    network.heal();
    network.cut('n1', 'n3');
    network.tick(50);
    expect(network.leaders()).toEqual([`n1@${term}`]);
    expect(network.node('n2').leader).toBe('n1');
    expect(network.node('n2').term).toBe(term);
  });

  it('without pre-vote, the same rejoin forces an election at a higher term', () => {
    const network = withLeader(THREE, 'n1', { preVote: false, checkQuorum: false });
    const term = network.node('n1').term;
    network.isolate('n3');
    network.tick(100);
    expect(network.node('n3').term).toBeGreaterThan(term + 3);
    network.heal();
    network.tick(30);
    expect(network.node(network.waitForLeader()).term).toBeGreaterThan(term + 3);
  });

  it('without pre-vote, checkQuorum frees a candidate stuck at a higher term', () => {
    // Followers in the leader's lease ignore its votes; its answer to the leader's next
    // heartbeat (a stale term to it) makes the leader step down, and an election follows.
    const network = withLeader(THREE, 'n1', { preVote: false });
    network.isolate('n3');
    network.tick(60);
    expect(network.node('n3').term).toBeGreaterThan(network.node('n1').term);
    network.heal();
    network.agree('x');
    const terms = new Set(THREE.map((id) => network.node(id).term));
    expect(terms.size).toBe(1);
  });

  it('a pre-candidate keeps its term and vote', () => {
    const network = withLeader(THREE);
    network.isolate('n2');
    const before = network.node('n2').hardState();
    network.campaign('n2');
    expect(network.node('n2').role).toBe('pre-candidate');
    expect(network.node('n2').hardState()).toEqual(before);
  });
});

describe('log replication (§5.3)', () => {
  it('a new leader commits an empty entry of its term', () => {
    const network = withLeader(THREE);
    for (const id of THREE) {
      expect(network.terms(id)).toEqual([1]);
      expect(network.node(id).log.committed).toBe(1);
    }
  });

  it('agrees on proposals with a majority, and not without one', () => {
    const network = withLeader(THREE);
    network.propose('n1', 'a');
    network.isolate('n3');
    network.propose('n1', 'b');
    for (const id of ['n1', 'n2']) expect(network.applied.get(id)).toEqual(['a', 'b']);
    expect(network.applied.get('n3')).toEqual(['a']);

    network.isolate('n2');
    const index = network.propose('n1', 'c');
    network.tick(5);
    expect(network.node('n1').log.committed).toBeLessThan(index);
    expect(network.applied.get('n1')).toEqual(['a', 'b']);

    // Once the partition heals, the cluster agrees again (c may or may not survive: it never
    // committed).
    network.heal();
    const leader = network.waitForLeader();
    network.propose(leader, 'd');
    network.tick(3);
    const agreed = network.applied.get('n1')!;
    expect(agreed.slice(0, 2)).toEqual(['a', 'b']);
    expect(agreed.at(-1)).toBe('d');
    for (const id of THREE) expect(network.applied.get(id)).toEqual(agreed);
  });

  it('commits concurrent proposals in one order on every node', () => {
    const network = withLeader(FIVE);
    const leader = network.node('n1');
    const proposed = Array.from({ length: 50 }, (_, i) => `v${i}`);
    for (const value of proposed) leader.propose(encode(value));
    network.flush('n1');
    network.deliverAll();
    network.tick(2);
    for (const id of FIVE) expect(network.applied.get(id)).toEqual(proposed);
  });

  it('a partitioned leader rejoins: its uncommitted entries are replaced', () => {
    const network = withLeader(THREE);
    network.propose('n1', 'a');
    network.isolate('n1');
    network.node('n1').propose(encode('lost-1'));
    network.node('n1').propose(encode('lost-2'));
    network.flush('n1');
    network.deliverAll();

    network.tick(50);
    const leader = network.leader();
    expect(leader).not.toBe('n1');
    network.propose(leader!, 'b');

    network.heal();
    network.tick(5);
    network.propose(network.waitForLeader(), 'c');
    network.tick(3);
    for (const id of THREE) expect(network.applied.get(id)).toEqual(['a', 'b', 'c']);
  });

  it('a follower keeps what agrees when a delayed, shorter append arrives', () => {
    // Without a majority nothing commits, so n2 cannot dismiss the old append as below its
    // commit index: it must see that every entry agrees and truncate nothing.
    const network = withLeader(FIVE);
    for (const id of ['n3', 'n4', 'n5']) network.isolate(id);
    network.node('n1').propose(encode('a'));
    network.flush('n1');
    const delayed = network.queue.filter((m) => m.to === 'n2' && m.type === 'MsgApp');
    expect(delayed).toHaveLength(1);
    network.deliverAll();
    network.propose('n1', 'b');
    expect(network.terms('n2')).toEqual([1, 1, 1]);
    expect(network.node('n2').log.committed).toBe(1);
    network.queue.push(...delayed); // the old append arrives again, late
    network.deliverAll();
    expect(network.terms('n2')).toEqual([1, 1, 1]);
  });

  it('backs up over a long divergent log in a few rounds, one per term at most', () => {
    // 6.824's TestBackup2B: n1 and n2 append 50 entries nobody commits, while n3-n5 commit 50
    // others over two terms; then n1 and n2 return under the new leader.
    const network = withLeader(FIVE);
    network.partition(['n1', 'n2'], ['n3', 'n4', 'n5']);
    for (let i = 0; i < 50; i++) network.node('n1').propose(encode(`stale${i}`));
    network.flush('n1');
    network.deliverAll();

    network.crash('n1');
    network.crash('n2');
    network.heal();
    let leader = network.waitForLeader();
    for (let i = 0; i < 25; i++) network.node(leader).propose(encode(`fresh${i}`));
    network.flush(leader);
    network.deliverAll();
    network.isolate(leader);
    network.tick(50);
    network.heal();
    leader = network.waitForLeader();
    for (let i = 25; i < 50; i++) network.node(leader).propose(encode(`fresh${i}`));
    network.flush(leader);
    network.deliverAll();

    network.restart('n1');
    network.restart('n2');
    const rejections = (id: string): number =>
      network.delivered.filter((m) => m.type === 'MsgAppResp' && m.from === id && m.reject).length;
    const before = rejections('n1') + rejections('n2');
    network.tick(5);
    const fresh = Array.from({ length: 50 }, (_, i) => `fresh${i}`);
    for (const id of FIVE) expect(network.applied.get(id)).toEqual(fresh);
    // One probe to find where n1 and n2's logs end, and one to skip their stale term; linear
    // backtracking would take one round per stale entry (50).
    expect(rejections('n1') + rejections('n2') - before).toBeLessThanOrEqual(4);
  });

  it('the fast-backtracking hint skips a whole divergent term (etcd example)', () => {
    // idx        1 2 3 4 5 6 7 8 9
    // term (L)   1 3 3 3 5 5 5 5 5
    // term (F)   1 1 1 1 2 2
    const network = Network.fromLogs(
      { n1: [1, 3, 3, 3, 5, 5, 5, 5, 5], n2: [1, 1, 1, 1, 2, 2], n3: [1, 3, 3, 3, 5] },
      { term: 5, commit: 1 },
    );
    network.isolate('n3');
    network.campaign('n1');
    network.cut('n1', 'n3');
    network.tick(3);
    const rejected = network.delivered.filter(
      (m): m is MsgAppResp => m.type === 'MsgAppResp' && m.from === 'n2' && m.reject,
    );
    // The first probe (at 9) learns n2 ends at 6 with term 2; the leader then skips its own
    // entries of terms 3 and 5 and probes at 1, which matches.
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ index: 9, hintIndex: 6, hintTerm: 2 });
    expect(network.terms('n2')).toEqual(network.terms('n1'));
  });

  it('sends at most maxEntriesPerAppend entries per append and maxInflightAppends in flight', () => {
    const network = withLeader(THREE, 'n1', { maxEntriesPerAppend: 4, maxInflightAppends: 2 });
    network.propose('n1', 'warm-up'); // n2 and n3 are in the replicate state now
    network.dropWhen((m) => m.to === 'n3');
    const sentToN3 = (): MsgApp[] =>
      network.queue.filter((m): m is MsgApp => m.type === 'MsgApp' && m.to === 'n3');
    let appendsWithEntries = 0;
    for (let i = 0; i < 40; i++) {
      network.node('n1').propose(encode(`v${i}`));
      network.flush('n1');
      appendsWithEntries += sentToN3().filter((m) => m.entries.length > 0).length;
      for (const m of network.queue) {
        if (m.type === 'MsgApp') expect(m.entries.length).toBeLessThanOrEqual(4);
      }
      network.deliverAll();
    }
    // n3 answers nothing: after 2 appends the leader stops sending it entries.
    expect(appendsWithEntries).toBe(2);
    expect(network.node('n1').progress.get('n3')!.inflight).toHaveLength(2);

    // When n3 answers again, the leader probes and streams the rest.
    network.dropWhen(null);
    network.tick(5);
    expect(network.applied.get('n3')).toEqual(network.applied.get('n1'));
    expect(network.applied.get('n3')).toHaveLength(41);
  });
});

describe('the commit rule (§5.4.2, Figure 8)', () => {
  /**
   * Figure 8 (c): n1 leads term 4 and its term-2 entry at index 2 sits on a majority (n1, n2,
   * n3). n5 holds a term-3 entry at index 2. n1 must not commit index 2 by counting.
   */
  function figure8(): Network {
    const network = Network.fromLogs(
      { n1: [1, 2], n2: [1, 2], n3: [1, 2], n4: [1], n5: [1, 3] },
      { term: 3, commit: 1 },
      { checkQuorum: false },
    );
    // n1 wins term 4, but its appends are lost: what reaches it is only what we step below.
    network.dropWhen((m) => m.from === 'n1' && m.type === 'MsgApp');
    network.campaign('n1');
    expect(network.leaders()).toEqual(['n1@4']);
    expect(network.terms('n1')).toEqual([1, 2, 4]);
    return network;
  }

  const ack = (network: Network, from: string, index: number): void => {
    const m: Message = {
      type: 'MsgAppResp',
      from,
      to: 'n1',
      term: 4,
      index,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
    };
    network.node('n1').step(m);
    network.flush('n1');
  };

  it('an entry of an earlier term on a majority is not committed by counting', () => {
    const network = figure8();
    ack(network, 'n2', 2);
    ack(network, 'n3', 2);
    expect(network.node('n1').log.committed).toBe(1);

    // (d): n1 fails; n5 wins with n2, n3 and n4 (its last term, 3, beats their 2) and
    // overwrites index 2 everywhere. Nothing committed was lost: the checker saw no violation.
    network.crash('n1');
    network.queue = []; // n1's last appends are lost with it
    network.dropWhen(null);
    network.campaign('n5');
    network.campaign('n5'); // the first pre-vote round only taught n5 the current term
    expect(network.leader()).toBe('n5');
    network.tick(3);
    for (const id of ['n2', 'n3', 'n4', 'n5']) expect(network.terms(id)).toEqual([1, 3, 5]);
    network.restart('n1');
    network.tick(3);
    expect(network.terms('n1')).toEqual([1, 3, 5]);
    for (const id of FIVE) expect(network.applied.get(id)).toEqual(['1@1', '2@3']);
  });

  it('it is committed with the first entry of the current term that is (Log Matching)', () => {
    const network = figure8();
    ack(network, 'n2', 3);
    expect(network.node('n1').log.committed).toBe(1);
    ack(network, 'n3', 3);
    expect(network.node('n1').log.committed).toBe(3);
    expect(network.applied.get('n1')).toEqual(['1@1', '2@2']);
  });
});

describe('persistence (Figure 2)', () => {
  it('a node rebuilt from its persisted hard state and entries keeps its term, vote and log', () => {
    const network = withLeader(THREE);
    network.propose('n1', 'a');
    network.propose('n1', 'b');
    for (const id of THREE) {
      const before = network.node(id);
      const state = { hardState: before.hardState(), terms: network.terms(id) };
      network.restart(id);
      const after = network.node(id);
      expect(after.hardState()).toEqual(state.hardState);
      expect(network.terms(id)).toEqual(state.terms);
      expect(after.vote).toBe('n1');
    }
    // They replay the committed log into their (empty) state machines and carry on.
    network.flush('n1');
    network.flush('n2');
    network.flush('n3');
    for (const id of THREE) expect(network.applied.get(id)).toEqual(['a', 'b']);
    network.propose(network.waitForLeader(), 'c');
    network.tick(3);
    for (const id of THREE) expect(network.applied.get(id)).toEqual(['a', 'b', 'c']);
  });

  it('a restarted voter does not vote twice in one term', () => {
    const network = Network.fromLogs({ n1: [1], n2: [1], n3: [1] }, { term: 1, commit: 1 });
    const ask = (from: string): boolean => {
      const n3 = network.node('n3');
      n3.step({ type: 'MsgVote', from, to: 'n3', term: 2, lastLogIndex: 1, lastLogTerm: 1 });
      const granted = network.queue.length;
      network.flush('n3');
      const answers = network.queue.slice(granted);
      network.queue = [];
      return answers.some((m) => m.type === 'MsgVoteResp' && !m.reject);
    };
    expect(ask('n1')).toBe(true);
    network.restart('n3');
    expect(ask('n2')).toBe(false);
  });

  it('hands out entries and hard state to persist before the messages that depend on them', () => {
    const network = withLeader(THREE);
    const n1 = network.node('n1');
    n1.propose(encode('a'));
    const ready = n1.ready();
    expect(ready.entries.map((e) => e.index)).toEqual([2]);
    expect(ready.messages.some((m) => m.type === 'MsgApp' && m.entries.length === 1)).toBe(true);
    expect(ready.committedEntries).toEqual([]);
    expect(() => n1.ready()).toThrow(/advance/);
    n1.advance(ready);
    // The entry is in the storage the driver owns only once the driver has written it.
    expect(network.storages.get('n1')!.lastIndex()).toBe(1);
  });

  it('survives crashes and restarts of every node while proposals continue', () => {
    const network = new Network(FIVE, { seed: 3 });
    const committed: string[] = [];
    for (let round = 0; round < 8; round++) {
      const leader = network.waitForLeader();
      const value = `v${round}`;
      network.propose(leader, value);
      network.tick(2);
      if (network.applied.get(leader)!.includes(value)) committed.push(value);
      network.restart(FIVE[round % 5]!);
      network.restart(FIVE[(round + 2) % 5]!);
      network.tick(3);
    }
    network.tick(20);
    for (const id of FIVE) {
      const applied = network.applied.get(id)!;
      for (const value of committed) expect(applied).toContain(value);
    }
  });
});

/**
 * 6.824's unreliable churn in miniature: seeded loss, duplication, reordering, partitions
 * that come and go, restarts and proposals, with every invariant checked after every
 * delivery; then the faults stop and the cluster must agree on one log again.
 */
let served = 0;

function churn(seed: number, options: NetworkOptions = {}): void {
  const rng = createRng(seed);
  const network = new Network(FIVE, {
    seed,
    lossRate: 0.1,
    duplicateRate: 0.05,
    reorder: true,
    maxEntriesPerAppend: 3,
    ...options,
  });
  let proposals = 0;
  // Linearizable reads: a read must see every write committed anywhere before it was asked.
  const mustSee = new Map<string, number>();
  let maxCommit = 0;
  for (let step = 0; step < 150; step++) {
    for (const node of network.nodes.values()) maxCommit = Math.max(maxCommit, node.log.committed);
    const dice = rng.nextInt(100);
    if (dice < 4) {
      const shuffled = [...FIVE].sort(() => rng.next() - 0.5);
      const split = 1 + rng.nextInt(4);
      network.partition(shuffled.slice(0, split), shuffled.slice(split));
    } else if (dice < 8) network.heal();
    else if (dice < 10) network.restart(FIVE[rng.nextInt(5)]!);
    else if (dice < 13) {
      const id = FIVE[rng.nextInt(5)]!;
      if (network.nodes.has(id)) network.compact(id);
    } else if (dice < 15) {
      const leader = network.leader();
      if (leader !== null) {
        network.node(leader).transferLeader(FIVE[rng.nextInt(5)]!);
        network.flush(leader);
      }
    } else if (dice < 18) {
      const id = FIVE[rng.nextInt(5)]!;
      if (network.nodes.has(id)) {
        const ctx = `r${mustSee.size}`;
        mustSee.set(ctx, maxCommit);
        network.node(id).readIndex(encode(ctx));
        network.flush(id);
      }
    } else if (dice < 40) {
      const leader = network.leader();
      if (leader !== null) {
        network.node(leader).propose(encode(`s${seed}-${proposals++}`));
        network.flush(leader);
      }
    }
    network.tick();
  }
  network.heal();
  network.lossRate = 0;
  network.duplicateRate = 0;
  const leader = network.agree('final');
  network.tick(10); // a retried 'final' may still be on its way to some nodes
  const reference = network.applied.get(leader)!;
  for (const id of FIVE) expect(network.applied.get(id)).toEqual(reference);
  for (const read of [...network.readStates.values()].flat()) {
    expect(read.index).toBeGreaterThanOrEqual(mustSee.get(decode(read.ctx))!);
  }
  served += [...network.readStates.values()].flat().length;
}

describe('an unreliable network (seeded)', () => {
  it('keeps every invariant under loss, duplication, reordering, partitions, restarts and compaction and transfers', () => {
    for (let seed = 1; seed <= 10; seed++) churn(seed);
  });

  it('and without pre-vote or checkQuorum', () => {
    for (let seed = 1; seed <= 5; seed++) churn(seed, { preVote: false, checkQuorum: false });
  });

  it('served linearizable reads along the way', () => {
    expect(served).toBeGreaterThan(20);
  });
});

describe('log compaction and snapshots (§7)', () => {
  const snapsTo = (network: Network, id: string): number =>
    network.delivered.filter((m) => m.type === 'MsgSnap' && m.to === id).length;

  it('a follower cut off while the leader compacts catches up by a snapshot, then by appends', () => {
    const network = withLeader(THREE);
    network.isolate('n3');
    for (let i = 0; i < 10; i++) network.propose('n1', `a${i}`);
    const index = network.compact('n1');
    expect(index).toBe(11);
    expect(network.storages.get('n1')!.firstIndex()).toBe(12);
    network.propose('n1', 'after');

    network.heal();
    network.tick(3);
    // n3's next entry (2) is compacted away on the leader: only the snapshot can help it.
    expect(snapsTo(network, 'n3')).toBe(1);
    expect(network.storages.get('n3')!.snapshot().index).toBe(index);
    expect(network.storages.get('n3')!.firstIndex()).toBe(12);
    expect(network.applied.get('n3')).toEqual(network.applied.get('n1'));
    expect(network.applied.get('n3')!.at(-1)).toBe('after');

    // From then on, plain appends.
    network.propose('n1', 'b');
    network.tick(2);
    expect(snapsTo(network, 'n3')).toBe(1);
    expect(network.node('n1').progress.get('n3')!.state).toBe('replicate');
    expect(network.applied.get('n3')!.at(-1)).toBe('b');
  });

  it("a follower holding the snapshot's last entry keeps the entries after it (rule 6)", () => {
    const network = withLeader(THREE);
    network.propose('n1', 'a');
    const n2 = network.node('n2');
    const lastIndex = n2.log.lastIndex();
    n2.step({
      type: 'MsgSnap',
      from: 'n1',
      to: 'n2',
      term: n2.term,
      snapshot: { index: 1, term: 1, data: new Uint8Array(0) },
    });
    expect(n2.log.lastIndex()).toBe(lastIndex);
    expect(n2.log.pendingSnapshot()).toBeNull();
  });

  it('a restarted node restores from its snapshot and replays the entries after it', () => {
    const network = withLeader(THREE);
    network.propose('n1', 'a');
    network.propose('n1', 'b');
    expect(network.compact('n2')).toBe(3);
    network.propose('n1', 'c');
    network.restart('n2');
    expect(network.node('n2').log.firstIndex()).toBe(4);
    expect(network.applied.get('n2')).toEqual(['a', 'b']); // from the snapshot
    network.flush('n2');
    expect(network.applied.get('n2')).toEqual(['a', 'b', 'c']); // then the log
    network.propose(network.waitForLeader(), 'd');
    network.tick(2);
    for (const id of THREE) expect(network.applied.get(id)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a new leader whose log is compacted sends its own snapshot', () => {
    const network = withLeader(THREE);
    network.isolate('n3');
    for (let i = 0; i < 5; i++) network.propose('n1', `a${i}`);
    network.compact('n2');
    network.crash('n1');
    network.heal();
    network.cut('n1', 'n3');
    expect(network.waitForLeader()).toBe('n2');
    network.tick(3);
    expect(snapsTo(network, 'n3')).toBe(1);
    expect(network.applied.get('n3')).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
  });
});

describe('leadership transfer (thesis §3.10)', () => {
  const preVotesFrom = (network: Network, id: string): number =>
    network.delivered.filter((m) => m.type === 'MsgPreVote' && m.from === id).length;

  it('hands leadership to an up-to-date follower at once, without a pre-vote', () => {
    const network = withLeader(THREE);
    network.propose('n1', 'a');
    const term = network.node('n1').term;
    const preVotes = preVotesFrom(network, 'n2');
    network.node('n1').transferLeader('n2');
    network.flush('n1');
    network.deliverAll();
    expect(network.leaders()).toEqual([`n2@${term + 1}`]);
    expect(network.node('n1').leader).toBe('n2');
    // n1 and n3 were in n1's lease; the transfer's vote request passed it anyway.
    expect(preVotesFrom(network, 'n2')).toBe(preVotes);
    network.propose('n2', 'b');
    for (const id of THREE) expect(network.applied.get(id)).toEqual(['a', 'b']);
  });

  it('brings a lagging target up to date first, refusing proposals meanwhile', () => {
    const network = withLeader(THREE);
    network.dropWhen((m) => m.to === 'n3' && m.type === 'MsgApp');
    for (let i = 0; i < 5; i++) network.propose('n1', `a${i}`);
    network.dropWhen(null);
    expect(network.node('n3').log.lastIndex()).toBeLessThan(network.node('n1').log.lastIndex());

    const n1 = network.node('n1');
    n1.transferLeader('n3');
    expect(n1.propose(encode('refused'))).toEqual({ accepted: false, leader: 'n3' });
    network.flush('n1');
    // n3's flow is paused (its appends went unanswered): a heartbeat's answer resumes it.
    network.tick(2);
    // n3 could only win with n1's whole log (§5.4.1): it got it before MsgTimeoutNow.
    expect(network.leader()).toBe('n3');
    const timeoutNow = network.delivered.findIndex((m) => m.type === 'MsgTimeoutNow');
    const caughtUp = network.delivered.findIndex(
      (m) => m.type === 'MsgAppResp' && m.from === 'n3' && m.index === 6,
    );
    expect(caughtUp).toBeGreaterThanOrEqual(0);
    expect(timeoutNow).toBeGreaterThan(caughtUp);
    network.tick(2);
    const values = ['a0', 'a1', 'a2', 'a3', 'a4'];
    for (const id of THREE) expect(network.applied.get(id)).toEqual(values);
  });

  it('is abandoned after an election timeout when the target is cut off', () => {
    const network = withLeader(THREE);
    network.isolate('n3');
    const n1 = network.node('n1');
    n1.transferLeader('n3');
    network.flush('n1');
    network.deliverAll();
    expect(n1.leadTransferee).toBe('n3');
    expect(n1.propose(encode('refused')).accepted).toBe(false);
    network.tick(n1.electionTicks);
    expect(n1.leadTransferee).toBeNull();
    expect(network.leaders()).toEqual([`n1@${n1.term}`]);
    network.propose('n1', 'b');
    expect(network.applied.get('n2')).toEqual(['b']);
  });
});

describe('linearizable reads with ReadIndex (thesis §6.4)', () => {
  it('releases a read at the commit index only once a quorum answers a heartbeat', () => {
    const network = withLeader(FIVE);
    network.propose('n1', 'a');
    const n1 = network.node('n1');
    const commit = n1.log.committed;
    n1.readIndex(encode('r1'));
    // Only n2 answers: with n1, two of five.
    network.dropWhen((m) => m.type === 'MsgHeartbeatResp' && m.from !== 'n2');
    network.flush('n1');
    network.deliverAll();
    network.tick(3);
    expect(network.reads('n1')).toEqual([]);
    // A write arrives meanwhile: the read still reports the index recorded on arrival.
    network.propose('n1', 'b');

    network.dropWhen((m) => m.type === 'MsgHeartbeatResp' && m.from !== 'n2' && m.from !== 'n3');
    network.tick(1); // n3's answer makes three of five
    expect(network.reads('n1')).toEqual([`${commit}:r1`]);
  });

  it('waits for the leader to commit an entry of its own term first', () => {
    const network = new Network(THREE);
    network.dropWhen((m) => m.type === 'MsgApp');
    network.campaign('n1');
    const n1 = network.node('n1');
    expect(n1.role).toBe('leader');
    n1.readIndex(encode('r1'));
    network.flush('n1');
    network.tick(3); // heartbeats are answered, but n1's no-op is not committed
    expect(network.reads('n1')).toEqual([]);
    network.dropWhen(null);
    network.tick(2);
    expect(network.reads('n1')).toEqual([`${n1.log.committed}:r1`]);
  });

  it('a partitioned old leader never serves a read (it never reaches a quorum)', () => {
    // Without checkQuorum n1 keeps believing it leads, and n2 still answers it.
    const network = withLeader(FIVE, 'n1', { checkQuorum: false });
    network.propose('n1', 'a');
    network.partition(['n1', 'n2'], ['n3', 'n4', 'n5']);
    network.tick(40); // the majority elects a new leader and writes b
    const leader = network.waitForLeader();
    expect(['n3', 'n4', 'n5']).toContain(leader);
    network.propose(leader, 'b');
    expect(network.node('n1').role).toBe('leader');

    // A read on n1 now would miss b: n1 must not serve it.
    network.node('n1').readIndex(encode('stale'));
    network.flush('n1');
    network.tick(20);
    expect(network.reads('n1')).toEqual([]);
    // The new leader serves reads, at an index that includes b.
    network.node(leader).readIndex(encode('fresh'));
    network.flush(leader);
    network.tick(1);
    expect(network.reads(leader)).toEqual([`${network.node(leader).log.committed}:fresh`]);
  });

  it("a follower's read goes through the leader", () => {
    const network = withLeader(THREE);
    network.propose('n1', 'a');
    network.node('n2').readIndex(encode('r2'));
    network.flush('n2');
    network.deliverAll();
    network.tick(1);
    const types = network.delivered.map((m) => m.type);
    expect(types).toContain('MsgReadIndex');
    expect(types).toContain('MsgReadIndexResp');
    expect(network.reads('n1')).toEqual([]);
    expect(network.reads('n2')).toEqual([`${network.node('n1').log.committed}:r2`]);
  });
});

describe('a single node', () => {
  it('elects itself and commits each proposal in the Ready that persists it', () => {
    const storage = new MemoryStorage();
    const node = new RaftNode({ id: 'n1', peers: ['n1'], storage, rng: createRng(1) });
    node.campaign();
    expect(node.role).toBe('leader');
    node.propose(encode('a'));
    const ready = node.ready();
    expect(ready.hardState).toEqual({ term: 1, vote: 'n1', commit: 2 });
    expect(ready.entries.map((e) => e.index)).toEqual([1, 2]);
    // Applying entries of the same Ready is allowed: the driver persists them first.
    expect(ready.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    storage.append(ready.entries);
    node.advance(ready);
    expect(node.hasReady()).toBe(false);
    // A one-member quorum confirms a read at once.
    node.readIndex(encode('r'));
    expect(node.ready().readStates).toEqual([{ index: 2, ctx: encode('r') }]);
  });
});

describe('Storage and log', () => {
  it('a follower truncates a conflicting suffix, never a committed entry', () => {
    const storage = new MemoryStorage();
    storage.append(entriesOfTerms([1, 1, 2, 2]));
    storage.setHardState({ term: 2, vote: null, commit: 2 });
    const node = new RaftNode({ id: 'n2', peers: THREE, storage, rng: createRng(1) });
    node.step({
      type: 'MsgApp',
      from: 'n1',
      to: 'n2',
      term: 3,
      prevLogIndex: 2,
      prevLogTerm: 1,
      entries: [{ term: 3, index: 3, data: encode('x') }],
      commit: 3,
    });
    expect(node.log.slice(1, 10).map((e) => e.term)).toEqual([1, 1, 3]);
    expect(node.log.committed).toBe(3);
    const ready = node.ready();
    expect(ready.entries.map((e) => `${e.index}@${e.term}`)).toEqual(['3@3']);
    storage.append(ready.entries);
    expect(storage.lastIndex()).toBe(3);
  });
});
