import { describe, expect, it } from 'vitest';
import { streamRng } from '../random.ts';
import { checkLinearizability, type CheckOptions, type Operation } from './linearizability.ts';

const STRICT: CheckOptions = { absentAllowed: false };
const CACHE: CheckOptions = { absentAllowed: true };

/** A few-letter history language: `set('c1', 'a', 0, 10)` sets key k to a between 0 and 10. */
function set(
  client: string,
  value: string,
  invokedAt: number,
  returnedAt: number | null,
  extra: { result?: 'ok' | 'error'; expiresAt?: number; key?: string } = {},
): Operation {
  const { result = 'ok', key = 'k', expiresAt } = extra;
  return {
    client,
    key,
    kind: 'set',
    value,
    invokedAt,
    returnedAt,
    result,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}
function del(
  client: string,
  invokedAt: number,
  returnedAt: number | null,
  result: 'ok' | 'error' = 'ok',
): Operation {
  return { client, key: 'k', kind: 'delete', invokedAt, returnedAt, result };
}
function get(
  client: string,
  result: string | null,
  invokedAt: number,
  returnedAt: number | null,
  key = 'k',
): Operation {
  return { client, key, kind: 'get', invokedAt, returnedAt, result };
}

describe('a strict register', () => {
  it('passes reads of the latest completed write, and of either write while one is in flight', () => {
    const history = [
      set('c1', 'a', 0, 10),
      get('c2', 'a', 20, 30),
      set('c1', 'b', 40, 60),
      get('c2', 'a', 45, 50),
      get('c3', 'b', 48, 55),
      get('c2', 'b', 70, 80),
    ];
    expect(checkLinearizability(history, STRICT)).toMatchObject({ ok: true, keys: 1 });
  });

  it('flags a stale read after a completed write, naming the writes it contradicts', () => {
    const history = [
      set('c1', 'a', 0, 10),
      get('c3', null, 1, 2),
      set('c1', 'b', 20, 30),
      get('c2', 'a', 40, 50),
      get('c2', 'b', 60, 70),
    ];
    const result = checkLinearizability(history, STRICT);
    expect(result).toMatchObject({ ok: false, key: 'k' });
    if (result.ok !== false) return;
    expect(result.subHistory).toEqual([history[0], history[2], history[3]]);
    expect(result.explanation).toContain('these 3 of its 5 operations');
    expect(result.explanation).toContain('c2  get  [40, 50] → "a"');
  });

  it('flags a read of a value never written, on its own', () => {
    const result = checkLinearizability([set('c1', 'a', 0, 10), get('c2', 'z', 20, 30)], STRICT);
    expect(result).toMatchObject({
      ok: false,
      subHistory: [{ kind: 'set' }, { kind: 'get', result: 'z' }],
    });
  });

  it('flags a read of absent after a completed write', () => {
    const result = checkLinearizability([set('c1', 'a', 0, 10), get('c2', null, 20, 30)], STRICT);
    expect(result).toMatchObject({ ok: false, key: 'k' });
  });

  it('passes two concurrent writes whose order every reader agrees on', () => {
    const history = [
      set('c1', 'a', 0, 100),
      set('c2', 'b', 0, 100),
      get('c3', 'a', 10, 20),
      get('c3', 'b', 30, 40),
      get('c4', 'b', 50, 60),
    ];
    expect(checkLinearizability(history, STRICT).ok).toBe(true);
  });

  it('flags two concurrent writes that readers see in opposite orders', () => {
    const history = [
      set('c1', 'a', 0, 100),
      set('c2', 'b', 0, 100),
      get('c3', 'a', 10, 20),
      get('c3', 'b', 30, 40),
      get('c4', 'b', 10, 20),
      get('c4', 'a', 30, 40),
    ];
    const result = checkLinearizability(history, STRICT);
    expect(result).toMatchObject({ ok: false, key: 'k' });
    if (result.ok === false) expect(result.subHistory).toHaveLength(6);
  });

  it('passes a write with no answer whether later reads see it or not', () => {
    const seen = [set('c1', 'a', 0, 10), set('c2', 'b', 20, null), get('c3', 'b', 30, 40)];
    const unseen = [set('c1', 'a', 0, 10), set('c2', 'b', 20, null), get('c3', 'a', 30, 40)];
    expect(checkLinearizability(seen, STRICT).ok).toBe(true);
    expect(checkLinearizability(unseen, STRICT).ok).toBe(true);
  });

  it('treats an error answer as no answer: the write may land, even after the error', () => {
    const landedLate = [
      set('c1', 'a', 0, 10),
      set('c2', 'b', 20, 25, { result: 'error' }),
      get('c3', 'a', 30, 40),
      get('c3', 'b', 50, 60),
    ];
    expect(checkLinearizability(landedLate, STRICT).ok).toBe(true);
    const failedDelete = [
      set('c1', 'a', 0, 10),
      del('c2', 20, 25, 'error'),
      get('c3', 'a', 30, 40),
    ];
    expect(checkLinearizability(failedDelete, STRICT).ok).toBe(true);
  });

  it('flags a write with no answer seen and then unseen', () => {
    const history = [
      set('c1', 'a', 0, 10),
      set('c2', 'b', 20, null),
      get('c3', 'b', 30, 40),
      get('c3', 'a', 50, 60),
    ];
    expect(checkLinearizability(history, STRICT).ok).toBe(false);
  });

  it('ignores a read that got no answer', () => {
    const history = [set('c1', 'a', 0, 10), get('c2', 'never', 20, null)];
    expect(checkLinearizability(history, STRICT).ok).toBe(true);
  });

  it('flags a read of the old value after a completed delete', () => {
    const history = [set('c1', 'a', 0, 10), del('c2', 20, 30), get('c3', 'a', 40, 50)];
    const result = checkLinearizability(history, STRICT);
    expect(result).toMatchObject({ ok: false, key: 'k', subHistory: history });
    expect(checkLinearizability([...history.slice(0, 2), get('c3', null, 40, 50)], STRICT).ok).toBe(
      true,
    );
  });

  it('counts an operation that returned at the instant another was invoked as concurrent', () => {
    // a may land after b only because a's return and b's invocation share an instant.
    const touching = [set('c1', 'a', 0, 10), set('c2', 'b', 10, 20), get('c3', 'a', 21, 30)];
    const apart = [set('c1', 'a', 0, 9), set('c2', 'b', 10, 20), get('c3', 'a', 21, 30)];
    expect(checkLinearizability(touching, STRICT).ok).toBe(true);
    expect(checkLinearizability(apart, STRICT).ok).toBe(false);
  });

  it('checks keys independently and names the failing one', () => {
    const history = [
      set('c1', 'x', 0, 10, { key: 'k1' }),
      set('c1', 'y', 0, 10, { key: 'k2' }),
      get('c2', 'x', 20, 30, 'k1'),
      get('c2', 'x', 20, 30, 'k2'),
    ];
    expect(checkLinearizability(history, STRICT)).toMatchObject({
      ok: false,
      key: 'k2',
      keys: 2,
      subHistory: [
        { key: 'k2', kind: 'set' },
        { key: 'k2', kind: 'get' },
      ],
    });
  });

  it('refuses an operation that returned before it was invoked', () => {
    expect(() => checkLinearizability([get('c1', null, 10, 5)], STRICT)).toThrow(RangeError);
  });
});

describe('a cache register (absent allowed)', () => {
  it('passes a miss anywhere, and the value again after it', () => {
    const history = [
      set('c1', 'a', 0, 10),
      get('c2', null, 20, 30),
      get('c2', 'a', 40, 50),
      set('c1', 'b', 60, 70),
      get('c2', null, 80, 90),
    ];
    expect(checkLinearizability(history, STRICT).ok).toBe(false);
    expect(checkLinearizability(history, CACHE).ok).toBe(true);
  });

  it('still flags a stale value, and a deleted one', () => {
    const stale = [set('c1', 'a', 0, 10), set('c1', 'b', 20, 30), get('c2', 'a', 40, 50)];
    const deleted = [set('c1', 'a', 0, 10), del('c1', 20, 30), get('c2', 'a', 40, 50)];
    expect(checkLinearizability(stale, CACHE)).toMatchObject({ ok: false, subHistory: stale });
    expect(checkLinearizability(deleted, CACHE)).toMatchObject({ ok: false, subHistory: deleted });
  });
});

describe('expiry', () => {
  it('makes a value absent from expiresAt on, even in a strict register', () => {
    const history = [
      set('c1', 'a', 0, 10, { expiresAt: 100 }),
      get('c2', 'a', 20, 30),
      get('c2', null, 100, 110),
    ];
    expect(checkLinearizability(history, STRICT).ok).toBe(true);
  });

  it('flags a value read wholly after its expiry, and a miss wholly before it', () => {
    const late = [set('c1', 'a', 0, 10, { expiresAt: 100 }), get('c2', 'a', 100, 110)];
    const early = [set('c1', 'a', 0, 10, { expiresAt: 100 }), get('c2', null, 20, 99)];
    expect(checkLinearizability(late, STRICT).ok).toBe(false);
    expect(checkLinearizability(late, CACHE).ok).toBe(false);
    expect(checkLinearizability(early, STRICT).ok).toBe(false);
    expect(checkLinearizability(early, CACHE).ok).toBe(true);
  });

  it('lets a read that straddles the expiry see either the value or its absence', () => {
    const set1 = set('c1', 'a', 0, 10, { expiresAt: 100 });
    expect(checkLinearizability([set1, get('c2', 'a', 90, 120)], STRICT).ok).toBe(true);
    expect(checkLinearizability([set1, get('c2', null, 90, 120)], STRICT).ok).toBe(true);
  });

  it('does not let a value outlive its expiry through a slow set', () => {
    // The set is invoked after its own expiry: whenever it lands, the value is already gone.
    const history = [set('c1', 'a', 150, 160, { expiresAt: 100 }), get('c2', 'a', 50, 200)];
    expect(checkLinearizability(history, STRICT).ok).toBe(false);
  });
});

describe('expiry with clock skew', () => {
  const skewed = (clockSkew: number): CheckOptions => ({ absentAllowed: false, clockSkew });

  it('lets a value be read until expiresAt + skew, not at or after it', () => {
    const set1 = set('c1', 'a', 0, 10, { expiresAt: 100 });
    expect(checkLinearizability([set1, get('c2', 'a', 104, 110)], skewed(5)).ok).toBe(true);
    expect(checkLinearizability([set1, get('c2', 'a', 105, 110)], skewed(5)).ok).toBe(false);
    expect(checkLinearizability([set1, get('c2', 'a', 104, 110)], STRICT).ok).toBe(false);
  });

  it('lets a value be absent from expiresAt - skew, not wholly before it', () => {
    const set1 = set('c1', 'a', 0, 10, { expiresAt: 100 });
    expect(checkLinearizability([set1, get('c2', null, 20, 95)], skewed(5)).ok).toBe(true);
    expect(checkLinearizability([set1, get('c2', null, 20, 94)], skewed(5)).ok).toBe(false);
    expect(checkLinearizability([set1, get('c2', null, 20, 95)], STRICT).ok).toBe(false);
  });

  it('still flags a stale value however large the skew', () => {
    const history = [
      set('c1', 'a', 0, 10, { expiresAt: 100 }),
      set('c1', 'b', 20, 30),
      get('c2', 'a', 40, 50),
    ];
    expect(checkLinearizability(history, skewed(1000))).toMatchObject({ ok: false, key: 'k' });
  });

  it('refuses a negative skew', () => {
    expect(() => checkLinearizability([], skewed(-1))).toThrow(RangeError);
  });
});

interface Simulated {
  history: Operation[];
  /** Indexes of answered gets that returned a value. */
  reads: number[];
}

/**
 * A correct cache: each operation takes effect at a distinct instant inside its window, in a
 * sequential map, and the client is told the truth (or nothing, or an error). Misses and TTLs
 * follow `options`.
 */
function simulate(seed: number, count: number, keys: number, options: CheckOptions): Simulated {
  const rng = streamRng(seed, 'checker/linearizability');
  type Planned =
    | { client: string; key: string; kind: 'get' | 'delete' }
    | { client: string; key: string; kind: 'set'; value: string; expiresAt?: number };
  const points: { at: number; op: Planned }[] = [];
  for (let i = 0; i < count; i++) {
    const key = `key-${rng.nextInt(keys)}`;
    const client = `c${rng.nextInt(8)}`;
    const at = i * 10 + 5;
    const roll = rng.nextInt(10);
    if (roll < 3) {
      const expiresAt = rng.nextInt(4) === 0 ? at + 20 + rng.nextInt(200) : undefined;
      points.push({
        at,
        op: { client, key, kind: 'set', value: `v${i}`, ...(expiresAt ? { expiresAt } : {}) },
      });
    } else if (roll < 4) points.push({ at, op: { client, key, kind: 'delete' } });
    else points.push({ at, op: { client, key, kind: 'get' } });
  }
  const store = new Map<string, { value: string; expiresAt: number }>();
  const history: Operation[] = [];
  const reads: number[] = [];
  for (const { at, op } of points) {
    const invokedAt = at - rng.nextInt(60);
    const answered = rng.nextInt(20) !== 0;
    const returnedAt = answered ? at + rng.nextInt(60) : null;
    if (op.kind === 'get') {
      const held = store.get(op.key);
      let result = held !== undefined && at < held.expiresAt ? held.value : null;
      if (options.absentAllowed && rng.nextInt(5) === 0) result = null;
      if (answered && result !== null) reads.push(history.length);
      history.push({ ...op, kind: 'get', invokedAt, returnedAt, result });
      continue;
    }
    // An unanswered or failed write lands only sometimes.
    const error = answered && rng.nextInt(10) === 0;
    if (answered && !error) applyWrite();
    else if (rng.nextInt(2) === 0) applyWrite();
    history.push({ ...op, invokedAt, returnedAt, result: error ? 'error' : 'ok' } as Operation);

    function applyWrite(): void {
      if (op.kind === 'set') {
        store.set(op.key, { value: op.value, expiresAt: op.expiresAt ?? Infinity });
      } else store.delete(op.key);
    }
  }
  return { history, reads };
}

describe('a simulated correct cache', () => {
  for (const options of [STRICT, CACHE]) {
    const mode = options.absentAllowed ? 'with misses' : 'strict';
    it(`checks ok over a few hundred concurrent operations (${mode})`, () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const { history } = simulate(seed, 400, 4, options);
        const result = checkLinearizability(history, options);
        expect(result, `seed ${seed}`).toMatchObject({ ok: true, operations: 400, keys: 4 });
        expect(result.states).toBeGreaterThan(0);
      }
    });

    it(`fails with one read corrupted, naming its key (${mode})`, () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const { history, reads } = simulate(seed, 400, 4, options);
        // The last write before a late read, replaced by a value never written.
        const victim = reads[reads.length >> 1]!;
        const corrupted = history.map((op, i) =>
          i === victim ? { ...op, result: 'corrupt' } : op,
        ) as Operation[];
        const result = checkLinearizability(corrupted, options);
        expect(result, `seed ${seed}`).toMatchObject({ ok: false, key: history[victim]!.key });
        if (result.ok === false) {
          expect(result.subHistory).toContain(corrupted[victim]);
          expect(result.explanation).toContain('"corrupt"');
        }
      }
    });
  }

  it('fails with one read made stale, naming the read, the value it saw and a later write', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { history, reads } = simulate(seed, 400, 4, STRICT);
      const answered = (op: Operation): boolean => op.returnedAt !== null && op.result === 'ok';
      // A read, a set S and a set W on its key: S returned before W began, W before the read.
      let planted: { read: number; stale: Operation } | null = null;
      for (const r of reads.slice().reverse()) {
        const read = history[r]!;
        const writes = history.filter(
          (op) => op.key === read.key && op.kind === 'set' && answered(op),
        );
        const stale = writes.find((s) =>
          writes.some((w) => s.returnedAt! < w.invokedAt && w.returnedAt! < read.invokedAt),
        );
        if (stale !== undefined) {
          planted = { read: r, stale };
          break;
        }
      }
      expect(planted, `seed ${seed}`).not.toBeNull();
      const { read, stale } = planted!;
      const value = stale.kind === 'set' ? stale.value : '';
      const corrupted = history.map((op, i) =>
        i === read ? { ...op, result: value } : op,
      ) as Operation[];
      const result = checkLinearizability(corrupted, { ...STRICT, maxExplainStates: 20_000 });
      expect(result, `seed ${seed}`).toMatchObject({ ok: false, key: history[read]!.key });
      if (result.ok === false) {
        expect(result.subHistory, result.explanation).toContain(corrupted[read]);
        expect(result.subHistory, result.explanation + JSON.stringify(stale)).toContain(stale);
        expect(result.subHistory.length, result.explanation).toBeLessThan(history.length);
      }
    }
  });

  it('checks a 10,000-operation history over 100 keys', () => {
    const { history } = simulate(7, 10_000, 100, CACHE);
    // Speed is noted in linearizability.ts's header; here only that it finishes and passes.
    expect(checkLinearizability(history, CACHE)).toMatchObject({ ok: true, keys: 100 });
  });
});

describe('the search bound', () => {
  it('reports unknown, not ok, when a key needs more states than allowed', () => {
    const { history } = simulate(1, 400, 1, STRICT);
    const bounded = checkLinearizability(history, { ...STRICT, maxStatesPerKey: 10 });
    expect(bounded).toMatchObject({ ok: 'unknown', key: 'key-0' });
    expect(bounded.states).toBeGreaterThan(10);
    expect(checkLinearizability(history, STRICT).ok).toBe(true);
  });

  it('reports a violation on one key over an unknown on another', () => {
    const { history } = simulate(1, 400, 1, STRICT);
    const broken = [...history, get('z', 'never', 0, 1, 'other')];
    const result = checkLinearizability(broken, { ...STRICT, maxStatesPerKey: 10 });
    expect(result).toMatchObject({ ok: false, key: 'other' });
  });
});
