import { describe, expect, it } from 'vitest';
import type { StoreOptions } from '../engine/index.ts';
import { EMPTY_SNAPSHOT, encodeConfChange, type Entry as RaftEntry } from '../raft/index.ts';
import { createRng, type Rng } from '../random.ts';
import { encodeCommand } from './command.ts';
import { MAX_SESSIONS, ReplicatedCache, SESSION_TTL_MS } from './machine.ts';
import type { Applied, Command, ReplicatedCacheOptions } from './types.ts';

const text = new TextEncoder();
const untext = new TextDecoder();

const OPTIONS: StoreOptions = {
  maxMemoryBytes: 1 << 20,
  maxKeyBytes: 250,
  maxValueBytes: 64 * 1024,
  policy: 'lru',
};

function set(
  client: string,
  seq: number,
  key: string,
  value: string,
  at: number,
  expiresAt: number | null = null,
): Command {
  const bytes = text.encode(value);
  return {
    kind: 'set',
    client,
    seq,
    key,
    at,
    bytes,
    contentType: 'text/plain',
    compressed: false,
    rawBytes: bytes.length,
    expiresAt,
  };
}

function del(client: string, seq: number, key: string, at: number): Command {
  return { kind: 'delete', client, seq, key, at };
}

/** A log, as Raft would commit it: entries numbered from 1 (null is a leader's no-op). */
function logOf(commands: readonly (Command | null)[]): RaftEntry[] {
  return commands.map((c, i) => ({
    term: 1,
    index: i + 1,
    data: c === null ? new Uint8Array(0) : encodeCommand(c),
  }));
}

/** A replica that applies `commands` in order, one entry each; returns it and what it answered. */
function replay(
  commands: readonly (Command | null)[],
  options: ReplicatedCacheOptions = OPTIONS,
): { cache: ReplicatedCache; applied: (Applied | null)[] } {
  const cache = new ReplicatedCache(options);
  const applied = logOf(commands).map((e) => cache.apply(e));
  return { cache, applied };
}

function read(cache: ReplicatedCache, key: string, now: number): string | undefined {
  const entry = cache.get(key, now);
  return entry === undefined ? undefined : untext.decode(entry.bytes);
}

describe('ReplicatedCache.apply', () => {
  it('applies sets and deletes, answering created and existed', () => {
    const { cache, applied } = replay([
      set('a', 1, 'k', 'v1', 10),
      set('a', 2, 'k', 'v2', 20, 1000),
      del('a', 3, 'k', 30),
      del('a', 4, 'k', 40),
    ]);
    expect(applied.map((a) => a?.outcome)).toEqual([
      { ok: true, kind: 'set', created: true },
      { ok: true, kind: 'set', created: false },
      { ok: true, kind: 'delete', existed: true },
      { ok: true, kind: 'delete', existed: false },
    ]);
    expect(applied[1]).toEqual({
      index: 2,
      client: 'a',
      seq: 2,
      outcome: { ok: true, kind: 'set', created: false },
      duplicate: false,
    });
    expect(cache.get('k', 50)).toBeUndefined();
    expect(cache.appliedIndex).toBe(4);
  });

  it('serves a value with its content type and absolute expiry', () => {
    const { cache } = replay([set('a', 1, 'k', 'hello', 1000, 1500)]);
    expect(cache.get('k', 1200)).toEqual({
      bytes: text.encode('hello'),
      contentType: 'text/plain',
      compressed: false,
      rawBytes: 5,
      expiresAt: 1500,
    });
  });

  it("applies with the leader's `at`, not a replica clock, and reads expire by the reader's", () => {
    // The expiry is long past on any real clock: only `at` makes this set valid.
    const { cache, applied } = replay([set('a', 1, 'k', 'v', 1000, 2000)]);
    expect(applied[0]?.outcome).toEqual({ ok: true, kind: 'set', created: true });
    expect(read(cache, 'k', 1999)).toBe('v');
    expect(read(cache, 'k', 2000)).toBeUndefined();
    expect(read(cache, 'k', 10_000)).toBeUndefined();
    // A replica whose clock is behind still serves it (its own clock judges).
    expect(read(cache, 'k', 1500)).toBe('v');
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 2, entries: 1 });
  });

  it('reclaims expired entries by the log clock, whatever the replicas read', () => {
    const commands = [set('a', 1, 'k', 'v', 1000, 2000), set('a', 2, 'other', 'x', 1500)];
    const reader = replay(commands).cache;
    const idle = replay(commands).cache;
    expect(read(reader, 'k', 5000)).toBeUndefined(); // expired on the reader's clock
    expect(reader.snapshot()).toEqual(idle.snapshot()); // ... but not reclaimed by the read
    const later = logOf([...commands, del('b', 1, 'none', 2000)])[2] as RaftEntry;
    reader.apply(later);
    idle.apply(later);
    expect(reader.stats()).toMatchObject({ entries: 1, expirations: 1 });
    expect(reader.snapshot()).toEqual(idle.snapshot());
  });

  it('returns null for a no-op entry and moves on', () => {
    const { cache, applied } = replay([null, set('a', 1, 'k', 'v', 1), null]);
    expect(applied[0]).toBeNull();
    expect(applied[2]).toBeNull();
    expect(cache.appliedIndex).toBe(3);
    expect(read(cache, 'k', 1)).toBe('v');
  });

  it("counts a membership change applied and changes nothing (it is Raft's, not a command)", () => {
    const cache = new ReplicatedCache(OPTIONS);
    const log = logOf([set('a', 1, 'k', 'v', 1)]);
    cache.apply(log[0] as RaftEntry);
    const change = { term: 1, index: 2, data: encodeConfChange({ type: 'add', node: 'n4' }) };
    expect(cache.apply({ ...change, type: 'conf-change' })).toBeNull();
    expect(cache.appliedIndex).toBe(2);
    expect(read(cache, 'k', 1)).toBe('v');
  });

  it('throws on an entry out of order, twice, or not a command, and applies nothing', () => {
    const log = logOf([set('a', 1, 'k', 'v', 1), set('a', 2, 'k', 'w', 2)]);
    const cache = new ReplicatedCache(OPTIONS);
    expect(() => cache.apply(log[1] as RaftEntry)).toThrow(
      /Entry 2 cannot be applied after entry 0.*driver bug/,
    );
    cache.apply(log[0] as RaftEntry);
    expect(() => cache.apply(log[0] as RaftEntry)).toThrow(
      /Entry 1 cannot be applied after entry 1/,
    );
    expect(() => cache.apply({ term: 1, index: 2, data: new Uint8Array([7]) })).toThrow(
      /Malformed command/,
    );
    expect(cache.appliedIndex).toBe(1);
    expect(read(cache, 'k', 1)).toBe('v');
  });

  it('answers a refused set with its error, and the key then holds nothing', () => {
    const big = 'x'.repeat(OPTIONS.maxValueBytes + 1);
    const { cache, applied } = replay([
      set('a', 1, 'k', 'old', 1),
      set('a', 2, 'k', big, 2),
      set('a', 2, 'k', big, 3),
      set('b', 1, 'fresh', big, 4),
    ]);
    expect(applied[1]?.outcome).toMatchObject({ ok: false, code: 'value_too_large' });
    expect(applied[2]).toMatchObject({ outcome: applied[1]?.outcome, duplicate: true });
    // Another replica with larger limits may hold the new value: never serve the old one.
    expect(read(cache, 'k', 5)).toBeUndefined();
    expect(applied[3]?.outcome).toMatchObject({ ok: false, code: 'value_too_large' });
    expect(cache.stats().entries).toBe(0);
  });
});

describe('ReplicatedCache sessions', () => {
  it('answers a retry with the first outcome and does not apply it again', () => {
    const { cache, applied } = replay([
      set('a', 1, 'k', 'A', 1),
      set('b', 1, 'k', 'B', 2),
      set('a', 1, 'k', 'A', 3), // a's retry, committed again after a leader change
    ]);
    expect(applied[2]).toEqual({
      index: 3,
      client: 'a',
      seq: 1,
      outcome: { ok: true, kind: 'set', created: true },
      duplicate: true,
    });
    expect(read(cache, 'k', 4)).toBe('B');
  });

  it('does not apply a late retry of an older request', () => {
    const { cache, applied } = replay([
      set('a', 1, 'k', 'A', 1),
      set('a', 2, 'k', 'B', 2),
      set('a', 1, 'k', 'A', 3),
      del('a', 1, 'k', 4),
    ]);
    for (const late of [applied[2], applied[3]]) {
      expect(late?.duplicate).toBe(true);
      expect(late?.outcome).toMatchObject({ ok: false, code: 'bad_request' });
      expect(late?.outcome.ok === false && late.outcome.message).toMatch(
        /an older request of this client/,
      );
    }
    expect(read(cache, 'k', 5)).toBe('B');
    // The latest request's retry still gets its own answer.
    cache.apply(logOf([null, null, null, null, set('a', 2, 'k', 'B', 6)])[4] as RaftEntry);
    expect(read(cache, 'k', 7)).toBe('B');
  });

  it('applies any higher seq, gaps included', () => {
    const { applied } = replay([
      set('a', 1, 'k', 'A', 1),
      del('a', 7, 'k', 2),
      del('a', 7, 'k', 3),
    ]);
    expect(applied.map((a) => a?.duplicate)).toEqual([false, false, true]);
    expect(applied[1]?.outcome).toEqual({ ok: true, kind: 'delete', existed: true });
    expect(applied[2]?.outcome).toEqual({ ok: true, kind: 'delete', existed: true });
  });

  it('forgets a session once its last write is more than SESSION_TTL_MS behind the log clock', () => {
    expect(SESSION_TTL_MS).toBe(3_600_000);
    const base = [set('a', 1, 'k', 'A', 0), set('b', 1, 'k', 'B', 10)];
    // Exactly the TTL later: still a duplicate.
    const kept = replay([...base, set('a', 1, 'k', 'A', SESSION_TTL_MS)]);
    expect(kept.applied[2]?.duplicate).toBe(true);
    expect(read(kept.cache, 'k', SESSION_TTL_MS)).toBe('B');
    // One ms more, pushed by another client's write: the session is gone, the retry is new
    // (the documented trade-off: it applies a second time).
    const gone = replay([
      ...base,
      del('c', 1, 'other', SESSION_TTL_MS + 1),
      set('a', 1, 'k', 'A', SESSION_TTL_MS + 1),
    ]);
    expect(gone.applied[3]?.duplicate).toBe(false);
    expect(read(gone.cache, 'k', SESSION_TTL_MS + 2)).toBe('A');
    // b wrote 10 ms after a: its session is still there.
    const b = replay([
      ...base,
      del('c', 1, 'other', SESSION_TTL_MS + 1),
      set('b', 1, 'k', 'B', SESSION_TTL_MS + 1),
    ]);
    expect(b.applied[3]?.duplicate).toBe(true);
  });

  it('times sessions by the log clock, not by an `at` that stepped back', () => {
    // A new leader whose clock is 1000 ms behind: a's write is timed at the log clock (5000).
    const { applied } = replay(
      [
        set('x', 1, 'k', 'X', 5000),
        set('a', 1, 'k', 'A', 4000),
        del('c', 1, 'other', 5000 + 100),
        set('a', 1, 'k', 'A', 5000 + 100),
      ],
      { ...OPTIONS, sessionTtlMs: 100 },
    );
    expect(applied[3]?.duplicate).toBe(true);
  });

  it('keeps at most maxSessions, dropping the least recently written in log order', () => {
    const commands = [
      del('c1', 1, 'k', 1),
      del('c2', 1, 'k', 2),
      del('c3', 1, 'k', 3),
      del('c1', 2, 'k', 4), // c1 is now the most recent
      del('c4', 1, 'k', 5), // a fourth session: c2 leaves
    ];
    const options = { ...OPTIONS, maxSessions: 3 };
    const retries = [del('c2', 1, 'k', 6), del('c1', 2, 'k', 6), del('c3', 1, 'k', 6)];
    const answers = retries.map((retry) => replay([...commands, retry], options).applied[5]);
    expect(answers.map((a) => a?.duplicate)).toEqual([false, true, true]);
    // Deterministic: two replicas of the same log hold the same sessions.
    expect(replay(commands, options).cache.snapshot()).toEqual(
      replay(commands, options).cache.snapshot(),
    );
  });

  it('bounds the table at MAX_SESSIONS by default', () => {
    expect(MAX_SESSIONS).toBe(100_000);
    const cache = new ReplicatedCache(OPTIONS);
    let index = 0;
    const apply = (c: Command): Applied | null =>
      cache.apply({ term: 1, index: ++index, data: encodeCommand(c) });
    for (let i = 0; i <= MAX_SESSIONS; i++) apply(del(`c${i}`, 1, 'k', i));
    expect(apply(del(`c${MAX_SESSIONS}`, 1, 'k', 0))?.duplicate).toBe(true);
    expect(apply(del('c1', 1, 'k', 0))?.duplicate).toBe(true);
    expect(apply(del('c0', 1, 'k', 0))?.duplicate).toBe(false); // the oldest left
  });

  it('refuses malformed session bounds', () => {
    expect(() => new ReplicatedCache({ ...OPTIONS, maxSessions: 0 })).toThrow(/maxSessions/);
    expect(() => new ReplicatedCache({ ...OPTIONS, sessionTtlMs: NaN })).toThrow(/sessionTtlMs/);
  });
});

/**
 * A seeded random log over few keys and clients: sets with and without TTLs, deletes,
 * retries of the latest request, late retries of older ones, no-ops, and a leader clock that
 * sometimes steps back.
 */
function randomLog(rng: Rng, length: number): (Command | null)[] {
  const clients = ['a', 'b', 'c', 'd'];
  const sent = new Map<string, Command[]>();
  const log: (Command | null)[] = [];
  let clock = 1000;
  for (let i = 0; i < length; i++) {
    clock += rng.nextInt(3) === 0 ? -rng.nextInt(200) : rng.nextInt(400);
    const roll = rng.nextInt(20);
    if (roll === 0) {
      log.push(null);
      continue;
    }
    const client = clients[rng.nextInt(clients.length)] as string;
    const history = sent.get(client) ?? [];
    sent.set(client, history);
    if (roll <= 3 && history.length > 0) {
      // A retry: of the latest request mostly, sometimes of an older one.
      const old = history[rng.nextInt(3) === 0 ? rng.nextInt(history.length) : history.length - 1];
      log.push({ ...(old as Command), at: clock });
      continue;
    }
    const seq = history.length + 1;
    const key = `k${rng.nextInt(6)}`;
    const command =
      rng.nextInt(4) === 0
        ? del(client, seq, key, clock)
        : set(
            client,
            seq,
            key,
            `${client}${seq}:${'v'.repeat(rng.nextInt(50))}`,
            clock,
            rng.nextInt(2) === 0 ? null : clock + 1 + rng.nextInt(3000),
          );
    history.push(command);
    log.push(command);
  }
  return log;
}

describe('ReplicatedCache snapshots', () => {
  it('restoring a snapshot and applying the rest equals applying everything', () => {
    const options = { ...OPTIONS, sessionTtlMs: 5000 }; // sessions expire within the run
    for (let seed = 1; seed <= 20; seed++) {
      const rng = createRng(seed);
      const commands = randomLog(rng, 300);
      const log = logOf(commands);
      const whole = replay(commands, options);
      for (const split of [0, 1 + rng.nextInt(299), 300]) {
        const first = new ReplicatedCache(options);
        for (const e of log.slice(0, split)) first.apply(e);
        const data = first.snapshot();
        const restored = new ReplicatedCache(options);
        restored.apply(log[0] as RaftEntry); // state to be replaced
        restored.restore({ index: split, term: 1, data });
        expect(restored.appliedIndex).toBe(split);
        expect(restored.snapshot()).toEqual(data);
        const rest = log.slice(split).map((e) => restored.apply(e));
        expect(rest).toEqual(whole.applied.slice(split));
        expect(restored.snapshot()).toEqual(whole.cache.snapshot());
        for (let k = 0; k < 6; k++) {
          expect(restored.get(`k${k}`, 1e9 - 1)).toEqual(whole.cache.get(`k${k}`, 1e9 - 1));
        }
      }
    }
  });

  it('is the same bytes for the same state, whatever order the keys were written in', () => {
    const one = replay([set('a', 1, 'x', '1', 1), set('a', 2, 'b', '2', 2), del('a', 3, 'q', 3)]);
    const two = replay([set('a', 1, 'b', '2', 1), set('a', 2, 'x', '1', 2), del('a', 3, 'q', 3)]);
    expect(one.cache.snapshot()).toEqual(two.cache.snapshot());
  });

  it('carries sessions: a restored replica answers a retry as the first did', () => {
    const { cache } = replay([set('a', 1, 'k', 'A', 1), set('b', 1, 'k', 'B', 2)]);
    const restored = new ReplicatedCache(OPTIONS);
    restored.restore({ index: 2, term: 3, data: cache.snapshot() });
    const retry = logOf([null, null, set('a', 1, 'k', 'A', 3)])[2] as RaftEntry;
    expect(restored.apply(retry)).toMatchObject({ duplicate: true, outcome: { created: true } });
    expect(read(restored, 'k', 4)).toBe('B');
  });

  it('throws on a malformed snapshot or one of another index, and keeps its state', () => {
    const { cache } = replay([set('a', 1, 'k', 'A', 1)]);
    const data = cache.snapshot();
    const target = replay([set('z', 1, 'mine', 'M', 1), null]).cache;
    expect(() =>
      target.restore({ index: 1, term: 1, data: data.subarray(0, data.length - 1) }),
    ).toThrow(/Malformed snapshot/);
    expect(() => target.restore({ index: 2, term: 1, data })).toThrow(/taken at index 1/);
    expect(() => target.restore({ index: 1, term: 1, data: new Uint8Array([9]) })).toThrow(
      /unknown version 9/,
    );
    expect(target.appliedIndex).toBe(2);
    expect(read(target, 'mine', 2)).toBe('M');
  });

  it('restores the empty snapshot Raft starts from', () => {
    const { cache } = replay([set('a', 1, 'k', 'A', 1)]);
    cache.restore(EMPTY_SNAPSHOT);
    expect(cache.appliedIndex).toBe(0);
    expect(cache.get('k', 1)).toBeUndefined();
    expect(cache.snapshot()).toEqual(new ReplicatedCache(OPTIONS).snapshot());
  });
});

describe('ReplicatedCache replicas with different memory bounds', () => {
  it('the smaller one misses but never returns an older value', () => {
    const rng = createRng(7);
    const large = new ReplicatedCache(OPTIONS);
    const small = new ReplicatedCache({ ...OPTIONS, maxMemoryBytes: 4 * 1024 });
    let misses = 0;
    let index = 0;
    for (let i = 1; i <= 2000; i++) {
      const key = `k${rng.nextInt(40)}`;
      const command =
        rng.nextInt(10) === 0
          ? del('w', i, key, i)
          : set('w', i, key, `${i}:${'v'.repeat(rng.nextInt(200))}`, i);
      const entry = { term: 1, index: ++index, data: encodeCommand(command) };
      large.apply(entry);
      small.apply(entry);
      for (let k = 0; k < 40; k++) {
        const expected = read(large, `k${k}`, i);
        const got = read(small, `k${k}`, i);
        if (got === undefined) {
          if (expected !== undefined) misses++;
        } else {
          expect(got).toBe(expected);
        }
      }
    }
    expect(misses).toBeGreaterThan(0);
    expect(small.stats().evictions).toBeGreaterThan(0);
    expect(large.stats().evictions).toBe(0);
  });

  it('a write too large for the smaller one leaves it with no value, not the old one', () => {
    const large = new ReplicatedCache(OPTIONS);
    const small = new ReplicatedCache({ ...OPTIONS, maxMemoryBytes: 1024 });
    for (const entry of logOf([
      set('w', 1, 'k', 'old', 1),
      set('w', 2, 'k', 'n'.repeat(2000), 2),
    ])) {
      large.apply(entry);
      small.apply(entry);
    }
    expect(read(large, 'k', 3)).toBe('n'.repeat(2000));
    expect(read(small, 'k', 3)).toBeUndefined();
  });
});
