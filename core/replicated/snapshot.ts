/**
 * A replicated cache's whole state as bytes, for a Raft snapshot (wire.ts describes the
 * building blocks). Version 1:
 *
 * ```
 * u8      version (1)
 * varuint appliedIndex
 * f64     clock: the highest `at` applied (-Infinity before the first command)
 * varuint entry count, then per entry, in key order (JavaScript's string order):
 *   str key, then the value as in a set command (flags, [expiresAt], contentType, rawBytes, bytes)
 * varuint session count, then per session, least recently written first:
 *   str client, varuint seq, f64 lastAt,
 *   u8 outcome: 0 set (u8 created), 1 delete (u8 existed), 2 error (str code, str message)
 * ```
 *
 * The same state always gives the same bytes: entries are sorted, and the sessions' order is
 * part of the state (it decides which session leaves first).
 */
import type { StoredValue } from '../engine/index.ts';
import type { ErrorCode } from '../errors.ts';
import type { Outcome } from './types.ts';
import { ByteReader, ByteWriter, readValue, writeValue } from './wire.ts';

export const SNAPSHOT_VERSION = 1;

/** One client's session: its latest request applied, what it was told, and when (log clock). */
export interface Session {
  readonly seq: number;
  readonly outcome: Outcome;
  /** The log clock (highest `at`) once the request was applied: sessions expire by it. */
  readonly lastAt: number;
}

export interface SnapshotState {
  readonly appliedIndex: number;
  readonly clock: number;
  /** Sorted by key. */
  readonly entries: readonly (readonly [
    key: string,
    value: StoredValue,
    expiresAt: number | null,
  ])[];
  /** Least recently written first. */
  readonly sessions: readonly (readonly [client: string, session: Session])[];
}

const OUTCOME_SET = 0;
const OUTCOME_DELETE = 1;
const OUTCOME_ERROR = 2;

/** Every error code, so that a snapshot's codes can be checked (the compiler keeps it whole). */
const ERROR_CODES: Readonly<Record<ErrorCode, true>> = {
  invalid_key: true,
  key_too_long: true,
  value_too_large: true,
  invalid_ttl: true,
  invalid_json: true,
  invalid_config: true,
  invalid_content_type: true,
  unsupported_encoding: true,
  unsupported_method: true,
  not_found: true,
  out_of_memory: true,
  unavailable: true,
  bad_request: true,
  headers_too_large: true,
  expectation_failed: true,
  stale_map: true,
  map_conflict: true,
  forward_loop: true,
  membership_refused: true,
  internal_error: true,
};

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

export function encodeSnapshot(state: SnapshotState): Uint8Array {
  const w = new ByteWriter(1024);
  w.u8(SNAPSHOT_VERSION);
  w.varuint(state.appliedIndex);
  w.f64(state.clock);
  w.varuint(state.entries.length);
  for (const [key, value, expiresAt] of state.entries) {
    w.str(key);
    writeValue(w, value, expiresAt);
  }
  w.varuint(state.sessions.length);
  for (const [client, session] of state.sessions) {
    w.str(client);
    w.varuint(session.seq);
    w.f64(session.lastAt);
    const outcome = session.outcome;
    if (!outcome.ok) {
      w.u8(OUTCOME_ERROR);
      w.str(outcome.code);
      w.str(outcome.message);
    } else if (outcome.kind === 'set') {
      w.u8(OUTCOME_SET);
      w.u8(outcome.created ? 1 : 0);
    } else {
      w.u8(OUTCOME_DELETE);
      w.u8(outcome.existed ? 1 : 0);
    }
  }
  return w.finish();
}

/** The state in `data`; throws an Error saying what is wrong when it is not one snapshot. */
export function decodeSnapshot(data: Uint8Array): SnapshotState {
  const r = new ByteReader(data, 'snapshot');
  const version = r.u8('version');
  if (version !== SNAPSHOT_VERSION) {
    r.fail(`unknown version ${version} (this replica reads version ${SNAPSHOT_VERSION})`);
  }
  const appliedIndex = r.varuint('appliedIndex');
  const clock = r.f64('clock');
  if (Number.isNaN(clock) || clock === Infinity) r.fail(`clock is ${clock}`);

  const entryCount = r.varuint('entry count');
  const entries: [string, StoredValue, number | null][] = [];
  let previous: string | undefined;
  for (let i = 0; i < entryCount; i++) {
    const key = r.str('key');
    if (previous !== undefined && !(previous < key)) r.fail(`keys out of order at entry ${i}`);
    previous = key;
    const { value, expiresAt } = readValue(r);
    entries.push([key, value, expiresAt]);
  }

  const sessionCount = r.varuint('session count');
  const sessions: [string, Session][] = [];
  const seen = new Set<string>();
  let previousAt = -Infinity;
  for (let i = 0; i < sessionCount; i++) {
    const client = r.str('client');
    if (seen.has(client)) r.fail(`client ${JSON.stringify(client)} has two sessions`);
    seen.add(client);
    const seq = r.varuint('seq');
    if (seq < 1) r.fail(`session ${i} has seq 0`);
    const lastAt = r.f64('lastAt');
    if (!Number.isFinite(lastAt)) r.fail(`lastAt is ${lastAt}, not a finite time`);
    if (lastAt > clock || lastAt < previousAt) {
      r.fail(`session ${i} is out of order (lastAt ${lastAt}, clock ${clock})`);
    }
    previousAt = lastAt;
    const tag = r.u8('outcome');
    let outcome: Outcome;
    if (tag === OUTCOME_SET) {
      outcome = { ok: true, kind: 'set', created: readBoolean(r, 'created') };
    } else if (tag === OUTCOME_DELETE) {
      outcome = { ok: true, kind: 'delete', existed: readBoolean(r, 'existed') };
    } else if (tag === OUTCOME_ERROR) {
      const code = r.str('error code');
      if (!isErrorCode(code)) return r.fail(`unknown error code ${JSON.stringify(code)}`);
      outcome = { ok: false, code, message: r.str('error message') };
    } else {
      return r.fail(`unknown outcome ${tag}`);
    }
    sessions.push([client, { seq, outcome, lastAt }]);
  }
  r.end();
  return { appliedIndex, clock, entries, sessions };
}

function readBoolean(r: ByteReader, field: string): boolean {
  const b = r.u8(field);
  if (b > 1) r.fail(`${field} is ${b}, not 0 or 1`);
  return b === 1;
}
