/**
 * Fault schedules that strike at the worst moment rather than at random times, for runs that
 * must expose a planted bug within a bounded sweep. Each is a `script` for runRaftWith, drawn
 * from its own stream (`adversary/<name>`), so it replays from the seed like everything else.
 */
import { streamRng } from '../random.ts';
import type { RaftWorld } from './run.ts';

export interface Figure8Options {
  /** Stop striking at this virtual time, ms (the run's faultMs). */
  readonly untilMs: number;
  /** Per look, the chance to cut off a leader whose new entries have reached no follower. */
  readonly freshLeaderChance?: number;
}

/**
 * The Figure 8 adversary (Raft paper §5.4.2). It looks at the leader every 0.5 to 2.5 ms. When
 * the entry a quorum of replicas holds is from an earlier term than the leader's (the leader
 * is catching a follower up on an old term's entries and its own entries are not yet on a
 * quorum), it cuts the leader off at once: the message about to carry the leader's own entry
 * is lost on the cut link, and a replica with a later-term but different log may win the next
 * election. A correct leader has not counted the old entry as committed, so nothing is lost;
 * a leader that commits a previous-term entry by counting has acknowledged a write that the
 * next leader overwrites. Now and then it also cuts off a leader whose entries reached no one,
 * which is how the divergent later-term logs of Figure 8 arise.
 */
export function figure8Adversary(
  seed: number,
  options: Figure8Options,
): (world: RaftWorld) => void {
  return (w) => {
    const rng = streamRng(seed, 'adversary/figure8');
    const freshChance = options.freshLeaderChance ?? 0.01;
    const majority = Math.floor(w.replicas.length / 2) + 1;
    /** The commit index each (leader, term) started from, and the leaders struck already. */
    const inherited = new Map<string, number>();
    const struck = new Set<string>();
    const isolate = (leader: string): void => {
      w.partition(
        [leader],
        w.replicas.filter((id) => id !== leader),
      );
      w.at(w.nowMs() + 50 + rng.next() * 300, () => w.heal());
    };
    const look = (): void => {
      if (w.nowMs() >= options.untilMs - 100) return;
      const leader = w.leader();
      const node = leader === null ? null : w.node(leader);
      if (leader !== null && node !== null) {
        const commit = node.log.committed;
        const name = `${leader}/${node.term}`;
        if (!inherited.has(name)) inherited.set(name, commit);
        const matches = [...node.progress]
          .map(([id, p]) => (id === leader ? node.log.lastIndex() : p.match))
          .sort((a, b) => b - a);
        const onQuorum = matches[majority - 1] ?? 0;
        const olderOnQuorum =
          onQuorum > inherited.get(name)! && (node.log.term(onQuorum) ?? node.term) < node.term;
        let ahead = 0;
        for (const [id, p] of node.progress) if (id !== leader && p.match > commit) ahead++;
        const fresh = node.log.lastIndex() > commit && ahead === 0;
        if (olderOnQuorum && !struck.has(name)) {
          struck.add(name);
          isolate(leader);
        } else if (fresh && rng.next() < freshChance) {
          isolate(leader);
        }
      }
      const up = w.replicas.filter((id) => w.isUp(id));
      const down = w.replicas.filter((id) => !w.isUp(id));
      if (down.length > 0 && (up.length < majority || rng.next() < 0.2)) {
        w.restart(down[rng.nextInt(down.length)]!);
      }
      w.at(w.nowMs() + 0.5 + rng.next() * 2, look);
    };
    w.at(300, look);
  };
}
