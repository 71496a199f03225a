import { describe, expect, it } from 'vitest';
import { raftFromHealth, raftFromMetrics } from './raft-status.ts';

const metrics = (role: string, term: number) => `
# HELP tinycache_raft_term The replica's current Raft term.
# TYPE tinycache_raft_term gauge
tinycache_raft_term ${term}
# HELP tinycache_raft_role The replica's Raft role: 1 for the current one.
# TYPE tinycache_raft_role gauge
${['follower', 'pre-candidate', 'candidate', 'leader']
  .map((r) => `tinycache_raft_role{role="${r}"} ${r === role ? 1 : 0}`)
  .join('\n')}
tinycache_entries 12
`;

describe('raftFromMetrics', () => {
  it('reads the role whose gauge is 1, and the term', () => {
    expect(raftFromMetrics(metrics('leader', 7))).toEqual({ role: 'leader', term: 7 });
    expect(raftFromMetrics(metrics('follower', 3))).toEqual({ role: 'follower', term: 3 });
    expect(raftFromMetrics(metrics('pre-candidate', 2))).toEqual({
      role: 'pre-candidate',
      term: 2,
    });
  });

  it('is null for a node without Raft metrics, or with no role set', () => {
    expect(raftFromMetrics('tinycache_entries 12\n')).toBeNull();
    expect(raftFromMetrics(metrics('none', 4))).toBeNull();
  });

  it('ignores roles it does not know', () => {
    expect(
      raftFromMetrics('tinycache_raft_role{role="king"} 1\ntinycache_raft_term 2\n'),
    ).toBeNull();
  });
});

describe('raftFromHealth', () => {
  it("reads a replica's role, term, leader, shard and log positions", () => {
    const body = JSON.stringify({
      status: 'ok',
      role: 'follower',
      term: 5,
      leader: 'n2',
      shard: 's1',
      commit: 40,
      applied: 39,
    });
    expect(raftFromHealth(body)).toEqual({
      role: 'follower',
      term: 5,
      leader: 'n2',
      shard: 's1',
      commit: 40,
      applied: 39,
    });
  });

  it('takes a missing leader (an election under way) as null', () => {
    const body = JSON.stringify({ status: 'ok', role: 'candidate', term: 6, leader: null });
    expect(raftFromHealth(body)).toMatchObject({ role: 'candidate', term: 6, leader: null });
  });

  it('is null for a node without a Raft group (a lone or Level 5 node has no term)', () => {
    expect(raftFromHealth(JSON.stringify({ status: 'ok', role: 'leader', uptime: 3 }))).toBeNull();
    expect(raftFromHealth('not json')).toBeNull();
    expect(raftFromHealth('null')).toBeNull();
    expect(raftFromHealth(JSON.stringify({ role: 'emperor', term: 1 }))).toBeNull();
  });
});
