/**
 * Raft through the simulator, in the spirit of MIT 6.824's Raft tests: each scenario is a few
 * lines (`scenario({...})`) over the real core/raft and core/replicated, with the real
 * network's faults, and every run checks Raft's invariants after every event, the client
 * history for linearizability and, once faults stop, liveness (`report.ok`).
 */
import { describe, expect, it, vi } from 'vitest';
import { RaftLog } from '../../core/raft/log.ts';
import { RaftNode } from '../../core/raft/raft.ts';
import type { ConfChange } from '../../core/raft/types.ts';
import { encodeCommand } from '../../core/replicated/index.ts';
import { figure8Adversary } from './adversary.ts';
import { formatRaftReport } from './report.ts';
import { sweep } from './sweep.ts';
import {
  DEFAULT_RAFT_SIM,
  NO_FAULTS,
  runRaft,
  runRaftWith,
  type RaftSimExtras,
  type RaftWorld,
} from './run.ts';
import type { ClientOperation, RaftFaults, RaftSimOptions, RaftSimReport } from './types.ts';

interface Scenario extends RaftSimExtras {
  readonly seed?: number;
  readonly replicas?: number;
  readonly clients?: number;
  readonly keys?: number;
  readonly faultMs?: number;
  readonly livenessMs?: number;
  readonly snapshotEvery?: number;
  readonly faults?: Partial<RaftFaults>;
}

/** A run with no faults but those asked for, recorded, that must pass every check. */
function scenario(s: Scenario): RaftSimReport {
  const options: RaftSimOptions = {
    ...DEFAULT_RAFT_SIM,
    seed: s.seed ?? 1,
    replicas: s.replicas ?? 3,
    clients: s.clients ?? 3,
    keys: s.keys ?? 3,
    faultMs: s.faultMs ?? 4000,
    livenessMs: s.livenessMs ?? 5000,
    snapshotEvery: s.snapshotEvery ?? DEFAULT_RAFT_SIM.snapshotEvery,
    faults: { ...NO_FAULTS, ...s.faults },
    record: true,
  };
  return runRaftWith(options, s);
}

/** The report must be clean: the whole text when not, to read the failure. */
function expectOk(report: RaftSimReport): void {
  if (!report.ok) expect(formatRaftReport(report)).toBe('OK');
}

const history = (report: RaftSimReport): readonly ClientOperation[] =>
  report.timeline?.history ?? [];
const leaderSpans = (report: RaftSimReport) =>
  (report.timeline?.roles ?? []).filter((span) => span.role === 'leader');
/** Crash the leader (or, with `not`, a follower) at `ms`; returns who, once it ran. */
const atLeader = (world: RaftWorld, ms: number, fn: (leader: string) => void): void =>
  world.at(ms, () => {
    const leader = world.leader();
    if (leader !== null) fn(leader);
  });

describe('Raft in the simulator: elections', () => {
  it('elects one leader and keeps it while nothing fails', () => {
    const report = scenario({ clients: 2 });
    expectOk(report);
    expect(report.raft.leaders).toBe(1);
    expect(leaderSpans(report)[0]!.fromMs).toBeLessThan(500);
    expect(report.clients.acknowledged).toBeGreaterThan(100);
  });

  it('elects a new leader when the leader is cut off, and again when that one crashes', () => {
    const report = scenario({
      script: (w) => {
        atLeader(w, 1000, (leader) =>
          w.partition(
            [leader],
            w.replicas.filter((id) => id !== leader),
          ),
        );
        w.at(2000, () => w.heal());
        atLeader(w, 2500, (leader) => w.crash(leader));
      },
    });
    expectOk(report);
    expect(report.raft.leaders).toBeGreaterThanOrEqual(3);
    const spans = leaderSpans(report);
    expect(spans.some((span) => span.fromMs > 1000 && span.fromMs < 1600)).toBe(true);
    expect(spans.some((span) => span.fromMs > 2500 && span.fromMs < 3100)).toBe(true);
  });

  it('a leader cut off and healed rejoins as a follower without deposing the new one', () => {
    let old = '';
    const report = scenario({
      replicas: 5,
      script: (w) => {
        atLeader(w, 1000, (leader) => {
          old = leader;
          w.partition(
            [leader],
            w.replicas.filter((id) => id !== leader),
          );
        });
        w.at(2500, () => w.heal());
      },
    });
    expectOk(report);
    // Pre-vote: the old leader, back with a stale term, does not start a new term's election.
    const after = (report.timeline?.roles ?? []).filter((s) => s.fromMs >= 2500);
    expect(after.some((s) => s.node === old && s.role === 'leader')).toBe(false);
    expect(leaderSpans(report).length).toBe(2);
  });
  it('elects a leader again and again while three of seven keep being cut off', () => {
    let leaderless = 0;
    const report = scenario({
      replicas: 7,
      faultMs: 6000,
      script: (w) => {
        for (let i = 0; i < 10; i++) {
          const ms = 500 + i * 500;
          // A different three each round; the other four are a majority and must elect.
          const away = [0, 2, 4].map((k) => w.replicas[(i + k) % 7]!);
          w.at(ms, () =>
            w.partition(
              away,
              w.replicas.filter((id) => !away.includes(id)),
            ),
          );
          w.at(ms + 450, () => {
            if (w.leader() === null || away.includes(w.leader()!)) leaderless++;
            w.heal();
          });
        }
      },
    });
    expectOk(report);
    expect(leaderless).toBe(0);
    expect(report.raft.leaders).toBeGreaterThan(3);
  });
});

describe('Raft in the simulator: agreement', () => {
  it('agrees with a minority down', () => {
    const report = scenario({
      replicas: 5,
      script: (w) =>
        w.at(500, () => {
          const followers = w.replicas.filter((id) => id !== w.leader());
          w.crash(followers[0]!);
          w.crash(followers[1]!);
        }),
    });
    expectOk(report);
    const acked = history(report).filter((op) => op.kind !== 'get' && (op.returnedMs ?? 0) > 700);
    expect(acked.length).toBeGreaterThan(50);
  });

  it('does not agree without a majority, and recovers when it returns', () => {
    const report = scenario({
      replicas: 5,
      script: (w) => {
        w.at(1000, () => ['n1', 'n2', 'n3'].forEach((id) => w.crash(id)));
        w.at(3000, () => ['n1', 'n2', 'n3'].forEach((id) => w.restart(id)));
      },
    });
    expectOk(report);
    // Nothing (no write, no ReadIndex read) completes while only two of five are up.
    const during = history(report).filter(
      (op) => op.returnedMs !== null && op.returnedMs > 1100 && op.returnedMs < 3000,
    );
    expect(during).toEqual([]);
    const after = history(report).filter((op) => (op.returnedMs ?? 0) > 3000);
    expect(after.length).toBeGreaterThan(50);
  });

  it('orders concurrent proposals on one key linearizably', () => {
    const report = scenario({ clients: 8, keys: 1 });
    expectOk(report);
    expect(report.clients.operations).toBeGreaterThan(500);
  });

  it('keeps what was committed across crashes of every replica', () => {
    const report = scenario({
      snapshotEvery: 32,
      script: (w) => {
        for (const ms of [1000, 2000, 3000]) {
          w.at(ms, () => w.replicas.forEach((id) => w.crash(id)));
          w.at(ms + 200, () => w.replicas.forEach((id) => w.restart(id)));
        }
      },
    });
    expectOk(report);
    expect(report.checks.lostWrites).toBe(0);
    expect(report.faults.crashes).toBe(9);
  });

  it("backs up over a long divergent log: a cut-off leader's uncommitted entries are replaced", () => {
    let old = '';
    let uncommitted = 0;
    let matchedAfter = false;
    const report = scenario({
      replicas: 5,
      clients: 8,
      snapshotEvery: 1000,
      // Without checkQuorum (as in 6.824's Raft) the cut-off leader stays leader; with it, it
      // would step down after an election timeout.
      raft: { checkQuorum: false },
      script: (w) => {
        // The leader and one follower go on accepting writes that can never commit, while the
        // other three elect a leader and commit theirs at the same indexes.
        atLeader(w, 500, (leader) => {
          old = leader;
          const follower = w.replicas.find((id) => id !== leader)!;
          w.partition(
            [leader, follower],
            w.replicas.filter((id) => id !== leader && id !== follower),
          );
        });
        // 50 writes straight to the cut-off leader (clients soon give up on it), as 6.824's
        // TestBackup does; on a key no client reads, since they must never commit.
        w.at(700, () => {
          for (let seq = 1; seq <= 50; seq++) {
            const write = { kind: 'delete', client: 'backup', seq, key: 'backup', at: 0 } as const;
            w.node(old)?.propose(encodeCommand(write));
          }
        });
        w.at(3000, () => {
          const log = w.node(old)!.log;
          uncommitted = log.lastIndex() - log.committed;
          w.heal();
        });
        w.at(3900, () => {
          const leader = w.leader();
          if (leader === null || leader === old) return;
          const mine = w.node(old)!.log;
          const theirs = w.node(leader)!.log;
          const upTo = Math.min(mine.committed, theirs.committed);
          matchedAfter = upTo > 0 && mine.term(upTo) === theirs.term(upTo);
        });
      },
    });
    expectOk(report);
    expect(uncommitted).toBeGreaterThan(10);
    expect(matchedAfter).toBe(true);
  });

  it('brings a lagging replica up to date with a snapshot', () => {
    let lagging = '';
    const report = scenario({
      snapshotEvery: 16,
      script: (w) => {
        w.at(300, () => {
          lagging = w.replicas.find((id) => id !== w.leader())!;
          w.crash(lagging);
        });
        w.at(2500, () => w.restart(lagging));
      },
    });
    expectOk(report);
    expect(report.raft.snapshotsSent).toBeGreaterThan(0);
  });
});

describe('Raft in the simulator: unreliable networks', () => {
  it('Figure 8 (unreliable): leaders crash often on a lossy, reordering network', () => {
    for (const seed of [1, 2, 3]) {
      const report = scenario({
        seed,
        replicas: 5,
        faultMs: 6000,
        faults: { crashes: true, loss: 0.1, reordering: true, duplication: 0.05 },
        chaos: { crashLeaderChance: 1, gapMs: [50, 400], downMs: [20, 600] },
      });
      expectOk(report);
      expect(report.raft.leaders).toBeGreaterThan(5);
    }
  });

  it('unreliable churn: every fault at once', () => {
    for (const seed of [1, 2, 3]) {
      const report = scenario({
        seed,
        replicas: 5,
        faultMs: 6000,
        faults: DEFAULT_RAFT_SIM.faults,
      });
      expectOk(report);
      expect(report.faults.crashes + report.faults.partitions).toBeGreaterThan(5);
    }
  });

  it('answers a retried write once: sessions deduplicate it', () => {
    const report = scenario({ faults: { loss: 0.2, duplication: 0.1 } });
    expectOk(report);
    expect(report.clients.retries).toBeGreaterThan(0);
    expect(report.clients.deduplicated).toBeGreaterThan(0);
  });

  it('serves linearizable reads across leader changes (transfers and crashes)', () => {
    const report = scenario({
      clients: 4,
      keys: 1,
      script: (w) => {
        for (let ms = 500; ms < 4000; ms += 500) {
          atLeader(w, ms, (leader) =>
            ms % 1000 === 0 ? w.transfer(w.replicas.find((id) => id !== leader)!) : w.crash(leader),
          );
          w.at(ms + 300, () => w.replicas.forEach((id) => w.restart(id)));
        }
      },
    });
    expectOk(report);
    expect(report.raft.leaders).toBeGreaterThanOrEqual(5);
    expect(report.clients.getHits).toBeGreaterThan(50);
  });
});

/** From `ms` on, tries `fn` every 50 ms until it returns true (a change the leader accepts). */
const until = (world: RaftWorld, ms: number, fn: () => boolean, done?: () => void): void =>
  world.at(ms, () => {
    if (fn()) done?.();
    else until(world, ms + 50, fn, done);
  });

describe('Raft in the simulator: membership changes (thesis §4.1)', () => {
  it('replaces a crashed replica under faults: remove it, add a fresh one that catches up from a snapshot', () => {
    let dead = '';
    let removedAt = 0;
    let addedAt = 0;
    let lagAtEnd = -1;
    const report = scenario({
      snapshotEvery: 16,
      faultMs: 5000,
      faults: { loss: 0.05, duplication: 0.02, reordering: true, clockDriftPpm: 50_000 },
      script: (w) => {
        w.at(500, () => {
          dead = w.replicas.find((id) => id !== w.leader())!;
          w.crash(dead);
        });
        until(
          w,
          1500,
          () => w.removeReplica(dead),
          () => {
            removedAt = w.nowMs();
            until(
              w,
              w.nowMs() + 50,
              () => w.addReplica('n4'),
              () => (addedAt = w.nowMs()),
            );
          },
        );
        // Partitions and a leader crash while the new member catches up.
        atLeader(w, 2500, (leader) => w.crash(leader));
        w.at(2900, () => w.replicas.filter((id) => id !== dead).forEach((id) => w.restart(id)));
        w.at(4900, () => {
          const leader = w.leader();
          if (leader === null) return;
          lagAtEnd = w.node(leader)!.log.committed - (w.node('n4')?.log.committed ?? 0);
        });
      },
    });
    expectOk(report);
    expect(removedAt).toBeGreaterThan(0);
    expect(addedAt).toBeGreaterThan(removedAt);
    const members = ['n1', 'n2', 'n3'].filter((id) => id !== dead).concat('n4');
    expect([...(report.membership?.voters ?? [])].sort()).toEqual(members.sort());
    expect(report.membership?.changes).toBe(2);
    expect(report.raft.snapshotsSent).toBeGreaterThan(0);
    expect(lagAtEnd).toBeGreaterThanOrEqual(0);
    expect(lagAtEnd).toBeLessThan(10);
  });

  it('the leader removes itself: it steps down, hands over at once, and the others go on', () => {
    let old = '';
    let removedAt = 0;
    const report = scenario({
      script: (w) => {
        until(
          w,
          1000,
          () => {
            old = w.leader() ?? '';
            return old !== '' && w.removeReplica(old);
          },
          () => (removedAt = w.nowMs()),
        );
      },
    });
    expectOk(report);
    expect(removedAt).toBeGreaterThan(0);
    expect(report.membership?.voters).not.toContain(old);
    // The old leader never leads again; a successor leads within a few ms (MsgTimeoutNow).
    const after = leaderSpans(report).filter((span) => span.toMs > removedAt + 100);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((span) => span.node !== old)).toBe(true);
    expect(after[0]!.fromMs).toBeLessThan(removedAt + 50);
    const answered = history(report).filter((op) => (op.returnedMs ?? 0) > removedAt + 500);
    expect(answered.length).toBeGreaterThan(50);
  });

  it('a removed replica that keeps running (cut off when removed) inflates no term', () => {
    let removed = '';
    let termAtHeal = 0;
    let termAtEnd = 0;
    const report = scenario({
      faultMs: 5000,
      script: (w) => {
        w.at(1000, () => {
          removed = w.replicas.find((id) => id !== w.leader())!;
          w.partition(
            [removed],
            w.replicas.filter((id) => id !== removed),
          );
        });
        until(w, 1100, () => w.removeReplica(removed));
        w.at(2000, () => {
          w.heal();
          termAtHeal = w.node(w.leader()!)!.term;
        });
        w.at(4900, () => (termAtEnd = w.node(w.leader()!)!.term));
      },
    });
    expectOk(report);
    expect(report.membership?.voters).not.toContain(removed);
    // It never learned of its removal, so it keeps pre-voting: refused, nobody's term moves.
    expect(termAtHeal).toBeGreaterThan(0);
    expect(termAtEnd).toBe(termAtHeal);
    expect(report.raft.leaders).toBe(1);
  });

  it('gives the same report for the same seed with random membership changes', () => {
    const options = { ...DEFAULT_RAFT_SIM, seed: 5, faultMs: 3000, livenessMs: 3000 };
    const a = runRaftWith(options, { membership: {} });
    const b = runRaftWith(options, { membership: {} });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(a.membership!.changes).toBeGreaterThan(0);
    expect(formatRaftReport(a)).toContain('Membership  ');
  });

  it('passes 100 seeds with random membership changes during every fault', () => {
    const { seed: _seed, ...base } = DEFAULT_RAFT_SIM;
    let changes = 0;
    const result = sweep(
      // Snapshots often, so added replicas often catch up from one.
      { ...base, faultMs: 3000, livenessMs: 3000, snapshotEvery: 16 },
      { from: 1, count: 100 },
      (_seed, report) => (changes += report.membership?.changes ?? 0),
      { extras: () => ({ membership: {} }) },
    );
    expect(result.failures).toEqual([]);
    expect(changes).toBeGreaterThan(200);
  });
});

describe('determinism', () => {
  const options: RaftSimOptions = {
    ...DEFAULT_RAFT_SIM,
    faultMs: 5000,
    livenessMs: 5000,
    record: true,
  };

  it('gives the same report and trace for the same seed, another for another seed', () => {
    const a = runRaft({ ...options, seed: 42 });
    const b = runRaft({ ...options, seed: 42 });
    const c = runRaft({ ...options, seed: 43 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(formatRaftReport(b)).toBe(formatRaftReport(a));
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  it('prints OK for a clean default run', () => {
    const report = runRaft({ ...DEFAULT_RAFT_SIM, seed: 7 });
    const text = formatRaftReport(report);
    expect(text).toContain('no acknowledged write lost');
    expect(text).toContain('history linearizable per key');
    expect(text.trimEnd().split('\n').at(-1)).toBe('OK');
  });
});

describe('a sweep of seeds', () => {
  it('passes 200 short runs with every fault on', () => {
    const { seed: _seed, ...base } = DEFAULT_RAFT_SIM;
    const result = sweep({ ...base, faultMs: 1000, livenessMs: 3000 }, { from: 1, count: 200 });
    expect(result.failures).toEqual([]);
    expect(result.runs).toBe(200);
  });
});

describe('the checkers catch planted bugs', () => {
  const { seed: _seed, ...base } = DEFAULT_RAFT_SIM;
  /** Figure 8's setting: five replicas' worth of divergent terms, slow catch-up, an adversary. */
  const figure8 = {
    ...base,
    clients: 8,
    faultMs: 5000,
    livenessMs: 5000,
    faults: { ...base.faults, crashes: false, partitions: false },
  };
  const figure8Extras = (seed: number): RaftSimExtras => ({
    raft: { maxEntriesPerAppend: 1, maxInflightAppends: 1 },
    script: figure8Adversary(seed, { untilMs: figure8.faultMs }),
  });

  it('a leader that commits a previous-term entry by counting (Figure 8) fails a seed', () => {
    const correct = sweep(figure8, { from: 1, count: 20 }, undefined, { extras: figure8Extras });
    expect(correct.failures).toEqual([]);

    const commit = vi.spyOn(RaftLog.prototype, 'maybeCommit').mockImplementation(function (
      this: RaftLog,
      index: number,
    ): boolean {
      // The bug: no check that the entry at `index` is from the leader's term (§5.4.2).
      if (index <= this.committed) return false;
      this.commitTo(index);
      return true;
    });
    try {
      const planted = sweep(figure8, { from: 1, count: 80 }, undefined, {
        extras: figure8Extras,
        maxFailures: 1,
      });
      expect(planted.failures.length).toBe(1);
      expect(planted.failures[0]!.why).toMatch(/^(leader-completeness|state-machine-safety)/);
    } finally {
      commit.mockRestore();
    }
  });

  it('a leader that proposes changes without the one-at-a-time rule and the 2015 fix fails a seed', () => {
    // Changes every 5 to 40 ms, up to seven voters: the correct rules hold (200 seeds pass).
    const rapid = { ...base, faultMs: 3000, livenessMs: 3000, snapshotEvery: 16 };
    const extras = (): RaftSimExtras => ({ membership: { gapMs: [5, 40], maxVoters: 7 } });
    const seeds = { from: 1, count: 20 };
    expect(sweep(rapid, seeds, undefined, { extras }).failures).toEqual([]);

    // The bug: a change is accepted whenever it changes something, even with another one in
    // the log uncommitted or before the leader committed an entry of its term.
    const proto = RaftNode.prototype as unknown as {
      confChangeRefusal: (cc: ConfChange) => string | null;
    };
    const refusal = vi.spyOn(proto, 'confChangeRefusal').mockImplementation(function (
      this: RaftNode,
      cc: ConfChange,
    ) {
      const member = this.voters().includes(cc.node);
      if (cc.type === 'add') return member ? 'already-voter' : null;
      return !member ? 'not-voter' : this.voters().length === 1 ? 'last-voter' : null;
    });
    try {
      const planted = sweep(rapid, seeds, undefined, { extras });
      const unsafe = planted.failures.filter((f) =>
        /^(election-safety|leader-completeness|state-machine-safety|log-matching)/.test(f.why),
      );
      expect(unsafe.length).toBeGreaterThan(0);
    } finally {
      refusal.mockRestore();
    }
  });

  it('a voter that forgets its vote across a crash fails a seed (two leaders in one term)', () => {
    const churn = { ...base, faultMs: 2000, livenessMs: 3000 };
    const chaos = { gapMs: [20, 150], downMs: [5, 100], crashLeaderChance: 0.2 } as const;
    const correct = sweep(churn, { from: 1, count: 40 }, undefined, { extras: () => ({ chaos }) });
    expect(correct.failures).toEqual([]);
    const planted = sweep(churn, { from: 1, count: 80 }, undefined, {
      extras: () => ({
        chaos,
        persistHardState: (_node, hardState) => ({ ...hardState, vote: null }),
      }),
      maxFailures: 1,
    });
    expect(planted.failures.length).toBe(1);
    expect(planted.failures[0]!.why).toMatch(/^election-safety: .* both leaders of term/);
  });
});
