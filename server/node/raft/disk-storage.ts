/**
 * Durable Raft storage for a node process: the `Storage` Raft reads, kept in memory, behind a
 * write-ahead log and snapshot files under `--data-dir` (API.md). A node killed with SIGKILL
 * and restarted on the same directory keeps its term, vote and log.
 *
 * Why these rules: Raft's safety rests on "Persistent state on all servers" (Figure 2 of the
 * Raft paper) being on stable storage before the node answers anyone: a vote granted twice in
 * one term, or an acknowledged entry forgotten, breaks Election Safety or Leader Completeness.
 * So `save` resolves only after fsync, and the driver sends a Ready's messages only then
 * (core/raft/types.ts, Ready). The layout follows etcd's WAL (etcd/server/storage/wal):
 *
 * - **Segments** `wal-<seq>-<firstIndex>.log`, replayed in `seq` order. `firstIndex` is the
 *   log's last index + 1 when the segment was started; `seq` orders them, because after a
 *   truncation a later segment can start at a lower index than an earlier one. A segment is
 *   cut at ~64 MiB, and each one starts with the current hard state, so deleting older
 *   segments never loses it.
 * - **Records** `[length u32][crc32 u32][type u8][payload]` (little-endian; the CRC-32 covers
 *   type and payload): ENTRIES (a batch), HARD_STATE (last one wins), SNAPSHOT (a snapshot file
 *   is durable: `reset` when a leader's snapshot replaced the whole log, §7, otherwise a local
 *   compaction). A truncation is implied, as in etcd's WAL: an ENTRIES record whose first index
 *   is at or below the last one drops the stored suffix from there (§5.3), on replay exactly as
 *   when it was written (MemoryStorage.append's rule).
 * - **Snapshots** `snap-<index>-<term>.bin`: written to a temporary name, fsynced, renamed, the
 *   directory fsynced; only then is the SNAPSHOT record written. Recovery uses the snapshot the
 *   last SNAPSHOT record names, so a snapshot file whose record never became durable (a crash
 *   between the two) is ignored and removed, and a node never comes back with a leader's
 *   snapshot glued to the log it was replacing. The latest two snapshot files are kept (the
 *   older one may still be streaming to a follower); after a snapshot's record is durable, the
 *   segments wholly below it are deleted (after a `reset`, every segment before the current).
 * - **Recovery** replays every record after the snapshot. A bad record in the *last* segment
 *   is a torn write (a crash mid-write: the frame runs past the end, or it is the last frame,
 *   or it holds a zero-filled 512-byte sector, as etcd's isTornEntry) and everything from it
 *   on is cut away and reported; anywhere else it is corruption, and open throws naming the
 *   file and offset. Nothing after the last fsync was ever acknowledged, so cutting it is safe.
 * - **Group commit**: `save` updates the in-memory view at once (Raft reads it synchronously)
 *   and queues its records; while an fsync is in flight, later calls wait and then share one
 *   write and one fsync. A failed write or fsync is fatal (as in etcd: after a failed fsync the
 *   page cache cannot be trusted), and every later call rejects.
 *
 * Entries and snapshots are stored through one function pair each (entryToBytes/entryFromBytes,
 * snapshot's in writeSnapshotFile/readSnapshotFile): every field but `data` travels as JSON,
 * so a new plain field on `Entry` or `Snapshot` (a conf-change type, a voter set) needs no
 * change here; a new binary field needs one line in each.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { MemoryStorage, type Storage } from '../../../core/raft/storage.ts';
import type { Entry, HardState, NodeId, Snapshot } from '../../../core/raft/types.ts';

export interface DiskStorageOptions {
  /** fsync the log and snapshots (default true); false only for tests and benchmarks. */
  readonly fsync?: boolean;
  /** Start a new segment once the current one reaches this size (default 64 MiB). */
  readonly segmentBytes?: number;
  /** Where recovery notes go (a torn tail cut away, stray files removed); default console.warn. */
  readonly log?: (line: string) => void;
}

/** One Ready's part to persist (types.ts, Ready step 1). */
export interface SavePart {
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

/** What open() found. */
export interface Recovery {
  readonly segments: number;
  readonly records: number;
  /** The torn tail cut from the last segment, if any. */
  readonly tornTail: {
    readonly file: string;
    readonly offset: number;
    readonly bytes: number;
  } | null;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

const RECORD_ENTRIES = 1;
const RECORD_HARD_STATE = 2;
const RECORD_SNAPSHOT = 3;
const FRAME_HEADER_BYTES = 9;
/** Longer than any record we write; a length past it is garbage. */
const MAX_RECORD_BYTES = 1024 * 1024 * 1024;
const SECTOR_BYTES = 512;
const SNAPSHOT_MAGIC = Buffer.from('TCSNAP01');

const SEGMENT_NAME = /^wal-(\d+)-(\d+)\.log$/;
const SNAPSHOT_NAME = /^snap-(\d+)-(\d+)\.bin$/;

function segmentName(seq: number, firstIndex: number): string {
  return `wal-${String(seq).padStart(10, '0')}-${String(firstIndex).padStart(16, '0')}.log`;
}

function snapshotName(index: number, term: number): string {
  return `snap-${String(index).padStart(16, '0')}-${String(term).padStart(10, '0')}.bin`;
}

interface Segment {
  readonly seq: number;
  readonly firstIndex: number;
  readonly name: string;
}

/** A SNAPSHOT record: the snapshot file (index, term) is durable. */
interface SnapshotMark {
  readonly index: number;
  readonly term: number;
  /** A leader's snapshot that replaced the whole log, not a local compaction. */
  readonly reset: boolean;
}

/** What one save() or createSnapshot() hands the committer. */
interface Op {
  /** A snapshot file to make durable before the records. */
  readonly snapshot: Snapshot | null;
  readonly records: Buffer;
  /** After the records are durable: delete what this snapshot made obsolete. */
  readonly mark: SnapshotMark | null;
  /** The hard state once these records are durable (a new segment starts with it). */
  readonly hardState: HardState;
}

interface Waiter {
  readonly op: Op;
  resolve(): void;
  reject(error: unknown): void;
}

export class DiskStorage implements Storage {
  readonly stats = { fsyncs: 0, bytesWritten: 0 };
  /** Called with each fsync's duration in seconds (the fsync latency metric). */
  onFsync?: (seconds: number) => void;
  readonly recovery: Recovery;

  readonly #dir: string;
  readonly #fsync: boolean;
  readonly #segmentBytes: number;
  readonly #memory: MemoryStorage;
  #segments: Segment[];
  #file: FileHandle;
  #fileBytes: number;
  /** The hard state the durable records leave. */
  #durableHardState: HardState;
  #queue: Waiter[] = [];
  #committing = false;
  #committed: Promise<void> = Promise.resolve();
  #failed: Error | null = null;
  #closed = false;

  private constructor(init: {
    dir: string;
    options: DiskStorageOptions;
    memory: MemoryStorage;
    segments: Segment[];
    file: FileHandle;
    fileBytes: number;
    recovery: Recovery;
  }) {
    this.#dir = init.dir;
    this.#fsync = init.options.fsync ?? true;
    this.#segmentBytes = init.options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.#memory = init.memory;
    this.#segments = init.segments;
    this.#file = init.file;
    this.#fileBytes = init.fileBytes;
    this.#durableHardState = init.memory.hardState();
    this.recovery = init.recovery;
  }

  /**
   * Opens (creating) `dir` and recovers: hard state, the latest snapshot, the log after it.
   * Throws an Error naming the file on corruption that is not a torn tail.
   */
  static async open(dir: string, options: DiskStorageOptions = {}): Promise<DiskStorage> {
    const log = options.log ?? ((line: string) => console.warn(line));
    const fsync = options.fsync ?? true;
    await fs.mkdir(dir, { recursive: true });
    const names = await fs.readdir(dir);
    for (const name of names.filter((n) => n.endsWith('.tmp'))) {
      await fs.rm(join(dir, name), { force: true });
    }
    const segments = names
      .flatMap((name): Segment[] => {
        const m = SEGMENT_NAME.exec(name);
        return m === null ? [] : [{ seq: Number(m[1]), firstIndex: Number(m[2]), name }];
      })
      .sort((a, b) => a.seq - b.seq);

    // Read and check every frame first: recovery needs the last SNAPSHOT record before it can
    // replay anything.
    const decoded: WalRecord[][] = [];
    let tornTail: Recovery['tornTail'] = null;
    for (const [i, segment] of segments.entries()) {
      const path = join(dir, segment.name);
      const bytes = await fs.readFile(path);
      const last = i === segments.length - 1;
      const { records, goodBytes } = readFrames(bytes, segment.name, last);
      if (goodBytes < bytes.length) {
        tornTail = { file: segment.name, offset: goodBytes, bytes: bytes.length - goodBytes };
        log(
          `DiskStorage: recovered ${path}: cut a torn tail of ${tornTail.bytes} bytes at offset ${goodBytes} (a crash mid-write; never acknowledged)`,
        );
        const handle = await fs.open(path, 'r+');
        try {
          await handle.truncate(goodBytes);
          if (fsync) await handle.sync();
        } finally {
          await handle.close();
        }
      }
      decoded.push(records);
    }

    let mark: SnapshotMark | null = null;
    for (const records of decoded) {
      for (const record of records) {
        if (record.type === RECORD_SNAPSHOT) mark = decodeMark(record);
      }
    }
    const memory = new MemoryStorage();
    if (mark !== null) {
      const file = snapshotName(mark.index, mark.term);
      const snapshot = await readSnapshotFile(join(dir, file), file);
      if (snapshot.index !== mark.index || snapshot.term !== mark.term) {
        throw new Error(
          `DiskStorage: ${join(dir, file)} holds snapshot ${snapshot.index}/${snapshot.term}, not the one its name says`,
        );
      }
      memory.applySnapshot(snapshot);
    }
    // Snapshot files newer than the last durable SNAPSHOT record were never acknowledged.
    for (const name of names) {
      const m = SNAPSHOT_NAME.exec(name);
      if (m !== null && Number(m[1]) > (mark?.index ?? 0)) {
        log(`DiskStorage: removed ${join(dir, name)}: its log record never became durable`);
        await fs.rm(join(dir, name), { force: true });
      }
    }

    const base = memory.snapshot();
    let count = 0;
    for (const [i, records] of decoded.entries()) {
      for (const record of records) {
        count++;
        replay(memory, base, record, segments[i]!.name);
      }
    }

    // Go on appending to the last segment unless nothing of it survived (a crash while it was
    // being started): then start a new one, with the hard state at its head.
    const lastSegment = segments.at(-1);
    const lastRecords = decoded.at(-1);
    let file: FileHandle;
    let fileBytes: number;
    if (lastSegment !== undefined && lastRecords !== undefined && lastRecords.length > 0) {
      file = await fs.open(join(dir, lastSegment.name), 'a');
      fileBytes = (await file.stat()).size;
    } else {
      if (lastSegment !== undefined) {
        await fs.rm(join(dir, lastSegment.name), { force: true });
        segments.pop();
      }
      const seq = (segments.at(-1)?.seq ?? 0) + 1;
      const segment = {
        seq,
        firstIndex: memory.lastIndex() + 1,
        name: segmentName(seq, memory.lastIndex() + 1),
      };
      const header = frame(RECORD_HARD_STATE, hardStateToBytes(memory.hardState()));
      file = await createSegment(dir, segment.name, header, fsync ? plainSync : null, () =>
        syncDirectory(dir),
      );
      fileBytes = header.length;
      segments.push(segment);
    }
    return new DiskStorage({
      dir,
      options,
      memory,
      segments,
      file,
      fileBytes,
      recovery: { segments: decoded.length, records: count, tornTail },
    });
  }

  // Storage: served from memory.
  hardState(): HardState {
    return this.#memory.hardState();
  }
  snapshot(): Snapshot {
    return this.#memory.snapshot();
  }
  firstIndex(): number {
    return this.#memory.firstIndex();
  }
  lastIndex(): number {
    return this.#memory.lastIndex();
  }
  term(index: number): number {
    return this.#memory.term(index);
  }
  entries(low: number, high: number): readonly Entry[] {
    return this.#memory.entries(low, high);
  }

  /**
   * Durably persists one Ready's part, in the contract's order: snapshot (replaces the whole
   * log), entries (truncating a conflicting suffix), hardState. Reads see it at once; the
   * promise resolves once it is fsynced. Calls are committed in call order; calls made while
   * an fsync is in flight are written together and share the next fsync (group commit).
   */
  save(part: SavePart): Promise<void> {
    try {
      this.#usable();
      const { snapshot, entries, hardState } = part;
      // Check everything before changing anything, so a rejected call leaves no trace.
      const baseIndex = snapshot?.index ?? this.#memory.snapshot().index;
      const lastIndex = snapshot === null ? this.#memory.lastIndex() : snapshot.index;
      if (snapshot !== null && snapshot.index < this.#memory.snapshot().index) {
        throw new RangeError(
          `save: snapshot ${snapshot.index} is older than the stored ${this.#memory.snapshot().index}`,
        );
      }
      const first = entries[0];
      if (first !== undefined) {
        if (first.index <= baseIndex || first.index > lastIndex + 1) {
          throw new RangeError(
            `save: entries start at ${first.index}, must be in [${baseIndex + 1}, ${lastIndex + 1}]`,
          );
        }
        for (const [i, entry] of entries.entries()) {
          if (entry.index !== first.index + i) {
            throw new RangeError(`save: entries are not consecutive at ${entry.index}`);
          }
        }
      }
      const records: Buffer[] = [];
      let mark: SnapshotMark | null = null;
      if (snapshot !== null) {
        this.#memory.applySnapshot(snapshot);
        mark = { index: snapshot.index, term: snapshot.term, reset: true };
        records.push(frame(RECORD_SNAPSHOT, markToBytes(mark)));
      }
      if (first !== undefined) {
        this.#memory.append(entries);
        records.push(frame(RECORD_ENTRIES, entriesToBytes(entries)));
      }
      if (hardState !== null) {
        this.#memory.setHardState(hardState);
        records.push(frame(RECORD_HARD_STATE, hardStateToBytes(hardState)));
      }
      return this.#enqueue({
        snapshot,
        records: Buffer.concat(records),
        mark,
        hardState: this.#memory.hardState(),
      });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * The state machine applied everything up to `index` and `data` is its state: writes the
   * snapshot file durably, then drops the log entries up to `index` (compaction, §7) and the
   * segments wholly below it. Reads see the compaction at once. `voters`: the membership as of
   * `index`, which a node restarted from this snapshot must know.
   */
  createSnapshot(index: number, data: Uint8Array, voters?: readonly NodeId[]): Promise<Snapshot> {
    try {
      this.#usable();
      const snapshot = this.#memory.createSnapshot(index, data, voters);
      this.#memory.compact(index);
      const mark = { index, term: snapshot.term, reset: false };
      const records = frame(RECORD_SNAPSHOT, markToBytes(mark));
      const op = { snapshot, records, mark, hardState: this.#memory.hardState() };
      return this.#enqueue(op).then(() => snapshot);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Waits for every save made so far, then closes the log. Later calls reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#committing) await this.#committed;
    await this.#file.close();
  }

  #usable(): void {
    if (this.#closed) throw new Error(`DiskStorage(${this.#dir}) is closed`);
    if (this.#failed !== null) {
      throw new Error(`DiskStorage(${this.#dir}) failed earlier: ${this.#failed.message}`, {
        cause: this.#failed,
      });
    }
  }

  #enqueue(op: Op): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      if (!this.#committing) {
        this.#committing = true;
        this.#committed = this.#commitLoop();
      }
    });
  }

  /**
   * Commits what is queued, again and again until nothing is: whatever arrives during one
   * commit goes into the next. `#committing` is cleared in the same tick as the queue is
   * seen empty, so a call made from a resolved save's continuation starts a new loop.
   */
  async #commitLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0);
        try {
          if (this.#failed !== null) throw this.#failed;
          await this.#commit(batch.map((w) => w.op));
          for (const waiter of batch) waiter.resolve();
        } catch (error) {
          this.#failed ??= error instanceof Error ? error : new Error(String(error));
          for (const waiter of batch) waiter.reject(this.#failed);
        }
      }
    } finally {
      this.#committing = false;
    }
  }

  /** One group commit: snapshot files, then every record in one write and one fsync. */
  async #commit(ops: readonly Op[]): Promise<void> {
    const snapshots = ops.flatMap((op) => (op.snapshot === null ? [] : [op.snapshot]));
    for (const snapshot of snapshots) {
      const name = snapshotName(snapshot.index, snapshot.term);
      this.stats.bytesWritten += await writeSnapshotFile(this.#dir, name, snapshot, (f) =>
        this.#sync(f),
      );
    }
    if (snapshots.length > 0) await this.#syncDir();

    const records = Buffer.concat(ops.map((op) => op.records));
    if (records.length > 0) {
      await this.#file.write(records);
      this.#fileBytes += records.length;
      this.stats.bytesWritten += records.length;
      await this.#sync(this.#file);
    }
    this.#durableHardState = ops.at(-1)!.hardState;

    const marks = ops.flatMap((op) => (op.mark === null ? [] : [op.mark]));
    if (marks.length > 0) await this.#dropObsolete(marks);
    if (this.#fileBytes >= this.#segmentBytes) await this.#cutSegment();
  }

  /** The snapshots' records are durable: delete the segments and snapshot files they replace. */
  async #dropObsolete(marks: readonly SnapshotMark[]): Promise<void> {
    const latest = marks.at(-1)!;
    const reset = marks.some((m) => m.reset);
    const keep: Segment[] = [];
    for (const [i, segment] of this.#segments.entries()) {
      const next = this.#segments[i + 1];
      // A segment's live entries all sit below the next segment's firstIndex.
      const obsolete = next !== undefined && (reset || next.firstIndex - 1 <= latest.index);
      if (obsolete) await fs.rm(join(this.#dir, segment.name), { force: true });
      else keep.push(segment);
    }
    this.#segments = keep;
    const snapshots = (await fs.readdir(this.#dir))
      .flatMap((name) => {
        const m = SNAPSHOT_NAME.exec(name);
        return m === null ? [] : [{ name, index: Number(m[1]) }];
      })
      .sort((a, b) => b.index - a.index);
    for (const old of snapshots.slice(2)) await fs.rm(join(this.#dir, old.name), { force: true });
  }

  /** Starts the next segment, headed by the current hard state. */
  async #cutSegment(): Promise<void> {
    const seq = this.#segments.at(-1)!.seq + 1;
    // Entries queued since may be in memory already; they will be written to the new segment,
    // so naming it after a later index only makes deleting it more cautious.
    const firstIndex = this.#memory.lastIndex() + 1;
    const segment = { seq, firstIndex, name: segmentName(seq, firstIndex) };
    // The hard state the durable records leave, not memory's: that may promise a commit index
    // past entries not yet written.
    const header = frame(RECORD_HARD_STATE, hardStateToBytes(this.#durableHardState));
    const file = await createSegment(
      this.#dir,
      segment.name,
      header,
      this.#fsync ? (f) => this.#sync(f) : null,
      () => this.#syncDir(),
    );
    this.stats.bytesWritten += header.length;
    await this.#file.close();
    this.#file = file;
    this.#fileBytes = header.length;
    this.#segments.push(segment);
  }

  /** fdatasync (the data and the size: enough for an appended log), or a full fsync. */
  async #sync(file: FileHandle, full = false): Promise<void> {
    if (!this.#fsync) return;
    const started = process.hrtime.bigint();
    await (full ? file.sync() : file.datasync());
    this.stats.fsyncs++;
    this.onFsync?.(Number(process.hrtime.bigint() - started) / 1e9);
  }

  async #syncDir(): Promise<void> {
    if (!this.#fsync) return;
    const dir = await fs.open(this.#dir, fsConstants.O_RDONLY);
    try {
      await this.#sync(dir, true);
    } finally {
      await dir.close();
    }
  }
}

// ---- Records --------------------------------------------------------------------------------

interface WalRecord {
  readonly type: number;
  readonly payload: Buffer;
  readonly offset: number;
}

function frame(type: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt8(type, 8);
  payload.copy(out, FRAME_HEADER_BYTES);
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}

/**
 * The good frames of one segment, and how many bytes they fill. A bad frame in the last
 * segment that looks like a crash mid-write ends it; any other bad frame throws.
 */
function readFrames(
  bytes: Buffer,
  name: string,
  last: boolean,
): { records: WalRecord[]; goodBytes: number } {
  const records: WalRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const problem = checkFrame(bytes, offset);
    if (problem === null) {
      const length = bytes.readUInt32LE(offset);
      const type = bytes.readUInt8(offset + 8);
      records.push({
        type,
        payload: bytes.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length),
        offset,
      });
      offset += FRAME_HEADER_BYTES + length;
      continue;
    }
    if (last && isTorn(bytes, offset, problem)) return { records, goodBytes: offset };
    throw new Error(`DiskStorage: ${name} is corrupt at offset ${offset}: ${problem.reason}`);
  }
  return { records, goodBytes: offset };
}

interface FrameProblem {
  readonly reason: string;
  /** Where the frame would end (past the file's end when it is cut short). */
  readonly end: number;
}

function checkFrame(bytes: Buffer, offset: number): FrameProblem | null {
  if (bytes.length - offset < FRAME_HEADER_BYTES) {
    return { reason: 'a frame header cut short', end: offset + FRAME_HEADER_BYTES };
  }
  const length = bytes.readUInt32LE(offset);
  const end = offset + FRAME_HEADER_BYTES + length;
  if (length > MAX_RECORD_BYTES || end > bytes.length) {
    return { reason: `a frame of ${length} bytes runs past the end`, end };
  }
  const crc = bytes.readUInt32LE(offset + 4);
  if (crc32(bytes.subarray(offset + 8, end)) !== crc) return { reason: 'checksum mismatch', end };
  const type = bytes.readUInt8(offset + 8);
  if (type !== RECORD_ENTRIES && type !== RECORD_HARD_STATE && type !== RECORD_SNAPSHOT) {
    return { reason: `unknown record type ${type}`, end };
  }
  return null;
}

/**
 * A bad frame is a torn write when it is the last thing in the file (cut short, or its
 * checksum fails and nothing follows), when everything from it on is zeros, or when it holds a
 * whole zeroed sector (a page that never reached the disk: etcd's isTornEntry).
 */
function isTorn(bytes: Buffer, offset: number, problem: FrameProblem): boolean {
  if (problem.end >= bytes.length) return true;
  if (bytes.subarray(offset).every((b) => b === 0)) return true;
  const firstSector = Math.ceil(offset / SECTOR_BYTES) * SECTOR_BYTES;
  for (let s = firstSector; s + SECTOR_BYTES <= problem.end; s += SECTOR_BYTES) {
    if (bytes.subarray(s, s + SECTOR_BYTES).every((b) => b === 0)) return true;
  }
  return false;
}

/** Applies one record to the recovered view; `base` is the snapshot recovery started from. */
function replay(memory: MemoryStorage, base: Snapshot, record: WalRecord, file: string): void {
  const where = `${file} at offset ${record.offset}`;
  switch (record.type) {
    case RECORD_HARD_STATE:
      memory.setHardState(hardStateFromBytes(record.payload, where));
      return;
    case RECORD_SNAPSHOT: {
      const mark = decodeMark(record);
      // A leader's snapshot replaced the log; anything older than the base is covered by it.
      if (mark.reset) memory.applySnapshot(base);
      return;
    }
    case RECORD_ENTRIES: {
      const entries = entriesFromBytes(record.payload, where);
      const first = entries[0];
      if (first === undefined) return;
      // Appending at first.index dropped everything from there on; at or below the base,
      // that is everything after the base.
      if (first.index <= base.index + 1) memory.applySnapshot(base);
      const kept = entries.filter((e) => e.index > base.index);
      const from = kept[0];
      if (from === undefined) return;
      if (from.index > memory.lastIndex() + 1) {
        throw new Error(
          `DiskStorage: ${where}: entries start at ${from.index} but the log ends at ${memory.lastIndex()}`,
        );
      }
      memory.append(kept);
      return;
    }
  }
}

// ---- Serialisation: one function per shape ----------------------------------------------------

/**
 * An object with binary `data`: [metaLength u32][meta JSON: every other field][dataLength u32]
 * [data]. New
 * plain fields travel in the JSON without a change here.
 */
function withDataToBytes(value: { readonly data: Uint8Array }): Buffer {
  const { data, ...meta } = value;
  const json = Buffer.from(JSON.stringify(meta));
  const out = Buffer.allocUnsafe(8 + json.length + data.length);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  out.writeUInt32LE(data.length, 4 + json.length);
  out.set(data, 8 + json.length);
  return out;
}

function withDataFromBytes(
  bytes: Buffer,
  offset: number,
  where: string,
): { meta: Record<string, unknown>; data: Uint8Array; end: number } {
  const jsonLength = bytes.readUInt32LE(offset);
  const meta: unknown = JSON.parse(bytes.toString('utf8', offset + 4, offset + 4 + jsonLength));
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new Error(`DiskStorage: ${where}: not an object`);
  }
  const dataAt = offset + 8 + jsonLength;
  const dataLength = bytes.readUInt32LE(offset + 4 + jsonLength);
  // A copy, so a recovered entry does not pin the whole segment's buffer.
  const data = new Uint8Array(bytes.subarray(dataAt, dataAt + dataLength));
  return { meta: meta as Record<string, unknown>, data, end: dataAt + dataLength };
}

function numberField(meta: Record<string, unknown>, field: string, where: string): number {
  const value = meta[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`DiskStorage: ${where}: ${field} is not an index or term`);
  }
  return value;
}

/** Entry <-> bytes; a new binary Entry field needs a line here and in entryFromBytes. */
function entryToBytes(entry: Entry): Buffer {
  return withDataToBytes(entry);
}

function entryFromBytes(
  bytes: Buffer,
  offset: number,
  where: string,
): { entry: Entry; end: number } {
  const { meta, data, end } = withDataFromBytes(bytes, offset, where);
  numberField(meta, 'term', where);
  numberField(meta, 'index', where);
  return { entry: { ...meta, data } as unknown as Entry, end };
}

/** Snapshot <-> bytes; a new binary Snapshot field needs a line here and in snapshotFromBytes. */
function snapshotToBytes(snapshot: Snapshot): Buffer {
  return withDataToBytes(snapshot);
}

function snapshotFromBytes(bytes: Buffer, offset: number, where: string): Snapshot {
  const { meta, data } = withDataFromBytes(bytes, offset, where);
  numberField(meta, 'index', where);
  numberField(meta, 'term', where);
  return { ...meta, data } as unknown as Snapshot;
}

function entriesToBytes(entries: readonly Entry[]): Buffer {
  const count = Buffer.allocUnsafe(4);
  count.writeUInt32LE(entries.length, 0);
  return Buffer.concat([count, ...entries.map(entryToBytes)]);
}

function entriesFromBytes(bytes: Buffer, where: string): Entry[] {
  const count = bytes.readUInt32LE(0);
  const entries: Entry[] = [];
  let offset = 4;
  for (let i = 0; i < count; i++) {
    const { entry, end } = entryFromBytes(bytes, offset, where);
    entries.push(entry);
    offset = end;
  }
  if (offset !== bytes.length)
    throw new Error(`DiskStorage: ${where}: trailing bytes after entries`);
  return entries;
}

function hardStateToBytes(hardState: HardState): Buffer {
  return Buffer.from(JSON.stringify(hardState));
}

function hardStateFromBytes(bytes: Buffer, where: string): HardState {
  const value: unknown = JSON.parse(bytes.toString('utf8'));
  if (typeof value !== 'object' || value === null)
    throw new Error(`DiskStorage: ${where}: bad hard state`);
  const fields = value as Record<string, unknown>;
  const vote = fields.vote;
  if (vote !== null && typeof vote !== 'string') throw new Error(`DiskStorage: ${where}: bad vote`);
  return {
    term: numberField(fields, 'term', where),
    vote,
    commit: numberField(fields, 'commit', where),
  };
}

function markToBytes(mark: SnapshotMark): Buffer {
  return Buffer.from(JSON.stringify(mark));
}

function decodeMark(record: WalRecord): SnapshotMark {
  const where = `snapshot record at offset ${record.offset}`;
  const value: unknown = JSON.parse(record.payload.toString('utf8'));
  if (typeof value !== 'object' || value === null)
    throw new Error(`DiskStorage: ${where}: bad record`);
  const fields = value as Record<string, unknown>;
  return {
    index: numberField(fields, 'index', where),
    term: numberField(fields, 'term', where),
    reset: fields.reset === true,
  };
}

// ---- Files ----------------------------------------------------------------------------------

type Sync = (file: FileHandle) => Promise<void>;

async function plainSync(file: FileHandle): Promise<void> {
  await file.datasync();
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates a segment holding `header`, durably (file and directory), open for appending. */
async function createSegment(
  dir: string,
  name: string,
  header: Buffer,
  sync: Sync | null,
  syncDir: () => Promise<void>,
): Promise<FileHandle> {
  const file = await fs.open(join(dir, name), 'a');
  try {
    await file.write(header);
    if (sync !== null) {
      await sync(file);
      await syncDir();
    }
    return file;
  } catch (error) {
    await file.close();
    throw error;
  }
}

/**
 * Snapshot <-> file: [magic][snapshot as withDataToBytes][crc32 of all before]. Written to a
 * temporary name, fsynced, then renamed (the caller fsyncs the directory). Returns the size.
 */
async function writeSnapshotFile(
  dir: string,
  name: string,
  snapshot: Snapshot,
  sync: Sync,
): Promise<number> {
  const body = Buffer.concat([SNAPSHOT_MAGIC, snapshotToBytes(snapshot)]);
  const crc = Buffer.allocUnsafe(4);
  crc.writeUInt32LE(crc32(body), 0);
  const temporary = join(dir, `${name}.tmp`);
  const file = await fs.open(temporary, 'w');
  try {
    await file.write(body);
    await file.write(crc);
    await sync(file);
  } finally {
    await file.close();
  }
  await fs.rename(temporary, join(dir, name));
  return body.length + crc.length;
}

async function readSnapshotFile(path: string, name: string): Promise<Snapshot> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    throw new Error(`DiskStorage: ${path} is missing, but the log says it was written`, {
      cause: error,
    });
  }
  const body = bytes.subarray(0, bytes.length - 4);
  if (
    bytes.length < SNAPSHOT_MAGIC.length + 12 ||
    !body.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC) ||
    crc32(body) !== bytes.readUInt32LE(bytes.length - 4)
  ) {
    throw new Error(`DiskStorage: ${path} is corrupt (checksum mismatch)`);
  }
  return snapshotFromBytes(body, SNAPSHOT_MAGIC.length, name);
}
