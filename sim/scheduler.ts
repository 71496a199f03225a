/**
 * The simulator's clock and event queue. Virtual time is whole microseconds (time.ts) and
 * moves only when an event runs; nothing here reads a real clock, so a run is a pure function
 * of its seed.
 *
 * Events are ordered by (time, sequence number): two events due at the same µs run in the
 * order they were scheduled, so ties are deterministic without a tie-breaking draw.
 *
 * The queue is an indexed binary heap laid out as structure-of-arrays: the heap holds slot
 * numbers, and each slot keeps its time, sequence, heap position, function and argument in
 * parallel arrays. Slots are recycled through a free list, so scheduling allocates nothing
 * once the arrays have grown; the position index makes `cancel` O(log n) and removes the
 * event at once (a request timeout cancelled on every answer would otherwise stay queued).
 *
 * An event is a function and one argument (like `setTimeout(fn, delay, arg)`), so a caller
 * passes a function made once and the per-event object it already has (a packet, a request)
 * instead of allocating a closure per event.
 */

/** A scheduled event, for `cancel`: its slot and the slot's generation, in one number. */
export type EventHandle = number;

/** The most events queued at once: a bound, as TigerBeetle bounds its queues. */
export const MAX_PENDING_EVENTS = 1 << 24;
/** Generations wrap here, so a handle (generation * MAX_PENDING_EVENTS + slot) stays < 2^53. */
const GENERATIONS = 2 ** 29;
const INITIAL_SLOTS = 1024;
const FREE = -1;

type AnyEventFn = (arg: unknown) => void;

export class Scheduler {
  private currentUs = 0;
  private nextSeq = 0;
  private ran = 0;

  /** Slots in heap order; [0, size) are live. */
  private heap = new Int32Array(INITIAL_SLOTS);
  private size = 0;

  private timeAt = new Float64Array(INITIAL_SLOTS);
  private seqAt = new Float64Array(INITIAL_SLOTS);
  /** Where the slot sits in `heap`, or FREE. */
  private positionAt = new Int32Array(INITIAL_SLOTS).fill(FREE);
  private generationAt = new Int32Array(INITIAL_SLOTS);
  private fnAt: (AnyEventFn | undefined)[] = new Array<AnyEventFn | undefined>(INITIAL_SLOTS).fill(
    undefined,
  );
  private argAt: unknown[] = new Array<unknown>(INITIAL_SLOTS).fill(undefined);

  private freeSlots = new Int32Array(INITIAL_SLOTS);
  private freeCount = 0;
  private usedSlots = 0;
  private capacity = INITIAL_SLOTS;

  /** Virtual time, µs: the time of the event running, or of the last `runUntil` bound. */
  get nowUs(): number {
    return this.currentUs;
  }

  /** Virtual time in ms, as the engine takes its `now`. */
  get nowMs(): number {
    return this.currentUs / 1000;
  }

  /** Events queued and not yet run or cancelled. */
  get pending(): number {
    return this.size;
  }

  /** Events run since the start. */
  get eventsRun(): number {
    return this.ran;
  }

  /** Runs `fn(arg)` at `timeUs` (whole µs, not before now). */
  at(timeUs: number, fn: () => void): EventHandle;
  at<T>(timeUs: number, fn: (arg: T) => void, arg: T): EventHandle;
  at(timeUs: number, fn: AnyEventFn, arg?: unknown): EventHandle {
    if (!Number.isSafeInteger(timeUs) || timeUs < this.currentUs) {
      throw new RangeError(
        `An event time must be whole µs, not before now (${this.currentUs}); got ${timeUs}.`,
      );
    }
    const slot = this.allocateSlot();
    this.timeAt[slot] = timeUs;
    this.seqAt[slot] = this.nextSeq++;
    this.fnAt[slot] = fn;
    this.argAt[slot] = arg;
    this.siftUp(this.size++, slot);
    return this.generationAt[slot]! * MAX_PENDING_EVENTS + slot;
  }

  /** Runs `fn(arg)` `delayUs` (whole µs >= 0) from now. */
  after(delayUs: number, fn: () => void): EventHandle;
  after<T>(delayUs: number, fn: (arg: T) => void, arg: T): EventHandle;
  after(delayUs: number, fn: AnyEventFn, arg?: unknown): EventHandle {
    return this.at(this.currentUs + delayUs, fn, arg);
  }

  /** Removes a queued event; false when it already ran or was cancelled. */
  cancel(handle: EventHandle): boolean {
    const slot = handle % MAX_PENDING_EVENTS;
    const generation = Math.floor(handle / MAX_PENDING_EVENTS);
    if (!(slot >= 0 && slot < this.usedSlots) || this.generationAt[slot] !== generation) {
      return false;
    }
    const position = this.positionAt[slot]!;
    if (position === FREE) return false;
    const last = this.heap[--this.size]!;
    if (last !== slot) {
      // Put the last leaf in the hole and move it whichever way restores the heap order.
      if (position > 0 && this.before(last, this.heap[(position - 1) >> 1]!)) {
        this.siftUp(position, last);
      } else {
        this.siftDown(position, last);
      }
    }
    this.freeSlot(slot);
    return true;
  }

  /**
   * Runs every event due at or before `timeUs`, in order, then sets the clock to `timeUs`.
   * Returns the number of events run.
   */
  runUntil(timeUs: number): number {
    if (!(timeUs >= this.currentUs)) {
      throw new RangeError(`runUntil(${timeUs}) is before now (${this.currentUs}).`);
    }
    const start = this.ran;
    while (this.size > 0 && this.timeAt[this.heap[0]!]! <= timeUs) this.runNext();
    this.currentUs = timeUs;
    return this.ran - start;
  }

  /**
   * Runs events until none is queued or `maxEvents` have run (the bound stops a run whose
   * events keep scheduling more). Returns the number run; `pending > 0` afterwards means the
   * bound was reached.
   */
  runUntilIdle(maxEvents: number): number {
    const start = this.ran;
    const limit = start + maxEvents;
    while (this.size > 0 && this.ran < limit) this.runNext();
    return this.ran - start;
  }

  /** Runs the next event, if any; true when one ran. */
  step(): boolean {
    if (this.size === 0) return false;
    this.runNext();
    return true;
  }

  private runNext(): void {
    const heap = this.heap;
    const slot = heap[0]!;
    const last = heap[--this.size]!;
    if (this.size > 0) this.siftDown(0, last);
    const fn = this.fnAt[slot]!;
    const arg = this.argAt[slot];
    this.currentUs = this.timeAt[slot]!;
    // Freed before the call, so the event can schedule into its own slot.
    this.freeSlot(slot);
    this.ran++;
    fn(arg);
  }

  /** True when slot a is due before slot b: earlier time, or the same time scheduled first. */
  private before(a: number, b: number): boolean {
    const ta = this.timeAt[a]!;
    const tb = this.timeAt[b]!;
    return ta < tb || (ta === tb && this.seqAt[a]! < this.seqAt[b]!);
  }

  /** Places `slot` at `position` or above it (the hole moves up; no swaps). */
  private siftUp(position: number, slot: number): void {
    const heap = this.heap;
    const positionAt = this.positionAt;
    let i = position;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!this.before(slot, parent)) break;
      heap[i] = parent;
      positionAt[parent] = i;
      i = parentIndex;
    }
    heap[i] = slot;
    positionAt[slot] = i;
  }

  /** Places `slot` at `position` or below it. */
  private siftDown(position: number, slot: number): void {
    const heap = this.heap;
    const positionAt = this.positionAt;
    const size = this.size;
    let i = position;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && this.before(heap[right]!, heap[child]!)) child = right;
      const childSlot = heap[child]!;
      if (!this.before(childSlot, slot)) break;
      heap[i] = childSlot;
      positionAt[childSlot] = i;
      i = child;
    }
    heap[i] = slot;
    positionAt[slot] = i;
  }

  private allocateSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount]!;
    if (this.usedSlots === this.capacity) this.grow();
    return this.usedSlots++;
  }

  private freeSlot(slot: number): void {
    this.positionAt[slot] = FREE;
    this.fnAt[slot] = undefined;
    this.argAt[slot] = undefined;
    this.generationAt[slot] = (this.generationAt[slot]! + 1) % GENERATIONS;
    this.freeSlots[this.freeCount++] = slot;
  }

  private grow(): void {
    if (this.capacity === MAX_PENDING_EVENTS) {
      throw new RangeError(
        `More than ${MAX_PENDING_EVENTS} events are queued; a scenario is scheduling without bound.`,
      );
    }
    const capacity = Math.min(this.capacity * 2, MAX_PENDING_EVENTS);
    this.heap = grown(this.heap, new Int32Array(capacity));
    this.timeAt = grown(this.timeAt, new Float64Array(capacity));
    this.seqAt = grown(this.seqAt, new Float64Array(capacity));
    this.positionAt = grown(this.positionAt, new Int32Array(capacity).fill(FREE));
    this.generationAt = grown(this.generationAt, new Int32Array(capacity));
    this.freeSlots = grown(this.freeSlots, new Int32Array(capacity));
    for (let i = this.capacity; i < capacity; i++) {
      this.fnAt.push(undefined);
      this.argAt.push(undefined);
    }
    this.capacity = capacity;
  }
}

function grown<A extends Int32Array | Float64Array>(from: A, to: A): A {
  to.set(from);
  return to;
}
