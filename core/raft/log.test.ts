import { describe, expect, it } from 'vitest';
import { RaftLog } from './log.ts';
import { MemoryStorage } from './storage.ts';
import { entriesOfTerms } from './testing.ts';
import type { Entry } from './types.ts';

function logOf(terms: readonly number[], commit = 0): { log: RaftLog; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  storage.append(entriesOfTerms(terms));
  storage.setHardState({ term: terms.at(-1) ?? 0, vote: null, commit });
  return { log: new RaftLog(storage, 0), storage };
}

const at = (index: number, term: number): Entry => ({
  index,
  term,
  data: new Uint8Array([index, term]),
});

const termsOf = (log: RaftLog): number[] => log.slice(1, log.lastIndex() + 1).map((e) => e.term);

describe('RaftLog', () => {
  it('accepts an append only where (prevLogIndex, prevLogTerm) matches (§5.3)', () => {
    const { log } = logOf([1, 1, 2]);
    expect(log.maybeAppend(3, 1, 0, [at(4, 3)])).toBeNull();
    expect(log.maybeAppend(4, 2, 0, [at(5, 3)])).toBeNull();
    expect(log.maybeAppend(3, 2, 0, [at(4, 3)])).toBe(4);
    expect(termsOf(log)).toEqual([1, 1, 2, 3]);
  });

  it('replaces the log from the first conflicting entry, and keeps what agrees', () => {
    const { log } = logOf([1, 1, 2, 2, 2]);
    expect(log.maybeAppend(1, 1, 0, [at(2, 1), at(3, 3)])).toBe(3);
    expect(termsOf(log)).toEqual([1, 1, 3]);
    // An older, shorter append that agrees truncates nothing.
    expect(log.maybeAppend(1, 1, 0, [at(2, 1)])).toBe(2);
    expect(termsOf(log)).toEqual([1, 1, 3]);
  });

  it('raises commit to min(leaderCommit, last new entry), never lowers it', () => {
    const { log } = logOf([1, 1, 1, 1]);
    log.maybeAppend(1, 1, 10, [at(2, 1)]);
    expect(log.committed).toBe(2);
    log.maybeAppend(1, 1, 1, []);
    expect(log.committed).toBe(2);
  });

  it('refuses to overwrite a committed entry', () => {
    const { log } = logOf([1, 1, 2], 3);
    expect(() => log.maybeAppend(1, 1, 3, [at(2, 1), at(3, 3)])).toThrow(/committed/);
  });

  it('finds the last index whose term is at most the probe term (fast backtracking)', () => {
    const { log } = logOf([1, 3, 3, 4, 4, 5, 5, 5, 6]);
    expect(log.findConflictByTerm(8, 3)).toEqual({ index: 3, term: 3 });
    expect(log.findConflictByTerm(9, 7)).toEqual({ index: 9, term: 6 });
    expect(log.findConflictByTerm(9, 2)).toEqual({ index: 1, term: 1 });
    expect(log.findConflictByTerm(9, 0)).toEqual({ index: 0, term: 0 });
  });

  it('compares logs by last term, then length (§5.4.1)', () => {
    const { log } = logOf([1, 2, 2]);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('commits by counting only an entry of the current term (§5.4.2)', () => {
    const { log } = logOf([1, 2, 3]);
    expect(log.maybeCommit(2, 3)).toBe(false);
    expect(log.maybeCommit(3, 3)).toBe(true);
    expect(log.committed).toBe(3);
  });

  it('reads stored entries under unstable ones that replace them', () => {
    const { log, storage } = logOf([1, 1, 1, 1]);
    log.append([at(3, 2)]);
    expect(termsOf(log)).toEqual([1, 1, 2]);
    expect(log.unstableEntries().map((e) => e.index)).toEqual([3]);
    storage.append(log.unstableEntries());
    log.stableTo(3, 2);
    expect(log.unstableEntries()).toEqual([]);
    expect(termsOf(log)).toEqual([1, 1, 2]);
  });

  it('does not mark entries stable that were replaced after the Ready went out', () => {
    const { log, storage } = logOf([1]);
    log.append([at(2, 1), at(3, 1)]);
    const handedOut = [...log.unstableEntries()];
    log.append([at(3, 2)]); // a new leader replaces index 3 before the driver is done
    storage.append(handedOut);
    log.stableTo(3, 1);
    expect(log.unstableEntries().map((e) => `${e.index}@${e.term}`)).toEqual(['2@1', '3@2']);
    storage.append(log.unstableEntries());
    log.stableTo(3, 2);
    expect(storage.entries(1, 4).map((e) => e.term)).toEqual([1, 1, 2]);
  });
});

describe('MemoryStorage', () => {
  it('appending at an index drops the stored entries from there on', () => {
    const storage = new MemoryStorage();
    storage.append(entriesOfTerms([1, 1, 1]));
    storage.append([at(2, 2)]);
    expect(storage.lastIndex()).toBe(2);
    expect(storage.term(2)).toBe(2);
    expect(() => storage.append([at(5, 2)])).toThrow(RangeError);
  });
});

describe('a compacted log (§7)', () => {
  it('MemoryStorage keeps the term before its first index, and replaces all on a snapshot', () => {
    const storage = new MemoryStorage();
    storage.append(entriesOfTerms([1, 1, 2, 2]));
    expect(() => storage.compact(2)).toThrow(/snapshot/);
    storage.createSnapshot(3, new Uint8Array([9]));
    storage.compact(3);
    expect(storage.firstIndex()).toBe(4);
    expect(storage.term(3)).toBe(2);
    expect(() => storage.entries(3, 4)).toThrow(RangeError);
    storage.applySnapshot({ index: 7, term: 3, data: new Uint8Array(0) });
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(7)]).toEqual([8, 7, 3]);
  });

  it('RaftLog reads a log whose first index is past 1, and restores a snapshot over it', () => {
    const storage = new MemoryStorage();
    storage.append(entriesOfTerms([1, 1, 2, 2]));
    storage.createSnapshot(2, new Uint8Array(0));
    storage.compact(2);
    storage.setHardState({ term: 2, vote: null, commit: 0 });
    const log = new RaftLog(storage, 2);
    expect(log.committed).toBe(2); // a snapshot is committed
    expect([log.firstIndex(), log.term(2), log.term(1)]).toEqual([3, 1, undefined]);
    expect(log.maybeAppend(2, 1, 3, [at(3, 2)])).toBe(3);
    expect(log.findConflictByTerm(4, 1)).toEqual({ index: 2, term: 1 });

    log.restore({ index: 9, term: 4, data: new Uint8Array(0) });
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm(), log.committed]).toEqual([
      10, 9, 4, 9,
    ]);
    expect(log.nextCommittedEntries()).toEqual([]);
    log.append([at(10, 4)]);
    expect(log.term(4)).toBeUndefined();
    log.stableSnapshotTo(9);
    expect(log.pendingSnapshot()).toBeNull();
  });
});
