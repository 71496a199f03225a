/**
 * Single-server membership changes (thesis §4.1; etcd's ConfChange), over the test Network:
 * adding a member that catches up (by snapshot once the log is compacted) and then counts,
 * removing a follower or the leader, one change at a time, the 2015 fix, replacing a dead
 * member, and removed members that keep running.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../random.ts';
import { RaftNode } from './raft.ts';
import { MemoryStorage } from './storage.ts';
import { Network } from './testing.ts';
import { decodeConfChange, encodeConfChange, type ConfChange, type Entry } from './types.ts';

const THREE = ['n1', 'n2', 'n3'];
const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'];

function withLeader(ids: readonly string[], leader = 'n1'): Network {
  const network = new Network(ids);
  network.campaign(leader);
  expect(network.leader()).toBe(leader);
  return network;
}

/** Proposes `cc` on `leader`, which must accept it; it is committed and applied on return. */
function change(network: Network, leader: string, cc: ConfChange): number {
  const result = network.proposeConfChange(leader, cc);
  if (!result.accepted) throw new Error(`refused: ${JSON.stringify(result)}`);
  return result.index;
}

/** Whether a proposal on `leader` commits with what is up now (no ticks). */
function commits(network: Network, leader: string, text: string): boolean {
  const index = network.propose(leader, text);
  return network.node(leader).log.committed >= index;
}

describe('ConfChange encoding', () => {
  it('round-trips, and refuses bytes it did not write', () => {
    for (const cc of [
      { type: 'add', node: 'n4' },
      { type: 'remove', node: 'replica-é' },
    ] as const) {
      expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    }
    expect(() => decodeConfChange(new Uint8Array([3, 65]))).toThrow(/not an encoded ConfChange/);
    expect(() => decodeConfChange(new Uint8Array([1]))).toThrow(/not an encoded ConfChange/);
    expect(() => encodeConfChange({ type: 'add', node: '' })).toThrow(TypeError);
  });
});

describe('adding a member', () => {
  it('a new member catches up from a snapshot, then counts in the quorum', () => {
    const network = withLeader(THREE);
    for (let i = 0; i < 10; i++) network.propose('n1', `v${i}`);
    const snapshotIndex = network.compact('n1');
    expect(network.node('n1').log.firstIndex()).toBe(snapshotIndex + 1);

    network.addNode('n4');
    expect(network.node('n4').voters()).toEqual(THREE); // not a member in its own eyes yet
    const index = change(network, 'n1', { type: 'add', node: 'n4' });
    network.tick(2);

    expect(network.node('n1').voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    // n4 was sent the snapshot (it carries the voters), then the entries after it.
    expect(network.storages.get('n4')!.snapshot().index).toBe(snapshotIndex);
    expect(network.storages.get('n4')!.snapshot().voters).toEqual(THREE);
    expect(network.node('n4').log.committed).toBeGreaterThanOrEqual(index);
    expect(network.node('n4').voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(network.applied.get('n4')).toEqual(network.applied.get('n1'));

    // Four voters: a quorum is three. With n2 down, n1, n3 and n4 commit...
    network.crash('n2');
    expect(commits(network, 'n1', 'with n4')).toBe(true);
    // ... and with n3 down too, n1 and n4 are two of four: nothing commits.
    network.crash('n3');
    expect(commits(network, 'n1', 'two of four')).toBe(false);
    network.restart('n3');
    network.tick(3);
    expect(network.applied.get('n4')).toContain('two of four');
  });

  it('a new member replays the whole log when nothing was compacted', () => {
    const network = withLeader(THREE);
    network.propose('n1', 'a');
    change(network, 'n1', { type: 'remove', node: 'n3' });
    network.addNode('n4');
    change(network, 'n1', { type: 'add', node: 'n4' });
    network.tick(2);
    // n4 learned the removal and its own addition from the entries, applying them in order.
    expect(network.node('n4').voters()).toEqual(['n1', 'n2', 'n4']);
    expect(network.applied.get('n4')).toEqual(['a']);
  });
});

describe('removing a member', () => {
  it('a group of five shrunk to three commits with two', () => {
    const network = withLeader(FIVE);
    network.crash('n3');
    network.crash('n4');
    network.crash('n5');
    expect(commits(network, 'n1', 'two of five')).toBe(false);
    for (const id of ['n3', 'n4', 'n5']) network.restart(id);
    network.tick(2);

    change(network, 'n1', { type: 'remove', node: 'n5' });
    expect(network.node('n1').voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    change(network, 'n1', { type: 'remove', node: 'n4' });
    expect(network.node('n1').voters()).toEqual(['n1', 'n2', 'n3']);
    network.crash('n3');
    network.crash('n4');
    network.crash('n5');
    expect(commits(network, 'n1', 'two of three')).toBe(true);
    expect(network.applied.get('n2')).toContain('two of three');
    expect(network.applied.get('n2')).toContain('two of five');
  });

  it('the leader removed steps down once the removal is applied, and the rest elect', () => {
    const network = withLeader(THREE);
    network.propose('n1', 'before');
    const term = network.node('n1').term;
    change(network, 'n1', { type: 'remove', node: 'n1' });
    // Thesis §4.2.2: it led until the removal was committed, then stepped down, handing over.
    expect(network.node('n1').role).toBe('follower');
    expect(network.node('n1').voters()).toEqual(['n2', 'n3']);
    const next = network.waitForLeader();
    expect(['n2', 'n3']).toContain(next);
    expect(network.node(next).term).toBe(term + 1); // the handover's election, at once
    expect(network.agree('after')).toBe(next);
    // n1 keeps ticking, never campaigns, and holds nothing the group now commits.
    network.tick(100);
    expect(network.node('n1').role).toBe('follower');
    expect(network.node('n1').term).toBe(term); // nobody asks it for a vote any more
    expect(network.applied.get('n1')).not.toContain('after');
    expect(network.leaders()).toEqual([`${next}@${term + 1}`]);
  });

  it('a removed member that never learned it keeps ticking without inflating any term', () => {
    for (const checkQuorum of [true, false]) {
      const network = new Network(THREE, { checkQuorum });
      network.campaign('n1');
      network.isolate('n3');
      change(network, 'n1', { type: 'remove', node: 'n3' });
      network.propose('n1', 'x');
      network.heal();
      const term = network.node('n1').term;
      // n3 still thinks it is a voter; its pre-votes are refused (its log is behind) or
      // ignored (the others hear from their leader), so no one moves to a later term.
      network.tick(200);
      expect(network.node('n3').voters()).toEqual(THREE);
      expect(network.delivered.some((m) => m.from === 'n3' && m.type === 'MsgPreVote')).toBe(true);
      expect(network.delivered.some((m) => m.from === 'n3' && m.type === 'MsgVote')).toBe(false);
      expect(network.leaders()).toEqual([`n1@${term}`]);
      for (const id of THREE) expect(network.node(id).term).toBe(term);
      expect(commits(network, 'n1', 'y')).toBe(true);
    }
  });
});

describe('one change at a time', () => {
  it('refuses a second change while the first is not applied, accepts it after', () => {
    const network = withLeader(THREE);
    network.addNode('n4');
    network.addNode('n5');
    network.isolate('n1');
    const first = network.proposeConfChange('n1', { type: 'add', node: 'n4' });
    expect(first.accepted).toBe(true);
    expect(network.proposeConfChange('n1', { type: 'add', node: 'n5' })).toEqual({
      accepted: false,
      leader: 'n1',
      refused: 'pending-conf-change',
    });
    // Still the old membership: the change is in the log, not applied.
    expect(network.node('n1').voters()).toEqual(THREE);
    network.heal();
    network.tick(2);
    expect(network.node('n1').voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(network.proposeConfChange('n1', { type: 'add', node: 'n5' }).accepted).toBe(true);
    network.tick(2);
    expect(network.node('n5').voters()).toEqual(FIVE);
  });

  it('refuses changes that change nothing or remove the last voter; only a leader accepts', () => {
    const network = withLeader(['n1']);
    const refused = (cc: ConfChange): unknown => {
      const result = network.proposeConfChange('n1', cc);
      return result.accepted ? 'accepted' : 'refused' in result ? result.refused : 'not leader';
    };
    expect(refused({ type: 'add', node: 'n1' })).toBe('already-voter');
    expect(refused({ type: 'remove', node: 'n9' })).toBe('not-voter');
    expect(refused({ type: 'remove', node: 'n1' })).toBe('last-voter');
    const three = withLeader(THREE);
    expect(three.proposeConfChange('n2', { type: 'remove', node: 'n3' })).toEqual({
      accepted: false,
      leader: 'n1',
    });
  });

  it('a new leader proposes no change before it commits an entry of its term (2015 fix)', () => {
    const network = new Network(THREE);
    network.addNode('n4');
    // n1 wins, but its no-op reaches no one.
    network.dropWhen((m) => m.type === 'MsgApp');
    network.campaign('n1');
    expect(network.node('n1').role).toBe('leader');
    expect(network.node('n1').log.committed).toBe(0);
    expect(network.proposeConfChange('n1', { type: 'add', node: 'n4' })).toEqual({
      accepted: false,
      leader: 'n1',
      refused: 'no-commit-in-term',
    });
    expect(network.node('n1').log.lastIndex()).toBe(1); // nothing appended
    network.dropWhen(null);
    network.tick(2);
    expect(network.node('n1').log.committed).toBe(1);
    expect(network.proposeConfChange('n1', { type: 'add', node: 'n4' }).accepted).toBe(true);
  });

  it('a node with a committed, unapplied conf change does not campaign until it applies it', () => {
    const storage = new MemoryStorage();
    const entries: Entry[] = [
      { term: 1, index: 1, data: new Uint8Array(0) },
      {
        term: 1,
        index: 2,
        data: encodeConfChange({ type: 'add', node: 'n4' }),
        type: 'conf-change',
      },
    ];
    storage.append(entries);
    storage.setHardState({ term: 1, vote: null, commit: 2 });
    const node = new RaftNode({ id: 'n1', peers: THREE, storage, rng: createRng(1), applied: 0 });
    node.campaign();
    expect(node.role).toBe('follower');
    const ready = node.ready();
    expect(ready.committedEntries.map((e) => e.type)).toEqual([undefined, 'conf-change']);
    node.advance(ready);
    expect(node.voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    node.campaign();
    expect(node.role).toBe('pre-candidate');
  });
});

describe('membership across restarts and snapshots', () => {
  it('a restarted node rebuilds its members from the snapshot and the entries it replays', () => {
    const network = withLeader(THREE);
    network.addNode('n4');
    change(network, 'n1', { type: 'add', node: 'n4' });
    network.propose('n1', 'a');
    network.compact('n2');
    change(network, 'n1', { type: 'remove', node: 'n3' });
    network.tick(2);
    expect(network.storages.get('n2')!.snapshot().voters).toEqual(['n1', 'n2', 'n3', 'n4']);

    network.restart('n2');
    // From the snapshot's voters, then the removal it replays from its log.
    expect(network.node('n2').voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    network.flush('n2');
    expect(network.node('n2').voters()).toEqual(['n1', 'n2', 'n4']);

    // A node told its state machine already applied the removal rebuilds it at once.
    const storage = network.storages.get('n2')!;
    const node = new RaftNode({
      id: 'n2',
      peers: THREE,
      storage,
      rng: createRng(2),
      applied: storage.hardState().commit,
    });
    expect(node.voters()).toEqual(['n1', 'n2', 'n4']);
  });

  it('replaces a dead member (remove it, add a fresh one) while proposals go on', () => {
    const network = new Network(THREE, { seed: 3 });
    network.agree('a');
    const leader = network.waitForLeader();
    const dead = THREE.find((id) => id !== leader)!;
    network.crash(dead);
    for (let i = 0; i < 20; i++) network.agree(`b${i}`);
    network.compact(network.waitForLeader());

    change(network, network.waitForLeader(), { type: 'remove', node: dead });
    network.agree('c');
    network.addNode('n9');
    change(network, network.waitForLeader(), { type: 'add', node: 'n9' });
    for (let i = 0; i < 10; i++) network.agree(`d${i}`);

    const now = network.waitForLeader();
    const members = THREE.filter((id) => id !== dead).concat('n9');
    expect(network.node(now).voters()).toEqual(members);
    expect(network.storages.get('n9')!.snapshot().index).toBeGreaterThan(0);
    expect(network.applied.get('n9')).toEqual(network.applied.get(now));
    // The new member counts: with the other old member down, the leader and n9 commit.
    const other = members.find((id) => id !== now && id !== 'n9')!;
    network.crash(other);
    expect(commits(network, now, 'e')).toBe(true);
    expect(network.applied.get('n9')).toContain('e');
  });

  it('keeps every invariant with membership changes under loss, reordering and restarts', () => {
    const network = new Network(THREE, { seed: 11, lossRate: 0.1, reorder: true });
    const rng = createRng(99);
    let fresh = 4;
    let accepted = 0;
    for (let round = 0; round < 30; round++) {
      network.agree(`r${round}`, 2000);
      const leader = network.waitForLeader();
      const voters = network.node(leader).voters();
      if (rng.next() < 0.5 && voters.length > 2) {
        const victim = voters[rng.nextInt(voters.length)]!;
        if (network.node(leader).proposeConfChange({ type: 'remove', node: victim }).accepted) {
          accepted++;
        }
      } else if (voters.length < 5) {
        const id = `n${fresh++}`;
        network.addNode(id);
        if (network.node(leader).proposeConfChange({ type: 'add', node: id }).accepted) accepted++;
      }
      network.flush(leader);
      if (rng.next() < 0.3) {
        const up = [...network.nodes.keys()];
        network.restart(up[rng.nextInt(up.length)]!);
      }
      if (rng.next() < 0.2) network.compact(leader);
      network.tick(5);
    }
    const leader = network.waitForLeader();
    network.agree('end', 2000);
    for (const id of network.node(leader).voters()) {
      expect(network.applied.get(id)).toContain('end');
    }
    expect(network.node(leader).voters().length).toBeGreaterThanOrEqual(2);
    expect(accepted).toBeGreaterThan(10);
  });
});
