/**
 * Raft's safety properties (Figure 3 of the paper) as checks over what a set of nodes hold.
 * The stateless ones are pure functions of the nodes' states now; the ones about history
 * (one leader per term ever, monotonic commit, what was committed and applied before) thread
 * that history through `RaftChecker`. Tests call them after every delivered message; the
 * simulator will call them after every event.
 */
import type { RaftNode } from './raft.ts';
import type { Entry, NodeId, Role, Snapshot } from './types.ts';

/**
 * What the checks read of one node. Entries up to `snapshotIndex` (default 0) are compacted
 * into a snapshot (§7) and not compared: they were committed, and State Machine Safety
 * checks them when applied. `log[i - snapshotIndex - 1]` is the entry at index i.
 */
export interface RaftState {
  readonly id: NodeId;
  readonly term: number;
  readonly role: Role;
  readonly commit: number;
  readonly snapshotIndex?: number;
  readonly log: readonly Entry[];
}

const base = (state: RaftState): number => state.snapshotIndex ?? 0;
const lastIndexOf = (state: RaftState): number => base(state) + state.log.length;
const entryAt = (state: RaftState, index: number): Entry | undefined =>
  index > base(state) ? state.log[index - base(state) - 1] : undefined;

export type Invariant =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'monotonic-commit';

export interface Violation {
  readonly invariant: Invariant;
  readonly message: string;
}

export function raftState(node: RaftNode): RaftState {
  return {
    id: node.id,
    term: node.term,
    role: node.role,
    commit: node.log.committed,
    snapshotIndex: node.log.firstIndex() - 1,
    log: node.log.slice(node.log.firstIndex(), node.log.lastIndex() + 1),
  };
}

export function sameEntry(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  if (a.index !== b.index || a.term !== b.term || a.data.length !== b.data.length) return false;
  if (a.type !== b.type) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** Election Safety, now: at most one node is leader of any term. */
export function electionSafety(states: readonly RaftState[]): Violation[] {
  return electionSafetySince(new Map(), states).violations;
}

/**
 * Election Safety over a run: `leaders` maps every term to the leader seen in it so far.
 * Returns the violations and the map with this step's leaders added.
 */
export function electionSafetySince(
  leaders: ReadonlyMap<number, NodeId>,
  states: readonly RaftState[],
): { violations: Violation[]; leaders: Map<number, NodeId> } {
  const next = new Map(leaders);
  const violations: Violation[] = [];
  for (const state of states) {
    if (state.role !== 'leader') continue;
    const known = next.get(state.term);
    if (known === undefined) next.set(state.term, state.id);
    else if (known !== state.id) {
      violations.push({
        invariant: 'election-safety',
        message: `${known} and ${state.id} are both leaders of term ${state.term}`,
      });
    }
  }
  return { violations, leaders: next };
}

/**
 * Log Matching: if two logs hold an entry with the same index and term, they are identical
 * in every entry up to that index.
 */
export function logMatching(states: readonly RaftState[]): Violation[] {
  const violations: Violation[] = [];
  for (const [x, y] of pairs(states)) {
    // Only the indexes both still hold are compared.
    const low = Math.max(base(x), base(y)) + 1;
    let shared = Math.min(lastIndexOf(x), lastIndexOf(y));
    while (shared >= low && entryAt(x, shared)!.term !== entryAt(y, shared)!.term) shared--;
    if (shared < low) continue;
    const differs = firstDifference(x, y, low, shared);
    if (differs !== null) {
      violations.push({
        invariant: 'log-matching',
        message: `${x.id} and ${y.id} agree at index ${shared} (term ${entryAt(x, shared)!.term}) but differ at index ${differs}`,
      });
    }
  }
  return violations;
}

/** Committed prefixes agree now: no two nodes consider different entries committed. */
export function committedPrefixesAgree(states: readonly RaftState[]): Violation[] {
  const violations: Violation[] = [];
  for (const [x, y] of pairs(states)) {
    const low = Math.max(base(x), base(y)) + 1;
    const differs = firstDifference(x, y, low, Math.min(x.commit, y.commit));
    if (differs !== null) {
      violations.push({
        invariant: 'state-machine-safety',
        message: `${x.id} and ${y.id} committed different entries at index ${differs}`,
      });
    }
  }
  return violations;
}

/** The first index in [from, upTo] where the two logs differ, or null. */
function firstDifference(x: RaftState, y: RaftState, from: number, upTo: number): number | null {
  for (let i = from; i <= upTo; i++) {
    const a = entryAt(x, i);
    const b = entryAt(y, i);
    if (a === undefined || b === undefined || !sameEntry(a, b)) return i;
  }
  return null;
}

function* pairs<T>(items: readonly T[]): Generator<[T, T]> {
  for (let a = 0; a < items.length; a++) {
    for (let b = a + 1; b < items.length; b++) yield [items[a]!, items[b]!];
  }
}

/** An entry first seen committed, and the term of the node that saw it (an upper bound on
 * the term in which it was committed). */
interface Committed {
  readonly entry: Entry;
  readonly seenInTerm: number;
}

/**
 * The checks that need a run's history. Call `check` after every event with every live
 * node's state, `applied` with what a node's state machine applied, and `restarted` when a
 * node restarts from its storage (its commit index and applied entries start over from what
 * it persisted).
 */
export class RaftChecker {
  #leaders = new Map<number, NodeId>();
  readonly #commits = new Map<NodeId, number>();
  /** committed[i - 1]: the entry at index i, first seen committed. */
  readonly #committed: Committed[] = [];
  readonly #applied: Entry[] = [];
  readonly #lastApplied = new Map<NodeId, number>();

  check(states: readonly RaftState[]): Violation[] {
    const election = electionSafetySince(this.#leaders, states);
    this.#leaders = election.leaders;
    const violations = [
      ...election.violations,
      ...logMatching(states),
      ...committedPrefixesAgree(states),
    ];
    for (const state of states) {
      const before = this.#commits.get(state.id) ?? 0;
      if (state.commit < before) {
        violations.push({
          invariant: 'monotonic-commit',
          message: `${state.id}'s commit index went from ${before} back to ${state.commit}`,
        });
      }
      this.#commits.set(state.id, state.commit);
      violations.push(...this.#recordCommitted(state));
    }
    violations.push(...this.#leaderCompleteness(states));
    return violations;
  }

  /** State Machine Safety: no two nodes apply different entries at one index. */
  applied(id: NodeId, entries: readonly Entry[]): Violation[] {
    const violations: Violation[] = [];
    for (const entry of entries) {
      const last = this.#lastApplied.get(id) ?? 0;
      if (entry.index !== last + 1) {
        violations.push({
          invariant: 'state-machine-safety',
          message: `${id} applied index ${entry.index} after ${last}`,
        });
      }
      this.#lastApplied.set(id, entry.index);
      const earlier = this.#applied[entry.index - 1];
      if (earlier === undefined) this.#applied[entry.index - 1] = entry;
      else if (!sameEntry(earlier, entry)) {
        violations.push({
          invariant: 'state-machine-safety',
          message: `${id} applied (term ${entry.term}) at index ${entry.index} where another node applied (term ${earlier.term})`,
        });
      }
    }
    return violations;
  }

  /**
   * `id` restored its state machine from `snapshot`: entries up to its index count as
   * applied, and the snapshot's last entry must be the one committed there.
   */
  restoredSnapshot(id: NodeId, snapshot: Snapshot): Violation[] {
    this.#lastApplied.set(id, snapshot.index);
    const known = this.#committed[snapshot.index - 1];
    if (known !== undefined && known.entry.term !== snapshot.term) {
      return [
        {
          invariant: 'state-machine-safety',
          message: `${id} restored a snapshot at index ${snapshot.index} (term ${snapshot.term}) where (term ${known.entry.term}) was committed`,
        },
      ];
    }
    return [];
  }

  /** `id` restarted from storage: its state machine is rebuilt from `applied` on. */
  restarted(id: NodeId, applied = 0): void {
    this.#commits.delete(id);
    this.#lastApplied.set(id, applied);
  }

  #recordCommitted(state: RaftState): Violation[] {
    for (let i = base(state); i < state.commit; i++) {
      const entry = entryAt(state, i + 1)!;
      const known = this.#committed[i];
      if (known === undefined) this.#committed[i] = { entry, seenInTerm: state.term };
      else if (!sameEntry(known.entry, entry)) {
        return [
          {
            invariant: 'state-machine-safety',
            message: `${state.id} holds (term ${entry.term}) committed at index ${i + 1} where (term ${known.entry.term}) was committed before`,
          },
        ];
      }
    }
    return [];
  }

  /** Leader Completeness: a leader holds every entry committed in an earlier term. */
  #leaderCompleteness(states: readonly RaftState[]): Violation[] {
    const violations: Violation[] = [];
    for (const state of states) {
      if (state.role !== 'leader') continue;
      for (let i = 0; i < this.#committed.length; i++) {
        const committed = this.#committed[i];
        // (A hole: no live node has held that index in its log since the checker started.)
        if (committed === undefined) continue;
        if (committed.seenInTerm >= state.term || i + 1 <= base(state)) continue;
        const held = entryAt(state, i + 1);
        if (held === undefined || !sameEntry(held, committed.entry)) {
          violations.push({
            invariant: 'leader-completeness',
            message: `${state.id}, leader of term ${state.term}, lacks index ${i + 1} (term ${committed.entry.term}) committed by term ${committed.seenInTerm}`,
          });
          break;
        }
      }
    }
    return violations;
  }
}
