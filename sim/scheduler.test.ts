import { describe, expect, it } from 'vitest';
import { createRng } from '../core/random.ts';
import { Scheduler } from './scheduler.ts';

describe('Scheduler', () => {
  it('runs events in time order and moves the clock to each event', () => {
    const s = new Scheduler();
    const seen: [string, number][] = [];
    const note = (name: string) => seen.push([name, s.nowUs]);
    s.at(30, note, 'c');
    s.at(10, note, 'a');
    s.at(20, note, 'b');
    expect(s.runUntilIdle(100)).toBe(3);
    expect(seen).toEqual([
      ['a', 10],
      ['b', 20],
      ['c', 30],
    ]);
    expect(s.nowUs).toBe(30);
    expect(s.nowMs).toBe(0.03);
  });

  it('breaks ties at the same time by the order events were scheduled', () => {
    const s = new Scheduler();
    const seen: number[] = [];
    for (let i = 0; i < 100; i++) s.at(5, (n: number) => seen.push(n), i);
    s.runUntilIdle(1000);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('runs an event scheduled for now after those already due now', () => {
    const s = new Scheduler();
    const seen: string[] = [];
    s.at(1, () => {
      seen.push('first');
      s.after(0, () => seen.push('scheduled by first'));
    });
    s.at(1, () => seen.push('second'));
    s.runUntilIdle(10);
    expect(seen).toEqual(['first', 'second', 'scheduled by first']);
  });

  it('orders like a stable sort of (time, insertion) for random times', () => {
    const s = new Scheduler();
    const rng = createRng(3);
    const events = Array.from({ length: 5000 }, (_, i) => ({ i, t: rng.nextInt(200) }));
    const seen: number[] = [];
    for (const e of events) s.at(e.t, (i: number) => seen.push(i), e.i);
    s.runUntilIdle(10_000);
    const expected = [...events].sort((a, b) => a.t - b.t || a.i - b.i).map((e) => e.i);
    expect(seen).toEqual(expected);
  });

  it('cancels a queued event, and only once', () => {
    const s = new Scheduler();
    const seen: string[] = [];
    const a = s.at(10, () => seen.push('a'));
    s.at(20, () => seen.push('b'));
    expect(s.cancel(a)).toBe(true);
    expect(s.cancel(a)).toBe(false);
    expect(s.pending).toBe(1);
    s.runUntilIdle(10);
    expect(seen).toEqual(['b']);
  });

  it('does not cancel an event that ran, nor a new event reusing its slot', () => {
    const s = new Scheduler();
    const seen: string[] = [];
    const a = s.at(1, () => seen.push('a'));
    s.runUntilIdle(10);
    s.at(2, () => seen.push('reuses the slot'));
    expect(s.cancel(a)).toBe(false);
    s.runUntilIdle(10);
    expect(seen).toEqual(['a', 'reuses the slot']);
  });

  it('keeps the order when random events are cancelled from the middle of the heap', () => {
    const s = new Scheduler();
    const rng = createRng(9);
    const seen: number[] = [];
    const handles: number[] = [];
    for (let i = 0; i < 3000; i++) {
      handles.push(s.at(rng.nextInt(1000), (n: number) => seen.push(n), i));
    }
    const cancelled = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const victim = rng.nextInt(3000);
      expect(s.cancel(handles[victim]!)).toBe(!cancelled.has(victim));
      cancelled.add(victim);
    }
    s.runUntilIdle(10_000);
    expect(seen.length).toBe(3000 - cancelled.size);
    expect(seen.some((i) => cancelled.has(i))).toBe(false);
    const times = new Map<number, number>();
    // Re-derive each event's time from the same stream to check the order.
    const replay = createRng(9);
    for (let i = 0; i < 3000; i++) times.set(i, replay.nextInt(1000));
    for (let k = 1; k < seen.length; k++) {
      const [prev, next] = [seen[k - 1]!, seen[k]!];
      const order = times.get(prev)! - times.get(next)! || prev - next;
      expect(order).toBeLessThan(0);
    }
  });

  it('runUntil runs what is due, leaves later events and sets the clock to the bound', () => {
    const s = new Scheduler();
    const seen: number[] = [];
    for (const t of [5, 10, 15]) s.at(t, (n: number) => seen.push(n), t);
    expect(s.runUntil(10)).toBe(2);
    expect(seen).toEqual([5, 10]);
    expect(s.nowUs).toBe(10);
    expect(s.pending).toBe(1);
    s.runUntil(12);
    expect(s.nowUs).toBe(12);
    s.runUntil(100);
    expect(seen).toEqual([5, 10, 15]);
    expect(s.nowUs).toBe(100);
  });

  it('runUntilIdle stops at its bound when events keep scheduling more', () => {
    const s = new Scheduler();
    const tick = (): void => {
      s.after(1, tick);
    };
    s.at(0, tick);
    expect(s.runUntilIdle(50)).toBe(50);
    expect(s.pending).toBe(1);
    expect(s.eventsRun).toBe(50);
  });

  it('refuses times in the past and fractional µs', () => {
    const s = new Scheduler();
    s.runUntil(100);
    expect(() => s.at(99, () => {})).toThrow(RangeError);
    expect(() => s.at(100.5, () => {})).toThrow(RangeError);
    expect(() => s.after(-1, () => {})).toThrow(RangeError);
    expect(() => s.runUntil(50)).toThrow(RangeError);
  });

  it('grows past its initial capacity', () => {
    const s = new Scheduler();
    let sum = 0;
    for (let i = 0; i < 10_000; i++) s.at(10_000 - i, (n: number) => (sum += n), i);
    expect(s.pending).toBe(10_000);
    s.runUntilIdle(20_000);
    expect(sum).toBe((9999 * 10_000) / 2);
  });
});
