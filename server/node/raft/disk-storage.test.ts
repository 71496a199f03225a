import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRng } from '../../../core/random.ts';
import { MemoryStorage, type Storage } from '../../../core/raft/storage.ts';
import type { Entry, HardState, Snapshot } from '../../../core/raft/types.ts';
import { DiskStorage, type DiskStorageOptions } from './disk-storage.ts';

let dir: string;
const opened: DiskStorage[] = [];
const notes: string[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'tinycache-disk-storage-'));
  notes.length = 0;
});

afterEach(async () => {
  for (const storage of opened.splice(0)) await storage.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function open(options: DiskStorageOptions = {}): Promise<DiskStorage> {
  const storage = await DiskStorage.open(dir, { log: (line) => notes.push(line), ...options });
  opened.push(storage);
  return storage;
}

async function reopen(
  storage: DiskStorage,
  options: DiskStorageOptions = {},
): Promise<DiskStorage> {
  await storage.close();
  opened.splice(opened.indexOf(storage), 1);
  return open(options);
}

function entry(index: number, term: number, text = `v${index}@${term}`): Entry {
  return { index, term, data: new TextEncoder().encode(text) };
}

function run(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function text(e: Entry): string {
  return `${e.index}@${e.term}:${new TextDecoder().decode(e.data)}`;
}

/** What Raft can read from a storage, in comparable form. */
function view(storage: Storage): object {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const snapshot = storage.snapshot();
  return {
    hardState: storage.hardState(),
    snapshot: { index: snapshot.index, term: snapshot.term, data: [...snapshot.data] },
    first,
    last,
    termBeforeFirst: storage.term(first - 1),
    entries: storage.entries(first, last + 1).map(text),
  };
}

async function files(prefix: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((name) => name.startsWith(prefix)).sort();
}

const hs = (term: number, vote: string | null, commit: number): HardState => ({
  term,
  vote,
  commit,
});

describe('DiskStorage', () => {
  it('a new directory is an empty node: term 0, no vote, nothing logged', async () => {
    const storage = await open();
    expect(storage.hardState()).toEqual(hs(0, null, 0));
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(0)]).toEqual([1, 0, 0]);
  });

  it('round trip: the hard state, entries and terms saved come back after a reopen', async () => {
    let storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 5, 1), hardState: hs(1, 'n1', 3) });
    await storage.save({ snapshot: null, entries: run(6, 8, 2), hardState: hs(2, 'n2', 7) });
    const before = view(storage);
    storage = await reopen(storage);
    expect(view(storage)).toEqual(before);
    expect(storage.hardState()).toEqual(hs(2, 'n2', 7));
    expect(storage.term(5)).toBe(1);
    expect(storage.term(8)).toBe(2);
    expect(storage.entries(1, 9).map(text)).toHaveLength(8);
    expect(storage.recovery.tornTail).toBeNull();
  });

  it('truncation: entries from 6 in a new term replace the old 6..10, after a reopen too', async () => {
    let storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 10, 1), hardState: hs(1, null, 0) });
    await storage.save({ snapshot: null, entries: run(6, 7, 2), hardState: hs(2, 'n3', 5) });
    const expected = [...run(1, 5, 1), ...run(6, 7, 2)].map(text);
    expect(storage.entries(1, 8).map(text)).toEqual(expected);
    storage = await reopen(storage);
    expect(storage.lastIndex()).toBe(7);
    expect(storage.entries(1, 8).map(text)).toEqual(expected);
  });

  it('snapshot + compaction: createSnapshot(50) keeps its data, starts the log at 51 and deletes the segments below', async () => {
    let storage = await open({ segmentBytes: 512 });
    for (let i = 1; i <= 60; i += 5) {
      await storage.save({ snapshot: null, entries: run(i, i + 4, 1), hardState: hs(1, 'n1', i) });
    }
    const segmentsBefore = await files('wal-');
    expect(segmentsBefore.length).toBeGreaterThan(3);
    const data = new Uint8Array([1, 2, 3, 250]);
    const snapshot = await storage.createSnapshot(50, data);
    expect(snapshot).toMatchObject({ index: 50, term: 1 });
    expect(storage.firstIndex()).toBe(51);
    const segmentsAfter = await files('wal-');
    expect(segmentsAfter.length).toBeLessThan(segmentsBefore.length);
    storage = await reopen(storage);
    expect(storage.firstIndex()).toBe(51);
    expect(storage.lastIndex()).toBe(60);
    expect(storage.term(50)).toBe(1);
    expect([...storage.snapshot().data]).toEqual([...data]);
    expect(storage.entries(51, 61).map(text)).toEqual(run(51, 60, 1).map(text));
    expect(storage.hardState()).toEqual(hs(1, 'n1', 56));
    expect(await files('snap-')).toEqual(['snap-0000000000000050-0000000001.bin']);
  });

  it('fields beyond term, index and data (a conf-change type, a voter set) survive a reopen', async () => {
    let storage = await open();
    // Written with casts so this test does not depend on which fields core/raft declares.
    const change = { ...entry(1, 1), type: 'conf-change' } as Entry;
    const snapshot = { index: 5, term: 2, data: new Uint8Array([1]), voters: ['n1', 'n2'] };
    await storage.save({ snapshot: null, entries: [change, entry(2, 1)], hardState: null });
    storage = await reopen(storage);
    expect(storage.entries(1, 2)[0]).toMatchObject({ index: 1, term: 1, type: 'conf-change' });
    expect(storage.entries(2, 3)[0]).not.toHaveProperty('type');
    await storage.save({ snapshot: snapshot as Snapshot, entries: [entry(6, 2)], hardState: null });
    storage = await reopen(storage);
    expect(storage.snapshot()).toMatchObject({ index: 5, term: 2, voters: ['n1', 'n2'] });
    expect(storage.lastIndex()).toBe(6);
  });

  it("a snapshot it takes keeps the group's voters across a reopen", async () => {
    let storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 10, 1), hardState: null });
    await storage.createSnapshot(8, new Uint8Array([7]), ['n1', 'n3', 'n4']);
    storage = await reopen(storage);
    expect(storage.snapshot()).toMatchObject({ index: 8, voters: ['n1', 'n3', 'n4'] });
  });

  it('keeps the latest two snapshot files', async () => {
    const storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 30, 1), hardState: null });
    for (const index of [10, 20, 30]) await storage.createSnapshot(index, new Uint8Array([index]));
    expect((await files('snap-')).map((n) => Number(n.split('-')[1]))).toEqual([20, 30]);
  });

  it("a leader's snapshot saved from a Ready replaces everything, after a reopen too", async () => {
    let storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 100, 2), hardState: hs(2, null, 40) });
    const snapshot = { index: 60, term: 3, data: new Uint8Array([9, 9]) };
    await storage.save({ snapshot, entries: run(61, 62, 3), hardState: hs(3, null, 60) });
    const expected = {
      first: 61,
      last: 62,
      term60: 3,
      entries: run(61, 62, 3).map(text),
    };
    const look = (s: DiskStorage): object => ({
      first: s.firstIndex(),
      last: s.lastIndex(),
      term60: s.term(60),
      entries: s.entries(61, 63).map(text),
    });
    expect(look(storage)).toEqual(expected);
    storage = await reopen(storage);
    expect(look(storage)).toEqual(expected);
    expect([...storage.snapshot().data]).toEqual([9, 9]);
    expect(storage.hardState()).toEqual(hs(3, null, 60));
  });

  it('rejects a snapshot older than the stored one, and entries that leave a gap, changing nothing', async () => {
    const storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 10, 1), hardState: null });
    await storage.createSnapshot(8, new Uint8Array());
    const before = view(storage);
    const old = { index: 5, term: 1, data: new Uint8Array() };
    await expect(storage.save({ snapshot: old, entries: [], hardState: null })).rejects.toThrow(
      /older/,
    );
    await expect(
      storage.save({ snapshot: null, entries: run(12, 13, 1), hardState: hs(1, null, 1) }),
    ).rejects.toThrow(/must be in \[9, 11\]/);
    expect(view(storage)).toEqual(before);
  });

  it('torn tail: a partial record or garbage after the last good record is cut away and reported', async () => {
    let storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 3, 1), hardState: hs(1, 'n1', 2) });
    await storage.save({ snapshot: null, entries: run(4, 4, 1), hardState: hs(1, 'n1', 3) });
    await storage.close();
    opened.length = 0;
    const [segment] = await files('wal-');
    const path = join(dir, segment!);
    const good = await fs.readFile(path);
    // A crash halfway through writing a record (here a copy of the last, the hard state):
    // its first 20 bytes made it.
    const record = good.subarray(good.length - 9 - JSON.stringify(hs(1, 'n1', 3)).length);
    await fs.appendFile(path, record.subarray(0, 20));
    storage = await open();
    expect(storage.lastIndex()).toBe(4);
    expect(storage.hardState()).toEqual(hs(1, 'n1', 3));
    expect(storage.recovery.tornTail).toMatchObject({
      file: segment,
      offset: good.length,
      bytes: 20,
    });
    expect(notes.join('\n')).toMatch(/torn tail of 20 bytes/);
    // The cut is on disk: more saves append after the good records.
    await storage.save({ snapshot: null, entries: run(5, 5, 1), hardState: null });
    await storage.close();
    opened.length = 0;
    await fs.appendFile(path, Buffer.from('garbage!garbage!'));
    await fs.appendFile(path, Buffer.alloc(4096));
    storage = await open();
    expect(storage.lastIndex()).toBe(5);
    expect(storage.recovery.tornTail?.bytes).toBe(16 + 4096);
  });

  it('a zero-filled tail (the size grew, the data never landed) is a torn tail', async () => {
    let storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 3, 1), hardState: hs(1, null, 0) });
    await storage.close();
    opened.length = 0;
    const [segment] = await files('wal-');
    await fs.appendFile(join(dir, segment!), Buffer.alloc(8192));
    storage = await open();
    expect(storage.lastIndex()).toBe(3);
    expect(storage.recovery.tornTail?.bytes).toBe(8192);
  });

  it('a flipped byte in an earlier record is corruption: open throws naming the file and offset', async () => {
    const storage = await open();
    for (let i = 1; i <= 5; i++) {
      await storage.save({ snapshot: null, entries: run(i, i, 1), hardState: hs(1, null, i) });
    }
    await storage.close();
    opened.length = 0;
    const [segment] = await files('wal-');
    const path = join(dir, segment!);
    const bytes = await fs.readFile(path);
    bytes[60] = bytes[60]! ^ 0x40;
    await fs.writeFile(path, bytes);
    await expect(DiskStorage.open(dir)).rejects.toThrow(
      new RegExp(`${segment}.* is corrupt at offset \\d+: checksum mismatch`),
    );
  });

  it('a bad record in a segment that is not the last is corruption, even at its end', async () => {
    const storage = await open({ segmentBytes: 200 });
    for (let i = 1; i <= 20; i++) {
      await storage.save({ snapshot: null, entries: run(i, i, 1), hardState: null });
    }
    await storage.close();
    opened.length = 0;
    const [first] = await files('wal-');
    await fs.appendFile(join(dir, first!), Buffer.from('partial'));
    await expect(DiskStorage.open(dir)).rejects.toThrow(new RegExp(`${first} is corrupt`));
  });

  it('a snapshot file whose log record never became durable is ignored and removed', async () => {
    let storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 10, 1), hardState: hs(1, null, 10) });
    await storage.close();
    opened.length = 0;
    // As if a crash came after the leader's snapshot file was renamed into place but before
    // its SNAPSHOT record reached the log: the node never acknowledged it.
    const body = Buffer.concat([Buffer.from('TCSNAP01'), Buffer.alloc(16)]);
    await fs.writeFile(join(dir, 'snap-0000000000000005-0000000009.bin'), body);
    storage = await open();
    expect(storage.snapshot().index).toBe(0);
    expect(storage.entries(1, 11).map(text)).toEqual(run(1, 10, 1).map(text));
    expect(await files('snap-')).toEqual([]);
  });

  it('a corrupt snapshot file the log relies on: open throws naming it', async () => {
    const storage = await open();
    await storage.save({ snapshot: null, entries: run(1, 10, 1), hardState: null });
    await storage.createSnapshot(5, new Uint8Array([1, 2, 3]));
    await storage.close();
    opened.length = 0;
    const [snap] = await files('snap-');
    const bytes = await fs.readFile(join(dir, snap!));
    bytes[bytes.length - 6] = bytes[bytes.length - 6]! ^ 1;
    await fs.writeFile(join(dir, snap!), bytes);
    await expect(DiskStorage.open(dir)).rejects.toThrow(new RegExp(`${snap} is corrupt`));
  });

  it('group commit: 100 concurrent saves share far fewer fsyncs, and all are there after a reopen', async () => {
    let storage = await open();
    const seconds: number[] = [];
    storage.onFsync = (s) => seconds.push(s);
    const calls = 100;
    await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        storage.save({
          snapshot: null,
          entries: [entry(i + 1, 1)],
          hardState: hs(1, 'n1', i + 1),
        }),
      ),
    );
    expect(storage.stats.fsyncs).toBeLessThan(calls / 10);
    expect(storage.stats.fsyncs).toBeGreaterThan(0);
    expect(seconds).toHaveLength(storage.stats.fsyncs);
    expect(storage.stats.bytesWritten).toBeGreaterThan(0);
    storage = await reopen(storage);
    expect(storage.entries(1, calls + 1).map(text)).toEqual(run(1, calls, 1).map(text));
    expect(storage.hardState()).toEqual(hs(1, 'n1', calls));
  });

  it('a save made from a resolved save’s continuation is committed too', async () => {
    const storage = await open();
    await storage.save({ snapshot: null, entries: [entry(1, 1)], hardState: null });
    await storage.save({ snapshot: null, entries: [entry(2, 1)], hardState: null });
    await storage.save({ snapshot: null, entries: [entry(3, 1)], hardState: null });
    expect(storage.lastIndex()).toBe(3);
  });

  it('close waits for saves in flight; later calls reject', async () => {
    let storage = await open();
    const pending = storage.save({ snapshot: null, entries: run(1, 3, 1), hardState: null });
    await storage.close();
    await pending;
    await expect(
      storage.save({ snapshot: null, entries: run(4, 4, 1), hardState: null }),
    ).rejects.toThrow(/closed/);
    opened.length = 0;
    storage = await open();
    expect(storage.lastIndex()).toBe(3);
  });

  it('segments rotate at the size given, each headed by the hard state', async () => {
    let storage = await open({ segmentBytes: 300 });
    for (let i = 1; i <= 30; i++) {
      await storage.save({ snapshot: null, entries: [entry(i, 1)], hardState: hs(1, 'n2', i) });
    }
    expect((await files('wal-')).length).toBeGreaterThan(5);
    await storage.createSnapshot(25, new Uint8Array([7]));
    // Only the segments holding entries above 25 (and the current one) are left.
    expect((await files('wal-')).length).toBeLessThanOrEqual(3);
    storage = await reopen(storage);
    expect(storage.hardState()).toEqual(hs(1, 'n2', 30));
    expect(storage.entries(26, 31).map(text)).toEqual(run(26, 30, 1).map(text));
  });

  it('property: random saves, truncations, snapshots and reopens read like MemoryStorage', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      for (const storage of opened.splice(0)) await storage.close();
      await fs.rm(dir, { recursive: true, force: true });
      const rng = createRng(seed);
      const model = new MemoryStorage();
      let storage = await open({ segmentBytes: 200 + rng.nextInt(2000) });
      let term = 1;
      for (let step = 0; step < 150; step++) {
        const roll = rng.next();
        if (roll < 0.55) {
          // Append, or overwrite a suffix (a new leader's entries).
          const from =
            rng.next() < 0.3
              ? model.firstIndex() + rng.nextInt(model.lastIndex() - model.firstIndex() + 2)
              : model.lastIndex() + 1;
          if (from !== model.lastIndex() + 1) term++;
          const entries = run(from, from + rng.nextInt(5), term);
          const hardState =
            rng.next() < 0.5 ? hs(term, rng.next() < 0.5 ? 'n1' : null, from - 1) : null;
          const saving = storage.save({ snapshot: null, entries, hardState });
          model.append(entries);
          if (hardState !== null) model.setHardState(hardState);
          if (rng.next() < 0.7) await saving;
        } else if (roll < 0.65 && model.lastIndex() > model.snapshot().index) {
          const index =
            model.snapshot().index + 1 + rng.nextInt(model.lastIndex() - model.snapshot().index);
          const data = new Uint8Array([seed, step, index & 255]);
          await storage.createSnapshot(index, data);
          model.createSnapshot(index, data);
          model.compact(index);
        } else if (roll < 0.72) {
          // A leader's snapshot, sometimes with entries after it.
          term++;
          const index = Math.max(model.snapshot().index, model.lastIndex()) + rng.nextInt(20) - 5;
          const snapshot = {
            index: Math.max(index, model.snapshot().index),
            term,
            data: new Uint8Array([step]),
          };
          const entries = rng.next() < 0.5 ? run(snapshot.index + 1, snapshot.index + 3, term) : [];
          await storage.save({ snapshot, entries, hardState: hs(term, null, snapshot.index) });
          model.applySnapshot(snapshot);
          model.append(entries);
          model.setHardState(hs(term, null, snapshot.index));
        } else if (roll < 0.8) {
          storage = await reopen(storage);
          expect(view(storage), `seed ${seed} step ${step}`).toEqual(view(model));
        }
        expect(view(storage), `seed ${seed} step ${step}`).toEqual(view(model));
      }
      storage = await reopen(storage);
      expect(view(storage), `seed ${seed} at the end`).toEqual(view(model));
    }
  });
});
