import { describe, expect, it } from 'vitest';
import {
  committedPrefixesAgree,
  electionSafety,
  logMatching,
  RaftChecker,
  type RaftState,
  sameEntry,
} from './invariants.ts';
import { entriesOfTerms } from './testing.ts';
import type { Role } from './types.ts';

/** A node's state, its log written as terms (payload `${index}@${term}`). */
function state(
  id: string,
  terms: readonly number[],
  fields: { term?: number; role?: Role; commit?: number } = {},
): RaftState {
  return {
    id,
    term: fields.term ?? terms.at(-1) ?? 0,
    role: fields.role ?? 'follower',
    commit: fields.commit ?? 0,
    log: entriesOfTerms(terms),
  };
}

describe('the invariant checks catch what they name', () => {
  it('a conf change and a normal entry with the same bytes are different entries', () => {
    const normal = entriesOfTerms([1, 1]);
    const change = [normal[0]!, { ...normal[1]!, type: 'conf-change' as const }];
    const a: RaftState = { id: 'a', term: 1, role: 'follower', commit: 2, log: normal };
    const b: RaftState = { id: 'b', term: 1, role: 'follower', commit: 2, log: change };
    expect(sameEntry(normal[1]!, change[1]!)).toBe(false);
    expect(committedPrefixesAgree([a, b])[0]?.message).toBe(
      'a and b committed different entries at index 2',
    );
  });

  it('election safety: two leaders of one term, now or over a run', () => {
    expect(
      electionSafety([state('a', [1], { role: 'leader' }), state('b', [1], { role: 'leader' })]),
    ).toHaveLength(1);
    const checker = new RaftChecker();
    expect(checker.check([state('a', [1], { role: 'leader', term: 2 })])).toEqual([]);
    expect(checker.check([state('b', [1], { role: 'leader', term: 2 })])).toHaveLength(1);
  });

  it('log matching: same index and term, different history', () => {
    const a = state('a', [1, 1, 2]);
    const b = state('b', [1, 3, 2]);
    expect(logMatching([a, b]).map((v) => v.invariant)).toEqual(['log-matching']);
    expect(logMatching([a, state('c', [1, 1, 3, 3])])).toEqual([]);
  });

  it('state machine safety: different committed or applied entries at one index', () => {
    expect(
      committedPrefixesAgree([
        state('a', [1, 2], { commit: 2 }),
        state('b', [1, 3], { commit: 2 }),
      ]),
    ).toHaveLength(1);
    const checker = new RaftChecker();
    expect(checker.applied('a', entriesOfTerms([1, 2]))).toEqual([]);
    expect(checker.applied('b', entriesOfTerms([1, 3]))).toHaveLength(1);
  });

  it('leader completeness: a later leader lacks an entry committed earlier', () => {
    const checker = new RaftChecker();
    expect(checker.check([state('a', [1, 1], { term: 1, commit: 2 })])).toEqual([]);
    const violations = checker.check([state('b', [1], { term: 2, role: 'leader' })]);
    expect(violations.map((v) => v.invariant)).toEqual(['leader-completeness']);
  });

  it('compares only what both logs still hold above their snapshots', () => {
    const compacted: RaftState = {
      ...state('a', [2, 2]),
      snapshotIndex: 2,
      log: entriesOfTerms([1, 1, 2, 2]).slice(2),
    };
    expect(logMatching([compacted, state('b', [1, 1, 2, 2, 2])])).toEqual([]);
    expect(logMatching([compacted, state('c', [1, 1, 3, 2])])).toHaveLength(1);
    const checker = new RaftChecker();
    expect(
      checker.check([{ ...compacted, commit: 4 }, state('b', [1, 1, 2, 2], { commit: 4 })]),
    ).toEqual([]);
  });

  it('monotonic commit, except across a restart', () => {
    const checker = new RaftChecker();
    checker.check([state('a', [1, 1], { commit: 2 })]);
    expect(checker.check([state('a', [1, 1], { commit: 1 })])).toHaveLength(1);
    checker.restarted('a');
    expect(checker.check([state('a', [1, 1], { commit: 1 })])).toEqual([]);
  });
});
