/**
 * Level 6: the control plane's side of a Raft group's membership. A change is one conf change
 * on the shard's leader (a node's POST /v1/raft/members), made one at a time; this module
 * finds the leader, follows it when leadership moves mid-change, and retries while the group
 * cannot take a change yet (an election, a change still pending, a new leader's first commit).
 *
 * A retried request may find its change already made (the first attempt committed but its
 * answer was lost): "already a voter" after an add, "not a voter" after a remove. Those are
 * read back from the leader's GET /v1/raft/members and count as done.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlError } from './supervisor.ts';

/** A replica's GET /v1/raft/members. */
export interface Members {
  readonly node: string;
  readonly shard: string | null;
  /** The group's voters now, as this replica has applied them. */
  readonly voters: readonly string[];
  /** The voters the group was formed with: what a joining node is started with (--join). */
  readonly bootstrap: readonly string[];
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  /** The index this replica's log starts after (its latest snapshot's); 0: none. */
  readonly snapshotIndex: number;
  /** Snapshots a leader sent this replica and it installed. */
  readonly snapshotsInstalled: number;
}

export type MemberChange = { readonly add: string } | { readonly remove: string };

/** How long a change may keep being retried (elections, a pending change) before giving up. */
export const MEMBERSHIP_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 5_000;
const RETRY_MS = 100;

/** Reads a replica's view of its group; rejects if it does not answer 200 in time. */
export async function readMembers(url: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Members> {
  const res = await fetch(`${url}/v1/raft/members`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as Members;
}

/** Whether `members` already shows `change` made. */
export function changeMade(members: Members, change: MemberChange): boolean {
  return 'add' in change
    ? members.voters.includes(change.add)
    : !members.voters.includes(change.remove);
}

export interface LeaderLookup {
  /** The shard's leader now (its id and URL), or null between leaders. */
  readonly leader: () => Promise<{ readonly id: string; readonly url: string } | null>;
  /** The URL of a replica by id (a leader named in an answer), or null if unknown. */
  readonly urlOf: (id: string) => string | null;
}

/**
 * Makes `change` on the shard's leader and resolves with the leader's members once the
 * change is applied there. Rejects with a ControlError: `membership_refused` when the group
 * cannot make it at all (the last voter), `no_leader` when no leader took it in time.
 */
export async function changeMembers(
  shard: string,
  change: MemberChange,
  lookup: LeaderLookup,
  timeoutMs = MEMBERSHIP_TIMEOUT_MS,
): Promise<Members> {
  const deadline = Date.now() + timeoutMs;
  const what = 'add' in change ? `add ${change.add} to` : `remove ${change.remove} from`;
  let target: { readonly id: string; readonly url: string } | null = null;
  let last = 'no leader was found';
  while (Date.now() < deadline) {
    target ??= await lookup.leader();
    if (target === null) {
      await sleep(RETRY_MS);
      continue;
    }
    let status: number;
    let text: string;
    let named: string | null;
    try {
      const res: Response = await fetch(`${target.url}/v1/raft/members`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(change),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      status = res.status;
      text = await res.text();
      named = res.headers.get('x-tinycache-leader');
    } catch (error) {
      // Down, paused or slow: the change may or may not have been made; ask the next leader.
      last = `${target.id} did not answer (${String(error)})`;
      target = null;
      await sleep(RETRY_MS);
      continue;
    }
    if (status === 200) return JSON.parse(text) as Members;
    last = `${target.id} answered ${status}: ${messageOf(text)}`;
    if (status === 409) {
      // Already made by an earlier attempt whose answer was lost, or impossible.
      const members = await readMembers(target.url).catch(() => null);
      if (members !== null && changeMade(members, change)) return members;
      throw new ControlError(
        'membership_refused',
        `Cannot ${what} shard ${shard}: ${messageOf(text)}`,
      );
    }
    if (status !== 503) {
      throw new ControlError('start_failed', `Cannot ${what} shard ${shard}: ${last}`);
    }
    // Not the leader (it names the one it knows), an election, or a change still pending.
    if (named === null) target = null;
    else if (named !== target.id) {
      const url: string | null = lookup.urlOf(named);
      target = url === null ? null : { id: named, url };
    }
    await sleep(RETRY_MS);
  }
  throw new ControlError(
    'no_leader',
    `Could not ${what} shard ${shard} within ${timeoutMs / 1000} s: ${last}.`,
  );
}

/** The message of a node's JSON error body, else the text. */
function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') return body.error.message;
  } catch {
    // Not JSON.
  }
  return text.slice(0, 200);
}
