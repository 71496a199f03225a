import { describe, expect, it } from 'vitest';
import { ArrivalSchedule } from './schedule.ts';

describe('arrival schedule (open model)', () => {
  it('spaces arrivals evenly from the start time', () => {
    const schedule = new ArrivalSchedule(1000, 100); // one every 10 ms
    expect(schedule.dueCount(999)).toBe(0);
    expect(schedule.dueCount(1000)).toBe(1);
    expect(schedule.dueCount(1095)).toBe(10);
    expect(schedule.intendedTime(0)).toBe(1000);
    expect(schedule.intendedTime(9)).toBe(1090);
  });

  it('keeps the intended time of arrivals still waiting when the rate changes', () => {
    const schedule = new ArrivalSchedule(0, 100);
    schedule.setRate(95, 1000); // arrivals 0..9 were due at the old rate
    expect(schedule.intendedTime(5)).toBe(50);
    expect(schedule.intendedTime(10)).toBe(96); // one new interval after the change
    expect(schedule.dueCount(196)).toBe(10 + 101);
  });

  it('counts arrivals from before a rate change as due when they were, not at the change', () => {
    const schedule = new ArrivalSchedule(0, 100); // one every 10 ms
    schedule.setRate(95, 50); // arrivals 0..9 were due before the change
    // A time before the change reads the old segment: at 42 ms, arrivals 0..4 were due.
    expect(schedule.dueCount(42)).toBe(5);
    expect(schedule.dueCount(-1)).toBe(0);
    // After the change, the new segment: arrival 10 when it was due (100 ms), then every 20 ms.
    expect(schedule.dueCount(99)).toBe(10);
    expect(schedule.dueCount(100)).toBe(11);
    expect(schedule.dueCount(120)).toBe(12);
  });

  it('takes a raised rate at once even when the old rate was very low', () => {
    const schedule = new ArrivalSchedule(0, 0.1); // next arrival at 10 s
    schedule.setRate(100, 100);
    expect(schedule.intendedTime(1)).toBe(110);
  });

  it('a rate of zero pauses arrivals', () => {
    const schedule = new ArrivalSchedule(0, 10);
    schedule.setRate(250, 0);
    expect(schedule.dueCount(10_000)).toBe(3);
    expect(schedule.intendedTime(3)).toBe(Infinity);
    schedule.setRate(20_000, 10);
    expect(schedule.dueCount(20_000)).toBe(3);
    expect(schedule.dueCount(20_100)).toBe(4);
  });

  it('forgets old segments without changing later times', () => {
    const schedule = new ArrivalSchedule(0, 100);
    schedule.setRate(95, 1000);
    schedule.forgetBefore(12);
    expect(schedule.intendedTime(12)).toBe(98);
  });

  it('refuses a negative rate', () => {
    expect(() => new ArrivalSchedule(0, -1)).toThrow(/rate/);
  });
});
